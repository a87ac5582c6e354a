//! `peerlab schedule --at TIME`: have EventBridge Scheduler start a lab later (a one-time schedule that deletes
//! itself once it has run); the lab tears itself down as usual.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use time::OffsetDateTime;

use crate::error::{aws, usage};
use crate::input::{check_name, default_name, read_input};
use crate::place::{project_root, Global};
use crate::stack::StackTool;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// When: an RFC 3339 time (2026-12-01T09:00:00Z, 2026-12-01T10:00:00+01:00), or +DURATION from now
    /// (+90s, +15m, +2h).
    #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
    at: String,
    /// The lab's input (JSON), validated now. Without lab_id, the schedule's name becomes the lab id.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// The schedule's name (and the lab's, unless the input sets lab_id). Default: lab-<UTC time of TIME>.
    #[arg(long)]
    name: Option<String>,
    /// The role EventBridge Scheduler assumes to start the lab (the stack's SchedulerRoleArn output).
    #[arg(long, env = "PEERLAB_SCHEDULER_ROLE_ARN", value_name = "ARN")]
    role_arn: Option<String>,
}

/// `--at`: an RFC 3339 time, or +N s|m|h|d from now; whole seconds, in UTC.
fn parse_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let bad = || {
        usage(format!(
            "--at {text:?}: give an RFC 3339 time (2026-12-01T09:00:00Z) or +DURATION (+90s, +15m, +2h, +1d)"
        ))
    };
    let at = if let Some(rest) = text.strip_prefix('+') {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, unit) = rest.split_at(split);
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" | "" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86400,
            _ => return Err(bad()),
        };
        now + time::Duration::seconds(seconds)
    } else {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad())?
    };
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| bad())?;
    if at <= now {
        return Err(usage(format!("--at {text:?}: {at} is not in the future")));
    }
    Ok(at)
}

/// EventBridge Scheduler's one-time expression (Scheduler User Guide, schedule-types.html: at(yyyy-mm-ddThh:mm:ss),
/// in ScheduleExpressionTimezone, UTC here).
fn at_expression(at: OffsetDateTime) -> String {
    format!(
        "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The state machine the schedule starts and the role it starts it as: both given, or on a local AWS the stack's
/// outputs for whichever is not.
fn target(global: &Global, role_arn: Option<&str>) -> Result<(String, String)> {
    match (&global.endpoint, &global.state_machine_arn, role_arn) {
        (_, Some(machine), Some(role)) => Ok((machine.clone(), role.to_string())),
        (Some(url), _, _) => {
            let stack = &global.stack;
            let outputs = StackTool::new(&project_root()?)
                .outputs(url, stack)?
                .ok_or_else(|| {
                    usage(format!(
                        "no stack {stack} on {url}: deploy it first (make deploy ENDPOINT={url} STACK={stack})"
                    ))
                })?;
            Ok((
                global
                    .state_machine_arn
                    .clone()
                    .unwrap_or(outputs.state_machine),
                role_arn.map_or(outputs.scheduler_role, str::to_string),
            ))
        }
        _ => Err(usage(
            "on AWS, pass --state-machine-arn and --role-arn (the stack's StateMachineArn and SchedulerRoleArn outputs; make schedule reads them)",
        )),
    }
}

pub async fn schedule(global: &Global, args: &Args) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let at = parse_at(&args.at, now)?;
    let name = args.name.clone().unwrap_or_else(|| default_name("lab", at));
    check_name(&name)?;
    if name.len() > 64 {
        return Err(usage(format!(
            "--name {name:?}: a schedule name is at most 64 characters"
        )));
    }
    // validated as the lab will be when it starts; the schedule's name is the lab's unless the input names it
    let (input, plan) = read_input(args.input.as_deref(), &name, at)?;
    let mut value: serde_json::Value = serde_json::from_str(&input)?;
    if value.get("lab_id").is_none() {
        value["lab_id"] = serde_json::json!(plan.lab_id);
    }
    let (machine, role) = target(global, args.role_arn.as_deref())?;
    let config = global.config().await?;
    let target = Target::builder()
        .arn(&machine)
        .role_arn(&role)
        .input(value.to_string())
        // as the template's schedules: a lab delivered more than an hour late is not the lab that was asked for
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(3600)
                .maximum_retry_attempts(185)
                .build(),
        )
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let expression = at_expression(at);
    aws_sdk_scheduler::Client::new(&config)
        .create_schedule()
        .name(&name)
        .schedule_expression(&expression)
        .schedule_expression_timezone("UTC")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        )
        .action_after_completion(ActionAfterCompletion::Delete)
        .description(format!("peerlab lab {} (peerlab schedule)", plan.lab_id))
        .target(target)
        .send()
        .await
        .map_err(|e| aws("creating the schedule", e))?;
    println!(
        "scheduled lab {} for {expression} UTC: schedule {name} (default group) starts it, then deletes itself",
        plan.lab_id
    );
    if let Some(url) = &global.endpoint {
        // the local AWS runs Scheduler's clock at its time scale: say when it will really happen
        let report = crate::local::get(url, "/peerlab/scheduler")?;
        let wall = report["schedules"].as_array().and_then(|all| {
            all.iter()
                .find(|s| s["name"] == name.as_str() && s["group"] == "default")
                .and_then(|s| s["next_invocation_wall"].as_str().map(str::to_string))
        });
        if let Some(wall) = wall {
            println!(
                "  on this local AWS (time scale {}): at {wall}",
                report["time_scale"]
            );
        }
    }
    println!(
        "  follow it once it runs: peerlab ls (running executions), then peerlab status|report NAME"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(
            "2026-12-01T09:00:00.25Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    #[test]
    fn at_takes_a_time_or_a_duration_in_whole_utc_seconds() {
        let at = |text: &str| at_expression(parse_at(text, now()).unwrap());
        assert_eq!(at("+90s"), "at(2026-12-01T09:01:30)");
        assert_eq!(at("+15m"), "at(2026-12-01T09:15:00)");
        assert_eq!(at("+1d"), "at(2026-12-02T09:00:00)");
        assert_eq!(at("2026-12-01T10:30:00+01:00"), "at(2026-12-01T09:30:00)");
    }

    #[test]
    fn at_refuses_the_past_and_other_units() {
        for text in ["2026-12-01T08:59:59Z", "+0s", "+10y", "+", "tomorrow"] {
            let err = parse_at(text, now()).unwrap_err();
            assert!(
                err.downcast_ref::<crate::error::Usage>().is_some(),
                "{text}"
            );
        }
    }
}
