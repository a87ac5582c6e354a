//! teardown: find everything of a lab by its tag and delete it in dependency order (`plan`), one pass per
//! invocation (`execute`), until nothing is left. Safe to run any number of times, on a half-built lab too; never
//! touches a resource without the lab's tag (routes are changed only in the lab's own, tagged route tables).
//! What cannot go yet stays in `remaining`, and the step fails `NotReady` so the state machine retries.
//!
//! Three callers: the lab state machine (its lab, or after a failure with a quiet period), the sweeper schedule
//! (`{"mode": "sweep"}`: every expired lab), and the backstop (EventBridge's event of an execution that ended
//! without its own teardown).

use std::collections::BTreeSet;

use futures::future::join_all;
use time::OffsetDateTime;

use crate::clients::{Aws, Scope};
use crate::error::{LabError, Result};
use crate::input;
use crate::model::{
    ExecutionStatusChange, TeardownEvent, TeardownMode, TeardownOutput, TeardownRequest,
};

mod execute;
mod inventory;
mod plan;
mod sweep;

pub use execute::{execute, Pass};
pub use inventory::{discover, Inventory, Kind, LabTable, Resource};
pub use plan::{deletions, Deletion};
pub use sweep::{expired_labs, sweep, SWEEP_BUDGET};

/// The teardown binary's handler: a lab or a sweep from the state machine or a schedule, or the backstop's
/// EventBridge event for an execution that ended without running its own teardown.
pub async fn handler(event: TeardownRequest, aws: &impl Aws) -> Result<TeardownOutput> {
    // Boxed: both futures inline would nest deeper than rustc's layout limit in the binary.
    match event {
        TeardownRequest::Lab(event) => Box::pin(lab(event, aws)).await,
        TeardownRequest::Backstop(event) => Box::pin(backstop(event, aws)).await,
    }
}

const STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Tear down what an ended execution left. The lab (its id, and the peer account or region of side B) is the
/// execution's input as validate-input read it; an input that does not validate created nothing.
pub async fn backstop(event: ExecutionStatusChange, aws: &impl Aws) -> Result<TeardownOutput> {
    if event.source != "aws.states" || event.detail_type != STATUS_CHANGE {
        return Err(LabError::invalid(format!(
            "detail-type: {:?} from {:?} is not a {STATUS_CHANGE:?} event of aws.states",
            event.detail_type, event.source
        )));
    }
    let detail = &event.detail;
    if !matches!(
        detail.status.as_str(),
        "FAILED" | "TIMED_OUT" | "ABORTED" | "SUCCEEDED"
    ) {
        return Err(LabError::invalid(format!(
            "detail.status: {} is {}: the backstop tears down only executions that have ended",
            detail.execution_arn, detail.status
        )));
    }
    let started = detail
        .start_date
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let (lab_id, plan) = match detail.input.as_deref() {
        // Without its input (too large for the event) the lab is named after the execution, at home only.
        None => (input::lab_id_from(&detail.name), None),
        Some(text) => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| LabError::invalid(format!("detail.input: not JSON: {e}")))?;
            match input::parse_input(value).and_then(|i| input::validate(&i, &detail.name, started))
            {
                Ok(plan) => (plan.lab_id.clone(), Some(plan)),
                Err(LabError::InvalidInput(why)) => {
                    tracing::info!(
                        "{}: input did not validate ({why}): it created nothing",
                        detail.execution_arn
                    );
                    return Ok(TeardownOutput::default());
                }
                Err(other) => return Err(other),
            }
        }
    };
    let mut scopes = vec![aws.home()];
    if let Some(lab) = plan.as_ref().filter(|l| l.peer.is_some()) {
        scopes.push(aws.peer(lab.peer_access()).await?);
    }
    // A stopped or failed execution may have left a create in flight: keep looking for a quiet period.
    let quiet = Quiet {
        retries_done: event.retry_count,
        retries_needed: QUIET_RETRIES,
    };
    teardown(&scopes, &lab_id, &[], quiet).await
}

/// A lab torn down by the state machine (or a person), or a sweep of the expired labs.
pub async fn lab(event: TeardownEvent, aws: &impl Aws) -> Result<TeardownOutput> {
    if event.mode == TeardownMode::Sweep {
        return sweep(&aws.home(), OffsetDateTime::now_utc(), SWEEP_BUDGET).await;
    }
    let lab_id = event
        .lab_id
        .clone()
        .or_else(|| event.lab.as_ref().map(|l| l.lab_id.clone()))
        .ok_or_else(|| LabError::invalid("lab_id: required (or lab.lab_id) to tear a lab down"))?;
    let mut scopes = vec![aws.home()];
    if let Some(lab) = event.lab.as_ref().filter(|l| l.peer.is_some()) {
        scopes.push(aws.peer(lab.peer_access()).await?);
    }
    let quiet = Quiet {
        retries_done: event.retry_count,
        retries_needed: if event.after_failure {
            QUIET_RETRIES
        } else {
            0
        },
    };
    teardown(&scopes, &lab_id, &event.known(), quiet).await
}

