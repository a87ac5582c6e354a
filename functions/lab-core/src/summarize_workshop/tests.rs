use super::*;
use crate::test_support::*;

#[tokio::test]
async fn the_summary_counts_names_the_failure_by_the_childs_error_and_lists_what_was_left() {
    let summary = handler(
        event!("summarize-workshop/events/one-failed.json"),
        &clients(no_ec2(), no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!((summary.labs, summary.succeeded), (3, 2));
    assert_eq!(
        summary.failed,
        [FailedLab {
            lab_id: "class-1-2".into(),
            execution: Some(
                "arn:aws:states:us-east-1:123456789012:execution:peerlab-LabStateMachine:class-1-2"
                    .into()
            ),
            status: Some("FAILED".into()),
            error: "PingFailed".into(),
            cause: Some("Blocked at: network ACL acl-1 denies ICMP into subnet subnet-2".into()),
        }]
    );
    assert_eq!(summary.leaked, ["vpce-9"]);
    assert_eq!(summary.results.len(), 3);
    // the failed lab's raw cause (its child's DescribeExecution) once, as `failed` reads it, not again in `results`
    assert_eq!(
        summary.results[1],
        LabRecord::Failed {
            lab_id: "class-1-2".into(),
            error: Caught {
                error: "States.TaskFailed".into(),
                cause: None
            }
        }
    );
}

#[test]
fn a_record_of_an_execution_started_before_the_digest_is_read_too() {
    // a workshop in flight when the stack is updated: its Map recorded `report`, the lab's whole report
    let record: LabRecord = serde_json::from_value(serde_json::json!({
        "lab_id": "w-1", "status": "SUCCEEDED", "execution": "arn:x",
        "report": {"lab_id": "w-1", "teardown": {"deleted": ["vpc-1"], "remaining": ["vpce-1"]}}
    }))
    .unwrap();
    let s = summarize(SummaryEvent {
        workshop_id: "w".into(),
        quotas: vec![],
        results: vec![record],
    });
    assert_eq!((s.succeeded, s.leaked), (1, vec!["vpce-1".to_string()]));
}

#[test]
fn a_long_cause_is_cut_to_the_bound() {
    let child = serde_json::json!({
        "ExecutionArn": "arn:x", "Status": "FAILED", "Error": "AwsError",
        "Cause": format!("UnauthorizedOperation: {}", "x".repeat(5000)),
    })
    .to_string();
    let f = failed("w-1", "States.TaskFailed", Some(&child));
    let cause = f.cause.unwrap();
    assert!(cause.len() <= crate::error::MAX_MESSAGE, "{}", cause.len());
    assert!(cause.starts_with("UnauthorizedOperation: xxx") && cause.ends_with(" bytes cut)"));
}

#[test]
fn the_childs_description_is_read_in_either_casing() {
    let api = r#"{"executionArn": "arn:x", "status": "TIMED_OUT", "error": "States.Timeout", "cause": "c"}"#;
    let f = failed("w-1", "States.TaskFailed", Some(api));
    assert_eq!(
        (
            f.execution.as_deref(),
            f.status.as_deref(),
            f.error.as_str()
        ),
        (Some("arn:x"), Some("TIMED_OUT"), "States.Timeout")
    );
    // an aborted child: no error of its own, the Task's stays
    let f = failed(
        "w-1",
        "States.TaskFailed",
        Some(r#"{"ExecutionArn": "arn:x", "Status": "ABORTED"}"#),
    );
    assert_eq!(
        (f.status.as_deref(), f.error.as_str(), f.cause),
        (Some("ABORTED"), "States.TaskFailed", None)
    );
}

#[test]
fn a_child_that_failed_on_a_step_functions_error_is_named_by_that_error() {
    let child = serde_json::json!({
        "ExecutionArn": "arn:x",
        "Status": "FAILED",
        "Error": crate::error::STEP_FUNCTIONS_ERROR,
        "Cause": r#"{"Error":"States.Timeout","Cause":"create-vpc took too long"}"#,
    })
    .to_string();
    let f = failed("w-1", "States.TaskFailed", Some(&child));
    assert_eq!(
        (f.error.as_str(), f.cause.as_deref(), f.status.as_deref()),
        (
            "States.Timeout",
            Some("create-vpc took too long"),
            Some("FAILED")
        )
    );
}

#[test]
fn a_cause_that_is_not_a_childs_description_is_kept_as_it_is() {
    let f = failed(
        "w-1",
        "States.Runtime",
        Some("An error occurred while executing the state"),
    );
    assert_eq!(
        (f.error.as_str(), f.execution, f.status),
        ("States.Runtime", None, None)
    );
    assert_eq!(
        f.cause.as_deref(),
        Some("An error occurred while executing the state")
    );
    // JSON that is not an execution's description (a Lambda error's) is kept whole too
    let lambda = r#"{"errorMessage": "boom", "errorType": "X"}"#;
    assert_eq!(
        failed("w-1", "X", Some(lambda)).cause.as_deref(),
        Some(lambda)
    );
    let f = failed("w-1", "StepFunctions.ExecutionAlreadyExistsException", None);
    assert_eq!(
        (f.error.as_str(), f.cause),
        ("StepFunctions.ExecutionAlreadyExistsException", None)
    );
}

#[test]
fn an_empty_workshop_summary_is_all_zeroes() {
    let s = summarize(SummaryEvent {
        workshop_id: "w".into(),
        quotas: vec![],
        results: vec![],
    });
    assert_eq!(
        (s.labs, s.succeeded, s.failed.len(), s.leaked.len()),
        (0, 0, 0, 0)
    );
}
