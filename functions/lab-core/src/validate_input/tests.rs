//! validate-input's handler on mocked EC2 answers: the plan it resolves, and the input it refuses before
//! anything exists.

use super::*;
use crate::test_support::*;
use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesOutput;
use aws_sdk_ec2::types::{
    ArchitectureType, ArchitectureValues, Image, ImageState, InstanceTypeInfo, ProcessorInfo,
};

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

// ---- the input's ami: only an Amazon image of the instance type's architecture, refused before anything exists ----

const AMI: &str = "ami-0123456789abcdef0";

/// DescribeImages answering `AMI` as this image (owner alias, owner, architecture, state).
fn image(
    alias: Option<&'static str>,
    owner: &'static str,
    arch: ArchitectureValues,
    state: ImageState,
) -> Rule {
    mock!(Ec2::describe_images)
        .match_requests(|r| r.image_ids() == [AMI.to_string()])
        .then_output(move || {
            DescribeImagesOutput::builder()
                .images(
                    Image::builder()
                        .image_id(AMI)
                        .set_image_owner_alias(alias.map(str::to_string))
                        .owner_id(owner)
                        .architecture(arch.clone())
                        .state(state.clone())
                        .build(),
                )
                .build()
        })
}

fn with_ami(extra: serde_json::Value) -> ValidateEvent {
    let mut input = serde_json::json!({"ami": AMI});
    if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        i.extend(e.clone());
    }
    serde_json::from_value(serde_json::json!({"input": input, "execution_name": "demo-1"})).unwrap()
}

async fn refused(images: Rule) -> String {
    // only Describe* rules: any create would fail the test
    let mut rules = us_east_1_offerings();
    rules.push(images);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(with_ami(serde_json::json!({})), &clients(ec2, no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let m = err.to_string();
    assert!(m.starts_with("ami: ami-0123456789abcdef0 "), "{m}");
    assert!(!m.contains('\n'), "{m}");
    m
}

#[tokio::test]
async fn an_amazon_image_of_the_instance_types_architecture_is_taken() {
    let mut rules = us_east_1_offerings();
    rules.push(image(
        Some("amazon"),
        "137112412989",
        ArchitectureValues::X8664,
        ImageState::Available,
    ));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let plan = handler(with_ami(serde_json::json!({})), &clients(ec2, no_ssm()))
        .await
        .unwrap();
    assert_eq!(plan.ami.as_deref(), Some(AMI));
}

#[tokio::test]
async fn an_image_that_does_not_exist_is_refused_naming_the_field() {
    for code in [
        "InvalidAMIID.NotFound",
        "InvalidAMIID.Malformed",
        "InvalidAMIID.Unavailable",
    ] {
        let m = refused(mock!(Ec2::describe_images).then_error(fails(err_saying(
            code,
            "The image id '[ami-0123456789abcdef0]' does not exist",
        ))))
        .await;
        assert!(
            m.contains("is no image this account can launch in us-east-1"),
            "{code}: {m}"
        );
    }
    // recently deregistered: an empty answer (DescribeImages)
    let m = refused(
        mock!(Ec2::describe_images).then_output(|| DescribeImagesOutput::builder().build()),
    )
    .await;
    assert!(
        m.contains("is no image this account can launch in us-east-1"),
        "{m}"
    );
}

#[tokio::test]
async fn a_community_image_is_refused_naming_its_owner() {
    let m = refused(image(
        None,
        "999988887777",
        ArchitectureValues::X8664,
        ImageState::Available,
    ))
    .await;
    assert!(m.contains("is owned by 999988887777, not Amazon"), "{m}");
    let m = refused(image(
        Some("aws-marketplace"),
        "679593333241",
        ArchitectureValues::X8664,
        ImageState::Available,
    ))
    .await;
    assert!(m.contains("is owned by aws-marketplace, not Amazon"), "{m}");
}

#[tokio::test]
async fn an_image_of_another_architecture_is_refused() {
    let m = refused(image(
        Some("amazon"),
        "137112412989",
        ArchitectureValues::Arm64,
        ImageState::Available,
    ))
    .await;
    assert!(
        m.contains("is an arm64 image, but instance_type t3.micro runs x86_64"),
        "{m}"
    );
}

#[tokio::test]
async fn an_image_that_is_not_available_is_refused() {
    let m = refused(image(
        Some("amazon"),
        "137112412989",
        ArchitectureValues::X8664,
        ImageState::Deregistered,
    ))
    .await;
    assert!(
        m.contains("is deregistered in us-east-1, not available"),
        "{m}"
    );
}

#[tokio::test]
async fn side_b_needs_the_image_in_its_own_region_too() {
    let mut rules = us_east_1_offerings();
    rules.push(image(
        Some("amazon"),
        "137112412989",
        ArchitectureValues::X8664,
        ImageState::Available,
    ));
    let home = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    // us-west-2 has no image of that id (AMI ids are per region); nothing else is asked there
    let not_there =
        mock!(Ec2::describe_images).then_error(fails(err_meta("InvalidAMIID.NotFound")));
    let peer = mock_client!(aws_sdk_ec2, [&not_there]);
    let mut aws = clients(home, no_ssm());
    aws.peer = Scope {
        ec2: peer,
        ssm: no_ssm(),
        region: "us-west-2".into(),
    };
    let err = handler(
        with_ami(serde_json::json!({"peer": {"region": "us-west-2"}})),
        &aws,
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert_eq!(
        err.to_string(),
        "ami: ami-0123456789abcdef0 is no image this account can launch in us-west-2, side B's region (an AMI id names an image of one region)"
    );
}
