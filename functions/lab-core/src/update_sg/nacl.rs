//! The exercise `nacl-deny`: B's subnet behind a network ACL of the lab's that allows everything except ICMP from
//! VPC A. A new network ACL denies all traffic until rules are added (Amazon VPC User Guide, "Custom network
//! ACLs"); rules are evaluated from the lowest number and the first match applies ("Network ACL rules"), so the
//! deny (rule 90) wins over the allow-all (rule 100) for ICMP from A, and only for that.
//! Every call is idempotent: the ACL is found by the lab's tag (and created with a ClientToken), an entry already
//! there is success, and the association is replaced only while it is not the lab's ACL.

use aws_sdk_ec2::types::{IcmpTypeCode, NetworkAcl, ResourceType, RuleAction};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{aws_error, required, LabError, Result};
use crate::exercise::{NACL_ALLOW_RULE, NACL_DENY_RULE};
use crate::input::LabPlan;
use crate::model::SideOutput;
use crate::tags::{self, filter, lab_filter};

pub const NAME: &str = "ExerciseNaclB";

/// One entry of the lab's ACL: (egress, rule number, protocol, CIDR, action).
pub type Entry<'a> = (bool, i32, &'a str, &'a str, RuleAction);

/// The entries the ACL must have: ICMP from A denied first, then everything allowed both ways.
pub fn entries(a_cidr: &str) -> [Entry<'_>; 3] {
    [
        (false, NACL_DENY_RULE, "1", a_cidr, RuleAction::Deny),
        (false, NACL_ALLOW_RULE, "-1", "0.0.0.0/0", RuleAction::Allow),
        (true, NACL_ALLOW_RULE, "-1", "0.0.0.0/0", RuleAction::Allow),
    ]
}

/// The entries of `entries` the ACL does not have yet (by direction and rule number).
pub fn missing<'a>(acl: &NetworkAcl, wanted: &[Entry<'a>]) -> Vec<Entry<'a>> {
    wanted
        .iter()
        .filter(|(egress, number, ..)| {
            !acl.entries()
                .iter()
                .any(|e| e.egress() == Some(*egress) && e.rule_number() == Some(*number))
        })
        .cloned()
        .collect()
}

/// Put B's subnet behind the lab's ACL; returns its id.
pub async fn deny_icmp_from_a(
    ec2: &aws_sdk_ec2::Client,
    lab: &LabPlan,
    a: &SideOutput,
    b: &SideOutput,
) -> Result<String> {
    let found = ec2
        .describe_network_acls()
        .filters(filter("vpc-id", &b.vpc_id))
        .filters(lab_filter(&lab.lab_id))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's network ACL in VPC B", e))?;
    let acl = match found.network_acls().first() {
        Some(acl) => acl.clone(),
        None => {
            let mut token = format!("peerlab-{}-nacl-b", lab.lab_id);
            token.truncate(64);
            let created = ec2
                .create_network_acl()
                .vpc_id(&b.vpc_id)
                .client_token(token)
                .tag_specifications(tags::spec(
                    ResourceType::NetworkAcl,
                    &lab.lab_id,
                    &lab.expires_at,
                    NAME,
                    &[(tags::SIDE, "b")],
                ))
                .send()
                .await
                .map_err(|e| aws_error("creating the exercise's network ACL in VPC B", e))?;
            created
                .network_acl()
                .cloned()
                .ok_or_else(|| LabError::Aws {
                    code: "IncompleteResponse".into(),
                    message: "AWS answered CreateNetworkAcl without the network ACL".into(),
                })?
        }
    };
    let acl_id = required(acl.network_acl_id(), "the lab network ACL's id")?.to_string();
    for (egress, number, protocol, cidr, action) in missing(&acl, &entries(&a.cidr)) {
        let mut entry = ec2
            .create_network_acl_entry()
            .network_acl_id(&acl_id)
            .egress(egress)
            .rule_number(number)
            .protocol(protocol)
            .cidr_block(cidr)
            .rule_action(action);
        if protocol == "1" {
            entry = entry.icmp_type_code(IcmpTypeCode::builder().r#type(-1).code(-1).build());
        }
        match entry.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("NetworkAclEntryAlreadyExists") => {}
            Err(e) => {
                return Err(aws_error(
                    &format!("adding rule {number} to network ACL {acl_id}"),
                    e,
                ))
            }
        }
    }
    // the subnet's current association (every subnet has one: the default ACL's, until replaced)
    let current = ec2
        .describe_network_acls()
        .filters(filter("association.subnet-id", &b.subnet_id))
        .send()
        .await
        .map_err(|e| aws_error("finding the network ACL of B's subnet", e))?;
    let association = current
        .network_acls()
        .iter()
        .flat_map(|acl| acl.associations())
        .find(|x| x.subnet_id() == Some(b.subnet_id.as_str()));
    let Some(association) = association else {
        return Err(LabError::not_ready(format!(
            "subnet {} has no network ACL association listed yet",
            b.subnet_id
        )));
    };
    if association.network_acl_id() != Some(acl_id.as_str()) {
        let association_id = required(
            association.network_acl_association_id(),
            "the subnet's network ACL association id",
        )?;
        ec2.replace_network_acl_association()
            .association_id(association_id)
            .network_acl_id(&acl_id)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!("putting subnet {} behind network ACL {acl_id}", b.subnet_id),
                    e,
                )
            })?;
    }
    Ok(acl_id)
}
