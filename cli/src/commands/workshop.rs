//! `peerlab workshop --labs N`: N labs at once, one per student, through the workshop state machine: the input
//! checked with the preflight's own rules before anything starts, each lab followed live (one line per lab), the
//! summary table at the end. Exit 0 only if every lab succeeded and nothing leaked; 2 when the input is wrong or
//! the account's quotas cannot hold the workshop (the preflight's message); 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lab_core::preflight::plan;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::error::{aws, usage};
use crate::input::{check_name, default_name};
use crate::local;
use crate::place::{aws_config, place, Global, Local, Place};
use crate::sfn::sdk_history;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many labs (students), 1 to 40.
    #[arg(long)]
    labs: u32,
    /// Every lab's input (JSON, as for `peerlab run`; no lab_id, no peer). Default: {} — the tutorial's lab.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Give lab i its own /16 blocks for VPC A and B, carved in order from this block (e.g. 10.0.0.0/8).
    #[arg(long, value_name = "CIDR")]
    cidr_base: Option<String>,
    /// Names the labs <ID>-1 .. <ID>-N. Default: from the execution's name.
    #[arg(long, value_name = "ID")]
    workshop_id: Option<String>,
    /// Run on a local AWS: the one at --endpoint, or a private one started for this workshop. On AWS, pass
    /// --state-machine-arn with the stack's WorkshopStateMachineArn output instead.
    #[arg(long)]
    local: bool,
    /// Execution name of the workshop (each lab's is <NAME>-<i>). Default: workshop-<UTC time>.
    #[arg(long)]
    name: Option<String>,
    /// Write the workshop's report (the summary and every lab's full report, read from its child execution) as JSON
    /// here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the workshop's timeline picture (SVG) here: one row per lab.
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,
    /// Stop following after this many seconds (default: 30 minutes plus the labs' hold_seconds).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Extra arguments for the private local AWS (infra/local/start), e.g. "--quota ec2/L-1216C47A=32".
    #[arg(long, allow_hyphen_values = true, value_name = "ARGS")]
    local_args: Option<String>,
    /// The built step functions for the private local AWS (default: $CARGO_TARGET_DIR/debug or target/debug).
    #[arg(long, value_name = "DIR")]
    lambda_dir: Option<PathBuf>,
}

/// The workshop's input as the preflight reads it, from the arguments: checked here with its own rules (nothing
/// is started on a mistake). Returns the input and the planned labs.
pub fn workshop_input(
    args: &Args,
    name: &str,
    now: OffsetDateTime,
) -> Result<(Value, plan::Workshop)> {
    let lab = match &args.input {
        None => json!({}),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| usage(format!("input {}: {e}", p.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| usage(format!("input {}: not JSON: {e}", p.display())))?
        }
    };
    let mut input = json!({"labs": args.labs, "lab": lab});
    if let Some(base) = &args.cidr_base {
        input["cidr_base"] = json!(base);
    }
    if let Some(id) = &args.workshop_id {
        input["workshop_id"] = json!(id);
    }
    let parsed = plan::parse(input.clone()).map_err(|e| usage(e.to_string()))?;
    let planned = plan::plan(&parsed, name, now).map_err(|e| usage(e.to_string()))?;
    Ok((input, planned))
}

/// The child labs a workshop has started so far: (name, execution ARN) from its `startExecution` Tasks' scheduled
/// parameters (the lab state machine and the name it gave), in the order they were scheduled.
pub fn children(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in events {
        let Some(d) = e.task_scheduled_event_details() else {
            continue;
        };
        if d.resource_type() != "states" {
            continue;
        }
        let Ok(p) = serde_json::from_str::<Value>(d.parameters()) else {
            continue;
        };
        let (Some(machine), Some(name)) = (p["StateMachineArn"].as_str(), p["Name"].as_str())
        else {
            continue;
        };
        let arn = format!(
            "{}:{name}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        );
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), arn));
        }
    }
    out
}

