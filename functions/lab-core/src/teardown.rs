//! teardown: find everything of a lab by its tag and delete it in dependency order: instances (until
//! terminated), endpoints (until deleted), security-group rules that reference other groups, routes to the
//! peering, the peering, security groups, the lab's route tables (after their subnet associations), subnets,
//! VPCs. Safe to run any number of times, on a half-built lab too; never touches a resource without the lab's
//! tag (routes are changed only in the lab's own, tagged route tables).
//! What cannot go yet stays in `remaining`, and the step fails `NotReady` so the state machine retries.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    InstanceStateName, IpPermission, SecurityGroup, VpcPeeringConnectionStateReasonCode as Pcx,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::clients::Scope;
use crate::error::{aws_error, required, LabError, Result};
use crate::model::TeardownOutput;
use crate::tags::{self, filter, lab_filter};

/// What one account/region holds of a lab.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    /// (instance id, vpc id, state)
    pub instances: Vec<(String, String, InstanceStateName)>,
    /// (endpoint id, vpc id, state in lower case: AWS sends "available", the SDK's enum expects "Available")
    pub endpoints: Vec<(String, String, String)>,
    pub groups: Vec<SecurityGroup>,
    /// (peering id, status)
    pub peerings: Vec<(String, Pcx)>,
    /// (subnet id, vpc id)
    pub subnets: Vec<(String, String)>,
    pub vpcs: Vec<String>,
    /// The lab's own route tables (tagged; never a VPC's main table).
    pub tables: Vec<LabTable>,
    /// (route table id, destination) of routes in the lab's tables that go to one of the lab's peerings
    pub routes: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct LabTable {
    pub id: String,
    pub vpc_id: String,
    /// Its explicit subnet associations (association ids): removed before the table is deleted.
    pub associations: Vec<String>,
}

pub fn instance_live(state: &InstanceStateName) -> bool {
    !matches!(state, InstanceStateName::Terminated)
}

pub fn endpoint_live(state: &str) -> bool {
    !matches!(state, "deleted" | "rejected" | "failed" | "expired")
}

pub fn peering_live(code: &Pcx) -> bool {
    !matches!(
        code,
        Pcx::Deleted | Pcx::Rejected | Pcx::Failed | Pcx::Expired
    )
}

/// Rules of lab groups that reference other groups: revoked first, or the referenced group cannot go.
pub fn referencing_rules(group: &SecurityGroup) -> (Vec<IpPermission>, Vec<IpPermission>) {
    let pick = |perms: &[IpPermission]| {
        perms
            .iter()
            .filter(|p| !p.user_id_group_pairs().is_empty())
            .cloned()
            .collect::<Vec<_>>()
    };
    (
        pick(group.ip_permissions()),
        pick(group.ip_permissions_egress()),
    )
}

impl Inventory {
    /// Everything still live, as "kind id" strings (what `remaining` reports).
    pub fn live(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.instances
                .iter()
                .filter(|(_, _, s)| instance_live(s))
                .map(|(id, _, s)| format!("instance {id} ({})", s.as_str())),
        );
        out.extend(
            self.endpoints
                .iter()
                .filter(|(_, _, s)| endpoint_live(s))
                .map(|(id, _, s)| format!("vpc-endpoint {id} ({s})")),
        );
        out.extend(
            self.peerings
                .iter()
                .filter(|(_, s)| peering_live(s))
                .map(|(id, s)| format!("vpc-peering-connection {id} ({})", s.as_str())),
        );
        out.extend(
            self.groups
                .iter()
                .map(|g| format!("security-group {}", g.group_id().unwrap_or("?"))),
        );
        out.extend(self.tables.iter().map(|t| format!("route-table {}", t.id)));
        out.extend(self.subnets.iter().map(|(id, _)| format!("subnet {id}")));
        out.extend(self.vpcs.iter().map(|id| format!("vpc {id}")));
        out
    }

    pub fn live_ids(&self) -> BTreeSet<String> {
        self.live()
            .iter()
            .filter_map(|s| s.split_whitespace().nth(1).map(str::to_string))
            .collect()
    }

    /// Is anything still holding the VPC's groups and subnets (instances not terminated, endpoints not deleted)?
    pub fn vpc_busy(&self, vpc_id: &str) -> bool {
        self.instances
            .iter()
            .any(|(_, v, s)| v == vpc_id && instance_live(s))
            || self
                .endpoints
                .iter()
                .any(|(_, v, s)| v == vpc_id && endpoint_live(s))
    }
}

