//! The order of a teardown pass, as data: a pure function from what a lab holds (`Inventory`) to the deletions
//! to make, in dependency order. `execute` runs them; the tests check the plan without any SDK.
//!
//! The order: instances (terminated), interface endpoints (deleted), security-group rules that reference other
//! groups (else the referenced group cannot go), routes through the lab's peerings, the peerings (a request never
//! accepted is withdrawn by deleting it too), then in each VPC nothing holds any more (no live instance or
//! endpoint): its groups, its lab route tables (their subnet associations first), its subnets, its lab network
//! ACLs (after the subnets: an ACL still associated with a subnet cannot be deleted, and deleting the subnet removes
//! the association), and the VPC itself once no peering of the lab is live. What cannot go yet is left for the next pass: teardown runs until nothing
//! is left. Deletions that depend on none of each other share a step (`Deletion::step`), and `execute` makes
//! each step's at once: the plan lists them step by step.

use aws_sdk_ec2::types::{IpPermission, VpcPeeringConnectionStateReasonCode as Pcx};

use super::inventory::{endpoint_live, peering_live, referencing_rules, Inventory};
use crate::error::{required, Result};

/// One deletion (or a change that lets one happen).
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    TerminateInstances(Vec<String>),
    DeleteEndpoints(Vec<String>),
    RevokeIngress {
        group_id: String,
        rules: Vec<IpPermission>,
    },
    RevokeEgress {
        group_id: String,
        rules: Vec<IpPermission>,
    },
    DeleteRoute {
        table_id: String,
        destination: String,
    },
    DeletePeering(String),
    DeleteGroup {
        id: String,
        vpc_id: String,
    },
    Disassociate {
        association_id: String,
        table_id: String,
        vpc_id: String,
    },
    DeleteRouteTable {
        id: String,
        vpc_id: String,
    },
    DeleteSubnet {
        id: String,
        vpc_id: String,
    },
    DeleteNetworkAcl {
        id: String,
        vpc_id: String,
    },
    DeleteVpc(String),
}

impl Deletion {
    /// The VPC whose deletion waits on this one: when AWS answers "not yet" (in use), that VPC stays for the
    /// next pass.
    pub fn holds(&self) -> Option<&str> {
        match self {
            Deletion::DeleteGroup { vpc_id, .. }
            | Deletion::Disassociate { vpc_id, .. }
            | Deletion::DeleteRouteTable { vpc_id, .. }
            | Deletion::DeleteSubnet { vpc_id, .. }
            | Deletion::DeleteNetworkAcl { vpc_id, .. } => Some(vpc_id),
            _ => None,
        }
    }

    /// Its step in a pass: a deletion waits for every deletion of an earlier step to have answered, and runs at
    /// once with the others of its own, none of which it depends on. A plan lists its deletions step by step.
    pub fn step(&self) -> u8 {
        match self {
            // nothing of the lab depends on what these remove, and they remove nothing another needs first
            Deletion::TerminateInstances(_)
            | Deletion::DeleteEndpoints(_)
            | Deletion::RevokeIngress { .. }
            | Deletion::RevokeEgress { .. }
            | Deletion::DeleteRoute { .. } => 0,
            // a peering once the routes through it are gone; a group once the rules referencing it are; a
            // subnet's association with the lab's table
            Deletion::DeletePeering(_)
            | Deletion::DeleteGroup { .. }
            | Deletion::Disassociate { .. } => 1,
            // a table once its associations are gone; the subnets after them, as before
            Deletion::DeleteRouteTable { .. } | Deletion::DeleteSubnet { .. } => 2,
            // an ACL still associated with a subnet cannot go: deleting the subnet removes the association
            Deletion::DeleteNetworkAcl { .. } => 3,
            Deletion::DeleteVpc(_) => 4,
        }
    }

    /// What is no longer there once AWS has answered it (done, or gone already): what it deletes at once. Not
    /// instances, endpoints and peerings: their deletion only begins (`shutting-down`, `deleting`), and they stay
    /// live until EC2 has finished it.
    pub fn removes(&self) -> Option<&str> {
        match self {
            Deletion::DeleteGroup { id, .. }
            | Deletion::DeleteRouteTable { id, .. }
            | Deletion::DeleteSubnet { id, .. }
            | Deletion::DeleteNetworkAcl { id, .. }
            | Deletion::DeleteVpc(id) => Some(id),
            _ => None,
        }
    }

    /// What it deletes, as the ids `deleted` reports (routes as `table:destination`); none for a change.
    pub fn deletes(&self) -> Vec<String> {
        match self {
            Deletion::TerminateInstances(ids) | Deletion::DeleteEndpoints(ids) => ids.clone(),
            Deletion::DeleteRoute {
                table_id,
                destination,
            } => vec![format!("{table_id}:{destination}")],
            Deletion::DeletePeering(id)
            | Deletion::DeleteGroup { id, .. }
            | Deletion::DeleteRouteTable { id, .. }
            | Deletion::DeleteSubnet { id, .. }
            | Deletion::DeleteNetworkAcl { id, .. }
            | Deletion::DeleteVpc(id) => vec![id.clone()],
            Deletion::RevokeIngress { .. }
            | Deletion::RevokeEgress { .. }
            | Deletion::Disassociate { .. } => Vec::new(),
        }
    }
}

