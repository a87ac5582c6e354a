//! `peerlab status EXECUTION`: one line — the execution's status, the step it is on, its retries.

use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use super::ago;
use crate::place::Global;
use crate::progress::Progress;
use crate::runs::Runs;
use crate::sfn::{describe, history};

#[derive(clap::Args, Debug)]
pub struct Args {
    execution: String,
}

pub async fn status(global: &Global, args: &Args) -> Result<ExitCode> {
    let sfn = global.sfn().await?;
    let arn = global.execution_arn(&args.execution)?;
    let execution = describe(&sfn, &arn).await?;
    let progress = Progress {
        runs: Runs::from_events(&history(&sfn, &arn).await?),
    };
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
    let took = execution.stop.unwrap_or(now) - execution.start;
    let (doing, how_long) = match execution.running() {
        true => (
            format!(" — now: {}", progress.now()),
            format!("for {}", ago(took)),
        ),
        false => (String::new(), format!("after {}", ago(took))),
    };
    println!(
        "{}: {} {how_long}{doing}; {} states entered, {} retries",
        execution.name,
        execution.status,
        progress.runs.transitions(),
        progress.runs.retries()
    );
    Ok(ExitCode::SUCCESS)
}
