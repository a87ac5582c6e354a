//! Handler tests: the example events in `functions/<step>/events/` through the real handlers, on real SDK
//! clients whose responses come from aws-smithy-mocks: the happy path, the re-run, and each error mapping.

use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::accept_vpc_peering_connection::AcceptVpcPeeringConnectionOutput;
use aws_sdk_ec2::operation::associate_route_table::{
    AssociateRouteTableError, AssociateRouteTableOutput,
};
use aws_sdk_ec2::operation::authorize_security_group_ingress::{
    AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
};
use aws_sdk_ec2::operation::create_route::{CreateRouteError, CreateRouteOutput};
use aws_sdk_ec2::operation::create_route_table::CreateRouteTableOutput;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::create_subnet::{CreateSubnetError, CreateSubnetOutput};
use aws_sdk_ec2::operation::create_vpc::CreateVpcOutput;
use aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput;
use aws_sdk_ec2::operation::delete_route_table::DeleteRouteTableOutput;
use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetError;
use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::operation::describe_instance_type_offerings::DescribeInstanceTypeOfferingsOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_services::DescribeVpcEndpointServicesOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use aws_sdk_ec2::operation::describe_vpc_peering_connections::{
    DescribeVpcPeeringConnectionsError, DescribeVpcPeeringConnectionsOutput,
};
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::operation::disassociate_route_table::DisassociateRouteTableOutput;
use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
use aws_sdk_ec2::operation::replace_route::ReplaceRouteOutput;
use aws_sdk_ec2::operation::run_instances::{RunInstancesError, RunInstancesOutput};
use aws_sdk_ec2::operation::terminate_instances::TerminateInstancesOutput;
use aws_sdk_ec2::types::{
    AvailabilityZone, AvailabilityZoneState, GroupIdentifier, Instance, InstanceState,
    InstanceStateName, InstanceTypeOffering, IpPermission, Reservation, Route, RouteState,
    RouteTable, RouteTableAssociation, SecurityGroup, ServiceDetail, Subnet, Tag, Vpc, VpcEndpoint,
    VpcPeeringConnection, VpcPeeringConnectionStateReason,
    VpcPeeringConnectionStateReasonCode as Code,
};
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ssm::operation::describe_instance_information::DescribeInstanceInformationOutput;
use aws_sdk_ssm::operation::get_command_invocation::{
    GetCommandInvocationError, GetCommandInvocationOutput,
};
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_sdk_ssm::operation::list_commands::ListCommandsOutput;
use aws_sdk_ssm::operation::send_command::SendCommandOutput;
use aws_sdk_ssm::types::error::InvocationDoesNotExist;
use aws_sdk_ssm::types::{
    Command, CommandInvocationStatus, InstanceInformation, Parameter, PingStatus,
};
use aws_sdk_ssm::Client as Ssm;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use crate::clients::Clients;
use crate::error::LabError;
use crate::handlers::*;
use crate::model::*;

macro_rules! event {
    ($path:literal) => {
        serde_json::from_str(include_str!(concat!("../../", $path))).expect($path)
    };
}

fn err_meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (mock)"))
        .build()
}

fn no_ssm() -> Ssm {
    let rules: [&Rule; 0] = [];
    mock_client!(aws_sdk_ssm, rules)
}

fn no_ec2() -> Ec2 {
    let rules: [&Rule; 0] = [];
    mock_client!(aws_sdk_ec2, rules)
}

fn clients(ec2: Ec2, ssm: Ssm) -> Clients {
    Clients::from_clients(ec2, ssm, "us-east-1")
}

