//! Reading executions from Step Functions: describe one, read its whole history, follow one live to its end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::aws;
use crate::history::{Event, Execution};
use crate::progress::Progress;

pub async fn describe(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Execution> {
    let d = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| aws(&format!("execution {arn}"), e))?;
    Ok(Execution::from_sdk(&d))
}

/// Every event of the execution's history, page after page.
pub async fn history(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Vec<Event>> {
    Ok(sdk_history(sfn, arn)
        .await?
        .iter()
        .map(Event::from_sdk)
        .collect())
}

/// The same, as the SDK gives each event (with every detail: a state's input, a task's parameters).
pub async fn sdk_history(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> Result<Vec<aws_sdk_sfn::types::HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws(&format!("history of {arn}"), e))?;
        events.extend(page.events().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(events);
        }
    }
}

/// A spinner on stderr saying what is going on now; hidden when stderr is not a terminal.
fn spinner() -> Result<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}")
            .context("the spinner's template")?,
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    Ok(bar)
}

/// What to do with an execution still running when following it times out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnTimeout {
    /// Stop it (a local AWS: nobody else follows it; the backstop tears a stopped lab down).
    Stop,
    /// Leave it running (AWS: its own teardown, or the backstop's, still runs).
    KeepRunning,
}

/// Follow an execution to its end, printing each line of progress as it happens, reading it every `poll`.
pub async fn follow(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    poll: Duration,
    timeout: Duration,
    on_timeout: OnTimeout,
) -> Result<(Execution, Vec<Event>)> {
    let deadline = Instant::now() + timeout;
    let bar = spinner()?;
    let mut progress = Progress::default();
    let mut seen = 0;
    loop {
        // Describe first: once it says ended, the history read after it has the last events.
        let execution = describe(sfn, arn).await?;
        let events = history(sfn, arn).await?;
        for e in &events[seen.min(events.len())..] {
            for line in progress.feed(e) {
                bar.suspend(|| println!("{line}"));
            }
        }
        seen = events.len();
        bar.set_message(progress.now());
        if !execution.running() {
            bar.finish_and_clear();
            return Ok((execution, events));
        }
        if Instant::now() > deadline {
            bar.finish_and_clear();
            let seconds = timeout.as_secs();
            if on_timeout == OnTimeout::KeepRunning {
                bail!(
                    "the execution did not end within {seconds} s; it keeps running — `peerlab status {arn}`"
                );
            }
            // the backstop tears a stopped lab down; a stop that failed leaves the lab running: say which
            let stopped = sfn
                .stop_execution()
                .execution_arn(arn)
                .error("Timeout")
                .cause("peerlab run gave up")
                .send()
                .await;
            match stopped {
                Ok(_) => bail!("the execution did not end within {seconds} s: stopped it ({arn})"),
                Err(e) => {
                    let why = aws("stopping it", e);
                    bail!(
                        "the execution did not end within {seconds} s and is still running ({why}) — `peerlab status {arn}`"
                    )
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}
