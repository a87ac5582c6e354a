use super::*;
use crate::test_support::*;

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
            instances([instance("i-0b", InstanceStateName::Terminated)
                .vpc_id("vpc-0b")
                .build()])
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
            route_tables([subnet_table("rtb-0b", "vpc-0b", "subnet-0b", "rtbassoc-0b")])
        });
    let disassociate = mock!(Ec2::disassociate_route_table)
        .match_requests(|r| r.association_id() == Some("rtbassoc-0b"))
        .then_output(|| DisassociateRouteTableOutput::builder().build());
    let delete_table = mock!(Ec2::delete_route_table)
        .match_requests(|r| r.route_table_id() == Some("rtb-0b"))
        .then_output(|| DeleteRouteTableOutput::builder().build());
    let no_acls = mock!(Ec2::describe_network_acls)
        .match_requests(move |r| only_lab(r.filters()))
        .then_output(|| DescribeNetworkAclsOutput::builder().build());
    let delete_subnet =
        mock!(Ec2::delete_subnet).then_error(fails(err_meta("DependencyViolation")));
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
            &no_acls,
            &disassociate,
            &delete_table,
            &delete_subnet,
            &terminate
        ]
    );
    let err = lab(event!("teardown/events/lab.json"), &clients(ec2, no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
    // the subnet held the VPC: the pass knows the lab is not gone, and lists what it left without looking again
    // (the route table it deleted is not among them)
    assert!(
        err.to_string()
            .ends_with("remaining: subnet subnet-0b, vpc vpc-0b"),
        "{err}"
    );
    assert_eq!((vpcs.num_calls(), subnets.num_calls()), (1, 1));
    // the lab's route table goes (after its association) before its subnet
    assert_eq!(disassociate.num_calls(), 1);
    assert_eq!(delete_table.num_calls(), 1);
    assert_eq!(delete_subnet.num_calls(), 1);
    assert_eq!(terminate.num_calls(), 0); // already terminated
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
        mock!(Ec2::describe_network_acls)
            .then_output(|| DescribeNetworkAclsOutput::builder().build()),
    ]
}

#[tokio::test]
async fn teardown_of_nothing_is_done_and_reports_known_ids_as_deleted() {
    let rules = nothing_left();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let out = lab(event!("teardown/events/lab.json"), &clients(ec2, no_ssm()))
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
    // no VPC left standing by the pass: it looks again before it says the lab is gone
    assert!(rules.iter().all(|r| r.num_calls() == 2));
}

