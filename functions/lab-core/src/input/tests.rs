use super::*;
use serde_json::json;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

fn plan(v: serde_json::Value) -> Result<LabPlan> {
    validate(&parse_input(v)?, "exec-1", now())
}

#[test]
fn a_value_of_the_wrong_type_names_its_field() {
    for (input, expected) in [
        (
            json!({"hold_seconds": -1}),
            "input: hold_seconds: invalid value: integer `-1`, expected u64",
        ),
        (
            json!({"vpc_b": {"cidr": 10}}),
            "input: vpc_b.cidr: invalid type: integer `10`, expected a string",
        ),
    ] {
        assert_eq!(message(input), expected);
    }
    // an unknown field: its path, then serde's message with the fields it knows
    assert!(message(json!({"hold_secs": 1}))
        .starts_with("input: hold_secs: unknown field `hold_secs`, expected one of `lab_id`"));
    assert!(message(json!({"vpc_a": {"cdr": "10.0.0.0/16"}}))
        .starts_with("input: vpc_a.cdr: unknown field `cdr`, expected one of `cidr`"));
}

fn message(v: serde_json::Value) -> String {
    match plan(v) {
        Err(LabError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn empty_input_is_the_tutorial_lab() {
    let p = plan(json!({})).unwrap();
    assert_eq!(p.lab_id, "exec-1");
    assert_eq!(p.vpc_a.cidr.to_string(), "10.0.0.0/16");
    assert_eq!(p.vpc_a.subnet_cidr.to_string(), "10.0.1.0/24");
    assert_eq!(p.vpc_b.cidr.to_string(), "10.1.0.0/16");
    assert_eq!(p.vpc_b.subnet_cidr.to_string(), "10.1.1.0/24");
    assert_eq!(p.instance_type, "t3.micro");
    assert_eq!(p.allow, Allow::All);
    assert_eq!(p.hold_seconds, 0);
    assert_eq!(p.ttl_seconds, 3600);
    assert_eq!(p.expires_at, "2026-09-21T15:13:20Z"); // 1_790_000_000 + 3600 s
    assert_eq!(plan(serde_json::Value::Null).unwrap(), p);
}

#[test]
fn custom_vpc_gets_its_first_slash_24() {
    let p = plan(json!({"vpc_a": {"cidr": "192.168.0.0/20"}})).unwrap();
    assert_eq!(p.vpc_a.subnet_cidr.to_string(), "192.168.0.0/24");
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    assert!(message(json!({"hold_secs": 5})).contains("unknown field `hold_secs`"));
    assert!(message(json!({"vpc_a": {"cidr_block": "10.0.0.0/16"}}))
        .contains("unknown field `cidr_block`"));
    assert!(message(json!({"allow": "tcp"})).contains("unknown variant `tcp`"));
}

#[test]
fn a_parent_executions_id_is_accepted_and_ignored_and_nothing_else_is() {
    // what a workshop's Map adds to each lab's input (Step Functions' nested-execution convention)
    let started = json!({"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:us-east-1:123456789012:execution:w:x",
                         "lab_id": "w-1"});
    let parsed = parse_input(started).unwrap();
    assert_eq!(
        plan(serde_json::to_value(&parsed).unwrap()).unwrap(),
        plan(json!({"lab_id": "w-1"})).unwrap()
    );
    // never written back into a plan or an input the workflow passes on
    assert_eq!(
        serde_json::to_value(&parsed)
            .unwrap()
            .get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"),
        None
    );
    // only that exact key, only at the top, only a string
    assert!(message(json!({"AWS_STEP_FUNCTIONS_STARTED_BY": "x"})).contains("unknown field"));
    assert!(
        message(json!({"vpc_a": {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}}))
            .contains("unknown field")
    );
    assert!(
        message(json!({"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": 5}))
            .contains("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
    );
}

#[test]
fn each_bad_field_is_named() {
    let cases = [
        (json!({"vpc_a": {"cidr": "10.0.0.0/33"}}), "vpc_a.cidr"),
        (
            json!({"vpc_a": {"cidr": "10.0.0.1/16"}}),
            "vpc_a.cidr: 10.0.0.1/16 has host bits set",
        ),
        (
            json!({"vpc_b": {"cidr": "8.8.0.0/16"}}),
            "vpc_b.cidr: 8.8.0.0/16 is not inside a private",
        ),
        (
            json!({"vpc_b": {"cidr": "10.0.0.0/8"}}),
            "vpc_b.cidr: a VPC block must be between /16 and /28",
        ),
        (
            json!({"vpc_a": {"subnet_cidr": "10.9.1.0/24"}}),
            "vpc_a.subnet_cidr: 10.9.1.0/24 is not inside the VPC's 10.0.0.0/16",
        ),
        (
            json!({"vpc_b": {"cidr": "10.0.128.0/17", "subnet_cidr": "10.0.128.0/24"}}),
            "vpc_b.cidr: 10.0.128.0/17 overlaps vpc_a.cidr",
        ),
        (json!({"lab_id": "My Lab"}), "lab_id"),
        (json!({"instance_type": "huge"}), "instance_type"),
        (json!({"ami": "ami-XYZ"}), "ami"),
        (json!({"hold_seconds": 999999}), "hold_seconds"),
        (
            json!({"ttl_seconds": 60, "hold_seconds": 120}),
            "ttl_seconds: 60 must be more than hold_seconds",
        ),
        (json!({"peer": {"region": "mars"}}), "peer.region"),
        (
            json!({"vpc_a": {"availability_zone": "east"}}),
            "vpc_a.availability_zone: \"east\" is not an Availability Zone name",
        ),
        (
            json!({"vpc_b": {"availability_zone": "us-east-1"}}),
            "vpc_b.availability_zone",
        ),
        (json!({"peer": {"account_id": "12"}}), "peer.account_id"),
        (
            json!({"peer": {"account_id": "210987654321"}}),
            "peer.accepter_role_arn: required",
        ),
        (
            json!({"peer": {"account_id": "210987654321", "accepter_role_arn": "arn:aws:iam::123456789012:role/x"}}),
            "is not in peer.account_id",
        ),
    ];
    for (input, expected) in cases {
        let m = message(input.clone());
        assert!(
            m.contains(expected),
            "{input}: {m:?} should contain {expected:?}"
        );
    }
}

#[test]
fn valid_options_pass_through() {
    let p = plan(json!({
        "lab_id": "workshop-7", "instance_type": "t4g.nano", "ami": "ami-0123456789abcdef0",
        "allow": "icmp", "hold_seconds": 600, "ttl_seconds": 7200,
        "peer": {"account_id": "210987654321", "region": "eu-west-1",
                 "accepter_role_arn": "arn:aws:iam::210987654321:role/peerlab-accepter"}
    }))
    .unwrap();
    assert_eq!(p.lab_id, "workshop-7");
    assert_eq!(p.allow, Allow::Icmp);
    assert!(p.cross_region("us-east-1"));
    assert!(!p.cross_region("eu-west-1"));
    let round: LabPlan = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(round, p);
}

#[test]
fn zones_by_name_or_id_pass_through() {
    let p = plan(json!({"vpc_a": {"availability_zone": "us-east-1b"},
                        "vpc_b": {"availability_zone": "use1-az4"}}))
    .unwrap();
    assert_eq!(p.vpc_a.availability_zone.as_deref(), Some("us-east-1b"));
    assert_eq!(p.vpc_b.availability_zone.as_deref(), Some("use1-az4"));
    assert_eq!(plan(json!({})).unwrap().vpc_a.availability_zone, None);
}

#[test]
fn hold_longer_than_default_ttl_extends_the_ttl() {
    let p = plan(json!({"hold_seconds": 7200})).unwrap();
    assert_eq!(p.ttl_seconds, 9000);
}

#[test]
fn lab_ids_from_execution_names() {
    assert_eq!(lab_id_from("Run_2026-11-24T10:00"), "run-2026-11-24t10-00");
    assert_eq!(lab_id_from("---"), "lab");
    assert_eq!(lab_id_from(&"x".repeat(80)).len(), 40);
}

#[test]
fn an_exercise_is_carried_into_the_plan_and_an_unknown_one_names_the_field() {
    let input = parse_input(serde_json::json!({"exercise": "nacl-deny"})).unwrap();
    let plan = validate(&input, "x", now()).unwrap();
    assert_eq!(plan.exercise, Some(crate::exercise::Exercise::NaclDeny));
    assert_eq!(
        serde_json::to_value(&plan).unwrap()["exercise"],
        "nacl-deny"
    );
    let err = parse_input(serde_json::json!({"exercise": "cut-the-cable"})).unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string()
            .starts_with("input: exercise: unknown variant `cut-the-cable`"),
        "{err}"
    );
    // a plan without the field (an execution in flight across a deploy) is no exercise
    let mut json = serde_json::to_value(&plan).unwrap();
    json.as_object_mut().unwrap().remove("exercise");
    assert_eq!(
        serde_json::from_value::<LabPlan>(json).unwrap().exercise,
        None
    );
}

#[test]
fn an_exercise_across_accounts_is_refused_naming_the_field() {
    let input = parse_input(serde_json::json!({
        "exercise": "missing-route-a",
        "peer": {"account_id": "210987654321", "accepter_role_arn": "arn:aws:iam::210987654321:role/peerlab-accepter"}
    }))
    .unwrap();
    let err = validate(&input, "x", now()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("exercise: missing-route-a runs in one account"),
        "{err}"
    );
}
