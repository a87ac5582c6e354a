//! The workshop's preflight: its plan and quota arithmetic (pure), then the handler on mocked Service Quotas and
//! EC2 answers: AWS's default where no value is applied, the usage EC2 lists, and the refusal before anything exists.

use super::plan::{carve, check_disjoint, parse, plan};
use super::quota::*;
use super::*;
use crate::test_support::*;
use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesOutput;
use aws_sdk_ec2::types::{InstanceType, InstanceTypeInfo, VCpuInfo};
use aws_sdk_servicequotas::operation::get_aws_default_service_quota::GetAwsDefaultServiceQuotaOutput;
use aws_sdk_servicequotas::operation::get_service_quota::{
    GetServiceQuotaError, GetServiceQuotaOutput,
};
use aws_sdk_servicequotas::types::error::NoSuchResourceException;
use aws_sdk_servicequotas::types::{ErrorCode, ErrorReason, ServiceQuota};
use aws_smithy_mocks::MockResponse;
use ipnet::Ipv4Net;
use serde_json::json;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

fn workshop(input: serde_json::Value) -> Result<plan::Workshop> {
    plan(&parse(input)?, "class-1", now())
}

fn invalid(input: serde_json::Value) -> String {
    match workshop(input) {
        Err(LabError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

// ---- the plan ------------------------------------------------------------------------------------------------

#[test]
fn each_lab_is_named_after_the_workshop_and_keeps_the_lab_input() {
    let w = workshop(json!({"labs": 3, "lab": {"allow": "icmp", "hold_seconds": 60}})).unwrap();
    assert_eq!(w.workshop_id, "class-1");
    assert_eq!(w.instance_type, "t3.micro");
    let ids: Vec<_> = w.labs.iter().map(|l| l.lab_id.as_str()).collect();
    assert_eq!(ids, ["class-1-1", "class-1-2", "class-1-3"]);
    let names: Vec<_> = w.labs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["class-1-1", "class-1-2", "class-1-3"]);
    assert_eq!(
        w.labs[1].input,
        json!({"allow": "icmp", "hold_seconds": 60, "lab_id": "class-1-2"})
    );
}

#[test]
fn ids_and_names_stay_within_their_limits() {
    let long = "A-Very_Long.Execution-Name-".repeat(4); // 108 characters
    let w = plan(&parse(json!({"labs": 12})).unwrap(), &long, now()).unwrap();
    for lab in &w.labs {
        assert!(lab.lab_id.len() <= 40, "{}", lab.lab_id);
        assert!(lab.name.chars().count() <= 80, "{}", lab.name);
    }
    assert_eq!(
        w.labs[11].lab_id,
        "a-very-long-execution-name-a-very-lon-12"
    );
    assert!(w.labs[11].name.ends_with("-12") && w.labs[11].name.starts_with("A-Very_Long"));
    // distinct names for distinct labs, however long the workshop's name
    let names: std::collections::BTreeSet<_> = w.labs.iter().map(|l| &l.name).collect();
    assert_eq!(names.len(), 12);
    let given = workshop(json!({"labs": 2, "workshop_id": "ws"})).unwrap();
    assert_eq!(given.labs[0].lab_id, "ws-1");
    assert_eq!(given.labs[0].name, "class-1-1");
}

#[test]
fn every_bad_field_is_named() {
    let cases = [
        (json!({}), "input: missing field `labs`"),
        (json!({"labs": 0}), "labs: 0 is not between 1 and 40"),
        (json!({"labs": 41}), "labs: 41 is not between 1 and 40"),
        (json!({"labs": -1}), "input: labs: invalid value"),
        (json!({"labs": 2, "students": 2}), "input: students: unknown field `students`"),
        (json!({"labs": 2, "lab": 5}), "lab: expected an object"),
        (json!({"labs": 2, "lab": {"lab_id": "x"}}), "lab.lab_id: a workshop names its labs"),
        (
            json!({"labs": 2, "lab": {"peer": {"region": "eu-west-1"}}}),
            "lab.peer: a workshop's labs are all in this account and region",
        ),
        (json!({"labs": 2, "lab": {"vpc_a": {"cidr": "8.8.0.0/16"}}}), "lab.vpc_a.cidr: "),
        (json!({"labs": 2, "lab": {"hold_secs": 1}}), "lab.hold_secs: unknown field"),
        (json!({"labs": 2, "workshop_id": "Class"}), "workshop_id: \"Class\" must be 1-38 characters"),
        (
            json!({"labs": 10, "workshop_id": "a".repeat(38)}),
            "workshop_id: \"aaaa",
        ),
        (json!({"labs": 2, "cidr_base": "10.0.0.0"}), "cidr_base: \"10.0.0.0\" is not an IPv4 CIDR"),
        (json!({"labs": 2, "cidr_base": "10.0.0.1/8"}), "cidr_base: 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"),
        (json!({"labs": 2, "cidr_base": "10.0.0.0/15"}), "cidr_base: 10.0.0.0/15 holds 2 /16 block(s); 2 lab(s) need 4"),
        (json!({"labs": 1, "cidr_base": "10.0.0.0/20"}), "cidr_base: 10.0.0.0/20 holds 0 /16 block(s)"),
        (json!({"labs": 1, "cidr_base": "11.0.0.0/8"}), "cidr_base: 11.0.0.0/8 gives lab class-1-1: vpc_a.cidr: 11.0.0.0/16 is not inside a private"),
        (
            json!({"labs": 1, "cidr_base": "10.0.0.0/8", "lab": {"vpc_b": {"subnet_cidr": "10.1.2.0/24"}}}),
            "cidr_base: with it every lab's VPC blocks are carved from 10.0.0.0/8; leave out lab.vpc_b.cidr",
        ),
    ];
    for (input, expected) in cases {
        let message = invalid(input.clone());
        assert!(message.starts_with(expected), "{input}: {message}");
    }
}

#[test]
fn cidr_base_gives_every_lab_blocks_of_its_own() {
    let w = workshop(json!({"labs": 3, "cidr_base": "10.0.0.0/8",
                            "lab": {"vpc_a": {"availability_zone": "use1-az1"}}}))
    .unwrap();
    let sides: Vec<_> = w
        .labs
        .iter()
        .map(|l| (l.input["vpc_a"].clone(), l.input["vpc_b"].clone()))
        .collect();
    assert_eq!(
        sides[2],
        (
            json!({"cidr": "10.4.0.0/16", "subnet_cidr": "10.4.0.0/24", "availability_zone": "use1-az1"}),
            json!({"cidr": "10.5.0.0/16", "subnet_cidr": "10.5.0.0/24"})
        )
    );
    let blocks: Vec<Ipv4Net> = sides
        .iter()
        .flat_map(|(a, b)| {
            [
                a["cidr"].as_str().unwrap().parse().unwrap(),
                b["cidr"].as_str().unwrap().parse().unwrap(),
            ]
        })
        .collect();
    assert_eq!(blocks.len(), 6);
    check_disjoint(&blocks).unwrap();
    // exactly as many as fit: a /14 holds 4 /16s, two labs
    assert_eq!(carve("172.16.0.0/14", 2).unwrap().len(), 2);
    assert!(carve("172.16.0.0/14", 3).is_err());
}

#[test]
fn overlapping_blocks_are_named() {
    let a: Ipv4Net = "10.0.0.0/16".parse().unwrap();
    let b: Ipv4Net = "10.1.0.0/16".parse().unwrap();
    let inside: Ipv4Net = "10.0.128.0/17".parse().unwrap();
    assert!(check_disjoint(&[a, b]).is_ok());
    assert_eq!(
        check_disjoint(&[a, b, inside]).unwrap_err().to_string(),
        "cidr_base: the planned blocks 10.0.0.0/16 and 10.0.128.0/17 overlap"
    );
}

// ---- the quota arithmetic ------------------------------------------------------------------------------------

fn defaults(vcpus: f64) -> Vec<QuotaValue> {
    vec![
        QuotaValue {
            spec: VPCS_PER_REGION,
            value: 5.0,
            source: QuotaSource::AwsDefault,
        },
        QuotaValue {
            spec: INTERFACE_ENDPOINTS_PER_VPC,
            value: 50.0,
            source: QuotaSource::AwsDefault,
        },
        QuotaValue {
            spec: STANDARD_VCPUS,
            value: vcpus,
            source: QuotaSource::Applied,
        },
    ]
}

/// A fresh region: only the default VPC, no instances; t3.micro (2 vCPUs) labs.
const FRESH: Usage = Usage {
    vpcs: 1,
    standard_vcpus: 0,
    lab_standard_vcpus: 4,
};

#[test]
fn five_vpcs_with_the_default_one_fit_two_labs() {
    let checks = checks(&defaults(1152.0), &FRESH, 3);
    assert_eq!(fits(&checks), 2);
    let vpcs = &checks[0];
    assert_eq!(
        (
            vpcs.value,
            vpcs.in_use,
            vpcs.free,
            vpcs.per_lab,
            vpcs.needed
        ),
        (5, 1, 4, 2, 6)
    );
    assert_eq!(vpcs.fits, Some(2));
    // the endpoints are per VPC: each lab's VPC A is new, 2 of 50
    assert_eq!(
        (checks[1].free, checks[1].needed, checks[1].fits),
        (50, 2, None)
    );
    assert_eq!((checks[2].needed, checks[2].fits), (12, Some(288)));
}

#[test]
fn the_refusal_names_each_quota_short_of_the_workshop() {
    let usage = Usage {
        vpcs: 1,
        standard_vcpus: 6,
        lab_standard_vcpus: 4,
    };
    let checks = checks(&defaults(10.0), &usage, 3);
    assert_eq!(fits(&checks), 1); // (10 - 6) / 4
    assert_eq!(
        refusal(&checks, 3, 1, "us-east-1"),
        "a workshop of 3 labs does not fit this account's quotas in us-east-1 (1 would); nothing was created: \
         VPCs per Region (vpc/L-F678F1CE): quota 5 (AWS default), in use 1, free 4, needed 6 (2 per lab); \
         Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (vCPUs) (ec2/L-1216C47A): quota 10 \
         (applied), in use 6, free 4, needed 12 (4 per lab)"
    );
    // two labs: only the vCPUs are short
    let message = refusal(&checks, 2, 1, "us-east-1");
    assert!(
        !message.contains("VPCs per Region") && message.contains("ec2/L-1216C47A"),
        "{message}"
    );
}

#[test]
fn an_endpoint_quota_below_two_fits_no_lab() {
    let mut values = defaults(1152.0);
    values[1].value = 1.0;
    let checks = checks(&values, &FRESH, 1);
    assert_eq!(fits(&checks), 0);
    assert!(refusal(&checks, 1, 0, "us-east-1").contains(
        "Interface VPC endpoints per VPC (vpc/L-29B6F2EB): quota 1 (AWS default) per VPC, each lab's new VPC A needs 2"
    ));
}

#[test]
fn more_in_use_than_the_quota_leaves_nothing_free() {
    let usage = Usage { vpcs: 7, ..FRESH };
    let checks = checks(&defaults(1152.0), &usage, 1);
    assert_eq!((checks[0].free, checks[0].fits), (0, Some(0)));
    assert_eq!(fits(&checks), 0);
}

#[test]
fn a_type_outside_the_standard_families_draws_nothing_from_its_quota() {
    let usage = Usage {
        lab_standard_vcpus: 0,
        ..FRESH
    };
    let checks = checks(&defaults(0.0), &usage, 2);
    assert_eq!((checks[2].needed, checks[2].fits), (0, None));
    assert_eq!(fits(&checks), 2);
}

#[test]
fn the_standard_families_are_the_quotas_letters_less_those_with_quotas_of_their_own() {
    for t in [
        "t3.micro",
        "t4g.nano",
        "m7i.large",
        "c6gn.xlarge",
        "r5.large",
        "z1d.large",
        "a1.medium",
        "i4i.large",
        "d3.xlarge",
        "h1.2xlarge",
    ] {
        assert!(is_standard(t), "{t}");
    }
    for t in [
        "g5.xlarge",
        "p4d.24xlarge",
        "x2iedn.xlarge",
        "f1.2xlarge",
        "inf2.xlarge",
        "trn1.2xlarge",
        "dl1.24xlarge",
        "hpc7g.4xlarge",
        "u-6tb1.metal",
        "vt1.3xlarge",
    ] {
        assert!(!is_standard(t), "{t}");
    }
}

// ---- the handler on mocked Service Quotas and EC2 --------------------------------------------------------------

fn quota(value: f64) -> ServiceQuota {
    ServiceQuota::builder().value(value).build()
}

/// GetServiceQuota: the applied values given (by quota code), NoSuchResourceException for the others.
fn applied(values: &'static [(&'static str, f64)]) -> Rule {
    mock!(aws_sdk_servicequotas::Client::get_service_quota).then_compute_response(move |r| {
        match values
            .iter()
            .find(|(code, _)| Some(*code) == r.quota_code())
        {
            Some((_, v)) => {
                MockResponse::Output(GetServiceQuotaOutput::builder().quota(quota(*v)).build())
            }
            None => MockResponse::Error(GetServiceQuotaError::NoSuchResourceException(
                NoSuchResourceException::builder()
                    .message("no applied value (mock)")
                    .build(),
            )),
        }
    })
}

