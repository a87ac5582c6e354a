use super::*;
use crate::test_support::*;

fn lookup_failing_with(code: &'static str) -> aws_sdk_ec2::Client {
    let rule = mock!(Ec2::describe_vpc_peering_connections).then_error(fails(err_meta(code)));
    mock_client!(aws_sdk_ec2, [&rule])
}

#[tokio::test]
async fn a_peering_ec2_does_not_know_is_one_that_does_not_exist() {
    let ec2 = lookup_failing_with("InvalidVpcPeeringConnectionID.NotFound");
    assert_eq!(peering_status(&ec2, "pcx-1").await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_peering_lookup_is_an_error_not_a_missing_peering() {
    // a throttle is retried by the state machine; an access denied names itself - neither is "does not exist"
    let ec2 = lookup_failing_with("RequestLimitExceeded");
    assert_eq!(
        peering_status(&ec2, "pcx-1")
            .await
            .unwrap_err()
            .error_type(),
        "Throttled"
    );
    let ec2 = lookup_failing_with("UnauthorizedOperation");
    let err = peering_status(&ec2, "pcx-1").await.unwrap_err();
    assert_eq!(err.error_type(), "AwsError");
    assert!(
        err.to_string()
            .contains("reading peering pcx-1 for the diagnosis: UnauthorizedOperation"),
        "{err}"
    );
}

/// A VPC's main table: its own CIDR local, and the peer's through `peer` (CIDR, peering) when given.
fn vpc_table(id: &str, own: &str, peer: Option<(&str, &str)>) -> RouteTable {
    let local = route(own, "local", RouteState::Active);
    let through = peer.map(|(dest, pcx)| route(dest, pcx, RouteState::Active));
    main_table(id, std::iter::once(local).chain(through))
}

fn open_acl(id: &str) -> NetworkAcl {
    let entry = |egress| {
        NetworkAclEntry::builder()
            .rule_number(100)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .build()
    };
    NetworkAcl::builder()
        .network_acl_id(id)
        .is_default(true)
        .entries(entry(true))
        .entries(entry(false))
        .build()
}

fn healthy() -> (Snapshot, SideOutput, SideOutput) {
    let a = side_output("a", "vpc-a", "10.0.0.0/16", "10.0.1.4", "sg-a");
    let b = side_output("b", "vpc-b", "10.1.0.0/16", "10.1.1.4", "sg-b");
    let s = Snapshot {
        peering_status: Some("active".into()),
        tables_a: vec![vpc_table(
            "rtb-a",
            "10.0.0.0/16",
            Some(("10.1.0.0/16", "pcx-1")),
        )],
        tables_b: vec![vpc_table(
            "rtb-b",
            "10.1.0.0/16",
            Some(("10.0.0.0/16", "pcx-1")),
        )],
        groups_a: vec![group("sg-a").build()],
        groups_b: vec![
            group("sg-b").build(),
            group("sg-instanceb")
                .ip_permissions(from_group("-1", "sg-a"))
                .build(),
        ],
        vpc_groups_b: vec![
            group("sg-b").build(),
            group("sg-instanceb")
                .ip_permissions(from_group("-1", "sg-a"))
                .build(),
        ],
        acls_a: vec![open_acl("acl-a")],
        acls_b: vec![open_acl("acl-b")],
    };
    (s, a, b)
}

#[test]
fn healthy_lab_has_no_blocking_hop() {
    let (s, a, b) = healthy();
    assert_eq!(explain(&s, &a, &b, "pcx-1", true), None);
}

#[test]
fn names_the_inactive_peering() {
    let (mut s, a, b) = healthy();
    s.peering_status = Some("pending-acceptance".into());
    assert_eq!(
        explain(&s, &a, &b, "pcx-1", true).unwrap().detail,
        "peering pcx-1 is pending-acceptance, not active"
    );
}

#[test]
fn names_the_table_without_a_route() {
    let (mut s, a, b) = healthy();
    s.tables_a = vec![vpc_table("rtb-a", "10.0.0.0/16", None)];
    assert_eq!(
        explain(&s, &a, &b, "pcx-1", true).unwrap().detail,
        "route table rtb-a of VPC A has no route to 10.1.1.4"
    );
}

#[test]
fn names_the_missing_way_back() {
    let (mut s, a, b) = healthy();
    s.tables_b = vec![vpc_table(
        "rtb-b",
        "10.1.0.0/16",
        Some(("10.0.0.0/16", "pcx-other")),
    )];
    let why = explain(&s, &a, &b, "pcx-1", true).unwrap().detail;
    assert!(
        why.starts_with("no way back: route table rtb-b of VPC B sends 10.0.1.4"),
        "{why}"
    );
}

#[test]
fn names_the_group_that_does_not_admit_a() {
    let (mut s, a, b) = healthy();
    s.groups_b = vec![group("sg-b").build()];
    s.vpc_groups_b = s.groups_b.clone();
    let why = explain(&s, &a, &b, "pcx-1", true).unwrap().detail;
    assert_eq!(why, "the security groups of instance B (sg-b) have no rule admitting ICMP from group sg-a or address 10.0.1.4");
}

#[test]
fn group_references_do_not_work_across_regions() {
    let (s, a, b) = healthy();
    let why = explain(&s, &a, &b, "pcx-1", false).unwrap().detail;
    assert!(
        why.contains("group references do not work across regions"),
        "{why}"
    );
}

#[test]
fn tcp_only_rule_does_not_admit_ping() {
    let (mut s, a, b) = healthy();
    s.groups_b = vec![group("sg-instanceb")
        .ip_permissions(from_group("tcp", "sg-a"))
        .build()];
    assert!(explain(&s, &a, &b, "pcx-1", true)
        .unwrap()
        .detail
        .contains("have no rule admitting ICMP"));
}

#[test]
fn names_the_acl_that_denies() {
    let (mut s, a, b) = healthy();
    let deny = NetworkAclEntry::builder()
        .rule_number(50)
        .protocol("1")
        .rule_action(RuleAction::Deny)
        .egress(false)
        .cidr_block("10.0.0.0/16")
        .build();
    let mut acl = open_acl("acl-b").to_owned();
    acl = NetworkAcl::builder()
        .network_acl_id("acl-b")
        .is_default(true)
        .set_entries(Some([acl.entries().to_vec(), vec![deny]].concat()))
        .build();
    s.acls_b = vec![acl];
    assert_eq!(
        explain(&s, &a, &b, "pcx-1", true).unwrap().detail,
        "network ACL acl-b denies ICMP into subnet subnet-b"
    );
}

#[test]
fn subnet_association_beats_main_table() {
    let (mut s, a, b) = healthy();
    let explicit = RouteTable::builder()
        .route_table_id("rtb-explicit")
        .associations(
            RouteTableAssociation::builder()
                .subnet_id("subnet-a")
                .build(),
        )
        .routes(
            Route::builder()
                .destination_cidr_block("10.0.0.0/16")
                .gateway_id("local")
                .build(),
        )
        .build();
    s.tables_a.push(explicit);
    assert_eq!(
        explain(&s, &a, &b, "pcx-1", true).unwrap().detail,
        "route table rtb-explicit of VPC A has no route to 10.1.1.4"
    );
}

fn hop(s: &Snapshot, a: &SideOutput, b: &SideOutput) -> Hop {
    explain(s, a, b, "pcx-1", true).map_or(Hop::None, |blocked| blocked.hop)
}

#[test]
fn each_hop_is_named_as_such() {
    let (s, a, b) = healthy();
    assert_eq!(hop(&s, &a, &b), Hop::None);
    let mut t = s.clone();
    t.peering_status = Some("pending-acceptance".into());
    assert_eq!(hop(&t, &a, &b), Hop::Peering);
    let mut t = s.clone();
    t.tables_a = vec![vpc_table("rtb-a", "10.0.0.0/16", None)];
    assert_eq!(hop(&t, &a, &b), Hop::RouteA);
    let mut t = s.clone();
    t.tables_b = vec![vpc_table("rtb-b", "10.1.0.0/16", None)];
    assert_eq!(hop(&t, &a, &b), Hop::RouteB);
    let mut t = s.clone();
    t.groups_a = vec![];
    assert_eq!(hop(&t, &a, &b), Hop::SgEgressA);
    // InstanceB attached without its rule, and no other group of VPC B admits A
    let mut t = s.clone();
    t.groups_b = vec![group("sg-b").build(), group("sg-instanceb").build()];
    t.vpc_groups_b = t.groups_b.clone();
    assert_eq!(hop(&t, &a, &b), Hop::SgIngressB);
    let mut t = s.clone();
    t.acls_a = vec![NetworkAcl::builder()
        .network_acl_id("acl-a")
        .is_default(true)
        .build()];
    assert_eq!(hop(&t, &a, &b), Hop::NaclA);
    let mut t = s;
    t.acls_b = vec![NetworkAcl::builder()
        .network_acl_id("acl-b")
        .is_default(true)
        .build()];
    assert_eq!(hop(&t, &a, &b), Hop::NaclB);
}

#[test]
fn a_group_that_admits_a_but_is_not_attached_is_named() {
    let (mut s, a, b) = healthy();
    // InstanceB exists in VPC B with its rule, but instance B has only its own group
    s.groups_b = vec![group("sg-b").build()];
    let blocked = explain(&s, &a, &b, "pcx-1", true).unwrap();
    assert_eq!(blocked.hop, Hop::SgNotAttached);
    assert!(
        blocked.detail.starts_with(
            "group sg-instanceb (unnamed) admits ICMP from A but is not attached to instance B"
        ),
        "{}",
        blocked.detail
    );
}