#[tokio::test]
async fn teardown_after_a_failure_keeps_looking_for_a_quiet_period() {
    let rules = nothing_left();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let mut event: TeardownEvent = event!("teardown/events/lab.json");
    event.after_failure = true;
    event.retry_count = 3;
    let err = lab(event.clone(), &clients(ec2.clone(), no_ssm()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotReady");
    assert!(
        err.to_string().contains("quiet period: retry 3 of 4"),
        "{err}"
    );
    event.retry_count = 4;
    let out = lab(event, &clients(ec2, no_ssm())).await.unwrap();
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
    let out = sweep(&scope, now, std::time::Duration::ZERO).await.unwrap();
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
        lab(none, &clients(no_ec2(), no_ssm()))
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
    // the first matching rule answers: `vpcs` before nothing_left's own DescribeVpcs
    let rules = [vec![vpcs], nothing_left()].concat();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    // the first attempts find nothing but keep looking: a create may have been in flight when it stopped
    let request: TeardownRequest = event!("teardown/events/backstop.json");
    let err = handler(request, &clients(ec2.clone(), no_ssm()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("quiet period: retry 0 of 4"),
        "{err}"
    );
    // as the backstop state machine passes it: the event and its state's retry count
    let event: serde_json::Value = event!("teardown/events/backstop.json");
    let request: TeardownRequest = serde_json::from_value(serde_json::json!({
        "event": event, "retry_count": QUIET_RETRIES
    }))
    .unwrap();
    let out = handler(request, &clients(ec2, no_ssm())).await.unwrap();
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

// ---- the executor ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn execute_leaves_a_vpc_whose_group_is_still_in_use_and_deletes_the_other() {
    use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput;
    use aws_sdk_ec2::operation::delete_vpc::DeleteVpcOutput;
    let in_use = mock!(Ec2::delete_security_group)
        .match_requests(|r| r.group_id() == Some("sg-a"))
        .then_error(fails(err_meta("DependencyViolation")));
    let deleted = mock!(Ec2::delete_security_group)
        .match_requests(|r| r.group_id() == Some("sg-b"))
        .then_output(|| DeleteSecurityGroupOutput::builder().build());
    let vpc_b = mock!(Ec2::delete_vpc)
        .match_requests(|r| r.vpc_id() == Some("vpc-b"))
        .then_output(|| DeleteVpcOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&in_use, &deleted, &vpc_b]);
    let plan = [
        Deletion::DeleteGroup {
            id: "sg-a".into(),
            vpc_id: "vpc-a".into(),
        },
        Deletion::DeleteGroup {
            id: "sg-b".into(),
            vpc_id: "vpc-b".into(),
        },
        // no rule answers DeleteVpc for vpc-a: asking it would fail the test
        Deletion::DeleteVpc("vpc-a".into()),
        Deletion::DeleteVpc("vpc-b".into()),
    ];
    let pass = execute(&ec2, &plan).await.unwrap();
    assert_eq!(pass.deleted, ["sg-b", "vpc-b"]);
    assert_eq!(
        pass.removed,
        BTreeSet::from(["sg-b".to_string(), "vpc-b".to_string()])
    );
    assert_eq!((in_use.num_calls(), vpc_b.num_calls()), (1, 1));
}

#[tokio::test]
async fn execute_revokes_rules_one_by_one_when_one_of_several_is_gone() {
    use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput;
    use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
    // AWS revokes a call's rules all or none (RevokeSecurityGroupIngress API reference: "an
    // InvalidPermission.NotFound client error is returned, and no rules are revoked"): the rule still there is
    // revoked alone, the one gone already answers NotFound alone
    let rule = |port: i32| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-b").build())
            .build()
    };
    let both = mock!(Ec2::revoke_security_group_ingress)
        .match_requests(|r| r.ip_permissions().len() == 2)
        .then_error(fails(err_meta("InvalidPermission.NotFound")));
    let gone = mock!(Ec2::revoke_security_group_ingress)
        .match_requests(|r| {
            r.ip_permissions().len() == 1 && r.ip_permissions()[0].from_port() == Some(22)
        })
        .then_error(fails(err_meta("InvalidPermission.NotFound")));
    let there = mock!(Ec2::revoke_security_group_ingress)
        .match_requests(|r| {
            r.ip_permissions().len() == 1 && r.ip_permissions()[0].from_port() == Some(443)
        })
        .then_output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&both, &gone, &there]);
    let plan = [Deletion::RevokeIngress {
        group_id: "sg-a".into(),
        rules: vec![rule(22), rule(443)],
    }];
    execute(&ec2, &plan).await.unwrap();
    assert_eq!(
        (both.num_calls(), gone.num_calls(), there.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn execute_fails_on_an_error_that_is_neither_gone_nor_not_yet() {
    let gone = mock!(Ec2::delete_subnet).then_error(fails(err_meta("InvalidSubnetID.NotFound")));
    let refused = mock!(Ec2::delete_vpc).then_error(fails(err_meta("UnauthorizedOperation")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&gone, &refused]);
    let plan = [
        Deletion::DeleteSubnet {
            id: "subnet-a".into(),
            vpc_id: "vpc-a".into(),
        },
        Deletion::DeleteVpc("vpc-a".into()),
    ];
    let err = execute(&ec2, &plan).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsError");
    assert!(
        err.to_string()
            .contains("deleting VPC vpc-a: UnauthorizedOperation"),
        "{err}"
    );
}

#[tokio::test]
async fn execute_makes_every_deletion_of_a_step_and_fails_with_the_first_that_failed() {
    use aws_sdk_ec2::operation::delete_vpc_endpoints::DeleteVpcEndpointsOutput;
    // the instance and the endpoint go at once: the endpoint is deleted though the termination is refused,
    // the error is the termination's (first in the plan, as when they went one after the other), and the next
    // step (the peering) is not started
    let refused =
        mock!(Ec2::terminate_instances).then_error(fails(err_meta("UnauthorizedOperation")));
    let endpoint = mock!(Ec2::delete_vpc_endpoints)
        .then_output(|| DeleteVpcEndpointsOutput::builder().build());
    let peering = mock!(Ec2::delete_vpc_peering_connection)
        .then_error(fails(err_meta("InvalidVpcPeeringConnectionID.NotFound")));
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&refused, &endpoint, &peering]
    );
    let plan = [
        Deletion::TerminateInstances(vec!["i-a".into()]),
        Deletion::DeleteEndpoints(vec!["vpce-1".into()]),
        Deletion::DeletePeering("pcx-1".into()),
    ];
    let err = execute(&ec2, &plan).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("terminating i-a: UnauthorizedOperation"),
        "{err}"
    );
    assert_eq!(
        [
            refused.num_calls(),
            endpoint.num_calls(),
            peering.num_calls()
        ],
        [1, 1, 0]
    );
    // both refused: still the first's error, whichever answered first
    let also_refused =
        mock!(Ec2::delete_vpc_endpoints).then_error(fails(err_meta("UnauthorizedOperation")));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&also_refused, &refused]);
    let err = execute(&ec2, &plan[..2]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("terminating i-a: UnauthorizedOperation"),
        "{err}"
    );
}