/// Read what the lab holds in one scope.
pub async fn discover(ec2: &aws_sdk_ec2::Client, lab_id: &str) -> Result<Inventory> {
    let mut inv = Inventory::default();
    let instances = ec2
        .describe_instances()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's instances", e))?;
    for i in instances.reservations().iter().flat_map(|r| r.instances()) {
        let state = i
            .state()
            .and_then(|s| s.name())
            .cloned()
            .unwrap_or(InstanceStateName::Pending);
        inv.instances.push((
            required(i.instance_id(), "a lab instance's id")?.into(),
            required(i.vpc_id(), "a lab instance's VPC")?.into(),
            state,
        ));
    }
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's endpoints", e))?;
    for e in endpoints.vpc_endpoints() {
        let state = crate::vpc::endpoint_state(e);
        inv.endpoints.push((
            required(e.vpc_endpoint_id(), "a lab endpoint's id")?.into(),
            required(e.vpc_id(), "a lab endpoint's VPC")?.into(),
            state,
        ));
    }
    let groups = ec2
        .describe_security_groups()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's security groups", e))?;
    inv.groups = groups.security_groups().to_vec();
    let peerings = ec2
        .describe_vpc_peering_connections()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's peerings", e))?;
    for p in peerings.vpc_peering_connections() {
        let code = p
            .status()
            .and_then(|s| s.code())
            .cloned()
            .unwrap_or(Pcx::PendingAcceptance);
        inv.peerings.push((
            required(p.vpc_peering_connection_id(), "a lab peering's id")?.into(),
            code,
        ));
    }
    let subnets = ec2
        .describe_subnets()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's subnets", e))?;
    for s in subnets.subnets() {
        inv.subnets.push((
            required(s.subnet_id(), "a lab subnet's id")?.into(),
            required(s.vpc_id(), "a lab subnet's VPC")?.into(),
        ));
    }
    let vpcs = ec2
        .describe_vpcs()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's VPCs", e))?;
    for v in vpcs.vpcs() {
        inv.vpcs
            .push(required(v.vpc_id(), "a lab VPC's id")?.into());
    }
    let peering_ids: BTreeSet<&str> = inv.peerings.iter().map(|(id, _)| id.as_str()).collect();
    let tables = ec2
        .describe_route_tables()
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error("listing the lab's route tables", e))?;
    for t in tables.route_tables() {
        let id = required(t.route_table_id(), "a lab route table's id")?.to_string();
        for r in t.routes() {
            if let (Some(pcx), Some(dest)) =
                (r.vpc_peering_connection_id(), r.destination_cidr_block())
            {
                if peering_ids.contains(pcx) {
                    inv.routes.push((id.clone(), dest.into()));
                }
            }
        }
        inv.tables.push(LabTable {
            id,
            vpc_id: required(t.vpc_id(), "a lab route table's VPC")?.into(),
            associations: t
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
                .filter_map(|a| a.route_table_association_id().map(str::to_string))
                .collect(),
        });
    }
    Ok(inv)
}

/// A deletion the dependency order does not allow yet (or AWS refused as in use): try again later.
fn later<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("DependencyViolation" | "InvalidGroup.InUse" | "IncorrectState" | "InvalidState")
    )
}

fn gone<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code()
        .is_some_and(|c| c.ends_with(".NotFound") || c == "InvalidVpcID.NotFound")
}

