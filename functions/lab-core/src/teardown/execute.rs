//! Runs a teardown plan in one account and region: each deletion once, step by step. "Gone already" is success
//! (another pass or a person deleted it); "not yet" (in use, a dependency still there, a state in between) leaves
//! it, and the VPC it holds, for the next pass; any other error fails the step.

use std::collections::BTreeSet;
use std::future::Future;

use aws_sdk_ec2::types::IpPermission;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::join_all;

use super::plan::Deletion;
use crate::error::{aws_error, Result};

/// What became of one deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Gone,
    Later,
}

/// A deletion the dependency order does not allow yet (or AWS refused as in use): try again later.
fn later<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("DependencyViolation" | "InvalidGroup.InUse" | "IncorrectState" | "InvalidState")
    )
}

/// Deleted already: every `*.NotFound` (InvalidPermission.NotFound for a revoked rule too).
fn gone<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code().is_some_and(|c| c.ends_with(".NotFound"))
}

fn outcome<T, E>(result: std::result::Result<T, E>, what: &Deletion) -> Result<Outcome>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(e) if gone(&e) => Ok(Outcome::Gone),
        Err(e) if later(&e) => Ok(Outcome::Later),
        Err(e) => Err(aws_error(&what.to_string(), e)),
    }
}

/// Revoke `rules` of a group in one call; when that answers NotFound and names several, each alone. AWS revokes
/// all of a call's rules or none: "For a non-default VPC, if the values you specify do not match the existing
/// rule's values, an InvalidPermission.NotFound client error is returned, and no rules are revoked"
/// (RevokeSecurityGroupIngress API reference). So one rule gone already (another pass, a person) leaves the others
/// in place, and the group they reference could not go; one by one, each gone rule is just gone.
async fn revoke<F, Fut, T, E>(rules: &[IpPermission], what: &Deletion, send: F) -> Result<Outcome>
where
    F: Fn(Vec<IpPermission>) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let all = outcome(send(rules.to_vec()).await, what)?;
    if all != Outcome::Gone || rules.len() < 2 {
        return Ok(all);
    }
    let mut result = Outcome::Gone;
    for rule in rules {
        match outcome(send(vec![rule.clone()]).await, what)? {
            Outcome::Gone => {}
            Outcome::Done => result = Outcome::Done,
            Outcome::Later => return Ok(Outcome::Later),
        }
    }
    Ok(result)
}

async fn apply(ec2: &aws_sdk_ec2::Client, deletion: &Deletion) -> Result<Outcome> {
    let d = deletion;
    match d {
        Deletion::TerminateInstances(ids) => outcome(
            ec2.terminate_instances()
                .set_instance_ids(Some(ids.clone()))
                .send()
                .await,
            d,
        ),
        Deletion::DeleteEndpoints(ids) => outcome(
            ec2.delete_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(ids.clone()))
                .send()
                .await,
            d,
        ),
        Deletion::RevokeIngress { group_id, rules } => {
            revoke(rules, d, |rules| {
                ec2.revoke_security_group_ingress()
                    .group_id(group_id)
                    .set_ip_permissions(Some(rules))
                    .send()
            })
            .await
        }
        Deletion::RevokeEgress { group_id, rules } => {
            revoke(rules, d, |rules| {
                ec2.revoke_security_group_egress()
                    .group_id(group_id)
                    .set_ip_permissions(Some(rules))
                    .send()
            })
            .await
        }
        Deletion::DeleteRoute {
            table_id,
            destination,
        } => outcome(
            ec2.delete_route()
                .route_table_id(table_id)
                .destination_cidr_block(destination)
                .send()
                .await,
            d,
        ),
        Deletion::DeletePeering(id) => outcome(
            ec2.delete_vpc_peering_connection()
                .vpc_peering_connection_id(id)
                .send()
                .await,
            d,
        ),
        Deletion::DeleteGroup { id, .. } => {
            outcome(ec2.delete_security_group().group_id(id).send().await, d)
        }
        Deletion::Disassociate { association_id, .. } => outcome(
            ec2.disassociate_route_table()
                .association_id(association_id)
                .send()
                .await,
            d,
        ),
        Deletion::DeleteRouteTable { id, .. } => {
            outcome(ec2.delete_route_table().route_table_id(id).send().await, d)
        }
        Deletion::DeleteSubnet { id, .. } => {
            outcome(ec2.delete_subnet().subnet_id(id).send().await, d)
        }
        Deletion::DeleteNetworkAcl { id, .. } => {
            outcome(ec2.delete_network_acl().network_acl_id(id).send().await, d)
        }
        Deletion::DeleteVpc(id) => outcome(ec2.delete_vpc().vpc_id(id).send().await, d),
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// The ids it deleted or started deleting (what teardown reports as `deleted`).
    pub deleted: Vec<String>,
    /// The ids no longer there once it answered: deleted at once (`Deletion::removes`), or gone already.
    pub removed: BTreeSet<String>,
}

/// Run `plan` step by step (`Deletion::step`), each step's deletions at once. A VPC is not asked to go when
/// something it holds answered "not yet" in this pass. Every deletion of a step is made even when one of them
/// fails; the error is then the first failed one's in the plan, the one that failed the pass when the deletions
/// were made one after the other.
pub async fn execute(ec2: &aws_sdk_ec2::Client, plan: &[Deletion]) -> Result<Pass> {
    let mut pass = Pass::default();
    let mut held: BTreeSet<String> = BTreeSet::new();
    for step in plan.chunk_by(|a, b| a.step() == b.step()) {
        let due: Vec<&Deletion> = step
            .iter()
            .filter(|d| !matches!(d, Deletion::DeleteVpc(vpc) if held.contains(vpc)))
            .collect();
        let outcomes = join_all(due.iter().map(|d| apply(ec2, d))).await;
        for (deletion, outcome) in due.into_iter().zip(outcomes) {
            let outcome = outcome?;
            if outcome == Outcome::Done {
                pass.deleted.extend(deletion.deletes());
            }
            match outcome {
                Outcome::Done | Outcome::Gone => {
                    pass.removed.extend(deletion.removes().map(str::to_string))
                }
                Outcome::Later => held.extend(deletion.holds().map(str::to_string)),
            }
        }
    }
    Ok(pass)
}
