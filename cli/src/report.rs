//! The report at the end of a run (`peerlab run`, `peerlab report`): what the lab proved, what it cost in states
//! and retries, and how long each state took, as text and as JSON (the execution's output plus those figures).

use serde_json::{json, Map, Value};

use crate::history::{error_message, Event, Execution};
use crate::runs::Runs;

pub struct Report {
    pub json: Value,
    pub lines: Vec<String>,
}

fn replies(v: &Value) -> String {
    format!("{}/{} replies", v["received"], v["transmitted"])
}

fn push_teardown(lines: &mut Vec<String>, json: &Value) {
    let teardown = &json["teardown"];
    if teardown.is_object() {
        let deleted = teardown["deleted"].as_array().map_or(0, Vec::len);
        lines.push(format!(
            "  teardown: deleted {deleted}, remaining {}",
            teardown["remaining"]
        ));
    }
}

pub fn build(execution: &Execution, events: &[Event]) -> Report {
    let runs = Runs::from_events(events);
    let mut out = match (execution.status.as_str(), execution.output.as_deref()) {
        ("SUCCEEDED", Some(output)) => serde_json::from_str::<Value>(output)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
        _ => {
            let mut m = Map::new();
            m.insert("error".into(), json!(execution.error));
            m.insert(
                "cause".into(),
                json!(execution.cause.as_deref().map(error_message)),
            );
            m
        }
    };
    let mut timings = Map::new();
    let mut retries = Map::new();
    for run in &runs.runs {
        if let Some(took) = run.duration() {
            timings.insert(run.name.clone(), json!((took * 1000.0).round() / 1000.0));
        }
        if run.retries() > 0 {
            retries.insert(run.name.clone(), json!(run.retries()));
        }
    }
    let wall = execution
        .stop
        .map(|s| ((s - execution.start) * 1000.0).round() / 1000.0);
    out.insert("status".into(), json!(execution.status));
    out.insert("execution".into(), json!(execution.arn));
    out.insert("wall_seconds".into(), json!(wall));
    out.insert("timings_seconds".into(), Value::Object(timings));
    out.insert("retries".into(), Value::Object(retries));
    out.insert("state_transitions".into(), json!(runs.transitions()));
    // What Step Functions Standard bills: every state entered and every retry attempt (Step Functions
    // pricing page: "a retry counts as a state transition").
    out.insert(
        "billed_transitions".into(),
        json!(runs.billed_transitions()),
    );
    out.insert("history_events".into(), json!(events.len()));
    let json = Value::Object(out);

    let mut lines = Vec::new();
    let lab = json["lab_id"].as_str().unwrap_or(&execution.name);
    match execution.status.as_str() {
        "SUCCEEDED" if json["exercise"].is_object() => {
            // a break-and-fix exercise: built with one hop missing, the ping failed where it should
            let ex = &json["exercise"];
            let text = |key: &str| ex[key].as_str().unwrap_or("?").to_string();
            lines.push(format!(
                "lab {lab}: exercise {}: the ping fails at the hop it left out",
                text("exercise")
            ));
            lines.push(format!("  broken:    {}", text("broken")));
            lines.push(format!(
                "  diagnosis: {} ({})",
                text("diagnosis"),
                text("diagnosed_hop")
            ));
            lines.push(format!("  to fix it: {}", text("fix")));
            let ping = &json["ping"];
            if ping.is_object() {
                lines.push(format!("  ping from A to B: {}", replies(ping)));
            }
            push_teardown(&mut lines, &json);
        }
        "SUCCEEDED" => {
            lines.push(format!("lab {lab}: the peering works"));
            let control = &json["negative_control"];
            if control.is_object() {
                lines.push(format!(
                    "  control ping before peering: {} -> unreachable, as expected",
                    replies(control)
                ));
            }
            let ping = &json["ping"];
            if ping.is_object() {
                let rtt = ping["rtt_avg_ms"]
                    .as_f64()
                    .map(|r| format!(", avg rtt {r} ms"))
                    .unwrap_or_default();
                let simulated = if ping["simulated"] == json!(true) {
                    " (simulated by the local AWS)"
                } else {
                    ""
                };
                lines.push(format!(
                    "  ping after peering:          {}{rtt}{simulated}",
                    replies(ping)
                ));
            }
            let zone = |side: &str| {
                let v = &json["resources"][side];
                v["availability_zone"]
                    .as_str()
                    .map(|z| match v["availability_zone_id"].as_str() {
                        Some(id) if !id.is_empty() => format!("{z} ({id})"),
                        _ => z.to_string(),
                    })
            };
            if let (Some(a), Some(b)) = (zone("vpc_a"), zone("vpc_b")) {
                lines.push(format!("  zones: A in {a}, B in {b}"));
            }
            push_teardown(&mut lines, &json);
        }
        "RUNNING" => lines.push(format!("lab {lab}: still running")),
        status => lines.push(format!(
            "lab {lab} {}: {}: {}",
            status.to_lowercase().replace('_', " "),
            execution.error.as_deref().unwrap_or("(no error)"),
            execution
                .cause
                .as_deref()
                .map(error_message)
                .unwrap_or_default()
        )),
    }
    // A Parallel's time is its branches': name the branches.
    let mut slowest: Vec<_> = runs.runs.iter().filter(|r| r.kind != "Parallel").collect();
    slowest.sort_by(|a, b| {
        b.duration()
            .unwrap_or(0.0)
            .total_cmp(&a.duration().unwrap_or(0.0))
    });
    let slowest: Vec<String> = slowest
        .iter()
        .take(3)
        .filter_map(|r| r.duration().map(|d| format!("{} {d:.1}s", r.name)))
        .collect();
    lines.push(format!(
        "  {} billed state transitions ({} states entered + {} retries), {} history events{}",
        runs.billed_transitions(),
        runs.transitions(),
        runs.retries(),
        events.len(),
        wall.map(|w| format!(", {w:.1}s")).unwrap_or_default()
    ));
    if !slowest.is_empty() {
        lines.push(format!("  longest: {}", slowest.join(", ")));
    }
    Report { json, lines }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::fixture;

    #[test]
    fn a_successful_lab_reports_both_pings_and_the_teardown() {
        let (execution, events) = fixture("tutorial-realistic");
        let report = build(&execution, &events);
        let text = report.lines.join("\n");
        assert!(
            text.starts_with("lab tutorial-realistic: the peering works"),
            "{text}"
        );
        assert!(
            text.contains("control ping before peering: 0/3 replies -> unreachable"),
            "{text}"
        );
        assert!(
            text.contains("ping after peering:          3/3 replies, avg rtt"),
            "{text}"
        );
        assert!(text.contains("(simulated by the local AWS)"), "{text}");
        assert!(text.contains("teardown: deleted "), "{text}");
        assert!(
            text.contains(
                "21 billed state transitions (14 states entered + 7 retries), 83 history events, 10.3s"
            ),
            "{text}"
        );
        let j = &report.json;
        assert_eq!(j["status"], "SUCCEEDED");
        assert_eq!(j["state_transitions"], 14);
        assert_eq!(j["billed_transitions"], 21);
        assert_eq!(j["retries"]["Create VPC B"], 2);
        assert!(j["timings_seconds"]["Keep the lab up"].as_f64().unwrap() >= 1.0);
        assert_eq!(j["ping"]["reachable"], true);
    }

    #[test]
    fn a_failed_lab_reports_the_error_in_plain_words() {
        let (execution, events) = fixture("blocked-by-nacl");
        let report = build(&execution, &events);
        assert!(
            report.lines[0].starts_with("lab blocked-by-nacl failed: PingFailed: ping from A"),
            "{}",
            report.lines[0]
        );
        assert!(
            !report.lines[0].contains("errorType"),
            "{}",
            report.lines[0]
        );
        assert_eq!(report.json["error"], "PingFailed");
        assert!(report.json["cause"]
            .as_str()
            .unwrap()
            .contains("network ACL"));
    }
}
