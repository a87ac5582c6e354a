//! create-vpc's handler on mocked EC2/SSM answers: a first run, a re-run that finds everything, and each wait.

use super::*;
use crate::test_support::*;

/// The function's configuration as the stack sets it: instance A's profile named.
fn with_profile() -> Config {
    Config {
        instance_profile: Some("peerlab-lab-instance".into()),
    }
}

/// Side A's lab route table, associated with its subnet.
fn lab_table() -> RouteTable {
    subnet_table("rtb-0a", "vpc-0a", "subnet-0a", "rtbassoc-0a")
}

fn existing_side_a(instance_state: InstanceStateName, vpc_cidr: &'static str) -> Vec<Rule> {
    vec![
        mock!(Ec2::describe_route_tables).then_output(|| route_tables([lab_table()])),
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
            groups([lab_group("sg-0a")
                // the endpoints' group already admits HTTPS (the same group answers both look-ups)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(443)
                        .to_port(443)
                        .build(),
                )
                .build()])
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
            instances([instance("i-0a", instance_state.clone())
                .private_ip_address("10.0.1.4")
                .build()])
        }),
    ]
}

#[tokio::test]
async fn create_vpc_rerun_finds_everything_and_creates_nothing() {
    let rules = existing_side_a(InstanceStateName::Running, "10.0.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let out = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
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
    // the endpoint group has its HTTPS rule, so the DNS attributes were turned on before it: not again
    assert_eq!(rules[4].num_calls(), 0);
}

#[tokio::test]
async fn create_vpc_waits_for_a_pending_instance() {
    let rules = existing_side_a(InstanceStateName::Pending, "10.0.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is pending".into())
    );
}

/// create-vpc A on these EC2 rules (any order), with the AMI parameter and an instance profile: its error.
async fn side_a_fails(rules: &[Rule]) -> LabError {
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules);
    handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, ami_parameter()),
        &with_profile(),
    )
    .await
    .unwrap_err()
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
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
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
    // a new endpoint group: both DNS attributes turned on (support, then hostnames) before its HTTPS rule
    assert_eq!(rules[7].num_calls(), 2);
}

#[tokio::test]
async fn create_vpc_a_waits_while_an_endpoint_of_the_service_is_still_deleting() {
    // EC2 refuses a second endpoint with private DNS while the first is deleting (InvalidParameter, "conflicting
    // DNS domain": hashicorp/terraform-provider-aws#17535): no create, NotReady until it is gone
    let mut rules = new_side_a("pending");
    rules[8] = mock!(Ec2::describe_vpc_endpoints).then_compute_output(|req| {
        let ssm = req
            .filters()
            .iter()
            .any(|f| f.values().iter().any(|v| v.ends_with(".ssm")));
        let out = DescribeVpcEndpointsOutput::builder();
        if ssm {
            out.vpc_endpoints(
                VpcEndpoint::builder()
                    .vpc_endpoint_id("vpce-0old")
                    .state("deleting".into())
                    .private_dns_enabled(true)
                    .build(),
            )
            .build()
        } else {
            out.build()
        }
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        LabError::NotReady(
            "the ssm endpoint vpce-0old of vpc-0a is still deleting: another with private DNS waits for it".into()
        )
    );
    // the ssmmessages endpoint was created; the ssm one was not
    assert_eq!(rules[9].num_calls(), 1);
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
    rules[13] =
        mock!(Ec2::associate_route_table).then_error(fails(err_meta("Resource.AlreadyAssociated")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
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
            out.route_tables(lab_table()).build()
        } else {
            out.build()
        }
    });
    rules[13] =
        mock!(Ec2::associate_route_table).then_error(fails(err_meta("Resource.AlreadyAssociated")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
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
                instance("i-0a", InstanceStateName::Pending)
                    .private_ip_address("10.0.1.4")
                    .build(),
            )
            .build()
    }));
    let err = side_a_fails(&rules).await;
    assert_eq!(
        err,
        LabError::NotReady("instance A (i-0a) is pending".into())
    );
    assert_eq!(rules.last().map(Rule::num_calls), Some(1));
}

#[tokio::test]
async fn create_vpc_a_waits_while_a_new_instance_profile_is_refused() {
    let mut rules = new_side_a("available");
    rules.push(mock!(Ec2::run_instances).then_error(fails(err_saying(
        "InvalidParameterValue",
        "Value (peerlab-lab-instance) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
    ))));
    let err = side_a_fails(&rules).await;
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
    rules.push(mock!(Ec2::run_instances).then_error(fails(err_saying(
        "InsufficientInstanceCapacity",
        "We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a).",
    ))));
    let err = side_a_fails(&rules).await;
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
        mock!(Ec2::create_subnet).then_error(fails(err_meta("InvalidSubnet.Conflict"))),
    );
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NotReady", "{err}");
}

