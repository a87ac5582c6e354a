use super::*;
use crate::test_support::*;

use crate::exercise::Exercise;

fn side_a() -> SideOutput {
    side_output("a", "vpc-a", "10.0.0.0/16", "10.0.1.4", "sg-a")
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
    let group = mock!(Ec2::describe_security_groups)
        .then_output(|| groups([lab_group("sg-0instb").build()]));
    let authorize = mock!(Ec2::authorize_security_group_ingress)
        .match_requests(|r| {
            r.ip_permissions()[0].user_id_group_pairs()[0].group_id() == Some("sg-0a")
                && r.ip_permissions()[0].ip_protocol() == Some("-1")
        })
        .then_error(fails(err_meta("InvalidPermission.Duplicate")));
    let instance = mock!(Ec2::describe_instances)
        .then_output(|| instances([instance_in_groups("i-0b", &["sg-0b", "sg-0instb"])]));
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
    // untagged: not the lab's
    let theirs =
        mock!(Ec2::describe_security_groups).then_output(|| groups([group("sg-theirs").build()]));
    let ec2 = mock_client!(aws_sdk_ec2, [&theirs]);
    let err = handler(
        event!("update-sg/events/pair.json"),
        &clients(ec2, no_ssm()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "ResourceConflict");
}

/// An update-sg run on a fresh lab: group InstanceB is created, the rule added, the group attached; the rules
/// count their calls.
struct Fresh {
    rules: Vec<Rule>,
}

impl Fresh {
    fn new() -> Self {
        let describe = mock!(Ec2::describe_security_groups)
            .then_output(|| DescribeSecurityGroupsOutput::builder().build());
        let create = mock!(Ec2::create_security_group).then_output(|| {
            CreateSecurityGroupOutput::builder()
                .group_id("sg-0instb")
                .build()
        });
        let authorize = mock!(Ec2::authorize_security_group_ingress)
            .then_output(|| AuthorizeSecurityGroupIngressOutput::builder().build());
        let instance = mock!(Ec2::describe_instances)
            .then_output(|| instances([instance_in_groups("i-0b", &["sg-0b"])]));
        let attach = mock!(Ec2::modify_instance_attribute)
            .then_output(|| ModifyInstanceAttributeOutput::builder().build());
        Fresh {
            rules: vec![describe, create, authorize, instance, attach],
        }
    }

    fn calls(&self, index: usize) -> usize {
        self.rules[index].num_calls()
    }
}

async fn run(exercise: Option<Exercise>, extra: &[&Rule]) -> (Fresh, SecurityGroupOutput) {
    let fresh = Fresh::new();
    // a clone of a rule shares its call count
    let mut rules: Vec<Rule> = fresh.rules.clone();
    rules.extend(extra.iter().map(|r| (*r).clone()));
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let mut event: PairEvent = event!("update-sg/events/pair.json");
    event.lab.exercise = exercise;
    let out = handler(event, &clients(ec2, no_ssm())).await.unwrap();
    (fresh, out)
}

#[tokio::test]
async fn sg_rule_missing_attaches_the_group_without_its_rule() {
    let (fresh, out) = run(Some(Exercise::SgRuleMissing), &[]).await;
    assert_eq!((fresh.calls(1), fresh.calls(2), fresh.calls(4)), (1, 0, 1));
    assert_eq!(out.instance_groups, ["sg-0b", "sg-0instb"]);
}

#[tokio::test]
async fn sg_not_attached_adds_the_rule_and_leaves_the_group_off_instance_b() {
    let (fresh, out) = run(Some(Exercise::SgNotAttached), &[]).await;
    assert_eq!((fresh.calls(1), fresh.calls(2), fresh.calls(4)), (1, 1, 0));
    assert_eq!(out.instance_groups, ["sg-0b"]);
}

#[tokio::test]
async fn peering_not_accepted_admits_as_cidr_since_a_group_needs_an_active_peering() {
    let (_, out) = run(Some(Exercise::PeeringNotAccepted), &[]).await;
    assert_eq!(out.source, "cidr 10.0.0.0/16");
    let (_, out) = run(None, &[]).await;
    assert_eq!(out.source, "group sg-0a");
}

#[tokio::test]
async fn nacl_deny_puts_bs_subnet_behind_a_lab_acl_denying_icmp_from_a() {
    let find = mock!(Ec2::describe_network_acls)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("tag:peerlab:lab-id"))
        })
        .then_output(|| DescribeNetworkAclsOutput::builder().build());
    let create = mock!(Ec2::create_network_acl)
        .match_requests(|r| {
            r.vpc_id() == Some("vpc-0b")
                && r.client_token().is_some_and(|t| !t.is_empty())
                && r.tag_specifications()[0]
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some("peerlab:lab-id") && t.value() == Some("demo-1"))
        })
        .then_output(|| {
            CreateNetworkAclOutput::builder()
                .network_acl(NetworkAcl::builder().network_acl_id("acl-0lab").build())
                .build()
        });
    let entries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = entries.clone();
    let entry = mock!(Ec2::create_network_acl_entry)
        .match_requests(move |r| {
            seen.lock().unwrap().push((
                r.egress().unwrap_or_default(),
                r.rule_number().unwrap_or_default(),
                r.protocol().unwrap_or_default().to_string(),
                r.cidr_block().unwrap_or_default().to_string(),
                r.rule_action().cloned(),
            ));
            true
        })
        .then_output(|| CreateNetworkAclEntryOutput::builder().build());
    let current = mock!(Ec2::describe_network_acls)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("association.subnet-id"))
        })
        .then_output(|| {
            DescribeNetworkAclsOutput::builder()
                .network_acls(
                    NetworkAcl::builder()
                        .network_acl_id("acl-0default")
                        .associations(
                            NetworkAclAssociation::builder()
                                .network_acl_association_id("aclassoc-0b")
                                .subnet_id("subnet-0b")
                                .network_acl_id("acl-0default")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let replace = mock!(Ec2::replace_network_acl_association)
        .match_requests(|r| {
            r.association_id() == Some("aclassoc-0b") && r.network_acl_id() == Some("acl-0lab")
        })
        .then_output(|| ReplaceNetworkAclAssociationOutput::builder().build());
    let (fresh, _) = run(
        Some(Exercise::NaclDeny),
        &[&find, &create, &entry, &current, &replace],
    )
    .await;
    assert_eq!((create.num_calls(), replace.num_calls()), (1, 1));
    // the group InstanceB is built as in the tutorial
    assert_eq!((fresh.calls(2), fresh.calls(4)), (1, 1));
    assert_eq!(
        *entries.lock().unwrap(),
        [
            (
                false,
                90,
                "1".to_string(),
                "10.0.0.0/16".to_string(),
                Some(RuleAction::Deny)
            ),
            (
                false,
                100,
                "-1".to_string(),
                "0.0.0.0/0".to_string(),
                Some(RuleAction::Allow)
            ),
            (
                true,
                100,
                "-1".to_string(),
                "0.0.0.0/0".to_string(),
                Some(RuleAction::Allow)
            ),
        ]
    );
}

#[test]
fn a_rerun_adds_only_the_acl_entries_still_missing() {
    let wanted = nacl::entries("10.0.0.0/16");
    let acl = NetworkAcl::builder()
        .entries(
            NetworkAclEntry::builder()
                .egress(false)
                .rule_number(90)
                .build(),
        )
        .entries(
            NetworkAclEntry::builder()
                .egress(false)
                .rule_number(32767)
                .build(),
        )
        .build();
    let missing: Vec<_> = nacl::missing(&acl, &wanted)
        .into_iter()
        .map(|(egress, number, ..)| (egress, number))
        .collect();
    assert_eq!(missing, [(false, 100), (true, 100)]);
}