fn pcx(code: Code, message: &str) -> VpcPeeringConnection {
    VpcPeeringConnection::builder()
        .vpc_peering_connection_id("pcx-0ab")
        .status(
            VpcPeeringConnectionStateReason::builder()
                .code(code)
                .message(message)
                .build(),
        )
        .build()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

// ---- validate-input ------------------------------------------------------------------------------------------

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
    let plan = validate_input(
        event!("validate-input/events/tutorial.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(plan.lab_id, "demo-1");
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
    let err = validate_input(event, &clients(ec2, no_ssm()))
        .await
        .unwrap_err();
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
    let plan = validate_input(event, &clients(ec2, no_ssm()))
        .await
        .unwrap();
    assert_eq!(plan.vpc_a.availability_zone.as_deref(), Some("us-east-1d"));
}

#[tokio::test]
async fn validate_input_names_the_overlap() {
    let err = validate_input(
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

// ---- create-vpc ------------------------------------------------------------------------------------------------

fn lab_table_of(subnet: &'static str) -> RouteTable {
    RouteTable::builder()
        .route_table_id("rtb-0a")
        .vpc_id("vpc-0a")
        .associations(
            RouteTableAssociation::builder()
                .route_table_association_id("rtbassoc-0a")
                .subnet_id(subnet)
                .main(false)
                .build(),
        )
        .build()
}

fn existing_side_a(instance_state: InstanceStateName, vpc_cidr: &'static str) -> Vec<Rule> {
    vec![
        mock!(Ec2::describe_route_tables).then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(lab_table_of("subnet-0a"))
                .build()
        }),
        mock!(Ec2::describe_vpcs).then_output(move || {
            DescribeVpcsOutput::builder()
                .vpcs(Vpc::builder().vpc_id("vpc-0a").cidr_block(vpc_cidr).build())
                .build()
        }),
        mock!(Ec2::describe_subnets).then_output(|| {
            DescribeSubnetsOutput::builder()
                .subnets(
                    Subnet::builder()
                        .subnet_id("subnet-0a")
                        .availability_zone("us-east-1a")
                        .availability_zone_id("use1-az6")
                        .build(),
                )
                .build()
        }),
        mock!(Ec2::describe_security_groups).then_output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(
                    SecurityGroup::builder()
                        .group_id("sg-0a")
                        .tags(tag("peerlab:lab-id", "demo-1"))
                        // the endpoints' group already admits HTTPS (the same group answers both look-ups)
                        .ip_permissions(
                            IpPermission::builder()
                                .ip_protocol("tcp")
                                .from_port(443)
                                .to_port(443)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
        mock!(Ec2::modify_vpc_attribute)
            .then_output(|| ModifyVpcAttributeOutput::builder().build()),
        mock!(Ec2::describe_vpc_endpoints).then_compute_output(|req| {
            let service = req
                .filters()
                .iter()
                .find(|f| f.name() == Some("service-name"))
                .and_then(|f| f.values().first())
                .cloned()
                .unwrap_or_default();
            // AWS answers endpoint states in lower case
            let id = if service.ends_with(".ssm") {
                "vpce-0ssm"
            } else {
                "vpce-0msg"
            };
            DescribeVpcEndpointsOutput::builder()
                .vpc_endpoints(
                    VpcEndpoint::builder()
                        .vpc_endpoint_id(id)
                        .state("available".into())
                        .build(),
                )
                .build()
        }),
        mock!(Ec2::describe_instances).then_output(move || {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id("i-0a")
                                .private_ip_address("10.0.1.4")
                                .state(
                                    InstanceState::builder()
                                        .name(instance_state.clone())
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
    ]
}

#[tokio::test]
async fn create_vpc_rerun_finds_everything_and_creates_nothing() {
    let rules = existing_side_a(InstanceStateName::Running, "10.0.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let out = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        SideOutput {
            side: Side::A,
            region: "us-east-1".into(),
            vpc_id: "vpc-0a".into(),
            cidr: "10.0.0.0/16".into(),
            subnet_id: "subnet-0a".into(),
            route_table_id: "rtb-0a".into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: "use1-az6".into(),
            security_group_id: "sg-0a".into(),
            instance_id: "i-0a".into(),
            private_ip: "10.0.1.4".into(),
            endpoint_ids: vec!["vpce-0ssm".into(), "vpce-0msg".into()],
        }
    );
    // only look-ups: no rule for any Create*/RunInstances exists, so a create would have failed the test
    assert_eq!(rules[0].num_calls(), 1);
}

#[tokio::test]
async fn create_vpc_waits_for_a_pending_instance() {
    let rules = existing_side_a(InstanceStateName::Pending, "10.0.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is pending".into())
    );
}

/// Side A from nothing: VPC, subnet, groups and endpoints are created; the endpoints answer `pending`.
fn new_side_a(endpoint_state: &'static str) -> Vec<Rule> {
    vec![
        mock!(Ec2::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build()),
        mock!(Ec2::create_vpc).then_output(|| {
            CreateVpcOutput::builder()
                .vpc(Vpc::builder().vpc_id("vpc-0a").build())
                .build()
        }),
        mock!(Ec2::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build()),
        mock!(Ec2::create_subnet)
            .match_requests(|req| req.availability_zone() == Some("us-east-1a"))
            .then_output(|| {
                CreateSubnetOutput::builder()
                    .subnet(
                        Subnet::builder()
                            .subnet_id("subnet-0a")
                            .availability_zone("us-east-1a")
                            .availability_zone_id("use1-az6")
                            .build(),
                    )
                    .build()
            }),
        mock!(Ec2::describe_security_groups)
            .then_output(|| DescribeSecurityGroupsOutput::builder().build()),
        mock!(Ec2::create_security_group).then_output(|| {
            CreateSecurityGroupOutput::builder()
                .group_id("sg-0a")
                .build()
        }),
        mock!(Ec2::authorize_security_group_ingress).then_output(|| {
            AuthorizeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        }),
        mock!(Ec2::modify_vpc_attribute)
            .then_output(|| ModifyVpcAttributeOutput::builder().build()),
        mock!(Ec2::describe_vpc_endpoints)
            .then_output(|| DescribeVpcEndpointsOutput::builder().build()),
        mock!(Ec2::create_vpc_endpoint).then_compute_output(move |req| {
            let id = if req.service_name().is_some_and(|s| s.ends_with(".ssm")) {
                "vpce-0ssm"
            } else {
                "vpce-0msg"
            };
            CreateVpcEndpointOutput::builder()
                .vpc_endpoint(
                    VpcEndpoint::builder()
                        .vpc_endpoint_id(id)
                        .state(endpoint_state.into())
                        .build(),
                )
                .build()
        }),
        mock!(Ec2::describe_instances).then_output(|| DescribeInstancesOutput::builder().build()),
        // 11-13: the lab's own route table, created with a ClientToken and tagged, then associated
        mock!(Ec2::describe_route_tables)
            .then_output(|| DescribeRouteTablesOutput::builder().build()),
        mock!(Ec2::create_route_table)
            .match_requests(|req| {
                req.vpc_id() == Some("vpc-0a")
                    && req.client_token().is_some_and(|t| !t.is_empty())
                    && req.tag_specifications().iter().any(|t| {
                        t.resource_type() == Some(&aws_sdk_ec2::types::ResourceType::RouteTable)
                            && t.tags().iter().any(|t| {
                                t.key() == Some("peerlab:lab-id") && t.value() == Some("demo-1")
                            })
                    })
            })
            .then_output(|| {
                CreateRouteTableOutput::builder()
                    .route_table(RouteTable::builder().route_table_id("rtb-0a").build())
                    .build()
            }),
        mock!(Ec2::associate_route_table)
            .match_requests(|req| {
                req.route_table_id() == Some("rtb-0a") && req.subnet_id() == Some("subnet-0a")
            })
            .then_output(|| {
                AssociateRouteTableOutput::builder()
                    .association_id("rtbassoc-0a")
                    .build()
            }),
    ]
}

/// SSM answering the AL2023 AMI parameter.
fn ami_parameter() -> Ssm {
    let rule = mock!(Ssm::get_parameter).then_output(|| {
        GetParameterOutput::builder()
            .parameter(Parameter::builder().value("ami-0123456789abcdef0").build())
            .build()
    });
    mock_client!(aws_sdk_ssm, [&rule])
}

#[tokio::test]
async fn create_vpc_a_launches_nothing_while_its_endpoints_are_pending() {
    // no RunInstances rule: a launch would fail the test with "no rule matched"
    let rules = new_side_a("pending");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady(
            "instance A waits for its SSM endpoints to be available: vpce-0ssm (pending), vpce-0msg (pending)"
                .into()
        )
    );
    // the subnet went in the zone validate-input chose (the rule matches only that request)
    assert_eq!(rules[3].num_calls(), 1);
    // the lab's own route table, tagged and with a ClientToken, associated with the subnet
    assert_eq!(rules[12].num_calls(), 1);
    assert_eq!(rules[13].num_calls(), 1);
}

#[tokio::test]
async fn create_vpc_a_subnet_associated_with_another_table_is_a_conflict() {
    let mut rules = new_side_a("pending");
    rules[11] = mock!(Ec2::describe_route_tables).then_compute_output(|req| {
        // the lab's table is not listed yet; the subnet's association names someone else's table
        let by_subnet = req
            .filters()
            .iter()
            .any(|f| f.name() == Some("association.subnet-id"));
        let out = DescribeRouteTablesOutput::builder();
        if by_subnet {
            out.route_tables(RouteTable::builder().route_table_id("rtb-other").build())
                .build()
        } else {
            out.build()
        }
    });
    rules[13] = mock!(Ec2::associate_route_table)
        .then_error(|| AssociateRouteTableError::generic(err_meta("Resource.AlreadyAssociated")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict", "{err}");
    assert!(err.to_string().contains("rtb-other"), "{err}");
}

#[tokio::test]
async fn create_vpc_a_retry_whose_association_exists_goes_on() {
    // a retry after AssociateRouteTable succeeded but before the table was listed: the ClientToken gives the
    // same table back, AWS refuses the second association, and the subnet's association names our table
    let mut rules = new_side_a("pending");
    rules[11] = mock!(Ec2::describe_route_tables).then_compute_output(|req| {
        let by_subnet = req
            .filters()
            .iter()
            .any(|f| f.name() == Some("association.subnet-id"));
        let out = DescribeRouteTablesOutput::builder();
        if by_subnet {
            out.route_tables(lab_table_of("subnet-0a")).build()
        } else {
            out.build()
        }
    });
    rules[13] = mock!(Ec2::associate_route_table)
        .then_error(|| AssociateRouteTableError::generic(err_meta("Resource.AlreadyAssociated")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    // past the route table: waiting for the endpoints, as a first run would
    assert!(
        err.to_string().contains("waits for its SSM endpoints"),
        "{err}"
    );
}

#[tokio::test]
async fn create_vpc_a_launches_once_its_endpoints_are_available() {
    let mut rules = new_side_a("available");
    rules.push(mock!(Ec2::run_instances).then_output(|| {
        RunInstancesOutput::builder()
            .instances(
                Instance::builder()
                    .instance_id("i-0a")
                    .private_ip_address("10.0.1.4")
                    .state(
                        InstanceState::builder()
                            .name(InstanceStateName::Pending)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    std::env::set_var(crate::vpc::INSTANCE_PROFILE_ENV, "peerlab-lab-instance");
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, ami_parameter()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is pending".into())
    );
    assert_eq!(rules.last().map(Rule::num_calls), Some(1));
}

#[tokio::test]
async fn create_vpc_a_waits_while_a_new_instance_profile_is_refused() {
    let mut rules = new_side_a("available");
    rules.push(mock!(Ec2::run_instances).then_error(|| {
        RunInstancesError::generic(
            ErrorMetadata::builder()
                .code("InvalidParameterValue")
                .message("Value (peerlab-lab-instance) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
                .build(),
        )
    }));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    std::env::set_var(crate::vpc::INSTANCE_PROFILE_ENV, "peerlab-lab-instance");
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, ami_parameter()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady", "{err}");
    assert!(
        err.to_string()
            .contains("instance profile is not usable yet"),
        "{err}"
    );
}

#[tokio::test]
async fn create_vpc_a_waits_out_insufficient_capacity_in_its_zone() {
    let mut rules = new_side_a("available");
    rules.push(mock!(Ec2::run_instances).then_error(|| {
        RunInstancesError::generic(
            ErrorMetadata::builder()
                .code("InsufficientInstanceCapacity")
                .message("We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a).")
                .build(),
        )
    }));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    std::env::set_var(crate::vpc::INSTANCE_PROFILE_ENV, "peerlab-lab-instance");
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, ami_parameter()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady", "{err}");
    assert!(
        err.to_string()
            .contains("no t3.micro capacity in us-east-1a"),
        "{err}"
    );
}

#[tokio::test]
async fn create_vpc_a_subnet_not_listed_yet_is_not_ready() {
    let mut rules = new_side_a("available");
    rules.remove(3);
    rules.insert(
        3,
        mock!(Ec2::create_subnet)
            .then_error(|| CreateSubnetError::generic(err_meta("InvalidSubnet.Conflict"))),
    );
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady", "{err}");
}

#[tokio::test]
async fn create_vpc_refuses_a_lab_vpc_with_another_cidr() {
    let rules = existing_side_a(InstanceStateName::Running, "10.9.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = create_vpc(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict");
}

// ---- request-peering / accept-peering ----------------------------------------------------------------------

#[tokio::test]
async fn request_peering_reuses_its_pending_connection() {
    let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(|| {
        DescribeVpcPeeringConnectionsOutput::builder()
            .vpc_peering_connections(pcx(Code::PendingAcceptance, ""))
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let out = request_peering(
        event!("request-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        PeeringOutput {
            peering_id: "pcx-0ab".into(),
            status: "pending-acceptance".into()
        }
    );
}

#[tokio::test]
async fn request_peering_rejects_overlap_before_calling_aws() {
    let mut event: PairEvent = event!("request-peering/events/pair.json");
    event.vpc_b.cidr = "10.0.128.0/17".into();
    let err = request_peering(event, &clients(no_ec2(), no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
}

#[tokio::test]
async fn accept_peering_not_found_right_after_create_is_not_ready() {
    let describe = mock!(Ec2::describe_vpc_peering_connections).then_error(|| {
        DescribeVpcPeeringConnectionsError::generic(err_meta(
            "InvalidVpcPeeringConnectionID.NotFound",
        ))
    });
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let err = accept_peering(
        event!("accept-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
}

#[tokio::test]
async fn accept_peering_accepts_pending_acceptance() {
    let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(|| {
        DescribeVpcPeeringConnectionsOutput::builder()
            .vpc_peering_connections(pcx(Code::PendingAcceptance, ""))
            .build()
    });
    let accept = mock!(Ec2::accept_vpc_peering_connection)
        .match_requests(|r| r.vpc_peering_connection_id() == Some("pcx-0ab"))
        .then_output(|| {
            AcceptVpcPeeringConnectionOutput::builder()
                .vpc_peering_connection(pcx(Code::Active, "Active"))
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &accept]);
    let out = accept_peering(
        event!("accept-peering/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(out.status, "active");
    assert_eq!(accept.num_calls(), 1);
}

#[tokio::test]
async fn accept_peering_active_is_done_and_provisioning_waits() {
    let describe = mock!(Ec2::describe_vpc_peering_connections)
        .sequence()
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::Provisioning, ""))
                .build()
        })
        .output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::Active, ""))
                .build()
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let c = clients(ec2, no_ssm());
    let first = accept_peering(event!("accept-peering/events/pair.json"), &c)
        .await
        .unwrap_err();
    assert_eq!(
        first,
        LabError::NotReady("peering pcx-0ab is provisioning".into())
    );
    let second = accept_peering(event!("accept-peering/events/pair.json"), &c)
        .await
        .unwrap();
    assert_eq!(second.status, "active");
}

#[tokio::test]
async fn accept_peering_terminal_states_fail_with_the_message() {
    for code in [Code::Failed, Code::Rejected, Code::Expired, Code::Deleted] {
        let c2 = code.clone();
        let describe = mock!(Ec2::describe_vpc_peering_connections).then_output(move || {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(c2.clone(), "Overlapping CIDR"))
                .build()
        });
        let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
        let err = accept_peering(
            event!("accept-peering/events/pair.json"),
            &clients(ec2, no_ssm()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            LabError::PeeringFailed(format!(
                "peering pcx-0ab is {}: Overlapping CIDR",
                code.as_str()
            ))
        );
    }
}

// ---- add-routes --------------------------------------------------------------------------------------------

fn tables(vpc_route: Option<(&'static str, &'static str)>) -> Rule {
    // only the lab's own tables are asked for: a VPC's main table (untagged) is never changed
    mock!(Ec2::describe_route_tables)
        .match_requests(|req| {
            req.filters()
                .iter()
                .any(|f| f.name() == Some("tag:peerlab:lab-id") && f.values() == ["demo-1"])
        })
        .then_compute_output(move |req| {
            let vpc = req
                .filters()
                .first()
                .and_then(|f| f.values().first())
                .cloned()
                .unwrap_or_default();
            let mut table = RouteTable::builder()
                .route_table_id(format!("rtb-{}", &vpc[4..]))
                .routes(
                    Route::builder()
                        .destination_cidr_block("10.0.0.0/8")
                        .gateway_id("local")
                        .build(),
                );
            if let Some((dest, via)) = vpc_route {
                let route = Route::builder()
                    .destination_cidr_block(dest)
                    .state(RouteState::Active);
                let route = if via.starts_with("pcx-") {
                    route.vpc_peering_connection_id(via)
                } else {
                    route.gateway_id(via)
                };
                table = table.routes(route.build());
            }
            DescribeRouteTablesOutput::builder()
                .route_tables(table.build())
                .build()
        })
}

#[tokio::test]
async fn add_routes_creates_in_every_table_of_both_vpcs() {
    let describe = tables(None);
    let create = mock!(Ec2::create_route)
        .then_output(|| CreateRouteOutput::builder().r#return(true).build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
    let out = add_routes(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    let got: Vec<_> = out
        .routes
        .iter()
        .map(|r| (r.route_table_id.as_str(), r.destination.as_str(), r.action))
        .collect();
    assert_eq!(
        got,
        [
            ("rtb-0a", "10.1.0.0/16", RouteAction::Created),
            ("rtb-0b", "10.0.0.0/16", RouteAction::Created)
        ]
    );
    assert_eq!(create.num_calls(), 2);
}

#[tokio::test]
async fn add_routes_existing_route_via_this_peering_is_success() {
    // both tables already hold a route to the *other* CIDR through pcx-0ab (the rule answers per call)
    let describe = mock!(Ec2::describe_route_tables)
        .sequence()
        .output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-0a")
                        .routes(
                            Route::builder()
                                .destination_cidr_block("10.1.0.0/16")
                                .vpc_peering_connection_id("pcx-0ab")
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-0b")
                        .routes(
                            Route::builder()
                                .destination_cidr_block("10.0.0.0/16")
                                .vpc_peering_connection_id("pcx-0ab")
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let out = add_routes(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert!(out.routes.iter().all(|r| r.action == RouteAction::Existing));
}

#[tokio::test]
async fn add_routes_replaces_a_blackhole_route_of_an_earlier_peering() {
    // both tables route the other VPC through pcx-0old, deleted since (state blackhole)
    let describe = mock!(Ec2::describe_route_tables).then_compute_output(|req| {
        let vpc = req.filters()[0].values()[0].clone();
        let dest = if vpc == "vpc-0a" {
            "10.1.0.0/16"
        } else {
            "10.0.0.0/16"
        };
        DescribeRouteTablesOutput::builder()
            .route_tables(
                RouteTable::builder()
                    .route_table_id(format!("rtb-{}", &vpc[4..]))
                    .routes(
                        Route::builder()
                            .destination_cidr_block(dest)
                            .vpc_peering_connection_id("pcx-0old")
                            .state(RouteState::Blackhole)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let replace = mock!(Ec2::replace_route)
        .match_requests(|r| r.vpc_peering_connection_id() == Some("pcx-0ab"))
        .then_output(|| ReplaceRouteOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &replace]);
    let out = add_routes(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(replace.num_calls(), 2);
    let done: Vec<_> = out
        .routes
        .iter()
        .map(|r| (r.route_table_id.as_str(), r.destination.as_str(), r.action))
        .collect();
    assert_eq!(
        done,
        [
            ("rtb-0a", "10.1.0.0/16", RouteAction::Replaced),
            ("rtb-0b", "10.0.0.0/16", RouteAction::Replaced)
        ]
    );
    // the report says so in the JSON the state machine passes on
    assert_eq!(
        serde_json::to_value(&out.routes[0]).unwrap()["action"],
        "replaced"
    );
}

#[tokio::test]
async fn add_routes_route_via_something_else_is_a_conflict() {
    let describe = tables(Some(("10.1.0.0/16", "igw-0ff")));
    let ec2 = mock_client!(aws_sdk_ec2, [&describe]);
    let err = add_routes(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "RouteConflict");
    assert!(
        err.to_string()
            .contains("rtb-0a already routes 10.1.0.0/16 to igw-0ff"),
        "{err}"
    );
}

#[tokio::test]
async fn add_routes_race_with_route_already_exists_is_not_ready() {
    let describe = tables(None);
    let create = mock!(Ec2::create_route)
        .then_error(|| CreateRouteError::generic(err_meta("RouteAlreadyExists")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create]);
    let err = add_routes(
        event!("add-routes/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
}

// ---- update-sg ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_sg_rerun_with_duplicate_rule_and_group_attached_is_success() {
    let group = mock!(Ec2::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-0instb")
                    .tags(tag("peerlab:lab-id", "demo-1"))
                    .build(),
            )
            .build()
    });
    let authorize = mock!(Ec2::authorize_security_group_ingress)
        .match_requests(|r| {
            r.ip_permissions()[0].user_id_group_pairs()[0].group_id() == Some("sg-0a")
                && r.ip_permissions()[0].ip_protocol() == Some("-1")
        })
        .then_error(|| {
            AuthorizeSecurityGroupIngressError::generic(err_meta("InvalidPermission.Duplicate"))
        });
    let instance = mock!(Ec2::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(
                        Instance::builder()
                            .instance_id("i-0b")
                            .security_groups(GroupIdentifier::builder().group_id("sg-0b").build())
                            .security_groups(
                                GroupIdentifier::builder().group_id("sg-0instb").build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&group, &authorize, &instance]
    );
    let out = update_sg(
        event!("update-sg/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(out.instance_groups, ["sg-0b", "sg-0instb"]);
    assert_eq!(out.source, "group sg-0a");
    assert_eq!(authorize.num_calls(), 1);
}

#[tokio::test]
async fn update_sg_refuses_an_instanceb_group_of_someone_else() {
    let group = mock!(Ec2::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(SecurityGroup::builder().group_id("sg-theirs").build())
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, [&group]);
    let err = update_sg(
        event!("update-sg/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict");
}

// ---- ping-test ---------------------------------------------------------------------------------------------

fn online(yes: bool) -> Rule {
    mock!(Ssm::describe_instance_information).then_output(move || {
        let mut out = DescribeInstanceInformationOutput::builder();
        if yes {
            out = out.instance_information_list(
                InstanceInformation::builder()
                    .instance_id("i-0a")
                    .ping_status(PingStatus::Online)
                    .build(),
            );
        }
        out.build()
    })
}

fn listed(comment: &'static str) -> Rule {
    mock!(Ssm::list_commands).then_output(move || {
        ListCommandsOutput::builder()
            .commands(
                Command::builder()
                    .command_id("cmd-1")
                    .comment(comment)
                    .document_name("AWS-RunShellScript")
                    .build(),
            )
            .build()
    })
}

const LOST: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2047ms\n";
const OK: &str = "--- 10.1.1.4 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.4/0.5/0.6/0.1 ms\n";

fn invocation(status: CommandInvocationStatus, out: &'static str) -> Rule {
    mock!(Ssm::get_command_invocation).then_output(move || {
        GetCommandInvocationOutput::builder()
            .status(status.clone())
            .standard_output_content(out)
            .standard_error_content("[peerlab local AWS] simulated ping: ...")
            .build()
    })
}

#[tokio::test]
async fn ping_waits_for_ssm_online() {
    let info = online(false);
    let ssm = mock_client!(aws_sdk_ssm, [&info]);
    let err = ping_test(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is not Online in SSM yet".into())
    );
}

#[tokio::test]
async fn ping_sends_once_then_waits_for_the_invocation() {
    let info = online(true);
    let none = mock!(Ssm::list_commands).then_output(|| ListCommandsOutput::builder().build());
    let send = mock!(Ssm::send_command)
        .match_requests(|r| {
            r.comment() == Some("peerlab demo-1 control")
                && r.parameters()
                    .and_then(|p| p.get("commands"))
                    .map(|c| c[0].as_str())
                    == Some("ping -c 3 -W 2 10.1.1.4")
        })
        .then_output(|| {
            SendCommandOutput::builder()
                .command(Command::builder().command_id("cmd-1").build())
                .build()
        });
    let missing = mock!(Ssm::get_command_invocation).then_error(|| {
        GetCommandInvocationError::InvocationDoesNotExist(InvocationDoesNotExist::builder().build())
    });
    let ssm = mock_client!(
        aws_sdk_ssm,
        RuleMode::MatchAny,
        [&info, &none, &send, &missing]
    );
    let err = ping_test(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("command cmd-1 not delivered to i-0a yet".into())
    );
    assert_eq!(send.num_calls(), 1);
}

#[tokio::test]
async fn ping_retry_reuses_the_command_and_waits_while_in_progress() {
    let (info, found, running) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::InProgress, ""),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &running]);
    let err = ping_test(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("command cmd-1 is InProgress".into())
    );
}

#[tokio::test]
async fn control_ping_unreachable_passes() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::Failed, LOST),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let out = ping_test(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            out.reachable,
            out.passed,
            out.received,
            out.loss_percent,
            out.simulated
        ),
        (false, true, 0, 100.0, true)
    );
}

#[tokio::test]
async fn control_ping_that_gets_through_is_named() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 control"),
        invocation(CommandInvocationStatus::Success, OK),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let err = ping_test(
        event!("ping-test/events/control.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ControlReachable");
}

#[tokio::test]
async fn final_ping_success_reports_rtt() {
    let (info, found, done) = (
        online(true),
        listed("peerlab demo-1 final"),
        invocation(CommandInvocationStatus::Success, OK),
    );
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&info, &found, &done]);
    let out = ping_test(
        event!("ping-test/events/final.json"),
        &clients(no_ec2(), ssm),
    )
    .await
    .unwrap();
    assert_eq!(
        (out.reachable, out.passed, out.rtt_avg_ms),
        (true, true, Some(0.5))
    );
}

// ---- teardown ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn teardown_discovers_by_tag_and_waits_on_dependency_violation() {
    let only_lab = |filters: &[aws_sdk_ec2::types::Filter]| {
        filters
            .iter()
            .any(|f| f.name() == Some("tag:peerlab:lab-id") && f.values() == ["demo-1"])
    };
    let instances = mock!(Ec2::describe_instances)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id("i-0b")
                                .vpc_id("vpc-0b")
                                .state(
                                    InstanceState::builder()
                                        .name(InstanceStateName::Terminated)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let endpoints = mock!(Ec2::describe_vpc_endpoints)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| DescribeVpcEndpointsOutput::builder().build());
    let groups = mock!(Ec2::describe_security_groups)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let peerings = mock!(Ec2::describe_vpc_peering_connections)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| {
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(Code::Deleted, ""))
                .build()
        });
    let subnets = mock!(Ec2::describe_subnets)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| {
            DescribeSubnetsOutput::builder()
                .subnets(
                    Subnet::builder()
                        .subnet_id("subnet-0b")
                        .vpc_id("vpc-0b")
                        .build(),
                )
                .build()
        });
    let vpcs = mock!(Ec2::describe_vpcs)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| {
            DescribeVpcsOutput::builder()
                .vpcs(Vpc::builder().vpc_id("vpc-0b").build())
                .build()
        });
    let routes = mock!(Ec2::describe_route_tables)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-0b")
                        .vpc_id("vpc-0b")
                        .associations(
                            RouteTableAssociation::builder()
                                .route_table_association_id("rtbassoc-0b")
                                .subnet_id("subnet-0b")
                                .main(false)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let disassociate = mock!(Ec2::disassociate_route_table)
        .match_requests(|r| r.association_id() == Some("rtbassoc-0b"))
        .then_output(|| DisassociateRouteTableOutput::builder().build());
    let delete_table = mock!(Ec2::delete_route_table)
        .match_requests(|r| r.route_table_id() == Some("rtb-0b"))
        .then_output(|| DeleteRouteTableOutput::builder().build());
    let delete_subnet = mock!(Ec2::delete_subnet)
        .then_error(|| DeleteSubnetError::generic(err_meta("DependencyViolation")));
    let terminate =
        mock!(Ec2::terminate_instances).then_output(|| TerminateInstancesOutput::builder().build());
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [
            &instances,
            &endpoints,
            &groups,
            &peerings,
            &subnets,
            &vpcs,
            &routes,
            &disassociate,
            &delete_table,
            &delete_subnet,
            &terminate
        ]
    );
    let err = teardown_lab(event!("teardown/events/lab.json"), &clients(ec2, no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
    assert!(
        err.to_string()
            .contains("remaining: route-table rtb-0b, subnet subnet-0b, vpc vpc-0b"),
        "{err}"
    );
    // the lab's route table goes (after its association) before its subnet
    assert_eq!(disassociate.num_calls(), 1);
    assert_eq!(delete_table.num_calls(), 1);
    assert_eq!(delete_subnet.num_calls(), 1);
    assert_eq!(terminate.num_calls(), 0); // already terminated
}

#[tokio::test]
async fn teardown_of_nothing_is_done_and_reports_known_ids_as_deleted() {
    let empty_instances =
        mock!(Ec2::describe_instances).then_output(|| DescribeInstancesOutput::builder().build());
    let empty_endpoints = mock!(Ec2::describe_vpc_endpoints)
        .then_output(|| DescribeVpcEndpointsOutput::builder().build());
    let empty_groups = mock!(Ec2::describe_security_groups)
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let empty_peerings = mock!(Ec2::describe_vpc_peering_connections)
        .then_output(|| DescribeVpcPeeringConnectionsOutput::builder().build());
    let empty_subnets =
        mock!(Ec2::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build());
    let empty_vpcs =
        mock!(Ec2::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build());
    let empty_tables = mock!(Ec2::describe_route_tables)
        .then_output(|| DescribeRouteTablesOutput::builder().build());
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [
            &empty_instances,
            &empty_endpoints,
            &empty_groups,
            &empty_peerings,
            &empty_subnets,
            &empty_vpcs,
            &empty_tables
        ]
    );
    let out = teardown_lab(event!("teardown/events/lab.json"), &clients(ec2, no_ssm()))
        .await
        .unwrap();
    assert_eq!(
        out,
        TeardownOutput {
            lab_ids: vec!["demo-1".into()],
            deleted: vec!["pcx-0ab".into(), "vpc-0a".into(), "vpc-0b".into()],
            remaining: vec![],
            left: vec![]
        }
    );
}

/// A lab of which nothing is left: every describe answers empty.
fn nothing_left() -> Vec<Rule> {
    vec![
        mock!(Ec2::describe_instances).then_output(|| DescribeInstancesOutput::builder().build()),
        mock!(Ec2::describe_vpc_endpoints)
            .then_output(|| DescribeVpcEndpointsOutput::builder().build()),
        mock!(Ec2::describe_security_groups)
            .then_output(|| DescribeSecurityGroupsOutput::builder().build()),
        mock!(Ec2::describe_vpc_peering_connections)
            .then_output(|| DescribeVpcPeeringConnectionsOutput::builder().build()),
        mock!(Ec2::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build()),
        mock!(Ec2::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build()),
        mock!(Ec2::describe_route_tables)
            .then_output(|| DescribeRouteTablesOutput::builder().build()),
    ]
}

#[tokio::test]
async fn teardown_after_a_failure_keeps_looking_for_a_quiet_period() {
    let rules = nothing_left();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let mut event: TeardownEvent = event!("teardown/events/lab.json");
    event.after_failure = true;
    event.retry_count = 3;
    let err = teardown_lab(event.clone(), &clients(ec2.clone(), no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
    assert!(
        err.to_string().contains("quiet period: retry 3 of 4"),
        "{err}"
    );
    event.retry_count = 4;
    let out = teardown_lab(event, &clients(ec2, no_ssm())).await.unwrap();
    assert!(out.remaining.is_empty());
}

#[tokio::test]
async fn a_sweep_out_of_time_leaves_the_rest_for_the_next_run() {
    let labs = mock!(Ec2::describe_vpcs)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("tag-key")))
        .then_output(|| {
            let vpc = |lab: &str| {
                Vpc::builder()
                    .vpc_id(format!("vpc-{lab}"))
                    .tags(tag("peerlab:lab-id", lab))
                    .tags(tag("peerlab:expires-at", "2020-01-01T00:00:00Z"))
                    .build()
            };
            DescribeVpcsOutput::builder()
                .vpcs(vpc("old-1"))
                .vpcs(vpc("old-2"))
                .vpcs(vpc("old-3"))
                .build()
        });
    // no other rule: a teardown pass would fail the test
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&labs]);
    let scope = clients(ec2, no_ssm()).home();
    let now = time::OffsetDateTime::now_utc();
    let out = crate::teardown::sweep(&scope, now, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(out.lab_ids.is_empty());
    assert_eq!(out.left, ["old-1", "old-2", "old-3"]);
}

#[tokio::test]
async fn teardown_needs_a_lab_id_or_a_mode() {
    // a mode it does not know is refused as the event is read, naming the modes it knows
    let bad = serde_json::from_str::<TeardownRequest>(r#"{"mode": "everything"}"#).unwrap_err();
    assert!(
        bad.to_string()
            .contains("unknown variant `everything`, expected `lab` or `sweep`"),
        "{bad}"
    );
    let none: TeardownEvent = serde_json::from_str("{}").unwrap();
    assert_eq!(
        teardown_lab(none, &clients(no_ec2(), no_ssm()))
            .await
            .unwrap_err()
            .error_type(),
        "InvalidInput"
    );
}

fn backstop_event(status: &str, input: Option<serde_json::Value>) -> ExecutionStatusChange {
    let mut event: ExecutionStatusChange = event!("teardown/events/backstop.json");
    event.detail.status = status.into();
    if let Some(input) = input {
        event.detail.input = Some(input.to_string());
    }
    event
}

#[tokio::test]
async fn backstop_tears_down_the_lab_its_input_names() {
    // Every discovery asks for the lab id of the execution's input ("night-3"), not the execution's name.
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = asked.clone();
    let vpcs = mock!(Ec2::describe_vpcs)
        .match_requests(move |r| {
            let values = r.filters()[0].values().to_vec();
            seen.lock().unwrap().extend(values);
            true
        })
        .then_output(|| DescribeVpcsOutput::builder().build());
    let rules = [
        mock!(Ec2::describe_instances).then_output(|| DescribeInstancesOutput::builder().build()),
        mock!(Ec2::describe_vpc_endpoints)
            .then_output(|| DescribeVpcEndpointsOutput::builder().build()),
        mock!(Ec2::describe_security_groups)
            .then_output(|| DescribeSecurityGroupsOutput::builder().build()),
        mock!(Ec2::describe_vpc_peering_connections)
            .then_output(|| DescribeVpcPeeringConnectionsOutput::builder().build()),
        mock!(Ec2::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build()),
        mock!(Ec2::describe_route_tables)
            .then_output(|| DescribeRouteTablesOutput::builder().build()),
    ];
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&rules[0], &rules[1], &rules[2], &rules[3], &rules[4], &rules[5], &vpcs]
    );
    // the first attempts find nothing but keep looking: a create may have been in flight when it stopped
    let request: TeardownRequest = event!("teardown/events/backstop.json");
    let err = teardown_request(request, &clients(ec2.clone(), no_ssm()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("quiet period: retry 0 of 4"),
        "{err}"
    );
    // as the backstop state machine passes it: the event and its state's retry count
    let event: serde_json::Value = event!("teardown/events/backstop.json");
    let request: TeardownRequest = serde_json::from_value(serde_json::json!({
        "event": event, "retry_count": crate::teardown::QUIET_RETRIES
    }))
    .unwrap();
    let out = teardown_request(request, &clients(ec2, no_ssm()))
        .await
        .unwrap();
    assert_eq!(out.lab_ids, ["night-3"]);
    assert!(out.remaining.is_empty());
    assert_eq!(asked.lock().unwrap().as_slice(), ["night-3"; 4]);
}

#[tokio::test]
async fn backstop_of_an_input_that_never_validated_asks_nothing() {
    // vpc_b overlaps vpc_a: validate-input failed, nothing was created; no EC2 call may be made (no_ec2 fails any).
    let bad = serde_json::json!({"vpc_b": {"cidr": "10.0.128.0/17"}});
    let out = backstop(
        backstop_event("FAILED", Some(bad)),
        &clients(no_ec2(), no_ssm()),
    )
    .await
    .unwrap();
    assert_eq!(out, TeardownOutput::default());
}

#[tokio::test]
async fn backstop_refuses_a_running_execution_and_other_events() {
    let err = backstop(
        backstop_event("RUNNING", None),
        &clients(no_ec2(), no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("RUNNING"), "{err}");
    let mut other = backstop_event("FAILED", None);
    other.detail_type = "EC2 Instance State-change Notification".into();
    let err = backstop(other, &clients(no_ec2(), no_ssm()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("detail-type"), "{err}");
}
