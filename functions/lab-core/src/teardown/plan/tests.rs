//! The plan of a teardown pass, checked without any SDK: what each state of a lab leads to, in order.

use aws_sdk_ec2::types::{
    InstanceStateName as State, IpPermission, SecurityGroup,
    VpcPeeringConnectionStateReasonCode as Pcx,
};

use super::*;
use crate::teardown::inventory::instance_live;
use crate::teardown::LabTable;
use crate::test_support::{from_group, group};
use aws_sdk_ec2::types::InstanceStateName;

#[test]
fn live_lists_what_remains_in_order() {
    let inv = Inventory {
        instances: vec![
            (
                "i-1".into(),
                "vpc-a".into(),
                InstanceStateName::ShuttingDown,
            ),
            ("i-2".into(), "vpc-a".into(), InstanceStateName::Terminated),
        ],
        endpoints: vec![("vpce-1".into(), "vpc-a".into(), "deleted".into())],
        peerings: vec![
            ("pcx-1".into(), Pcx::Deleted),
            ("pcx-2".into(), Pcx::Active),
        ],
        subnets: vec![("subnet-1".into(), "vpc-a".into())],
        vpcs: vec!["vpc-a".into()],
        ..Default::default()
    };
    let live: Vec<String> = inv.live().iter().map(ToString::to_string).collect();
    assert_eq!(
        live,
        [
            "instance i-1 (shutting-down)",
            "vpc-peering-connection pcx-2 (active)",
            "subnet subnet-1",
            "vpc vpc-a"
        ]
    );
    assert!(inv.vpc_busy("vpc-a"));
    assert!(!inv.vpc_busy("vpc-b"));
}

#[test]
fn only_group_referencing_rules_are_revoked_first() {
    let by_group = from_group("-1", "sg-a");
    let by_cidr = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .build();
    let g = SecurityGroup::builder()
        .group_id("sg-b")
        .ip_permissions(by_group.clone())
        .ip_permissions(by_cidr)
        .build();
    assert_eq!(referencing_rules(&g), (vec![by_group], vec![]));
}

#[test]
fn terminated_and_deleted_things_are_not_live() {
    assert!(!instance_live(&InstanceStateName::Terminated));
    assert!(instance_live(&InstanceStateName::ShuttingDown));
    assert!(endpoint_live("deleting"));
    assert!(!endpoint_live("deleted"));
    assert!(peering_live(&Pcx::PendingAcceptance));
    assert!(!peering_live(&Pcx::Rejected));
}

/// A whole lab as create-vpc .. update-sg leave it: both instances running, A's endpoints available, B's group
/// InstanceB admitting A's, the peering active with a route each way.
fn built_lab() -> Inventory {
    Inventory {
        instances: vec![
            ("i-a".into(), "vpc-a".into(), State::Running),
            ("i-b".into(), "vpc-b".into(), State::Running),
        ],
        endpoints: vec![
            ("vpce-1".into(), "vpc-a".into(), "available".into()),
            ("vpce-2".into(), "vpc-a".into(), "deleting".into()),
        ],
        groups: vec![
            group("sg-a").vpc_id("vpc-a").build(),
            group("sg-ib")
                .vpc_id("vpc-b")
                .ip_permissions(from_group("-1", "sg-a"))
                .build(),
        ],
        peerings: vec![("pcx-1".into(), Pcx::Active)],
        subnets: vec![
            ("subnet-a".into(), "vpc-a".into()),
            ("subnet-b".into(), "vpc-b".into()),
        ],
        vpcs: vec!["vpc-a".into(), "vpc-b".into()],
        acls: vec![],
        tables: vec![
            LabTable {
                id: "rtb-a".into(),
                vpc_id: "vpc-a".into(),
                associations: vec!["rtbassoc-a".into()],
            },
            LabTable {
                id: "rtb-b".into(),
                vpc_id: "vpc-b".into(),
                associations: vec!["rtbassoc-b".into()],
            },
        ],
        routes: vec![
            ("rtb-a".into(), "10.1.0.0/16".into()),
            ("rtb-b".into(), "10.0.0.0/16".into()),
        ],
    }
}

/// The kinds of deletion in a plan, in order, with what they name.
fn names(plan: &[Deletion]) -> Vec<String> {
    plan.iter().map(ToString::to_string).collect()
}

