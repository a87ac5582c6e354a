//! Why did the final ping fail? The first hop on the way A -> B -> A that blocks it, read from the EC2 state:
//! the peering's status, A's route to B, B's route back, A's egress and B's ingress security group rules,
//! and the network ACLs of both subnets. Pure checks over SDK types, plus one function that fetches them.

use std::net::Ipv4Addr;

use crate::error::{aws_error, Result};
use crate::hop::Hop;
use crate::model::SideOutput;
use crate::security_groups;
use crate::tags::filter;
use aws_sdk_ec2::types::{
    IpPermission, NetworkAcl, RouteState, RouteTable, RuleAction, SecurityGroup,
};
use ipnet::Ipv4Net;

fn net(text: &str) -> Option<Ipv4Net> {
    text.parse().ok()
}

fn ip(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok()
}

/// The first blocking hop and what the EC2 state says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub hop: Hop,
    pub detail: String,
}

impl Blocked {
    fn at(hop: Hop, detail: impl Into<String>) -> Self {
        Blocked {
            hop,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The table that routes a subnet: its explicit association, else the VPC's main table.
pub fn table_for<'a>(tables: &'a [RouteTable], subnet_id: &str) -> Option<&'a RouteTable> {
    tables
        .iter()
        .find(|t| {
            t.associations()
                .iter()
                .any(|a| a.subnet_id() == Some(subnet_id))
        })
        .or_else(|| {
            tables
                .iter()
                .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
        })
}

/// Does `table` send `dest` through `peering_id`? None if yes, else what it does instead.
pub fn route_problem(
    table: &RouteTable,
    dest: &str,
    peering_id: &str,
    side: &str,
) -> Option<String> {
    let table_id = table.route_table_id().unwrap_or("?");
    let dest_ip = ip(dest)?;
    let best = table
        .routes()
        .iter()
        .filter_map(|r| Some((r, net(r.destination_cidr_block()?)?)))
        .filter(|(_, n)| n.contains(&dest_ip))
        .max_by_key(|(_, n)| n.prefix_len());
    match best {
        None => Some(format!(
            "route table {table_id} of VPC {side} has no route to {dest}"
        )),
        Some((route, n)) => {
            if route.vpc_peering_connection_id() != Some(peering_id) {
                let via = route
                    .vpc_peering_connection_id()
                    .or(route.gateway_id())
                    .or(route.nat_gateway_id())
                    .or(route.transit_gateway_id())
                    .unwrap_or("elsewhere");
                Some(format!("route table {table_id} of VPC {side} sends {dest} ({n}) to {via}, not to peering {peering_id}"))
            } else if route.state() == Some(&RouteState::Blackhole) {
                Some(format!("route table {table_id} of VPC {side} has a blackhole route to {n} via {peering_id}"))
            } else {
                None
            }
        }
    }
}

fn allows_icmp(p: &IpPermission) -> bool {
    match p.ip_protocol().unwrap_or("-1") {
        "-1" | "all" => true,
        "icmp" | "1" => matches!(p.from_port(), None | Some(-1) | Some(8)),
        _ => false,
    }
}

/// Does one of `groups` let ICMP echo through from/to `peer_ip` (or a member of `peer_groups`)?
pub fn groups_allow(
    groups: &[SecurityGroup],
    egress: bool,
    peer_ip: &str,
    peer_groups: &[String],
    by_group: bool,
) -> bool {
    let Some(addr) = ip(peer_ip) else {
        return false;
    };
    groups.iter().any(|g| {
        let perms = if egress {
            g.ip_permissions_egress()
        } else {
            g.ip_permissions()
        };
        perms.iter().filter(|p| allows_icmp(p)).any(|p| {
            p.ip_ranges()
                .iter()
                .filter_map(|r| net(r.cidr_ip()?))
                .any(|n| n.contains(&addr))
                || (by_group
                    && p.user_id_group_pairs().iter().any(|pair| {
                        pair.group_id()
                            .is_some_and(|id| peer_groups.iter().any(|g| g == id))
                    }))
        })
    })
}

/// The network ACL verdict for ICMP to/from `peer_ip` in one direction: the first matching rule by number.
pub fn acl_allows(acl: &NetworkAcl, egress: bool, peer_ip: &str) -> bool {
    let Some(addr) = ip(peer_ip) else {
        return false;
    };
    let mut entries: Vec<_> = acl
        .entries()
        .iter()
        .filter(|e| e.egress() == Some(egress))
        .collect();
    entries.sort_by_key(|e| e.rule_number().unwrap_or(i32::MAX));
    for entry in entries {
        let covers = entry
            .cidr_block()
            .and_then(net)
            .is_some_and(|n| n.contains(&addr));
        let protocol = matches!(entry.protocol(), Some("-1") | Some("1"));
        if covers && protocol {
            return entry.rule_action() == Some(&RuleAction::Allow);
        }
    }
    false
}

pub fn acl_for<'a>(acls: &'a [NetworkAcl], subnet_id: &str) -> Option<&'a NetworkAcl> {
    acls.iter()
        .find(|a| {
            a.associations()
                .iter()
                .any(|x| x.subnet_id() == Some(subnet_id))
        })
        .or_else(|| acls.iter().find(|a| a.is_default() == Some(true)))
}

