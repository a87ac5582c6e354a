//! What a lab holds in one account and region, found by its tag.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    InstanceStateName, IpPermission, SecurityGroup, VpcPeeringConnectionStateReasonCode as Pcx,
};

use crate::error::{aws_error, required, Result};
use crate::tags::lab_filter;

/// A kind of resource the lab creates, by the name EC2 gives its resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Instance,
    VpcEndpoint,
    VpcPeeringConnection,
    SecurityGroup,
    RouteTable,
    Subnet,
    NetworkAcl,
    Vpc,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::VpcPeeringConnection => "vpc-peering-connection",
            Kind::SecurityGroup => "security-group",
            Kind::RouteTable => "route-table",
            Kind::Subnet => "subnet",
            Kind::NetworkAcl => "network-acl",
            Kind::Vpc => "vpc",
        }
    }
}

/// One live resource of a lab, with its state where it has one ("instance i-1 (shutting-down)").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub kind: Kind,
    pub id: String,
    pub state: Option<String>,
}

impl Resource {
    fn new(kind: Kind, id: &str, state: Option<&str>) -> Self {
        Resource {
            kind,
            id: id.to_string(),
            state: state.map(str::to_string),
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)?;
        match &self.state {
            Some(state) => write!(f, " ({state})"),
            None => Ok(()),
        }
    }
}

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
    /// (network ACL id, vpc id): the lab's own network ACLs (the exercise nacl-deny's; never a VPC's default ACL)
    pub acls: Vec<(String, String)>,
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
    /// Everything still live, in the order teardown deletes it (what `remaining` reports).
    pub fn live(&self) -> Vec<Resource> {
        let mut out = Vec::new();
        out.extend(
            self.instances
                .iter()
                .filter(|(_, _, s)| instance_live(s))
                .map(|(id, _, s)| Resource::new(Kind::Instance, id, Some(s.as_str()))),
        );
        out.extend(
            self.endpoints
                .iter()
                .filter(|(_, _, s)| endpoint_live(s))
                .map(|(id, _, s)| Resource::new(Kind::VpcEndpoint, id, Some(s))),
        );
        out.extend(
            self.peerings
                .iter()
                .filter(|(_, s)| peering_live(s))
                .map(|(id, s)| Resource::new(Kind::VpcPeeringConnection, id, Some(s.as_str()))),
        );
        out.extend(
            self.groups
                .iter()
                .map(|g| Resource::new(Kind::SecurityGroup, g.group_id().unwrap_or("?"), None)),
        );
        out.extend(
            self.tables
                .iter()
                .map(|t| Resource::new(Kind::RouteTable, &t.id, None)),
        );
        out.extend(
            self.subnets
                .iter()
                .map(|(id, _)| Resource::new(Kind::Subnet, id, None)),
        );
        out.extend(
            self.acls
                .iter()
                .map(|(id, _)| Resource::new(Kind::NetworkAcl, id, None)),
        );
        out.extend(
            self.vpcs
                .iter()
                .map(|id| Resource::new(Kind::Vpc, id, None)),
        );
        out
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

/// Read what the lab holds in one scope: every listing at once (none needs another's answer); an error is the
/// first listing's in the order below, as when they were read one after the other.
pub async fn discover(ec2: &aws_sdk_ec2::Client, lab_id: &str) -> Result<Inventory> {
    let (instances, endpoints, groups, peerings, subnets, vpcs, acls, tables) = tokio::join!(
        ec2.describe_instances().filters(lab_filter(lab_id)).send(),
        ec2.describe_vpc_endpoints()
            .filters(lab_filter(lab_id))
            .send(),
        ec2.describe_security_groups()
            .filters(lab_filter(lab_id))
            .send(),
        ec2.describe_vpc_peering_connections()
            .filters(lab_filter(lab_id))
            .send(),
        ec2.describe_subnets().filters(lab_filter(lab_id)).send(),
        ec2.describe_vpcs().filters(lab_filter(lab_id)).send(),
        ec2.describe_network_acls()
            .filters(lab_filter(lab_id))
            .send(),
        ec2.describe_route_tables()
            .filters(lab_filter(lab_id))
            .send(),
    );
    let mut inv = Inventory::default();
    let instances = instances.map_err(|e| aws_error("listing the lab's instances", e))?;
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
    let endpoints = endpoints.map_err(|e| aws_error("listing the lab's endpoints", e))?;
    for e in endpoints.vpc_endpoints() {
        let state = crate::create_vpc::endpoint_state(e);
        inv.endpoints.push((
            required(e.vpc_endpoint_id(), "a lab endpoint's id")?.into(),
            required(e.vpc_id(), "a lab endpoint's VPC")?.into(),
            state,
        ));
    }
    let groups = groups.map_err(|e| aws_error("listing the lab's security groups", e))?;
    inv.groups = groups.security_groups().to_vec();
    let peerings = peerings.map_err(|e| aws_error("listing the lab's peerings", e))?;
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
    let subnets = subnets.map_err(|e| aws_error("listing the lab's subnets", e))?;
    for s in subnets.subnets() {
        inv.subnets.push((
            required(s.subnet_id(), "a lab subnet's id")?.into(),
            required(s.vpc_id(), "a lab subnet's VPC")?.into(),
        ));
    }
    let vpcs = vpcs.map_err(|e| aws_error("listing the lab's VPCs", e))?;
    for v in vpcs.vpcs() {
        inv.vpcs
            .push(required(v.vpc_id(), "a lab VPC's id")?.into());
    }
    let acls = acls.map_err(|e| aws_error("listing the lab's network ACLs", e))?;
    for acl in acls.network_acls() {
        inv.acls.push((
            required(acl.network_acl_id(), "a lab network ACL's id")?.into(),
            required(acl.vpc_id(), "a lab network ACL's VPC")?.into(),
        ));
    }
    let peering_ids: BTreeSet<&str> = inv.peerings.iter().map(|(id, _)| id.as_str()).collect();
    let tables = tables.map_err(|e| aws_error("listing the lab's route tables", e))?;
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