#[test]
fn a_built_lab_first_loses_what_holds_its_vpcs_and_links_them() {
    let plan = deletions(&built_lab()).unwrap();
    assert_eq!(
        names(&plan),
        [
            "terminating i-a,i-b",
            "deleting endpoints vpce-1", // vpce-2 is deleting already
            "revoking group references of sg-ib",
            "deleting route 10.1.0.0/16 from rtb-a",
            "deleting route 10.0.0.0/16 from rtb-b",
            "deleting peering pcx-1",
        ]
    );
    // nothing inside a VPC whose instance or endpoint is still live, and no VPC
    assert!(plan.iter().all(|d| d.holds().is_none()));
}

#[test]
fn once_nothing_holds_them_the_vpcs_go_with_their_contents_in_order() {
    // step by step (`Deletion::step`): every association before any table
    let mut lab = built_lab();
    for (_, _, state) in &mut lab.instances {
        *state = State::Terminated;
    }
    lab.endpoints.clear();
    lab.groups = vec![
        group("sg-a").vpc_id("vpc-a").build(),
        group("sg-ib").vpc_id("vpc-b").build(),
    ];
    lab.routes.clear();
    lab.peerings = vec![("pcx-1".into(), Pcx::Deleted)];
    assert_eq!(
        names(&deletions(&lab).unwrap()),
        [
            "deleting security group sg-a",
            "deleting security group sg-ib",
            "disassociating rtbassoc-a from rtb-a",
            "disassociating rtbassoc-b from rtb-b",
            "deleting route table rtb-a",
            "deleting route table rtb-b",
            "deleting subnet subnet-a",
            "deleting subnet subnet-b",
            "deleting VPC vpc-a",
            "deleting VPC vpc-b",
        ]
    );
}

#[test]
fn a_vpc_waits_while_its_instance_shuts_down_and_the_other_goes_on() {
    let mut lab = built_lab();
    lab.instances = vec![
        ("i-a".into(), "vpc-a".into(), State::ShuttingDown),
        ("i-b".into(), "vpc-b".into(), State::Terminated),
    ];
    lab.endpoints.clear();
    lab.groups = vec![
        group("sg-a").vpc_id("vpc-a").build(),
        group("sg-ib").vpc_id("vpc-b").build(),
    ];
    lab.routes.clear();
    lab.peerings.clear();
    let plan = names(&deletions(&lab).unwrap());
    assert!(
        !plan.iter().any(|d| d.starts_with("terminating")),
        "{plan:?}"
    );
    assert!(
        plan.iter().all(|d| !d.contains("-a")),
        "vpc-a waits: {plan:?}"
    );
    assert_eq!(plan.last().map(String::as_str), Some("deleting VPC vpc-b"));
}

#[test]
fn an_unaccepted_request_is_withdrawn_and_the_vpcs_wait_for_it() {
    let mut lab = built_lab();
    lab.instances.clear();
    lab.endpoints.clear();
    lab.routes.clear();
    lab.peerings = vec![("pcx-1".into(), Pcx::PendingAcceptance)];
    let plan = deletions(&lab).unwrap();
    assert!(plan.contains(&Deletion::DeletePeering("pcx-1".into())));
    assert!(!plan.iter().any(|d| matches!(d, Deletion::DeleteVpc(_))));
    // a peering being deleted is not deleted again, and no longer holds the VPCs
    lab.peerings = vec![("pcx-1".into(), Pcx::Deleting)];
    let plan = deletions(&lab).unwrap();
    assert!(!plan.iter().any(|d| matches!(d, Deletion::DeletePeering(_))));
    assert!(plan.contains(&Deletion::DeleteVpc("vpc-a".into())));
}

#[test]
fn each_deletion_reports_what_it_deletes_and_the_vpc_it_holds() {
    let route = Deletion::DeleteRoute {
        table_id: "rtb-a".into(),
        destination: "10.1.0.0/16".into(),
    };
    assert_eq!(route.deletes(), ["rtb-a:10.1.0.0/16"]);
    assert_eq!(route.holds(), None);
    let terminate = Deletion::TerminateInstances(vec!["i-a".into(), "i-b".into()]);
    assert_eq!(terminate.deletes(), ["i-a", "i-b"]);
    let disassociate = Deletion::Disassociate {
        association_id: "rtbassoc-a".into(),
        table_id: "rtb-a".into(),
        vpc_id: "vpc-a".into(),
    };
    assert!(disassociate.deletes().is_empty());
    assert_eq!(disassociate.holds(), Some("vpc-a"));
}

