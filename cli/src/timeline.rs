//! `peerlab timeline`: a Gantt-style SVG of a run from its history — one row per state (branches indented), each
//! attempt of a task as a bar, the retry waits between attempts, the hold, the teardown in its own colour, and a
//! failed attempt in red.

use std::fmt::Write;

use crate::history::{Event, Execution};
use crate::runs::{Runs, StateRun};

const LABEL_WIDTH: f64 = 330.0;
const PLOT_WIDTH: f64 = 640.0;
const RIGHT_MARGIN: f64 = 30.0;
const ROW: f64 = 22.0;
const TOP: f64 = 56.0;

const RUN: &str = "#4e79a7";
const WAIT: &str = "#f6b26b";
const HOLD: &str = "#b0b0b0";
const TEARDOWN: &str = "#8e6bb8";
const FAILED: &str = "#e15759";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A tick step of 1, 2 or 5 times a power of ten giving at most ~10 ticks.
pub fn tick_step(total: f64) -> f64 {
    let raw = (total / 10.0).max(1e-3);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

fn drawn(run: &StateRun) -> bool {
    !matches!(run.kind.as_str(), "Choice" | "Pass" | "Succeed")
}

/// The SVG document.
/// The start of a picture: the SVG element on white, its title, and the time axis (grid lines and labels every
/// The end of a picture: the legend (a swatch and its words each) at `legend_y`, a grey footer line, `</svg>`.
fn finish(s: &mut String, legend_y: f64, items: &[(&str, &str)], footer: &str) {
    let mut lx = 12.0;
    for (fill, label) in items {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="14" height="10" fill="{fill}"/>"#,
            legend_y - 9.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{legend_y}">{label}</text>"#,
            lx + 19.0
        );
        lx += 28.0 + label.len() as f64 * 6.2;
    }
    let _ = writeln!(
        s,
        r##"<text x="12" y="{}" fill="#666">{}</text>"##,
        legend_y + 22.0,
        escape(footer)
    );
    s.push_str("</svg>\n");
}

/// `tick_step(total)` seconds) down to `plot_bottom`.
fn page(width: f64, height: f64, title: &str, total: f64, plot_bottom: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="12" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let step = tick_step(total);
    let mut tick = 0.0;
    while tick <= total + 1e-9 {
        let tx = LABEL_WIDTH + tick / total * PLOT_WIDTH;
        let _ = writeln!(
            s,
            r##"<line class="grid" x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{plot_bottom}" stroke="#e4e4e4"/>"##,
            TOP - 8.0
        );
        let label = if step < 1.0 {
            format!("{tick:.1}s")
        } else {
            format!("{tick:.0}s")
        };
        let _ = writeln!(
            s,
            r##"<text x="{tx:.1}" y="{}" text-anchor="middle" fill="#666">{label}</text>"##,
            TOP - 12.0
        );
        tick += step;
    }
    s
}

pub fn svg(execution: &Execution, events: &[Event]) -> String {
    let runs = Runs::from_events(events);
    let start = runs.start.unwrap_or(execution.start);
    let end = execution
        .stop
        .or_else(|| events.last().map(|e| e.at))
        .unwrap_or(start);
    let total = (end - start).max(0.001);
    let x = |at: f64| LABEL_WIDTH + (at - start).clamp(0.0, total) / total * PLOT_WIDTH;
    let rows: Vec<&StateRun> = runs.runs.iter().filter(|r| drawn(r)).collect();
    let width = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN;
    let plot_bottom = TOP + rows.len() as f64 * ROW;
    let height = plot_bottom + 70.0;

    let title = format!(
        "peerlab lab {} — {} in {:.1}s ({} states, {} retries)",
        execution.name,
        execution.status,
        total,
        runs.transitions(),
        runs.retries()
    );
    let mut s = page(width, height, &title, total, plot_bottom);
    for (i, run) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let indent = 12.0 + 14.0 * run.depth as f64;
        let _ = writeln!(
            s,
            r#"<text x="{indent}" y="{:.1}">{}</text>"#,
            y + 15.0,
            escape(&run.name)
        );
        let exited = run.exited.unwrap_or(end);
        let colour = if run.is_teardown() { TEARDOWN } else { RUN };
        match run.kind.as_str() {
            "Wait" => {
                let _ = writeln!(
                    s,
                    r#"<rect class="hold" x="{:.1}" y="{:.1}" width="{:.1}" height="14" fill="{HOLD}"><title>{}: {:.1}s</title></rect>"#,
                    x(run.entered),
                    y + 4.0,
                    (x(exited) - x(run.entered)).max(1.0),
                    escape(&run.name),
                    exited - run.entered
                );
            }
            "Parallel" | "Map" => {
                let _ = writeln!(
                    s,
                    r##"<rect class="span" x="{:.1}" y="{:.1}" width="{:.1}" height="14" fill="none" stroke="#555" stroke-dasharray="3 2"/>"##,
                    x(run.entered),
                    y + 4.0,
                    (x(exited) - x(run.entered)).max(1.0)
                );
            }
            _ => {
                // the state's whole life, thin; then each attempt on it, and the waits between attempts
                let _ = writeln!(
                    s,
                    r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
                    x(run.entered),
                    y + 11.0,
                    x(exited),
                    y + 11.0
                );
                for (n, attempt) in run.attempts.iter().enumerate() {
                    let a_end = attempt.end.unwrap_or(exited);
                    let fill = match attempt.error.as_deref() {
                        None => colour,
                        Some("NotReady") => colour,
                        Some(_) => FAILED,
                    };
                    let what = attempt.failure.as_deref().unwrap_or("ok");
                    let _ = writeln!(
                        s,
                        r#"<rect class="attempt" x="{:.1}" y="{:.1}" width="{:.1}" height="14" fill="{fill}"><title>{} attempt {}: {:.2}s, {}</title></rect>"#,
                        x(attempt.start),
                        y + 4.0,
                        (x(a_end) - x(attempt.start)).max(1.0),
                        escape(&run.name),
                        n + 1,
                        a_end - attempt.start,
                        escape(what)
                    );
                    if let Some(next) = run.attempts.get(n + 1) {
                        let _ = writeln!(
                            s,
                            r#"<rect class="wait" x="{:.1}" y="{:.1}" width="{:.1}" height="8" fill="{WAIT}"><title>retry wait {:.2}s after {}</title></rect>"#,
                            x(a_end),
                            y + 7.0,
                            (x(next.start) - x(a_end)).max(1.0),
                            next.start - a_end,
                            escape(attempt.error.as_deref().unwrap_or("an error"))
                        );
                    }
                }
            }
        }
    }
    let legend_y = plot_bottom + 30.0;
    let items = [
        (RUN, "step running"),
        (WAIT, "waiting to retry (NotReady, throttling)"),
        (HOLD, "hold (Wait)"),
        (TEARDOWN, "teardown"),
        (FAILED, "failed attempt"),
    ];
    finish(
        &mut s,
        legend_y,
        &items,
        &format!("{} — from its execution history", execution.arn),
    );
    s
}