#[tokio::test]
async fn the_peer_accounts_pass_starts_after_the_home_one_has_deleted_the_peering() {
    use aws_sdk_ec2::operation::delete_vpc_peering_connection::DeleteVpcPeeringConnectionOutput;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // both accounts list the lab's peering; the home account (the requester) deletes it, the peer's accepter
    // role may not: had the peer's pass discovered it before the home pass deleted it, teardown would fail
    let gone = Arc::new(AtomicBool::new(false));
    let listing = |gone: Arc<AtomicBool>| {
        mock!(Ec2::describe_vpc_peering_connections).then_compute_output(move |_| {
            let code = if gone.load(Ordering::SeqCst) {
                Code::Deleted
            } else {
                Code::Active
            };
            DescribeVpcPeeringConnectionsOutput::builder()
                .vpc_peering_connections(pcx(code, ""))
                .build()
        })
    };
    let mut home_rules = nothing_left();
    home_rules[3] = listing(gone.clone());
    let deleted_by_home = gone.clone();
    home_rules.push(
        mock!(Ec2::delete_vpc_peering_connection).then_compute_output(move |_| {
            deleted_by_home.store(true, Ordering::SeqCst);
            DeleteVpcPeeringConnectionOutput::builder().build()
        }),
    );
    let mut peer_rules = nothing_left();
    peer_rules[3] = listing(gone);
    peer_rules.push(
        mock!(Ec2::delete_vpc_peering_connection)
            .then_error(fails(err_meta("UnauthorizedOperation"))),
    );
    let scope = |rules: &[Rule]| Scope {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules),
        ssm: no_ssm(),
        region: "us-east-1".into(),
    };
    let out = teardown(
        &[scope(&home_rules), scope(&peer_rules)],
        "demo-1",
        &[],
        Quiet::default(),
    )
    .await
    .unwrap();
    assert_eq!(out.deleted, ["pcx-0ab"]);
    assert_eq!(peer_rules[8].num_calls(), 0);
}

#[test]
fn a_pass_leaves_what_it_did_not_remove_and_shows_what_it_began_deleting() {
    let before = Inventory {
        instances: vec![
            ("i-a".into(), "vpc-a".into(), InstanceStateName::Running),
            (
                "i-b".into(),
                "vpc-b".into(),
                InstanceStateName::ShuttingDown,
            ),
        ],
        endpoints: vec![("vpce-a".into(), "vpc-a".into(), "available".into())],
        peerings: vec![("pcx-1".into(), Code::Active)],
        subnets: vec![("subnet-a".into(), "vpc-a".into())],
        vpcs: vec!["vpc-a".into(), "vpc-b".into()],
        ..Inventory::default()
    };
    let pass = Pass {
        deleted: vec![
            "i-a".into(),
            "vpce-a".into(),
            "pcx-1".into(),
            "vpc-b".into(),
        ],
        removed: BTreeSet::from(["vpc-b".to_string()]),
    };
    let left: Vec<String> = left_by(&before, &pass)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        left,
        [
            "instance i-a (shutting-down)",
            "instance i-b (shutting-down)",
            "vpc-endpoint vpce-a (deleting)",
            "vpc-peering-connection pcx-1 (deleting)",
            "subnet subnet-a",
            "vpc vpc-a"
        ]
    );
}