/// Everything the diagnosis reads, fetched once.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub peering_status: Option<String>,
    pub tables_a: Vec<RouteTable>,
    pub tables_b: Vec<RouteTable>,
    pub groups_a: Vec<SecurityGroup>,
    pub groups_b: Vec<SecurityGroup>,
    /// Every group of VPC B, attached to instance B or not (a group that admits A but is not attached is a hop of
    /// its own).
    pub vpc_groups_b: Vec<SecurityGroup>,
    pub acls_a: Vec<NetworkAcl>,
    pub acls_b: Vec<NetworkAcl>,
}

/// The first blocking hop, in the order a packet meets them; None when every hop allows the ping.
pub fn explain(
    s: &Snapshot,
    a: &SideOutput,
    b: &SideOutput,
    peering_id: &str,
    same_region: bool,
) -> Option<Blocked> {
    match s.peering_status.as_deref() {
        Some("active") => {}
        Some(other) => {
            return Some(Blocked::at(
                Hop::Peering,
                format!("peering {peering_id} is {other}, not active"),
            ))
        }
        None => {
            return Some(Blocked::at(
                Hop::Peering,
                format!("peering {peering_id} does not exist"),
            ))
        }
    }
    let Some(table_a) = table_for(&s.tables_a, &a.subnet_id) else {
        return Some(Blocked::at(
            Hop::RouteA,
            format!("subnet {} of VPC A has no route table", a.subnet_id),
        ));
    };
    if let Some(p) = route_problem(table_a, &b.private_ip, peering_id, "A") {
        return Some(Blocked::at(Hop::RouteA, p));
    }
    let Some(table_b) = table_for(&s.tables_b, &b.subnet_id) else {
        return Some(Blocked::at(
            Hop::RouteB,
            format!("subnet {} of VPC B has no route table", b.subnet_id),
        ));
    };
    if let Some(p) = route_problem(table_b, &a.private_ip, peering_id, "B") {
        return Some(Blocked::at(Hop::RouteB, format!("no way back: {p}")));
    }
    let ids = |gs: &[SecurityGroup]| {
        gs.iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let (ids_a, ids_b) = (ids(&s.groups_a), ids(&s.groups_b));
    if !groups_allow(&s.groups_a, true, &b.private_ip, &ids_b, same_region) {
        return Some(Blocked::at(
            Hop::SgEgressA,
            format!(
                "the security groups of instance A ({}) allow no ICMP out to {}",
                ids_a.join(", "),
                b.private_ip
            ),
        ));
    }
    if !groups_allow(&s.groups_b, false, &a.private_ip, &ids_a, same_region) {
        // a group of VPC B that would admit A, left off instance B
        let unattached = s.vpc_groups_b.iter().find(|g| {
            g.group_id()
                .is_some_and(|id| !ids_b.iter().any(|b| b == id))
                && groups_allow(
                    std::slice::from_ref(g),
                    false,
                    &a.private_ip,
                    &ids_a,
                    same_region,
                )
        });
        if let Some(g) = unattached {
            return Some(Blocked::at(
                Hop::SgNotAttached,
                format!(
                    "group {} ({}) admits ICMP from A but is not attached to instance B ({}), whose groups are {}",
                    g.group_id().unwrap_or("?"),
                    g.group_name().unwrap_or("unnamed"),
                    b.instance_id,
                    ids_b.join(", ")
                ),
            ));
        }
        let how = if same_region {
            format!(
                "from group {} or address {}",
                a.security_group_id, a.private_ip
            )
        } else {
            format!(
                "from {} (group references do not work across regions)",
                a.private_ip
            )
        };
        return Some(Blocked::at(
            Hop::SgIngressB,
            format!(
                "the security groups of instance B ({}) have no rule admitting ICMP {how}",
                ids_b.join(", ")
            ),
        ));
    }
    let (acl_a, acl_b) = (
        acl_for(&s.acls_a, &a.subnet_id),
        acl_for(&s.acls_b, &b.subnet_id),
    );
    let hops = [
        (
            acl_a,
            true,
            &b.private_ip,
            "out of",
            &a.subnet_id,
            Hop::NaclA,
        ),
        (
            acl_b,
            false,
            &a.private_ip,
            "into",
            &b.subnet_id,
            Hop::NaclB,
        ),
        (
            acl_b,
            true,
            &a.private_ip,
            "(the reply) out of",
            &b.subnet_id,
            Hop::NaclB,
        ),
        (
            acl_a,
            false,
            &b.private_ip,
            "(the reply) into",
            &a.subnet_id,
            Hop::NaclA,
        ),
    ];
    for (acl, egress, peer, direction, subnet, hop) in hops {
        if let Some(acl) = acl {
            if !acl_allows(acl, egress, peer) {
                return Some(Blocked::at(
                    hop,
                    format!(
                        "network ACL {} denies ICMP {direction} subnet {subnet}",
                        acl.network_acl_id().unwrap_or("?")
                    ),
                ));
            }
        }
    }
    None
}

/// One side's route tables, the groups of its instance, every group of its VPC, and its network ACLs.
async fn fetch_side(ec2: &aws_sdk_ec2::Client, side: &SideOutput) -> Result<SideState> {
    // every describe at once; an error is the first's in this order
    let (tables, group_ids, vpc_groups, acls) = tokio::join!(
        ec2.describe_route_tables()
            .filters(filter("vpc-id", &side.vpc_id))
            .send(),
        security_groups::instance_group_ids(ec2, &side.instance_id),
        // every group of the VPC (an instance's groups are all of its VPC): the instance's are among them
        ec2.describe_security_groups()
            .filters(filter("vpc-id", &side.vpc_id))
            .send(),
        ec2.describe_network_acls()
            .filters(filter("vpc-id", &side.vpc_id))
            .send(),
    );
    let tables = tables.map_err(|e| aws_error("reading route tables for the diagnosis", e))?;
    let group_ids = group_ids?;
    let vpc_groups = vpc_groups
        .map_err(|e| aws_error("reading security groups for the diagnosis", e))?
        .security_groups()
        .to_vec();
    let groups = vpc_groups
        .iter()
        .filter(|g| {
            g.group_id()
                .is_some_and(|id| group_ids.iter().any(|i| i == id))
        })
        .cloned()
        .collect();
    let acls = acls.map_err(|e| aws_error("reading network ACLs for the diagnosis", e))?;
    Ok(SideState {
        tables: tables.route_tables().to_vec(),
        groups,
        vpc_groups,
        acls: acls.network_acls().to_vec(),
    })
}

struct SideState {
    tables: Vec<RouteTable>,
    groups: Vec<SecurityGroup>,
    vpc_groups: Vec<SecurityGroup>,
    acls: Vec<NetworkAcl>,
}

/// The peering's status code; None when EC2 says it does not exist (deleted, or expired: EC2 keeps a deleted or
/// rejected peering visible only for a while). Any other error (throttling, access denied) is the diagnosis's error,
/// not a peering that does not exist.
async fn peering_status(ec2: &aws_sdk_ec2::Client, peering_id: &str) -> Result<Option<String>> {
    let described = ec2
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(peering_id)
        .send()
        .await;
    match described {
        Ok(out) => Ok(out
            .vpc_peering_connections()
            .first()
            .and_then(|p| p.status())
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())),
        Err(err)
            if matches!(
                err.as_service_error().and_then(|e| e.meta().code()),
                Some(
                    "InvalidVpcPeeringConnectionID.NotFound"
                        | "InvalidVpcPeeringConnectionId.NotFound"
                )
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws_error(
            &format!("reading peering {peering_id} for the diagnosis"),
            err,
        )),
    }
}

