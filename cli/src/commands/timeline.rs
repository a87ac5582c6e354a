//! `peerlab timeline (EXECUTION | --history FILE) -o FILE.svg`: a Gantt-style SVG of a run, read from Step
//! Functions or from a recording.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::history::read_recording;
use crate::place::Global;
use crate::sfn::{describe, history};
use crate::timeline;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, short, value_name = "FILE.svg")]
    output: PathBuf,
    #[command(flatten)]
    run: Run,
}

/// The run to draw: one of the two.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct Run {
    /// The execution (ARN, or name with --state-machine-arn / on the local AWS).
    execution: Option<String>,
    /// Draw a recorded run instead: `aws stepfunctions get-execution-history` JSON, or
    /// {"execution": <describe-execution>, "history": <get-execution-history>}.
    #[arg(long, value_name = "FILE.json")]
    history: Option<PathBuf>,
}

pub async fn draw(global: &Global, args: &Args) -> Result<ExitCode> {
    let (execution, events) = match (&args.run.execution, &args.run.history) {
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            read_recording(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?
        }
        (Some(given), None) => {
            let sfn = global.sfn().await?;
            let arn = global.execution_arn(given)?;
            (describe(&sfn, &arn).await?, history(&sfn, &arn).await?)
        }
        // clap's group allows exactly one of them
        _ => return Err(usage("give an execution, or --history FILE, not both")),
    };
    let output = &args.output;
    std::fs::write(output, timeline::svg(&execution, &events))
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{}: {} ({} events)",
        output.display(),
        execution.status,
        events.len()
    );
    Ok(ExitCode::SUCCESS)
}