#[test]
fn a_nameless_group_is_an_error_not_a_skipped_deletion() {
    let mut lab = built_lab();
    lab.groups
        .push(SecurityGroup::builder().vpc_id("vpc-a").build());
    let err = deletions(&lab).unwrap_err();
    assert_eq!(err.error_type(), "AwsError");
    assert!(err.to_string().contains("a lab group's id"), "{err}");
}

#[test]
fn an_exercises_network_acl_goes_after_its_subnet_and_before_its_vpc() {
    let mut lab = built_lab();
    for (_, _, state) in &mut lab.instances {
        *state = State::Terminated;
    }
    lab.endpoints.clear();
    lab.groups.clear();
    lab.routes.clear();
    lab.peerings.clear();
    lab.tables.clear();
    lab.acls = vec![("acl-b".into(), "vpc-b".into())];
    let plan = deletions(&lab).unwrap();
    assert_eq!(
        names(&plan),
        [
            "deleting subnet subnet-a",
            "deleting subnet subnet-b",
            "deleting network ACL acl-b",
            "deleting VPC vpc-a",
            "deleting VPC vpc-b",
        ]
    );
    assert_eq!(plan[2].holds(), Some("vpc-b"));
    assert_eq!(plan[2].deletes(), ["acl-b"]);
    // while B's instance still shuts down, neither its subnet nor its ACL is asked to go
    lab.instances[1].2 = State::ShuttingDown;
    assert!(!names(&deletions(&lab).unwrap())
        .iter()
        .any(|d| d.contains("acl-b")));
}

#[test]
fn a_plan_lists_its_deletions_step_by_step_each_after_what_it_needs() {
    // execute runs a step's deletions at once: a plan must never list a deletion before one of an earlier step
    let mut emptied = built_lab();
    emptied.instances.clear();
    emptied.endpoints.clear();
    emptied.acls = vec![("acl-b".into(), "vpc-b".into())];
    for lab in [built_lab(), emptied] {
        let steps: Vec<u8> = deletions(&lab)
            .unwrap()
            .iter()
            .map(Deletion::step)
            .collect();
        assert!(steps.is_sorted(), "{steps:?}");
    }
    let in_vpc = |id: &str| id.to_string();
    let [route, peering] = [
        Deletion::DeleteRoute {
            table_id: "rtb-a".into(),
            destination: "10.1.0.0/16".into(),
        },
        Deletion::DeletePeering("pcx-1".into()),
    ];
    let [revoke, group] = [
        Deletion::RevokeIngress {
            group_id: "sg-ib".into(),
            rules: vec![],
        },
        Deletion::DeleteGroup {
            id: "sg-a".into(),
            vpc_id: in_vpc("vpc-a"),
        },
    ];
    let [disassociate, table, subnet, acl, vpc] = [
        Deletion::Disassociate {
            association_id: "rtbassoc-a".into(),
            table_id: "rtb-a".into(),
            vpc_id: in_vpc("vpc-a"),
        },
        Deletion::DeleteRouteTable {
            id: "rtb-a".into(),
            vpc_id: in_vpc("vpc-a"),
        },
        Deletion::DeleteSubnet {
            id: "subnet-a".into(),
            vpc_id: in_vpc("vpc-a"),
        },
        Deletion::DeleteNetworkAcl {
            id: "acl-a".into(),
            vpc_id: in_vpc("vpc-a"),
        },
        Deletion::DeleteVpc("vpc-a".into()),
    ];
    // (before, after): the second cannot go while the first is there
    for (before, after) in [
        (&route, &peering),
        (&revoke, &group),
        (&disassociate, &table),
        (&disassociate, &subnet),
        (&subnet, &acl),
        (&group, &vpc),
        (&table, &vpc),
        (&acl, &vpc),
        (&peering, &vpc),
    ] {
        assert!(before.step() < after.step(), "{before} before {after}");
    }
    // and what holds the VPCs goes at once: instances, endpoints, the rules and routes that link the VPCs
    let first = deletions(&built_lab()).unwrap();
    assert!(first[..5].iter().all(|d| d.step() == 0), "{first:?}");
}
