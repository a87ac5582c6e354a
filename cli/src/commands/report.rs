//! `peerlab report EXECUTION [--json]`: the report of an execution, as text or as the JSON `run --report` writes.

use std::process::ExitCode;

use anyhow::Result;

use crate::place::Global;
use crate::report;
use crate::sfn::{describe, history};

#[derive(clap::Args, Debug)]
pub struct Args {
    execution: String,
    #[arg(long)]
    json: bool,
}

pub async fn show(global: &Global, args: &Args) -> Result<ExitCode> {
    let sfn = global.sfn().await?;
    let arn = global.execution_arn(&args.execution)?;
    let execution = describe(&sfn, &arn).await?;
    let built = report::build(&execution, &history(&sfn, &arn).await?);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&built.json)?);
    } else {
        built.lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(ExitCode::SUCCESS)
}