/// One pass of deletions in one scope; returns the ids it deleted (or started deleting).
pub async fn pass(ec2: &aws_sdk_ec2::Client, inv: &Inventory) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    macro_rules! attempt {
        ($what:expr, $id:expr, $call:expr) => {
            match $call.await {
                Ok(_) => {
                    deleted.push($id.to_string());
                    true
                }
                Err(e) if gone(&e) => true,
                Err(e) if later(&e) => false,
                Err(e) => return Err(aws_error(&format!("{} {}", $what, $id), e)),
            }
        };
    }
    // 1. instances
    let to_terminate: Vec<String> = inv
        .instances
        .iter()
        .filter(|(_, _, s)| {
            matches!(
                s,
                InstanceStateName::Pending
                    | InstanceStateName::Running
                    | InstanceStateName::Stopping
                    | InstanceStateName::Stopped
            )
        })
        .map(|(id, _, _)| id.clone())
        .collect();
    if !to_terminate.is_empty() {
        let ids = to_terminate.join(",");
        attempt!(
            "terminating",
            ids,
            ec2.terminate_instances()
                .set_instance_ids(Some(to_terminate.clone()))
                .send()
        );
    }
    // 2. endpoints
    let endpoints: Vec<String> = inv
        .endpoints
        .iter()
        .filter(|(_, _, s)| endpoint_live(s) && s != "deleting")
        .map(|(id, _, _)| id.clone())
        .collect();
    if !endpoints.is_empty() {
        let ids = endpoints.join(",");
        attempt!(
            "deleting endpoints",
            ids,
            ec2.delete_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(endpoints.clone()))
                .send()
        );
    }
    // 3. rules that reference other groups
    for group in &inv.groups {
        let id = required(group.group_id(), "a lab group's id")?;
        let (ingress, egress) = referencing_rules(group);
        if !ingress.is_empty() {
            match ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ingress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {} // InvalidPermission.NotFound too
                Err(e) => return Err(aws_error(&format!("revoking group references of {id}"), e)),
            }
        }
        if !egress.is_empty() {
            match ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {} // InvalidPermission.NotFound too
                Err(e) => return Err(aws_error(&format!("revoking group references of {id}"), e)),
            }
        }
    }
    // 4. routes to the peering
    for (table, dest) in &inv.routes {
        match ec2
            .delete_route()
            .route_table_id(table)
            .destination_cidr_block(dest)
            .send()
            .await
        {
            Ok(_) => deleted.push(format!("{table}:{dest}")),
            Err(e) if gone(&e) => {}
            Err(e) => return Err(aws_error(&format!("deleting route {dest} from {table}"), e)),
        }
    }
    // 5. the peering
    for (id, code) in &inv.peerings {
        // a request never accepted is withdrawn by deleting it too
        if peering_live(code) && *code != Pcx::Deleting {
            attempt!(
                "deleting peering",
                id,
                ec2.delete_vpc_peering_connection()
                    .vpc_peering_connection_id(id)
                    .send()
            );
        }
    }
    // 6-9. groups, route tables, subnets, VPCs: only in VPCs nothing holds any more
    let mut vpcs_clear: BTreeSet<&str> = inv.vpcs.iter().map(String::as_str).collect();
    for group in &inv.groups {
        let (id, vpc) = (
            required(group.group_id(), "a lab group's id")?,
            required(group.vpc_id(), "a lab group's VPC")?,
        );
        if inv.vpc_busy(vpc)
            || !attempt!(
                "deleting security group",
                id,
                ec2.delete_security_group().group_id(id).send()
            )
        {
            vpcs_clear.remove(vpc);
        }
    }
    // the lab's route tables: their subnet associations first (a table still associated cannot be deleted)
    for table in &inv.tables {
        if inv.vpc_busy(&table.vpc_id) {
            vpcs_clear.remove(table.vpc_id.as_str());
            continue;
        }
        for association in &table.associations {
            match ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => {
                    return Err(aws_error(
                        &format!("disassociating {association} from {}", table.id),
                        e,
                    ))
                }
            }
        }
        if !attempt!(
            "deleting route table",
            table.id,
            ec2.delete_route_table().route_table_id(&table.id).send()
        ) {
            vpcs_clear.remove(table.vpc_id.as_str());
        }
    }
    for (id, vpc) in &inv.subnets {
        if inv.vpc_busy(vpc)
            || !attempt!(
                "deleting subnet",
                id,
                ec2.delete_subnet().subnet_id(id).send()
            )
        {
            vpcs_clear.remove(vpc.as_str());
        }
    }
    let peering_live_now = inv
        .peerings
        .iter()
        .any(|(_, c)| peering_live(c) && *c != Pcx::Deleting);
    for vpc in &inv.vpcs {
        if vpcs_clear.contains(vpc.as_str()) && !inv.vpc_busy(vpc) && !peering_live_now {
            attempt!("deleting VPC", vpc, ec2.delete_vpc().vpc_id(vpc).send());
        }
    }
    Ok(deleted)
}

/// How long teardown keeps looking after it finds nothing, counted in retries of its state.
///
/// A lab that failed or was stopped may have a create-vpc invocation still in flight: Step Functions does not
/// stop a Lambda function it no longer waits for, and what that invocation creates appears in a describe by
/// filter only after EC2's consistency lag. So after a failure teardown is done only when it finds nothing *and*
/// its state has been retried `needed` times: at the teardown retrier's fixed 15 s that is at least
/// `QUIET_RETRIES` x 15 s = 60 s after its first pass, more than create-vpc's Lambda timeout (30 s,
/// infra/template.yaml) plus the describe-by-filter lag's p99 (infra/local/README.md). The hazard is bounded by
/// the time since the failure, not since the first empty pass, so retries spent waiting for deletions count
/// towards it. Counted in retries, not clock time, so that a time-scaled local AWS scales it like every other wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quiet {
    /// `$$.State.RetryCount`: retries of the teardown state so far.
    pub retries_done: u32,
    pub retries_needed: u32,
}