/// A workshop's picture: one row per lab (a child execution of the lab state machine), on the workshop's time axis;
/// on each row every attempt of every state of that lab, the retry waits, the hold and the teardown in their colours.
pub fn workshop_svg(workshop: &Execution, labs: &[(Execution, Vec<Event>)]) -> String {
    let start = workshop.start;
    let end = workshop
        .stop
        .into_iter()
        .chain(
            labs.iter()
                .filter_map(|(e, events)| e.stop.or(events.last().map(|l| l.at))),
        )
        .fold(start, f64::max);
    let total = (end - start).max(0.001);
    let x = |at: f64| LABEL_WIDTH + (at - start).clamp(0.0, total) / total * PLOT_WIDTH;
    let width = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN;
    let plot_bottom = TOP + labs.len() as f64 * ROW;
    let height = plot_bottom + 70.0;
    let succeeded = labs.iter().filter(|(e, _)| e.status == "SUCCEEDED").count();
    let title = format!(
        "peerlab workshop {} — {} in {:.1}s ({} labs, {} succeeded)",
        workshop.name,
        workshop.status,
        total,
        labs.len(),
        succeeded
    );
    let mut s = page(width, height, &title, total, plot_bottom);
    for (i, (lab, events)) in labs.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let _ = writeln!(
            s,
            r#"<text class="lab" x="12" y="{:.1}">{} ({})</text>"#,
            y + 15.0,
            escape(&lab.name),
            escape(&lab.status)
        );
        let runs = Runs::from_events(events);
        let lab_end = lab.stop.or(events.last().map(|e| e.at)).unwrap_or(end);
        for run in runs.runs.iter().filter(|r| drawn(r)) {
            let exited = run.exited.unwrap_or(lab_end);
            if run.kind == "Wait" {
                let _ = writeln!(
                    s,
                    r#"<rect class="hold" x="{:.1}" y="{:.1}" width="{:.1}" height="14" fill="{HOLD}"><title>{}: {}: {:.1}s</title></rect>"#,
                    x(run.entered),
                    y + 4.0,
                    (x(exited) - x(run.entered)).max(1.0),
                    escape(&lab.name),
                    escape(&run.name),
                    exited - run.entered
                );
                continue;
            }
            let colour = if run.is_teardown() { TEARDOWN } else { RUN };
            for (n, attempt) in run.attempts.iter().enumerate() {
                let a_end = attempt.end.unwrap_or(exited);
                let fill = match attempt.error.as_deref() {
                    None | Some("NotReady") => colour,
                    Some(_) => FAILED,
                };
                let _ = writeln!(
                    s,
                    r#"<rect class="attempt" x="{:.1}" y="{:.1}" width="{:.1}" height="14" fill="{fill}"><title>{}: {} attempt {}: {:.2}s, {}</title></rect>"#,
                    x(attempt.start),
                    y + 4.0,
                    (x(a_end) - x(attempt.start)).max(1.0),
                    escape(&lab.name),
                    escape(&run.name),
                    n + 1,
                    a_end - attempt.start,
                    escape(attempt.failure.as_deref().unwrap_or("ok"))
                );
                if let Some(next) = run.attempts.get(n + 1) {
                    let _ = writeln!(
                        s,
                        r#"<rect class="wait" x="{:.1}" y="{:.1}" width="{:.1}" height="8" fill="{WAIT}"><title>{}: retry wait {:.2}s</title></rect>"#,
                        x(a_end),
                        y + 7.0,
                        (x(next.start) - x(a_end)).max(1.0),
                        escape(&run.name),
                        next.start - a_end
                    );
                }
            }
        }
    }
    let legend_y = plot_bottom + 30.0;
    let items = [
        (RUN, "a step of the lab"),
        (WAIT, "waiting to retry"),
        (HOLD, "hold"),
        (TEARDOWN, "teardown"),
        (FAILED, "failed attempt"),
    ];
    finish(
        &mut s,
        legend_y,
        &items,
        &format!("{} — each lab from its own execution history", workshop.arn),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::fixture;

    #[test]
    fn every_attempt_and_retry_wait_is_drawn() {
        let (execution, events) = fixture("tutorial-realistic");
        let runs = Runs::from_events(&events);
        let picture = svg(&execution, &events);
        assert!(picture.starts_with("<svg ") && picture.trim_end().ends_with("</svg>"));
        let attempts: usize = runs.runs.iter().map(|r| r.attempts.len()).sum();
        assert_eq!(picture.matches(r#"class="attempt""#).count(), attempts);
        assert_eq!(picture.matches(r#"class="wait""#).count(), runs.retries());
        assert_eq!(picture.matches(r#"class="hold""#).count(), 1);
        let teardown: usize = runs
            .runs
            .iter()
            .filter(|r| r.is_teardown())
            .map(|r| r.attempts.len())
            .sum();
        assert_eq!(
            picture.matches(&format!(r#"fill="{TEARDOWN}""#)).count(),
            teardown + 1,
            "and the legend's"
        );
        // names are escaped; Choice and Pass states take no row
        assert!(picture.contains("Let A into B&#39;s security group"));
        assert!(!picture.contains(">Hold the lab for people to use?<"));
        assert!(picture.contains("SUCCEEDED in 10.3s (14 states, 7 retries)"));
        // bars stay inside the plot
        for x in picture
            .split(r#" x=""#)
            .skip(1)
            .filter_map(|r| r.split('"').next()?.parse::<f64>().ok())
        {
            assert!(x <= LABEL_WIDTH + PLOT_WIDTH + 1.0, "{x}");
        }
    }

    #[test]
    fn a_failed_attempt_is_red() {
        let (execution, events) = fixture("blocked-by-nacl");
        let picture = svg(&execution, &events);
        assert!(picture.contains(&format!(
            r#"fill="{FAILED}"><title>Ping B from A (expect replies) attempt"#
        )));
        assert!(picture.contains("FAILED in"));
    }

    #[test]
    fn a_workshops_labs_are_its_rows() {
        // two labs of a workshop: the recorded tutorial and the recorded failed lab
        let (first, first_events) = fixture("tutorial-realistic");
        let (second, second_events) = fixture("blocked-by-nacl");
        let workshop = Execution {
            arn: "arn:aws:states:us-east-1:123456789012:execution:peerlab-Workshop:class".into(),
            name: "class".into(),
            status: "SUCCEEDED".into(),
            start: first.start.min(second.start) - 1.0,
            stop: None,
            ..Execution::default()
        };
        let labs = [
            (first, first_events.clone()),
            (second, second_events.clone()),
        ];
        let picture = workshop_svg(&workshop, &labs);
        assert!(picture.starts_with("<svg ") && picture.trim_end().ends_with("</svg>"));
        assert_eq!(picture.matches(r#"class="lab""#).count(), 2);
        assert!(picture.contains("(2 labs, 1 succeeded)"));
        let attempts = |events: &[Event]| -> usize {
            Runs::from_events(events)
                .runs
                .iter()
                .filter(|r| drawn(r) && r.kind != "Wait")
                .map(|r| r.attempts.len())
                .sum()
        };
        assert_eq!(
            picture.matches(r#"class="attempt""#).count(),
            attempts(&first_events) + attempts(&second_events)
        );
        // the failed lab's failed ping is red, on its own row, named by its lab
        assert!(picture.contains(&format!(
            r#"fill="{FAILED}"><title>{}: Ping B from A (expect replies) attempt"#,
            labs[1].0.name
        )));
        assert!(picture.contains(&format!(">{} (FAILED)<", labs[1].0.name)));
        for x in picture
            .split(r#" x=""#)
            .skip(1)
            .filter_map(|r| r.split('"').next()?.parse::<f64>().ok())
        {
            assert!(x <= LABEL_WIDTH + PLOT_WIDTH + 1.0, "{x}");
        }
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(10.3), 2.0);
        assert_eq!(tick_step(95.0), 10.0);
        assert_eq!(tick_step(400.0), 50.0);
        assert_eq!(tick_step(0.8), 0.1);
    }
}