/// Where a child comes in the workshop's plan: its name is `<workshop execution>-<i>` (the preflight's), so by
/// `i`, then by name. The Map's iterations run at once, so the history lists their starts in any order.
pub fn plan_order(name: &str) -> (u64, String) {
    let index = name
        .rsplit_once('-')
        .and_then(|(_, i)| i.parse().ok())
        .unwrap_or(u64::MAX);
    (index, name.to_string())
}

async fn lab_now(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Option<LabNow>> {
    let described = match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(d) => d,
        // started by the Map a moment ago: not visible yet
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_does_not_exist()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(aws(&format!("execution {arn}"), e)),
    };
    // the state it entered last: the StateEntered event with the highest id of the whole history (on the local
    // AWS a page of 25 read with reverse_order showed the first states, not the last: the order is not relied on)
    let events = crate::sfn::history(sfn, arn).await?;
    let state = events
        .iter()
        .filter(|e| e.entered())
        .max_by_key(|e| e.id)
        .and_then(|e| e.state.clone());
    let end = described
        .stop_date()
        .map(|t| t.as_secs_f64())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default()
        });
    Ok(Some(LabNow {
        status: described.status().as_str().to_string(),
        state,
        seconds: end - described.start_date().as_secs_f64(),
    }))
}

/// The exit code: 0 only if the workshop and every lab succeeded and nothing leaked; 2 when the preflight refused
/// it (a mistake in what was asked, or a workshop the quotas cannot hold: nothing was created); 1 otherwise.
pub fn exit_code(status: &str, error: Option<&str>, out: &Value, leaked: &[String]) -> u8 {
    if status == "FAILED" && matches!(error, Some("QuotaExceeded" | "InvalidInput")) {
        return 2;
    }
    let all = out["labs"].as_u64().is_some() && out["labs"] == out["succeeded"];
    let none_left = out["leaked"].as_array().is_some_and(Vec::is_empty) && leaked.is_empty();
    if status == "SUCCEEDED" && all && none_left {
        0
    } else {
        1
    }
}

/// The workshop state machine on the local AWS: the stack's, deployed when it is not there.
fn prepare_local(local: &Local, global: &Global, args: &Args) -> Result<String> {
    let (url, stack) = (local.url(), global.stack.as_str());
    local
        .stack(stack, args.lambda_dir.as_deref(), &[])?
        .workshop
        .ok_or_else(|| {
            usage(format!(
                "stack {stack} on {url} has no WorkshopStateMachineArn output: deploy this version's template (make deploy ENDPOINT={url})"
            ))
        })
}

