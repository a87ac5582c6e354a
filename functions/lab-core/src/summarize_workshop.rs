//! summarize-workshop: the workshop's last state. Every lab's record from the Map (what the summary needs of its
//! report, or its error and cause) becomes the workshop's report: how many labs succeeded, which failed and why, and
//! what any lab's teardown left. A lab's full report is its child execution's output, not carried here: 40 of them
//! through the Map and this function would near Step Functions' 256 KiB payload quota. No AWS calls; a function rather than a Pass because counting and flattening arrays are beyond
//! what ASL's intrinsics do the same way on AWS and on the local AWS.

use serde::{Deserialize, Serialize};

use crate::error::{caught_error, cut, Result, MAX_MESSAGE};
use crate::preflight::QuotaCheck;

/// One lab as the Map records it (statemachine/workshop.asl.json: "Record the lab" / "Record the failure").
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabRecord {
    Succeeded {
        lab_id: String,
        /// The child execution's ARN; its output is the lab's full report.
        execution: String,
        /// What the summary needs of the report (the Map's ResultSelector): `ping` (reachable, received,
        /// transmitted) and `teardown` (deleted: how many, remaining: the ids).
        #[serde(alias = "report")]
        digest: serde_json::Value,
    },
    Failed {
        lab_id: String,
        /// What the Map's Task caught.
        error: Caught,
    },
}

/// A Catch's error output, whole: `States.TaskFailed` for a child that failed, timed out or was aborted (the cause
/// then holds the child's DescribeExecution as JSON, as moto's Step Functions engine gives it; AWS's documented
/// `.sync` behaviour does not say more), or the Task's own error (e.g. `StepFunctions.ExecutionAlreadyExistsException`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Caught {
    pub error: String,
    #[serde(default)]
    pub cause: Option<String>,
}

/// The event: the plan's id and quotas, and the Map's records, one per lab in the plan's order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SummaryEvent {
    pub workshop_id: String,
    #[serde(default)]
    pub quotas: Vec<QuotaCheck>,
    pub results: Vec<LabRecord>,
}

/// A lab that did not succeed, with the child's own error where its cause carries it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FailedLab {
    pub lab_id: String,
    /// The child's execution ARN, when the cause names it.
    pub execution: Option<String>,
    /// The child's status when known (FAILED, TIMED_OUT, ABORTED).
    pub status: Option<String>,
    /// The child's error (e.g. PingFailed; for a child that failed on a `States.*` error, that error) when its cause
    /// carries it, else the Map Task's.
    pub error: String,
    /// At most [`MAX_MESSAGE`] bytes.
    pub cause: Option<String>,
}

/// The workshop's output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WorkshopSummary {
    pub workshop_id: String,
    pub labs: u64,
    pub succeeded: u64,
    pub failed: Vec<FailedLab>,
    /// What succeeded labs' teardowns reported remaining (a failed lab's teardown ran in its own execution, and the
    /// backstop covers one that never did).
    pub leaked: Vec<String>,
    pub quotas: Vec<QuotaCheck>,
    /// Every lab's record in the plan's order; a failed one's `error` without its cause (the raw cause is the
    /// child's DescribeExecution: `failed` has what it says).
    pub results: Vec<LabRecord>,
}

/// The child's DescribeExecution in a `.sync` failure's cause, as the integration shapes it: PascalCase keys
/// (`ExecutionArn`, `Status`, `Error`, `Cause`: moto's engine, ported from LocalStack, normalises the response to
/// the integration's shape before it serialises it into the cause); the API's camelCase is accepted too.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChildExecution {
    #[serde(alias = "executionArn")]
    execution_arn: Option<String>,
    #[serde(alias = "status")]
    status: Option<String>,
    #[serde(alias = "error")]
    error: Option<String>,
    #[serde(alias = "cause")]
    cause: Option<String>,
}

pub fn failed(lab_id: &str, error: &str, cause: Option<&str>) -> FailedLab {
    let mut lab = described(lab_id, error, cause);
    lab.cause = lab.cause.map(|c| cut(&c, MAX_MESSAGE));
    lab
}

fn described(lab_id: &str, error: &str, cause: Option<&str>) -> FailedLab {
    let child = cause
        .and_then(|c| serde_json::from_str::<ChildExecution>(c).ok())
        .filter(|c| c.execution_arn.is_some() || c.status.is_some());
    match child {
        Some(child) => {
            // a lab that failed on a States.* error names it inside its cause (crate::error::STEP_FUNCTIONS_ERROR)
            let (error, cause) = match child.error {
                Some(own) => caught_error(&own, child.cause.as_deref()),
                None => (error.to_string(), child.cause),
            };
            FailedLab {
                lab_id: lab_id.to_string(),
                execution: child.execution_arn,
                status: child.status,
                error,
                cause,
            }
        }
        None => FailedLab {
            lab_id: lab_id.to_string(),
            execution: None,
            status: None,
            error: error.to_string(),
            cause: cause.map(str::to_string),
        },
    }
}

pub fn summarize(event: SummaryEvent) -> WorkshopSummary {
    let mut succeeded = 0;
    let mut failures = Vec::new();
    let mut leaked = Vec::new();
    let mut results = Vec::with_capacity(event.results.len());
    for record in event.results {
        match &record {
            LabRecord::Succeeded { digest, .. } => {
                succeeded += 1;
                let remaining = digest
                    .pointer("/teardown/remaining")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|id| id.as_str().map(str::to_string));
                leaked.extend(remaining);
            }
            LabRecord::Failed { lab_id, error } => {
                failures.push(failed(lab_id, &error.error, error.cause.as_deref()));
                results.push(LabRecord::Failed {
                    lab_id: lab_id.clone(),
                    error: Caught {
                        error: error.error.clone(),
                        cause: None,
                    },
                });
                continue;
            }
        }
        results.push(record);
    }
    WorkshopSummary {
        workshop_id: event.workshop_id,
        labs: results.len() as u64,
        succeeded,
        failed: failures,
        leaked,
        quotas: event.quotas,
        results,
    }
}

pub async fn handler(
    event: SummaryEvent,
    _aws: &impl crate::clients::Aws,
) -> Result<WorkshopSummary> {
    Ok(summarize(event))
}

#[cfg(test)]
mod tests;
