//! The live view of a run: one line per thing that happened (a state started, waited, retried, ended), with the
//! seconds since the execution started. The same lines come from a recorded history, so they are tested there.

use crate::history::Event;
use crate::runs::{Change, Runs};

/// Shortest useful excerpt of a long cause for one line.
const REASON_CHARS: usize = 160;

fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= REASON_CHARS {
        one_line
    } else {
        format!(
            "{}…",
            one_line.chars().take(REASON_CHARS).collect::<String>()
        )
    }
}

/// Kinds of state worth a line: the ones that take time or fail. Choice and Pass are instant.
fn shown(kind: &str) -> bool {
    !matches!(kind, "Choice" | "Pass" | "Succeed")
}

/// Turns events into lines, keeping the runs it builds for the summary.
#[derive(Debug, Default)]
pub struct Progress {
    pub runs: Runs,
}

impl Progress {
    /// The lines one event adds (often none).
    pub fn feed(&mut self, e: &Event) -> Vec<String> {
        let change = self.runs.feed(e);
        let t = self.runs.since_start(e.at);
        let stamp = format!("{t:>7.1}s");
        let line = |mark: &str, index: usize, rest: String| {
            let run = &self.runs.runs[index];
            format!(
                "{stamp}  {mark} {}{}{rest}",
                "  ".repeat(run.depth),
                run.name
            )
        };
        match change {
            Change::Entered(i) if shown(&self.runs.runs[i].kind) => {
                let extra = if self.runs.runs[i].kind == "Wait" {
                    " (waiting as told)"
                } else {
                    ""
                };
                vec![line("▶", i, extra.into())]
            }
            Change::Exited(i) if shown(&self.runs.runs[i].kind) => {
                let run = &self.runs.runs[i];
                let took = run.duration().unwrap_or_default();
                let retries = match run.retries() {
                    0 => String::new(),
                    1 => ", 1 retry".into(),
                    n => format!(", {n} retries"),
                };
                match run.failed() {
                    Some(a) => vec![line(
                        "✗",
                        i,
                        format!(
                            " failed after {took:.1}s{retries}: {}",
                            excerpt(a.failure.as_deref().unwrap_or(""))
                        ),
                    )],
                    None => vec![line("✓", i, format!(" {took:.1}s{retries}"))],
                }
            }
            Change::AttemptFailed(i, attempt) => {
                let run = &self.runs.runs[i];
                // NotReady is a wait the state machine retries; anything else may or may not be retried.
                let (mark, what) = if attempt.error.as_deref() == Some("NotReady") {
                    ("⟳", "waiting")
                } else {
                    ("!", "error")
                };
                vec![line(
                    mark,
                    i,
                    format!(
                        " {what} (attempt {}): {}",
                        run.attempts.len(),
                        excerpt(attempt.failure.as_deref().unwrap_or(""))
                    ),
                )]
            }
            Change::Ended(end) => {
                let status = end.final_status().unwrap_or_default();
                let mut text = format!("{stamp}  ■ {status}");
                if end.error.is_some() || end.cause.is_some() {
                    text.push_str(&format!(": {}", excerpt(&end.reason())));
                }
                text.push_str(&format!(
                    " ({} states entered, {} retries)",
                    self.runs.transitions(),
                    self.runs.retries()
                ));
                vec![text]
            }
            _ => Vec::new(),
        }
    }

    /// What is going on now, for a spinner: the open states and their last wait.
    pub fn now(&self) -> String {
        let open: Vec<String> = self
            .runs
            .open()
            .filter(|r| r.kind != "Parallel" && shown(&r.kind))
            .map(|r| match r.attempts.last() {
                Some(a) if a.error.as_deref() == Some("NotReady") && a.end.is_some() => {
                    format!("{} (waiting, attempt {})", r.name, r.attempts.len())
                }
                _ => r.name.clone(),
            })
            .collect();
        open.join(" | ")
    }
}

/// Every line of a whole history.
pub fn render(events: &[Event]) -> Vec<String> {
    let mut progress = Progress::default();
    events.iter().flat_map(|e| progress.feed(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::fixture;

    #[test]
    fn a_run_with_waits_and_throttling_reads_as_it_happened() {
        let (_, events) = fixture("tutorial-realistic");
        let lines = render(&events);
        let text = lines.join("\n");
        // every line starts with the seconds since the start
        assert!(
            lines.iter().all(|l| l
                .trim_start()
                .split('s')
                .next()
                .unwrap()
                .parse::<f64>()
                .is_ok()),
            "{text}"
        );
        assert!(lines[0].ends_with("▶ Validate the input"), "{text}");
        assert!(
            text.contains("▶   Create VPC A"),
            "branch states are indented:\n{text}"
        );
        assert!(
            text.contains("!   Create VPC B error (attempt 2): Lambda.TooManyRequestsException"),
            "{text}"
        );
        assert!(
            text.contains("⟳ Accept the peering waiting (attempt 1): NotReady: "),
            "{text}"
        );
        assert!(text.contains("✓   Create VPC B 3.2s, 2 retries"), "{text}");
        assert!(
            text.contains("▶ Keep the lab up (waiting as told)"),
            "{text}"
        );
        assert!(
            !text.contains("Hold the lab for people to use?"),
            "Choice states are instant:\n{text}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .contains("■ SUCCEEDED (14 states entered, 7 retries)"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_run_names_the_failure_and_its_teardown() {
        let (_, events) = fixture("blocked-by-nacl");
        let text = render(&events).join("\n");
        assert!(
            text.contains("✗ Ping B from A (expect replies) failed after"),
            "{text}"
        );
        assert!(text.contains("PingFailed: ping from A"), "{text}");
        assert!(text.contains("▶ Tear down after a failure"), "{text}");
        let last = text.lines().last().unwrap();
        assert!(last.contains("■ FAILED: PingFailed: "), "{last}");
    }

    #[test]
    fn bad_input_fails_at_once() {
        let (_, events) = fixture("bad-overlap");
        let lines = render(&events);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[1].contains("! Validate the input error (attempt 1): InvalidInput: vpc_b.cidr"),
            "{lines:#?}"
        );
        assert!(
            lines[2].contains("■ FAILED: InvalidInput: vpc_b.cidr"),
            "{lines:#?}"
        );
    }

    #[test]
    fn long_causes_are_cut_to_one_line() {
        let long = format!("a\nb {}", "x".repeat(400));
        let cut = excerpt(&long);
        assert!(
            cut.starts_with("a b x")
                && cut.ends_with('…')
                && cut.chars().count() == REASON_CHARS + 1
        );
    }
}
