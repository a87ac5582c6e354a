//! `peerlab`: start a two-VPC peering lab and follow it, on the local AWS or on AWS.
//!
//!     peerlab run --local                         # a private local AWS for this run, then gone
//!     peerlab run --state-machine-arn ARN         # on AWS (or PEERLAB_STATE_MACHINE_ARN)
//!     peerlab status|report EXECUTION ; peerlab ls ; peerlab sweep --dry-run
//!     peerlab check EXECUTION                     # a held exercise lab: does the ping get through now?
//!     peerlab timeline EXECUTION -o run.svg
//!     peerlab schedule --at 2026-12-01T09:00:00Z [--input FILE]   # a lab EventBridge Scheduler starts later
//!     peerlab workshop --labs 2 --local            # N labs at once after a quota check
//!
//! This file parses the command line, runs the command (`peerlab::commands`) and turns its outcome into the exit
//! code: 0, 1 for a lab or AWS that failed, 2 for a mistake in what was asked (clap's own errors too).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peerlab::commands::{check, ls, report, run, schedule, status, sweep, timeline, workshop};
use peerlab::error::Usage;
use peerlab::place::Global;

#[derive(Parser)]
#[command(
    name = "peerlab",
    version,
    about = "Start a two-VPC peering lab and follow it, on the local AWS or on AWS"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the input, start a lab, follow it live, print the report; exit 1 if the lab failed.
    Run(run::Args),
    /// One line: the execution's status, the step it is on, its retries.
    Status(status::Args),
    /// The report of an execution (text, or the JSON `run --report` writes).
    Report(report::Args),
    /// Ping B from A again now, in a held lab (a break-and-fix exercise being repaired): "fixed", or the hop that
    /// still blocks it; exit 0 only when the ping gets through.
    Check(check::Args),
    /// The labs that exist (by their peerlab tags), with their expiry, and the executions running.
    Ls,
    /// What teardown's sweep mode deletes: every lab whose peerlab:expires-at has passed.
    Sweep(sweep::Args),
    /// Have EventBridge Scheduler start a lab later (a one-time schedule that deletes itself once it has run); the
    /// lab tears itself down as usual. On a local AWS (--endpoint) the stack's outputs give the state machine and
    /// the scheduler's role; on AWS pass --state-machine-arn and --role-arn (the stack's outputs).
    Schedule(schedule::Args),
    /// A Gantt-style SVG of a run: steps, waits, retries, hold, teardown.
    Timeline(timeline::Args),
    /// N labs at once, one per student, after a check of the account's quotas: each lab followed live (one line
    /// each), the summary table at the end; exit 0 only if every lab succeeded and nothing leaked, 2 when the
    /// quotas cannot hold the workshop (nothing is created).
    Workshop(workshop::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = &cli.global;
    let result = match &cli.command {
        Command::Run(args) => run::run(global, args).await,
        Command::Status(args) => status::status(global, args).await,
        Command::Report(args) => report::show(global, args).await,
        Command::Check(args) => check::check(global, args).await,
        Command::Ls => ls::ls(global).await,
        Command::Sweep(args) => sweep::sweep(global, args).await,
        Command::Schedule(args) => schedule::schedule(global, args).await,
        Command::Timeline(args) => timeline::draw(global, args).await,
        Command::Workshop(args) => workshop::workshop(global, args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("peerlab: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