/// Fetch the state and explain. `peer` is B's EC2 client (another account or region) or A's. `Hop::None` when
/// every hop the EC2 state shows allows the ping.
pub async fn diagnose(
    home: &aws_sdk_ec2::Client,
    peer: &aws_sdk_ec2::Client,
    a: &SideOutput,
    b: &SideOutput,
    peering_id: Option<&str>,
) -> Result<Blocked> {
    let Some(peering_id) = peering_id else {
        return Ok(Blocked::at(
            Hop::Peering,
            "there is no peering connection between the VPCs",
        ));
    };
    // the three reads at once; an error is the first's in this order, as when they were made one after the other
    let (peering_status, side_a, side_b) = tokio::join!(
        peering_status(home, peering_id),
        fetch_side(home, a),
        fetch_side(peer, b)
    );
    let (peering_status, side_a, side_b) = (peering_status?, side_a?, side_b?);
    let snapshot = Snapshot {
        peering_status,
        tables_a: side_a.tables,
        tables_b: side_b.tables,
        groups_a: side_a.groups,
        groups_b: side_b.groups,
        vpc_groups_b: side_b.vpc_groups,
        acls_a: side_a.acls,
        acls_b: side_b.acls,
    };
    Ok(explain(&snapshot, a, b, peering_id, a.region == b.region)
        .unwrap_or_else(|| Blocked::at(Hop::None, "every hop (peering, routes, security groups, network ACLs) allows it; the instance's own firewall or the OS may drop ICMP")))
}

#[cfg(test)]
mod tests;
