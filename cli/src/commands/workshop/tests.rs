use super::*;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType, TaskScheduledEventDetails};

fn args(labs: u32) -> Args {
    Args {
        labs,
        input: None,
        cidr_base: None,
        workshop_id: None,
        local: true,
        name: None,
        report: None,
        timeline: None,
        timeout: None,
        local_args: None,
        lambda_dir: None,
    }
}

#[test]
fn the_input_is_checked_with_the_preflights_rules_before_anything_starts() {
    let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let (input, planned) = workshop_input(&args(2), "class", now).unwrap();
    assert_eq!(input, json!({"labs": 2, "lab": {}}));
    assert_eq!(planned.labs[1].lab_id, "class-2");
    for (mut a, expected) in [
        (args(0), "labs: 0 is not between 1 and 40"),
        (
            Args {
                cidr_base: Some("10.0.0.0/15".into()),
                ..args(2)
            },
            "cidr_base: 10.0.0.0/15 holds 2 /16 block(s)",
        ),
        (
            Args {
                workshop_id: Some("Bad".into()),
                ..args(2)
            },
            "workshop_id: \"Bad\"",
        ),
    ] {
        a.local = true;
        let err = workshop_input(&a, "class", now).unwrap_err();
        assert!(err.downcast_ref::<crate::error::Usage>().is_some(), "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
    }
}

fn scheduled(id: i64, resource_type: &str, parameters: &str) -> HistoryEvent {
    HistoryEvent::builder()
        .id(id)
        .timestamp(DateTime::from_secs(1_790_000_000 + id))
        .r#type(HistoryEventType::TaskScheduled)
        .task_scheduled_event_details(
            TaskScheduledEventDetails::builder()
                .resource_type(resource_type)
                .resource("startExecution.sync:2")
                .region("us-east-1")
                .parameters(parameters)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn the_labs_are_found_from_what_the_map_scheduled() {
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:peerlab-LabStateMachine-x";
    let events = [
        scheduled(3, "lambda", r#"{"FunctionName": "preflight"}"#),
        scheduled(
            9,
            "states",
            &format!(r#"{{"StateMachineArn": "{machine}", "Name": "class-2", "Input": {{}}}}"#),
        ),
        scheduled(
            10,
            "states",
            &format!(r#"{{"StateMachineArn": "{machine}", "Name": "class-1", "Input": {{}}}}"#),
        ),
        // a retry schedules the same child again: still one lab
        scheduled(
            14,
            "states",
            &format!(r#"{{"StateMachineArn": "{machine}", "Name": "class-2", "Input": {{}}}}"#),
        ),
    ];
    assert_eq!(
        children(&events),
        [
            (
                "class-2".to_string(),
                "arn:aws:states:us-east-1:123456789012:execution:peerlab-LabStateMachine-x:class-2"
                    .to_string()
            ),
            (
                "class-1".to_string(),
                "arn:aws:states:us-east-1:123456789012:execution:peerlab-LabStateMachine-x:class-1"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn each_lab_is_one_line() {
    let now = LabNow {
        status: "RUNNING".into(),
        state: Some("Create VPC A".into()),
        seconds: 4.25,
    };
    assert_eq!(
        lab_line("class-1", &now),
        format!(
            "▶ {:<24} {:<10} {:>7.1}s  Create VPC A",
            "class-1", "RUNNING", 4.25
        )
    );
    let failed = LabNow {
        status: "FAILED".into(),
        ..now
    };
    assert!(lab_line("class-1", &failed).starts_with("✗ class-1"));
}

fn summary() -> Value {
    json!({
        "workshop_id": "class", "labs": 2, "succeeded": 1, "leaked": [],
        "failed": [{"lab_id": "class-2", "error": "PingFailed", "cause": "Blocked at: network ACL acl-1 denies ICMP"}],
        "quotas": [{"name": "VPCs per Region", "service_code": "vpc", "quota_code": "L-F678F1CE", "value": 5,
                    "source": "aws_default", "in_use": 1, "needed": 4}],
        "results": [
            {"lab_id": "class-1", "status": "SUCCEEDED",
             "digest": {"ping": {"received": 3, "transmitted": 3}, "teardown": {"deleted": 2, "remaining": []}}},
            {"lab_id": "class-2", "status": "FAILED", "error": {"Error": "States.TaskFailed"}}
        ]
    })
}

#[test]
fn the_summary_is_a_row_per_lab_with_why_a_lab_failed() {
    let lines = summary_lines(&summary());
    assert_eq!(lines[0], "workshop class: 2 labs, 1 succeeded, 1 failed");
    assert!(
        lines[2].contains("class-1")
            && lines[2].contains("3/3 replies")
            && lines[2].contains("deleted 2, remaining []"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("class-2")
            && lines[3].contains("PingFailed: Blocked at: network ACL acl-1"),
        "{}",
        lines[3]
    );
    assert_eq!(
        lines[4],
        "  quota VPCs per Region (vpc/L-F678F1CE): 5 (AWS default), in use 1, needed 4"
    );
}

#[test]
fn only_a_workshop_whose_every_lab_succeeded_and_left_nothing_exits_0() {
    let mut all = summary();
    all["succeeded"] = json!(2);
    assert_eq!(exit_code("SUCCEEDED", None, &all, &[]), 0);
    assert_eq!(exit_code("SUCCEEDED", None, &summary(), &[]), 1); // one lab failed
    assert_eq!(exit_code("SUCCEEDED", None, &all, &["vpc vpc-1".into()]), 1); // the local AWS holds a leak
    let mut left = all.clone();
    left["leaked"] = json!(["vpce-9"]);
    assert_eq!(exit_code("SUCCEEDED", None, &left, &[]), 1); // a teardown reported one
    assert_eq!(
        exit_code("FAILED", Some("QuotaExceeded"), &Value::Null, &[]),
        2
    );
    assert_eq!(
        exit_code("FAILED", Some("InvalidInput"), &Value::Null, &[]),
        2
    );
    assert_eq!(
        exit_code("FAILED", Some("States.Runtime"), &Value::Null, &[]),
        1
    );
    assert_eq!(exit_code("ABORTED", None, &Value::Null, &[]), 1);
}

#[test]
fn the_report_lists_the_labs_in_the_plans_order_not_the_historys() {
    let mut names = vec!["class-10", "class-2", "class-1", "odd"];
    names.sort_by_key(|n| plan_order(n));
    assert_eq!(names, ["class-1", "class-2", "class-10", "odd"]);
}
