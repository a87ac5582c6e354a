//! validate-input's handler on mocked EC2 answers: the plan it resolves, and the input it refuses before
//! anything exists.

use super::*;
use crate::test_support::*;
use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesOutput;
use aws_sdk_ec2::types::{ArchitectureType, InstanceTypeInfo, ProcessorInfo};

/// EC2's DescribeInstanceTypes for the types named: (type, the one architecture it supports).
fn instance_types(known: &'static [(&'static str, ArchitectureType)]) -> Rule {
    mock!(Ec2::describe_instance_types)
        .match_requests(move |r| {
            r.instance_types()
                .iter()
                .all(|t| known.iter().any(|(k, _)| t.as_str() == *k))
        })
        .then_output(move || {
            DescribeInstanceTypesOutput::builder()
                .set_instance_types(Some(
                    known
                        .iter()
                        .map(|(name, arch)| {
                            InstanceTypeInfo::builder()
                                .instance_type((*name).into())
                                .processor_info(
                                    ProcessorInfo::builder()
                                        .supported_architectures(arch.clone())
                                        .build(),
                                )
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
}

/// us-east-1 as EC2 describes it: six zones, t3.micro offered in all but use1-az3 (us-east-1e here), the SSM
/// endpoint services in every zone.
fn us_east_1_offerings() -> Vec<Rule> {
    let zones = [
        ("us-east-1a", "use1-az6"),
        ("us-east-1b", "use1-az1"),
        ("us-east-1c", "use1-az2"),
        ("us-east-1d", "use1-az4"),
        ("us-east-1e", "use1-az3"),
        ("us-east-1f", "use1-az5"),
    ];
    vec![
        mock!(Ec2::describe_availability_zones).then_output(move || {
            DescribeAvailabilityZonesOutput::builder()
                .set_availability_zones(Some(
                    zones
                        .iter()
                        .map(|(n, i)| {
                            AvailabilityZone::builder()
                                .zone_name(*n)
                                .zone_id(*i)
                                .state(AvailabilityZoneState::Available)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }),
        instance_types(&[("t3.micro", ArchitectureType::X8664)]),
        mock!(Ec2::describe_instance_type_offerings).then_output(move || {
            DescribeInstanceTypeOfferingsOutput::builder()
                .set_instance_type_offerings(Some(
                    zones
                        .iter()
                        .filter(|(_, id)| *id != "use1-az3")
                        .map(|(n, _)| {
                            InstanceTypeOffering::builder()
                                .instance_type("t3.micro".into())
                                .location(*n)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }),
        mock!(Ec2::describe_vpc_endpoint_services).then_output(move || {
            DescribeVpcEndpointServicesOutput::builder()
                .set_service_details(Some(
                    ["ssm", "ssmmessages"]
                        .iter()
                        .map(|s| {
                            ServiceDetail::builder()
                                .service_name(format!("com.amazonaws.us-east-1.{s}"))
                                .set_availability_zones(Some(
                                    zones.iter().map(|(n, _)| n.to_string()).collect(),
                                ))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }),
    ]
}

#[tokio::test]
async fn validate_input_resolves_the_tutorial_lab() {
    let rules = us_east_1_offerings();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let plan = handler(
        event!("validate-input/events/tutorial.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(plan.lab_id, "demo-1");
    assert_eq!(plan.architecture, Some(crate::input::Architecture::X86_64));
    assert_eq!(plan.expires_at, "2026-11-24T13:00:00Z");
    assert_eq!(plan.vpc_a.availability_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(plan.vpc_b.availability_zone.as_deref(), Some("us-east-1a"));
}

#[tokio::test]
async fn validate_input_refuses_a_zone_without_the_instance_type_before_creating_anything() {
    // only Describe* rules: any create would fail the test
    let rules = us_east_1_offerings();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let event: ValidateEvent = serde_json::from_value(serde_json::json!({
        "input": {"vpc_b": {"availability_zone": "us-east-1e"}},
        "execution_name": "demo-1"
    }))
    .unwrap();
    let err = handler(event, &clients(ec2, no_ssm())).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string().starts_with(
            "vpc_b.availability_zone: us-east-1e (use1-az3) does not offer t3.micro; these do: us-east-1a (use1-az6)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn validate_input_takes_a_zone_by_id() {
    let rules = us_east_1_offerings();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let event: ValidateEvent = serde_json::from_value(serde_json::json!({
        "input": {"vpc_a": {"availability_zone": "use1-az4"}},
        "execution_name": "demo-1"
    }))
    .unwrap();
    let plan = handler(event, &clients(ec2, no_ssm())).await.unwrap();
    assert_eq!(plan.vpc_a.availability_zone.as_deref(), Some("us-east-1d"));
}

#[tokio::test]
async fn validate_input_names_the_overlap() {
    let err = handler(
        event!("validate-input/events/overlapping.json"),
        &clients(no_ec2(), no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string()
            .contains("vpc_b.cidr: 10.0.0.0/16 overlaps vpc_a.cidr"),
        "{err}"
    );
}

#[tokio::test]
async fn the_architecture_is_what_ec2_says_not_what_the_name_suggests() {
    // g5g starts with "g" like the x86 GPU families, a1 has no "g" at all: both are Graviton (arm64)
    for (name, arch) in [
        ("g5g.xlarge", ArchitectureType::Arm64),
        ("a1.medium", ArchitectureType::Arm64),
        ("t3.micro", ArchitectureType::X8664),
    ] {
        let known: &'static [(&'static str, ArchitectureType)] =
            Box::leak(Box::new([(name, arch.clone())]));
        let rule = instance_types(known);
        let ec2 = mock_client!(aws_sdk_ec2, [&rule]);
        let got = placement::architecture(&ec2, name).await.unwrap();
        let want = match arch {
            ArchitectureType::Arm64 => crate::input::Architecture::Arm64,
            _ => crate::input::Architecture::X86_64,
        };
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test]
async fn an_instance_type_without_an_amazon_linux_ami_is_refused_naming_the_field() {
    let mac = instance_types(&[("mac2.metal", ArchitectureType::Arm64Mac)]);
    let ec2 = mock_client!(aws_sdk_ec2, [&mac]);
    let err = placement::architecture(&ec2, "mac2.metal")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string()
            .starts_with("instance_type: mac2.metal runs arm64_mac"),
        "{err}"
    );
    let unknown =
        mock!(Ec2::describe_instance_types).then_error(fails(err_meta("InvalidInstanceType")));
    let ec2 = mock_client!(aws_sdk_ec2, [&unknown]);
    let err = placement::architecture(&ec2, "t9.huge").await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string()
            .contains("instance_type: EC2 has no instance type \"t9.huge\""),
        "{err}"
    );
}
