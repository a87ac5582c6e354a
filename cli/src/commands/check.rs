//! `peerlab check EXECUTION`: ping B from A again, now, and say whether it works — for a student repairing a
//! break-and-fix exercise while the lab is held. It runs the workflow's own ping-test step (`lab_core::ping_test`)
//! with your credentials, on the lab the execution built (read from the input of its final ping), as a normal
//! final ping: through, "fixed"; blocked, the hop that blocks it, as the diagnosis names it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_sdk_sfn::types::HistoryEventType;
use lab_core::model::{Expect, PingEvent};
use lab_core::LabError;
use serde_json::Value;

use crate::error::usage;
use crate::place::Global;
use crate::sfn::{describe, sdk_history};

/// The state whose input holds everything a ping needs (the lab, both sides, the peering).
pub const FINAL_PING: &str = "Ping B from A (expect replies)";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The lab's execution: its ARN, or its name.
    execution: String,
    /// How long to keep asking while the ping is not done yet (SSM delivering the command, ping's own 6 s), in
    /// seconds. Default: the final ping's NotReady budget in the state machine (5 s x 24 = 2 min: command delivery
    /// and the ping, README "The steps"), asked every 2 s (under that retrier's 5 s interval).
    #[arg(long, default_value_t = 120)]
    wait: u64,
}

/// The final ping's event, from that state's input, made a check: its own phase (a new command, not the one the
/// workflow sent), expecting replies, and no exercise (a check judges the network as it is now).
pub fn check_event(state_input: &Value, phase: &str) -> Result<PingEvent> {
    let mut lab = state_input["lab"].clone();
    if let Some(lab) = lab.as_object_mut() {
        lab.remove("exercise");
    }
    let event = serde_json::json!({
        "lab": lab,
        "vpc_a": state_input["sides"]["vpc_a"],
        "vpc_b": state_input["sides"]["vpc_b"],
        "peering_id": state_input["peering"]["peering_id"],
        "expect": Expect::Reachable,
        "phase": phase,
    });
    serde_json::from_value(event).context("the final ping's input does not describe a lab")
}

/// The input of the execution's most recent entry into the final ping.
async fn final_ping_input(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Option<Value>> {
    let events = sdk_history(sfn, arn).await?;
    let entered = events.iter().rev().find_map(|event| {
        event.state_entered_event_details().filter(|d| {
            event.r#type() == &HistoryEventType::TaskStateEntered && d.name() == FINAL_PING
        })
    });
    entered
        .map(|details| {
            serde_json::from_str(details.input().unwrap_or("null"))
                .with_context(|| format!("the input of {FINAL_PING:?} is not JSON"))
        })
        .transpose()
}

pub async fn check(global: &Global, args: &Args) -> Result<ExitCode> {
    let config = global.config().await?;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let arn = global.execution_arn(&args.execution)?;
    let execution = describe(&sfn, &arn).await?;
    if !execution.running() {
        return Err(usage(format!(
            "{} is {}: its lab is torn down, there is nothing to check (start one with hold_seconds to keep it up)",
            execution.name, execution.status
        )));
    }
    let Some(input) = final_ping_input(&sfn, &arn).await? else {
        return Err(usage(format!(
            "{} has not reached {FINAL_PING:?} yet: the lab is still being built (peerlab status {})",
            execution.name, execution.name
        )));
    };
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let event = check_event(&input, &format!("check-{millis}"))?;
    let (a, b) = (
        event.vpc_a.private_ip.clone(),
        event.vpc_b.private_ip.clone(),
    );
    let clients = lab_core::Clients::from_config(config);
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    loop {
        match lab_core::ping_test::handler(event.clone(), &clients).await {
            Ok(ping) => {
                let simulated = if ping.simulated {
                    " (simulated by the local AWS)"
                } else {
                    ""
                };
                println!(
                    "fixed: the ping from A ({a}) to B ({b}) gets {} of {} replies{simulated}",
                    ping.received, ping.transmitted
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(LabError::PingFailed(why)) => {
                let blocked = why
                    .split_once("Blocked at: ")
                    .map_or(why.as_str(), |(_, w)| w);
                println!("not fixed yet: the ping from A ({a}) to B ({b}) gets no reply; blocked at: {blocked}");
                return Ok(ExitCode::FAILURE);
            }
            Err(LabError::NotReady(why)) if Instant::now() < deadline => {
                eprintln!("waiting: {why}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => bail!("{}: {e}", e.error_type()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_the_final_ping_without_the_exercise_under_its_own_phase() {
        let side = |s: &str, ip: &str| {
            serde_json::json!({"side": s, "region": "us-east-1", "vpc_id": format!("vpc-{s}"), "cidr": "10.0.0.0/16",
                "subnet_id": "subnet-1", "security_group_id": "sg-1", "instance_id": format!("i-{s}"), "private_ip": ip})
        };
        let lab: Value = serde_json::from_str(include_str!(
            "../../../functions/ping-test/events/final.json"
        ))
        .expect("the ping-test example event");
        let mut plan = lab["lab"].clone();
        plan["exercise"] = "missing-route-b".into();
        let input = serde_json::json!({
            "lab": plan, "sides": {"vpc_a": side("a", "10.0.1.4"), "vpc_b": side("b", "10.1.1.4")},
            "peering": {"peering_id": "pcx-1", "status": "active"}, "negative_control": {}
        });
        let event = check_event(&input, "check-1").unwrap();
        assert_eq!(event.lab.exercise, None);
        assert_eq!(
            (event.expect, event.phase.as_str()),
            (Expect::Reachable, "check-1")
        );
        assert_eq!(event.peering_id.as_deref(), Some("pcx-1"));
        assert_eq!(event.vpc_b.private_ip, "10.1.1.4");
        assert!(check_event(&serde_json::json!({"lab": 1}), "x").is_err());
    }
}