#[tokio::test]
async fn create_vpc_refuses_a_lab_vpc_with_another_cidr() {
    let rules = existing_side_a(InstanceStateName::Running, "10.9.0.0/16");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, no_ssm()),
        &with_profile(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict");
}

#[tokio::test]
async fn create_vpc_a_without_an_instance_profile_is_refused_before_creating_anything() {
    // every rule a first run of side A needs, endpoints available: only the missing profile stops it
    let rules = new_side_a("available");
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let err = handler(
        event!("create-vpc/events/side-a.json"),
        &clients(ec2, ami_parameter()),
        &Config::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains(INSTANCE_PROFILE_ENV), "{err}");
    // no VPC, subnet, route table, group nor endpoint was created (nor even looked up)
    let called: Vec<usize> = rules.iter().map(Rule::num_calls).collect();
    assert_eq!(called, vec![0; rules.len()]);
}

// ---- what runs at once once the VPC exists ---------------------------------------------------------------------

/// Does a create carry the lab's tag (so that teardown, which finds everything by it, finds what it made)?
fn tagged_for_the_lab(specs: &[aws_sdk_ec2::types::TagSpecification]) -> bool {
    specs.iter().any(|s| {
        s.tags()
            .iter()
            .any(|t| t.key() == Some("peerlab:lab-id") && t.value() == Some("demo-1"))
    })
}

#[tokio::test]
async fn create_vpc_a_whose_subnet_fails_fails_as_before_and_what_it_made_meanwhile_is_tagged() {
    // the groups are made at once with the subnet: when the subnet fails, they exist, and teardown must find them
    let mut rules = new_side_a("available");
    rules[3] =
        mock!(Ec2::create_subnet).then_error(fails(err_saying("SubnetLimitExceeded", "too many")));
    rules[5] = mock!(Ec2::create_security_group)
        .match_requests(|req| tagged_for_the_lab(req.tag_specifications()))
        .then_output(|| {
            CreateSecurityGroupOutput::builder()
                .group_id("sg-0a")
                .build()
        });
    let err = side_a_fails(&rules).await;
    // the subnet's error, as when the steps ran one after the other
    assert_eq!(
        err,
        LabError::Aws {
            code: "SubnetLimitExceeded".into(),
            message:
                "creating subnet 10.0.1.0/24 in vpc-0a (us-east-1a): SubnetLimitExceeded: too many"
                    .into()
        }
    );
    // the instance's group and the endpoints' group were made meanwhile, both tagged for the lab
    assert_eq!(rules[5].num_calls(), 2);
    // nothing that needs the subnet: no route table association, no endpoint, no instance
    let [associate, create_endpoint] = [13, 9].map(|i| rules[i].num_calls());
    assert_eq!((associate, create_endpoint), (0, 0));
}

#[tokio::test]
async fn create_vpc_a_failing_in_two_chains_at_once_fails_with_the_first_in_the_old_order() {
    // the groups' look-up fails on its first call, before the subnet's create (the second call of its chain) does:
    // the step still fails with the subnet's error, the one it failed with when the subnet came first
    let mut rules = new_side_a("available");
    rules[3] =
        mock!(Ec2::create_subnet).then_error(fails(err_saying("SubnetLimitExceeded", "too many")));
    rules[4] = mock!(Ec2::describe_security_groups)
        .then_error(fails(err_saying("UnauthorizedOperation", "denied")));
    let err = side_a_fails(&rules).await;
    assert_eq!(err.error_type(), "AwsError", "{err}");
    assert!(
        err.to_string()
            .starts_with("SubnetLimitExceeded: creating subnet 10.0.1.0/24"),
        "{err}"
    );
    // and with the subnet made, the group's error is the step's: the subnet and its route table are made
    let mut rules = new_side_a("available");
    rules[4] = mock!(Ec2::describe_security_groups)
        .then_error(fails(err_saying("UnauthorizedOperation", "denied")));
    let err = side_a_fails(&rules).await;
    assert!(
        err.to_string()
            .starts_with("UnauthorizedOperation: finding security group peerlab-demo-1-instance-a"),
        "{err}"
    );
    let made = [3, 12, 13].map(|i| rules[i].num_calls());
    assert_eq!(made, [1, 1, 1]);
}