/// How long teardown keeps looking after it finds nothing, counted in retries of its state.
///
/// A lab that failed or was stopped may have a create-vpc invocation still in flight: Step Functions does not
/// stop a Lambda function it no longer waits for, and what that invocation creates appears in a describe by
/// filter only after EC2's consistency lag. So after a failure teardown is done only when it finds nothing *and*
/// its state has been retried `needed` times: at the teardown retrier's fixed 15 s that is at least
/// `QUIET_RETRIES` x 15 s = 60 s after its first pass, more than create-vpc's Lambda timeout (30 s,
/// infra/template.yaml) plus the describe-by-filter lag's p99 (infra/local/README.md). The hazard is bounded by
/// the time since the failure, not since the first empty pass, so retries spent waiting for deletions count
/// towards it. Counted in retries, not clock time, so that a time-scaled local AWS scales it like every other wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quiet {
    /// `$$.State.RetryCount`: retries of the teardown state so far.
    pub retries_done: u32,
    pub retries_needed: u32,
}

/// The quiet period after a failure or a stop, in retries of a teardown state (see `Quiet`).
pub const QUIET_RETRIES: u32 = 4;

/// Tear a lab down in the given scopes (home, and the peer's if it is elsewhere). `known` are ids the execution
/// knew of: reported as deleted once they are gone. Fails `NotReady` while anything remains, and while the quiet
/// period after a failure lasts.
pub async fn teardown(
    scopes: &[Scope],
    lab_id: &str,
    known: &[String],
    quiet: Quiet,
) -> Result<TeardownOutput> {
    // The scopes' passes one after the other, home first: they share the peering, which the home account (the
    // requester) deletes; a peer account discovering it at the same time would try as well, and its accepter
    // role may not (UnauthorizedOperation would fail the teardown). The look-ups after every pass are only reads.
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut standing: Vec<Resource> = Vec::new();
    for scope in scopes {
        let before = discover(&scope.ec2, lab_id).await?;
        let pass = execute(&scope.ec2, &plan::deletions(&before)?).await?;
        standing.extend(left_by(&before, &pass));
        deleted.extend(pass.deleted);
    }
    // A VPC that a pass found and did not delete is still there: the lab is not gone, and looking again would
    // only list what remains, which the pass knows. So only a pass that deleted every VPC it found looks again
    // (what a step still in flight may have made since, what EC2 has not finished deleting). Every pass but the
    // last (while instances shut down) then makes one round of describes per account instead of two: half the
    // calls against EC2's describe rate limit that a class's teardowns share (EC2 API reference, "Request
    // throttling": a token bucket per account).
    let live: Vec<Resource> = if standing.iter().any(|r| r.kind == Kind::Vpc) {
        standing
    } else {
        let afters = join_all(scopes.iter().map(|scope| discover(&scope.ec2, lab_id))).await;
        let mut live = Vec::new();
        for after in afters {
            live.extend(after?.live());
        }
        live
    };
    let live_ids: BTreeSet<String> = live.iter().map(|r| r.id.clone()).collect();
    let mut remaining: Vec<String> = live.iter().map(ToString::to_string).collect();
    remaining.sort();
    remaining.dedup();
    for id in known {
        if !id.is_empty() && !live_ids.contains(id) {
            deleted.insert(id.clone());
        }
    }
    let deleted: Vec<String> = deleted.into_iter().collect();
    if !remaining.is_empty() {
        return Err(LabError::not_ready(format!(
            "teardown of {lab_id} in progress; remaining: {}",
            remaining.join(", ")
        )));
    }
    if quiet.retries_done < quiet.retries_needed {
        return Err(LabError::not_ready(format!(
            "nothing of {lab_id} is left; looking again for what a step in flight may still create (quiet period: retry {} of {})",
            quiet.retries_done, quiet.retries_needed
        )));
    }
    Ok(TeardownOutput {
        lab_ids: vec![lab_id.to_string()],
        deleted,
        remaining,
        left: Vec::new(),
    })
}

/// What a pass found live and left: all of it but what it removed, with what it began to delete in its
/// in-between state (an instance terminated is `shutting-down`; an endpoint or a peering deleted is `deleting`:
/// EC2 API reference, TerminateInstances, DeleteVpcEndpoints, DeleteVpcPeeringConnection).
fn left_by(before: &Inventory, pass: &Pass) -> Vec<Resource> {
    let begun: BTreeSet<&str> = pass.deleted.iter().map(String::as_str).collect();
    before
        .live()
        .into_iter()
        .filter(|r| !pass.removed.contains(&r.id))
        .map(|mut r| {
            if begun.contains(r.id.as_str()) {
                r.state = match r.kind {
                    Kind::Instance => Some("shutting-down".to_string()),
                    Kind::VpcEndpoint | Kind::VpcPeeringConnection => Some("deleting".to_string()),
                    _ => r.state,
                };
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests;