/// GetAWSDefaultServiceQuota: AWS's defaults (the vCPU one as a new account may have it).
fn aws_defaults(vcpus: f64) -> Rule {
    mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .match_requests(|r| r.quota_code() == Some("L-1216C47A"))
        .then_output(move || {
            GetAwsDefaultServiceQuotaOutput::builder()
                .quota(quota(vcpus))
                .build()
        })
}

fn vpc_defaults() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
            .match_requests(|r| r.quota_code() == Some("L-F678F1CE"))
            .then_output(|| {
                GetAwsDefaultServiceQuotaOutput::builder()
                    .quota(quota(5.0))
                    .build()
            }),
        mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
            .match_requests(|r| r.quota_code() == Some("L-29B6F2EB"))
            .then_output(|| {
                GetAwsDefaultServiceQuotaOutput::builder()
                    .quota(quota(50.0))
                    .build()
            }),
    ]
}

/// EC2: `vpcs` VPCs, running instances of the types given, and each type's vCPUs.
fn region(vpcs: usize, running: &'static [&'static str]) -> Vec<Rule> {
    vec![
        mock!(Ec2::describe_vpcs).then_output(move || {
            DescribeVpcsOutput::builder()
                .set_vpcs(Some(
                    // the first is the region's default VPC, which counts like any other
                    (0..vpcs)
                        .map(|i| {
                            Vpc::builder()
                                .vpc_id(format!("vpc-{i}"))
                                .is_default(i == 0)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }),
        mock!(Ec2::describe_instances)
            .match_requests(|r| {
                r.filters().iter().any(|f| {
                    f.name() == Some("instance-state-name") && f.values() == ["pending", "running"]
                })
            })
            .then_output(move || {
                DescribeInstancesOutput::builder()
                    .reservations(
                        Reservation::builder()
                            .set_instances(Some(
                                running
                                    .iter()
                                    .map(|t| {
                                        Instance::builder()
                                            .instance_type(InstanceType::from(*t))
                                            .build()
                                    })
                                    .collect(),
                            ))
                            .build(),
                    )
                    .build()
            }),
        mock!(Ec2::describe_instance_types).then_output(|| {
            let info = |t: &str, v: i32| {
                InstanceTypeInfo::builder()
                    .instance_type(InstanceType::from(t))
                    .v_cpu_info(VCpuInfo::builder().default_v_cpus(v).build())
                    .build()
            };
            DescribeInstanceTypesOutput::builder()
                .instance_types(info("t3.micro", 2))
                .instance_types(info("m5.xlarge", 4))
                .instance_types(info("g5.xlarge", 4))
                .build()
        }),
    ]
}

fn aws(quota_rules: Vec<Rule>, ec2_rules: Vec<Rule>) -> MockAws {
    let mut aws = clients(
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &ec2_rules),
        no_ssm(),
    );
    aws.service_quotas = mock_client!(aws_sdk_servicequotas, RuleMode::MatchAny, &quota_rules);
    aws
}

#[tokio::test]
async fn two_labs_fit_a_fresh_account_on_aws_defaults() {
    let mut rules = vec![applied(&[]), aws_defaults(32.0)];
    rules.extend(vpc_defaults());
    let aws = aws(rules, region(1, &[]));
    let plan = handler(event!("preflight/events/two-labs.json"), &aws)
        .await
        .unwrap();
    assert_eq!(plan.workshop_id, "class-2026-12-07");
    assert_eq!((plan.fits, plan.max_concurrency), (2, 2));
    assert_eq!(plan.labs.len(), 2);
    assert_eq!(plan.labs[1].input["vpc_a"]["cidr"], "10.2.0.0/16");
    assert!(plan
        .quotas
        .iter()
        .all(|q| q.source == QuotaSource::AwsDefault));
    let vcpus = &plan.quotas[2];
    assert_eq!((vcpus.value, vcpus.in_use, vcpus.needed), (32, 0, 8));
}

#[tokio::test]
async fn an_applied_value_wins_over_the_default() {
    let mut rules = vec![applied(&[("L-F678F1CE", 20.0)]), aws_defaults(32.0)];
    rules.extend(vpc_defaults());
    let aws = aws(rules, region(3, &["m5.xlarge", "g5.xlarge", "t3.micro"]));
    let plan = handler(event!("preflight/events/three-labs.json"), &aws)
        .await
        .unwrap();
    let vpcs = &plan.quotas[0];
    assert_eq!(
        (vpcs.value, vpcs.source, vpcs.in_use, vpcs.fits),
        (20, QuotaSource::Applied, 3, Some(8))
    );
    // m5 (4) and t3 (2) count; the G instance has a quota of its own
    let vcpus = &plan.quotas[2];
    assert_eq!((vcpus.in_use, vcpus.free, vcpus.fits), (6, 26, Some(6)));
    assert_eq!((plan.fits, plan.max_concurrency), (6, 3));
}

#[tokio::test]
async fn three_labs_are_refused_on_the_default_vpc_quota_before_anything_exists() {
    // only reads are mocked: any create would fail the test
    let mut rules = vec![applied(&[]), aws_defaults(1152.0)];
    rules.extend(vpc_defaults());
    let aws = aws(rules, region(1, &[]));
    let err = handler(event!("preflight/events/three-labs.json"), &aws)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "QuotaExceeded");
    assert_eq!(
        err.to_string(),
        "a workshop of 3 labs does not fit this account's quotas in us-east-1 (2 would); nothing was created: \
         VPCs per Region (vpc/L-F678F1CE): quota 5 (AWS default), in use 1, free 4, needed 6 (2 per lab)"
    );
}

#[tokio::test]
async fn a_quota_answered_with_an_error_reason_falls_back_to_the_default() {
    let reason = mock!(aws_sdk_servicequotas::Client::get_service_quota).then_output(|| {
        GetServiceQuotaOutput::builder()
            .quota(
                ServiceQuota::builder()
                    .error_reason(
                        ErrorReason::builder()
                            .error_code(ErrorCode::ServiceQuotaNotAvailableError)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let mut rules = vec![reason, aws_defaults(4.0)];
    rules.extend(vpc_defaults());
    let aws = aws(rules, region(1, &[]));
    let err = handler(event!("preflight/events/three-labs.json"), &aws)
        .await
        .unwrap_err();
    // 4 vCPUs: one t3.micro lab (4) at most
    assert!(
        err.to_string()
            .contains("(ec2/L-1216C47A): quota 4 (AWS default), in use 0, free 4, needed 12"),
        "{err}"
    );
    assert!(err.to_string().contains("(1 would)"), "{err}");
}

#[tokio::test]
async fn other_service_quotas_errors_are_not_taken_for_a_missing_value() {
    let denied = mock!(aws_sdk_servicequotas::Client::get_service_quota)
        .then_error(fails(err_meta("AccessDeniedException")));
    let aws = aws(vec![denied], region(1, &[]));
    match handler(event!("preflight/events/three-labs.json"), &aws)
        .await
        .unwrap_err()
    {
        LabError::Aws { code, message } => {
            assert_eq!(code, "AccessDeniedException");
            assert!(
                message.starts_with("reading the quota VPCs per Region (vpc/L-F678F1CE)"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_quota_without_any_value_is_an_error_naming_it() {
    let none = mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
        .then_output(|| GetAwsDefaultServiceQuotaOutput::builder().build());
    let aws = aws(vec![applied(&[]), none], region(1, &[]));
    let err = handler(event!("preflight/events/three-labs.json"), &aws)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "IncompleteResponse: Service Quotas has no value for VPCs per Region (vpc/L-F678F1CE), applied or default"
    );
}

#[tokio::test]
async fn an_instance_type_ec2_does_not_know_is_invalid_input() {
    let mut rules = vec![applied(&[]), aws_defaults(32.0)];
    rules.extend(vpc_defaults());
    let mut ec2 = region(1, &[]);
    ec2.pop();
    ec2.push(
        mock!(Ec2::describe_instance_types).then_error(fails(err_meta("InvalidInstanceType"))),
    );
    let aws = aws(rules, ec2);
    let event: PreflightEvent = serde_json::from_value(json!({
        "input": {"labs": 1, "lab": {"instance_type": "t9.huge"}}, "execution_name": "c"
    }))
    .unwrap();
    let err = handler(event, &aws).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string()
            .starts_with("lab.instance_type: EC2 does not know it"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call() {
    // no rules at all: a call would fail the test
    let aws = aws(vec![], vec![]);
    let event: PreflightEvent = serde_json::from_value(
        json!({"input": {"labs": 2, "lab": {"lab_id": "x"}}, "execution_name": "c"}),
    )
    .unwrap();
    assert_eq!(
        handler(event, &aws).await.unwrap_err().error_type(),
        "InvalidInput"
    );
}