pub async fn workshop(global: &Global, args: &Args) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name("workshop", now));
    check_name(&name)?;
    let (input, planned) = workshop_input(args, &name, now)?;
    let hold = planned
        .labs
        .first()
        .and_then(|l| l.input["hold_seconds"].as_u64())
        .unwrap_or(0);
    let timeout = Duration::from_secs(args.timeout.unwrap_or(1800 + hold));
    let where_ = place(
        args.local,
        global,
        "workshop",
        "with the stack's WorkshopStateMachineArn",
    )?;
    let (local, machine) = match where_ {
        Place::Aws(machine) => (None, machine),
        Place::Endpoint(url) => {
            let local = Local::Shared(url);
            let machine = prepare_local(&local, global, args)?;
            (Some(local), machine)
        }
        Place::Private => {
            let local = Local::start(args.lambda_dir.as_deref(), args.local_args.as_deref())?;
            let machine = prepare_local(&local, global, args)?;
            (Some(local), machine)
        }
    };
    let config = match &local {
        Some(local) => local::config(local.url()).await,
        None => aws_config(global.region.as_deref()).await?,
    };
    let sfn = aws_sdk_sfn::Client::new(&config);
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| aws("starting the workshop", e))?;
    let arn = started.execution_arn().to_string();
    println!(
        "started {arn}: {} labs ({})",
        planned.labs.len(),
        planned
            .labs
            .iter()
            .map(|l| l.lab_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let poll = if local.is_some() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(3)
    };
    let deadline = Instant::now() + timeout;
    let mut view = View::new()?;
    let described = loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| aws(&format!("execution {arn}"), e))?;
        let events = sdk_history(&sfn, &arn).await?;
        for (child, child_arn) in children(&events) {
            if let Some(now) = lab_now(&sfn, &child_arn).await? {
                view.show(&child, &now)?;
            }
        }
        if described.status().as_str() != "RUNNING" {
            break described;
        }
        if Instant::now() > deadline {
            view.finish();
            bail!(
                "the workshop did not end within {} s; it keeps running (each lab tears itself down) — `peerlab status {arn}`",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(poll).await;
    };
    view.finish();
    let status = described.status().as_str().to_string();
    let output: Value = described
        .output()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    let mut leaked = Vec::new();
    if let Some(local) = &local {
        for lab in &planned.labs {
            let lab_id = match local {
                Local::Private(_) => None,
                Local::Shared(_) => Some(lab.lab_id.as_str()),
            };
            for r in local::resources(local.url(), lab_id)? {
                let item = format!(
                    "{} {}",
                    r["type"].as_str().unwrap_or("?"),
                    r["id"].as_str().unwrap_or("?")
                );
                if !leaked.contains(&item) {
                    leaked.push(item);
                }
            }
        }
    }
    println!();
    let error = described.error().map(str::to_string);
    if status == "SUCCEEDED" {
        for line in summary_lines(&output) {
            println!("{line}");
        }
    } else {
        println!(
            "workshop {status}: {}: {}",
            error.as_deref().unwrap_or("?"),
            crate::history::error_message(described.cause().unwrap_or_default())
        );
    }
    if local.is_some() {
        println!(
            "  leaked resources: {}",
            if leaked.is_empty() {
                "none".to_string()
            } else {
                leaked.join(", ")
            }
        );
    }
    if let Some(path) = &args.report {
        // every lab's full report is its child execution's output: the workshop's carries only what its summary
        // needs (statemachine/workshop.asl.json, "Run the lab")
        let mut reports = Vec::new();
        let mut started = children(&sdk_history(&sfn, &arn).await?);
        started.sort_by_key(|(name, _)| plan_order(name));
        for (name, child) in started {
            let lab = crate::sfn::describe(&sfn, &child).await?;
            let report = lab
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str::<Value>(o).ok());
            reports.push(
                json!({"name": name, "execution": child, "status": lab.status,
                                "error": lab.error, "cause": lab.cause, "report": report}),
            );
        }
        let report = json!({"execution": arn, "status": status, "error": error,
                            "cause": described.cause(), "workshop": output, "labs": reports,
                            "leaked": leaked});
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.timeline {
        let whole = crate::sfn::describe(&sfn, &arn).await?;
        let events = sdk_history(&sfn, &arn).await?;
        let mut labs = Vec::new();
        for (_, child) in children(&events) {
            labs.push((
                crate::sfn::describe(&sfn, &child).await?,
                crate::sfn::history(&sfn, &child).await?,
            ));
        }
        std::fs::write(path, crate::timeline::workshop_svg(&whole, &labs))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("timeline: {}", path.display());
    }
    drop(local);
    let code = exit_code(&status, error.as_deref(), &output, &leaked);
    if code == 2 {
        // the preflight refused it before anything was created: say so as a mistake in what was asked
        return Err(usage(format!(
            "{}: {}",
            error.as_deref().unwrap_or("?"),
            crate::history::error_message(described.cause().unwrap_or_default())
        )));
    }
    Ok(ExitCode::from(code))
}

mod view;

use view::View;
pub use view::{lab_line, summary_lines, LabNow};

#[cfg(test)]
mod tests;
