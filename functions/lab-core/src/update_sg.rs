//! update-sg: the group "InstanceB" in VPC B admitting A (all traffic or ICMP only) from A's security group,
//! or from A's CIDR across regions where group references are impossible; attached to instance B, keeping
//! B's other groups. The exercises leave out the rule (`sg-rule-missing`) or the attachment (`sg-not-attached`),
//! or put B's subnet behind a network ACL that denies ICMP from A (`nacl-deny`, in `nacl.rs`).

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Aws;
use crate::error::{aws_error, required, LabError, Result};
use crate::exercise::Exercise;
use crate::input::{Allow, LabPlan};
use crate::model::{PairEvent, SecurityGroupOutput, SideOutput};
use crate::security_groups;
use crate::tags::{self, filter};

pub mod nacl;

pub const GROUP_NAME: &str = "InstanceB";

/// The ingress rule: (permission, protocol label, source label). `by_cidr`: A's CIDR instead of A's group (across
/// regions, or while the peering is not active: a rule can reference a group of a peer VPC only over an active
/// peering — VPC Peering Guide, "Update your security groups to reference peer security groups").
pub fn rule(
    allow: Allow,
    a: &SideOutput,
    by_cidr: bool,
    group_owner: Option<&str>,
) -> (IpPermission, String, String) {
    let mut perm = IpPermission::builder();
    let protocol = match allow {
        Allow::All => {
            perm = perm.ip_protocol("-1");
            "all"
        }
        Allow::Icmp => {
            perm = perm.ip_protocol("icmp").from_port(-1).to_port(-1);
            "icmp"
        }
    };
    let source = if by_cidr {
        perm = perm.ip_ranges(
            IpRange::builder()
                .cidr_ip(&a.cidr)
                .description("peerlab: from VPC A")
                .build(),
        );
        format!("cidr {}", a.cidr)
    } else {
        let mut pair = UserIdGroupPair::builder()
            .group_id(&a.security_group_id)
            .description("peerlab: from instance A");
        if let Some(owner) = group_owner {
            // B's account references a group of A's account over the peering: name A's account
            pair = pair.user_id(owner);
        }
        perm = perm.user_id_group_pairs(pair.build());
        format!("group {}", a.security_group_id)
    };
    (perm.build(), protocol.to_string(), source)
}

pub async fn handler(event: PairEvent, aws: &impl Aws) -> Result<SecurityGroupOutput> {
    let peer = aws.peer(event.lab.peer_access()).await?;
    let cross_region = event.lab.cross_region(&aws.home().region);
    // In another account (same region) B's rule must name A's group with A's account: ours, asked of STS.
    let cross_account = event
        .lab
        .peer
        .as_ref()
        .is_some_and(|p| p.account_id.is_some());
    let group_owner = if cross_account && !cross_region {
        Some(aws.account_id().await?)
    } else {
        None
    };
    update(
        &peer.ec2,
        &event.lab,
        &event.vpc_a,
        &event.vpc_b,
        cross_region,
        group_owner.as_deref(),
    )
    .await
}

async fn update(
    ec2: &aws_sdk_ec2::Client,
    lab: &LabPlan,
    a: &SideOutput,
    b: &SideOutput,
    cross_region: bool,
    group_owner: Option<&str>,
) -> Result<SecurityGroupOutput> {
    let found = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", &b.vpc_id))
        .filters(filter("group-name", GROUP_NAME))
        .send()
        .await
        .map_err(|e| aws_error("finding group InstanceB", e))?;
    let group_id = match found.security_groups().first() {
        Some(g) if tags::tag_value(g.tags(), tags::LAB_ID) == Some(lab.lab_id.as_str()) => {
            required(g.group_id(), "group InstanceB's id")?.to_string()
        }
        Some(g) => {
            return Err(LabError::ResourceConflict(format!(
                "{} already has a group InstanceB ({}) that is not lab {}'s",
                b.vpc_id,
                g.group_id().unwrap_or("?"),
                lab.lab_id
            )))
        }
        None => required(
            ec2.create_security_group()
                .group_name(GROUP_NAME)
                .description("peerlab: admits instance A over the peering")
                .vpc_id(&b.vpc_id)
                .tag_specifications(tags::spec(
                    ResourceType::SecurityGroup,
                    &lab.lab_id,
                    &lab.expires_at,
                    GROUP_NAME,
                    &[(tags::SIDE, "b")],
                ))
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("InvalidGroup.Duplicate") => {
                        LabError::not_ready("group InstanceB is being created")
                    }
                    _ => aws_error("creating group InstanceB", e),
                })?
                .group_id(),
            "the id of the group InstanceB it created",
        )?
        .to_string(),
    };
    let exercise = lab.exercise;
    // peering-not-accepted: the peering never becomes active, so A's group cannot be referenced; A's CIDR can
    let by_cidr = cross_region || exercise == Some(Exercise::PeeringNotAccepted);
    let (permission, protocol, source) = rule(lab.allow, a, by_cidr, group_owner);
    if exercise != Some(Exercise::SgRuleMissing) {
        security_groups::admit(ec2, &group_id, permission, "A").await?;
    }
    if exercise == Some(Exercise::NaclDeny) {
        nacl::deny_icmp_from_a(ec2, lab, a, b).await?;
    }
    // keep B's groups, add InstanceB
    let mut groups = security_groups::instance_group_ids(ec2, &b.instance_id).await?;
    if !groups.contains(&group_id) && exercise != Some(Exercise::SgNotAttached) {
        groups.push(group_id.clone());
        ec2.modify_instance_attribute()
            .instance_id(&b.instance_id)
            .set_groups(Some(groups.clone()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("attaching {group_id} to instance B"), e))?;
    }
    Ok(SecurityGroupOutput {
        security_group_id: group_id,
        source,
        protocol,
        instance_groups: groups,
    })
}

#[cfg(test)]
mod tests;