impl std::fmt::Display for Deletion {
    /// What was being done, for an error's message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deletion::TerminateInstances(ids) => write!(f, "terminating {}", ids.join(",")),
            Deletion::DeleteEndpoints(ids) => write!(f, "deleting endpoints {}", ids.join(",")),
            Deletion::RevokeIngress { group_id, .. } | Deletion::RevokeEgress { group_id, .. } => {
                write!(f, "revoking group references of {group_id}")
            }
            Deletion::DeleteRoute {
                table_id,
                destination,
            } => write!(f, "deleting route {destination} from {table_id}"),
            Deletion::DeletePeering(id) => write!(f, "deleting peering {id}"),
            Deletion::DeleteGroup { id, .. } => write!(f, "deleting security group {id}"),
            Deletion::Disassociate {
                association_id,
                table_id,
                ..
            } => write!(f, "disassociating {association_id} from {table_id}"),
            Deletion::DeleteRouteTable { id, .. } => write!(f, "deleting route table {id}"),
            Deletion::DeleteSubnet { id, .. } => write!(f, "deleting subnet {id}"),
            Deletion::DeleteNetworkAcl { id, .. } => write!(f, "deleting network ACL {id}"),
            Deletion::DeleteVpc(id) => write!(f, "deleting VPC {id}"),
        }
    }
}

/// The deletions of one pass over `inv`, in order (see the module's doc).
pub fn deletions(inv: &Inventory) -> Result<Vec<Deletion>> {
    use aws_sdk_ec2::types::InstanceStateName as State;
    let mut plan = Vec::new();
    let to_terminate: Vec<String> = inv
        .instances
        .iter()
        .filter(|(_, _, s)| {
            matches!(
                s,
                State::Pending | State::Running | State::Stopping | State::Stopped
            )
        })
        .map(|(id, _, _)| id.clone())
        .collect();
    if !to_terminate.is_empty() {
        plan.push(Deletion::TerminateInstances(to_terminate));
    }
    let endpoints: Vec<String> = inv
        .endpoints
        .iter()
        .filter(|(_, _, s)| endpoint_live(s) && s != "deleting")
        .map(|(id, _, _)| id.clone())
        .collect();
    if !endpoints.is_empty() {
        plan.push(Deletion::DeleteEndpoints(endpoints));
    }
    for group in &inv.groups {
        let group_id = required(group.group_id(), "a lab group's id")?.to_string();
        let (ingress, egress) = referencing_rules(group);
        if !ingress.is_empty() {
            plan.push(Deletion::RevokeIngress {
                group_id: group_id.clone(),
                rules: ingress,
            });
        }
        if !egress.is_empty() {
            plan.push(Deletion::RevokeEgress {
                group_id,
                rules: egress,
            });
        }
    }
    plan.extend(
        inv.routes
            .iter()
            .map(|(table, dest)| Deletion::DeleteRoute {
                table_id: table.clone(),
                destination: dest.clone(),
            }),
    );
    let deletable = |code: &Pcx| peering_live(code) && *code != Pcx::Deleting;
    plan.extend(
        inv.peerings
            .iter()
            .filter(|(_, code)| deletable(code))
            .map(|(id, _)| Deletion::DeletePeering(id.clone())),
    );
    // What is in a VPC still holding instances or endpoints waits, and so does the VPC.
    for group in &inv.groups {
        let vpc_id = required(group.vpc_id(), "a lab group's VPC")?;
        if !inv.vpc_busy(vpc_id) {
            plan.push(Deletion::DeleteGroup {
                id: required(group.group_id(), "a lab group's id")?.to_string(),
                vpc_id: vpc_id.to_string(),
            });
        }
    }
    let free_tables = || inv.tables.iter().filter(|t| !inv.vpc_busy(&t.vpc_id));
    for table in free_tables() {
        plan.extend(
            table
                .associations
                .iter()
                .map(|association| Deletion::Disassociate {
                    association_id: association.clone(),
                    table_id: table.id.clone(),
                    vpc_id: table.vpc_id.clone(),
                }),
        );
    }
    plan.extend(free_tables().map(|table| Deletion::DeleteRouteTable {
        id: table.id.clone(),
        vpc_id: table.vpc_id.clone(),
    }));
    plan.extend(
        inv.subnets
            .iter()
            .filter(|(_, vpc)| !inv.vpc_busy(vpc))
            .map(|(id, vpc)| Deletion::DeleteSubnet {
                id: id.clone(),
                vpc_id: vpc.clone(),
            }),
    );
    plan.extend(
        inv.acls
            .iter()
            .filter(|(_, vpc)| !inv.vpc_busy(vpc))
            .map(|(id, vpc)| Deletion::DeleteNetworkAcl {
                id: id.clone(),
                vpc_id: vpc.clone(),
            }),
    );
    // A VPC with a live peering cannot be deleted (its peering is deleted above, and is `deleting` next pass).
    let peering_live_now = inv.peerings.iter().any(|(_, code)| deletable(code));
    if !peering_live_now {
        plan.extend(
            inv.vpcs
                .iter()
                .filter(|vpc| !inv.vpc_busy(vpc))
                .map(|vpc| Deletion::DeleteVpc(vpc.clone())),
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
