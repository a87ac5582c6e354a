use super::*;
use crate::test_support::*;

use crate::model::Side;

fn side_a() -> SideOutput {
    SideOutput {
        side: Side::A,
        region: "us-east-1".into(),
        vpc_id: "vpc-a".into(),
        cidr: "10.0.0.0/16".into(),
        subnet_id: "subnet-a".into(),
        route_table_id: "rtb-a".into(),
        availability_zone: "us-east-1a".into(),
        availability_zone_id: "use1-az6".into(),
        security_group_id: "sg-a".into(),
        instance_id: "i-a".into(),
        private_ip: "10.0.1.4".into(),
        endpoint_ids: vec![],
    }
}

#[test]
fn same_account_names_the_group() {
    let (perm, protocol, source) = rule(Allow::All, &side_a(), false, None);
    assert_eq!((protocol.as_str(), source.as_str()), ("all", "group sg-a"));
    let pair = &perm.user_id_group_pairs()[0];
    assert_eq!((pair.group_id(), pair.user_id()), (Some("sg-a"), None));
}

#[test]
fn another_account_names_the_groups_owner() {
    let (perm, _, _) = rule(Allow::Icmp, &side_a(), false, Some("123456789012"));
    assert_eq!(perm.ip_protocol(), Some("icmp"));
    assert_eq!(
        perm.user_id_group_pairs()[0].user_id(),
        Some("123456789012")
    );
}

#[test]
fn another_region_admits_the_cidr() {
    let (perm, _, source) = rule(Allow::All, &side_a(), true, None);
    assert_eq!(source, "cidr 10.0.0.0/16");
    assert!(perm.user_id_group_pairs().is_empty());
    assert_eq!(perm.ip_ranges()[0].cidr_ip(), Some("10.0.0.0/16"));
}

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
    let out = handler(
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
    let err = handler(
        event!("update-sg/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict");
}