/// The quiet period after a failure or a stop, in retries of a teardown state (see `Quiet`).
pub const QUIET_RETRIES: u32 = 4;

/// Tear a lab down in the given scopes (home, and the peer's if it is elsewhere). `known` are ids the execution
/// knew of: reported as deleted once they are gone. Fails `NotReady` while anything remains, and while the quiet
/// period after a failure lasts.
pub async fn teardown(
    scopes: &[Scope],
    lab_id: &str,
    known: &[String],
    quiet: Quiet,
) -> Result<TeardownOutput> {
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    for scope in scopes {
        let before = discover(&scope.ec2, lab_id).await?;
        deleted.extend(pass(&scope.ec2, &before).await?);
    }
    let mut remaining = Vec::new();
    let mut live_ids = BTreeSet::new();
    for scope in scopes {
        let after = discover(&scope.ec2, lab_id).await?;
        live_ids.extend(after.live_ids());
        remaining.extend(after.live());
    }
    remaining.sort();
    remaining.dedup();
    for id in known {
        if !id.is_empty() && !live_ids.contains(id) {
            deleted.insert(id.clone());
        }
    }
    let deleted: Vec<String> = deleted.into_iter().collect();
    if !remaining.is_empty() {
        return Err(LabError::not_ready(format!(
            "teardown of {lab_id} in progress; remaining: {}",
            remaining.join(", ")
        )));
    }
    if quiet.retries_done < quiet.retries_needed {
        return Err(LabError::not_ready(format!(
            "nothing of {lab_id} is left; looking again for what a step in flight may still create (quiet period: retry {} of {})",
            quiet.retries_done, quiet.retries_needed
        )));
    }
    Ok(TeardownOutput {
        lab_ids: vec![lab_id.to_string()],
        deleted,
        remaining,
        left: Vec::new(),
    })
}

/// The labs whose `peerlab:expires-at` has passed (by their VPCs' tags), every page of them.
pub async fn expired_labs(ec2: &aws_sdk_ec2::Client, now: OffsetDateTime) -> Result<Vec<String>> {
    let mut pages = ec2
        .describe_vpcs()
        .filters(filter("tag-key", tags::EXPIRES_AT))
        .into_paginator()
        .send();
    let mut vpcs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing labs with an expiry", e))?;
        vpcs.extend(page.vpcs().iter().cloned());
    }
    let mut labs = BTreeSet::new();
    for vpc in &vpcs {
        let (Some(lab), Some(expires)) = (
            tags::tag_value(vpc.tags(), tags::LAB_ID),
            tags::tag_value(vpc.tags(), tags::EXPIRES_AT),
        ) else {
            continue;
        };
        if OffsetDateTime::parse(expires, &Rfc3339).is_ok_and(|t| t <= now) {
            labs.insert(lab.to_string());
        }
    }
    Ok(labs.into_iter().collect())
}

/// How long one sweep may work: the teardown function's timeout is 60 s (infra/template.yaml); a sweep starts
/// no lab's pass after this, leaving the rest to the next scheduled run (every lab it starts is one pass of a few
/// calls; each is idempotent, so a pass cut short by the timeout would only be redone).
pub const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);

/// Sweep: one teardown pass over each expired lab, in lab-id order, until `budget` is spent;
/// never fails for a lab still in progress. `lab_ids` are the labs it worked on, `left` those left for the next run.
pub async fn sweep(
    scope: &Scope,
    now: OffsetDateTime,
    budget: std::time::Duration,
) -> Result<TeardownOutput> {
    let started = std::time::Instant::now();
    let labs = expired_labs(&scope.ec2, now).await?;
    let mut out = TeardownOutput::default();
    for (n, lab) in labs.iter().enumerate() {
        if started.elapsed() >= budget {
            out.left = labs[n..].to_vec();
            break;
        }
        out.lab_ids.push(lab.clone());
        match teardown(std::slice::from_ref(scope), lab, &[], Quiet::default()).await {
            Ok(done) => out.deleted.extend(done.deleted),
            Err(LabError::NotReady(message)) => out.remaining.push(message),
            Err(other) => return Err(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::UserIdGroupPair;

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
        assert_eq!(
            inv.live(),
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
        let by_group = IpPermission::builder()
            .ip_protocol("-1")
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-a").build())
            .build();
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
}
