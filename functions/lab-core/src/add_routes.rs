//! add-routes: a route to the other VPC's CIDR through the peering, in the lab's own route table of each VPC
//! (create-vpc associates it with the subnet; the VPC's main route table, untagged, is never changed). The
//! exercises `missing-route-a` and `missing-route-b` leave one side's route out.

use aws_sdk_ec2::types::{Route, RouteTable};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Aws;
use crate::error::{aws_error, required, LabError, Result};
use crate::exercise::Exercise;
use crate::model::{PairEvent, RouteAction, RouteOutput, RoutesOutput, SideOutput};
use crate::tags::{filter, lab_filter};

/// What to do about one table: the route is there through this peering, must be created, replaces a blackhole
/// route, or conflicts.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    Existing,
    Create,
    /// A route through a peering that no longer exists (a leftover of an earlier, deleted peering of the same
    /// lab: its state is `blackhole`): ReplaceRoute points it at this peering.
    ReplaceBlackhole {
        through: String,
    },
    /// A live route to the destination through something else: the user's network, not ours to change.
    Conflict(String),
}

fn target(route: &Route) -> String {
    route
        .vpc_peering_connection_id()
        .or(route.gateway_id())
        .or(route.nat_gateway_id())
        .or(route.transit_gateway_id())
        .or(route.network_interface_id())
        .or(route.instance_id())
        .unwrap_or("an unknown target")
        .to_string()
}

/// Decide for one route table (pure: the unit-tested heart of add-routes).
pub fn plan(table: &RouteTable, destination: &str, peering_id: &str) -> Plan {
    let Some(route) = table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(destination))
    else {
        return Plan::Create;
    };
    if route.vpc_peering_connection_id() == Some(peering_id) {
        return Plan::Existing;
    }
    let state = route.state().map(|s| s.as_str()).unwrap_or("active");
    if route.vpc_peering_connection_id().is_some() && state == "blackhole" {
        return Plan::ReplaceBlackhole {
            through: target(route),
        };
    }
    Plan::Conflict(format!(
        "route table {} already routes {destination} to {} ({state}), not to peering {peering_id}",
        table.route_table_id().unwrap_or("?"),
        target(route)
    ))
}

pub async fn handler(event: PairEvent, aws: &impl Aws) -> Result<RoutesOutput> {
    let id = event.peering()?;
    let (home, peer) = (aws.home(), aws.peer(event.lab.peer_access()).await?);
    let lab = &event.lab.lab_id;
    let exercise = event.lab.exercise;
    let mut all = Vec::new();
    // the exercises missing-route-a/-b leave that side's route out
    if exercise != Some(Exercise::MissingRouteA) {
        all.extend(add(&home.ec2, lab, &event.vpc_a, &event.vpc_b.cidr, id).await?);
    }
    if exercise != Some(Exercise::MissingRouteB) {
        all.extend(add(&peer.ec2, lab, &event.vpc_b, &event.vpc_a.cidr, id).await?);
    }
    Ok(RoutesOutput { routes: all })
}

/// Add the route in the lab's tables of `from`'s VPC (those tagged for the lab: its subnet's).
async fn add(
    ec2: &aws_sdk_ec2::Client,
    lab_id: &str,
    from: &SideOutput,
    destination: &str,
    peering_id: &str,
) -> Result<Vec<RouteOutput>> {
    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &from.vpc_id))
        .filters(lab_filter(lab_id))
        .send()
        .await
        .map_err(|e| aws_error(&format!("listing route tables of {}", from.vpc_id), e))?;
    let mut out = Vec::new();
    for table in tables.route_tables() {
        let table_id = required(table.route_table_id(), "a lab route table's id")?.to_string();
        let action = match plan(table, destination, peering_id) {
            Plan::Existing => RouteAction::Existing,
            Plan::ReplaceBlackhole { through } => {
                ec2.replace_route()
                    .route_table_id(&table_id)
                    .destination_cidr_block(destination)
                    .vpc_peering_connection_id(peering_id)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(
                            &format!("replacing the blackhole route via {through} in {table_id}"),
                            e,
                        )
                    })?;
                RouteAction::Replaced
            }
            Plan::Conflict(reason) => return Err(LabError::RouteConflict(reason)),
            Plan::Create => {
                let created = ec2
                    .create_route()
                    .route_table_id(&table_id)
                    .destination_cidr_block(destination)
                    .vpc_peering_connection_id(peering_id)
                    .send()
                    .await;
                match created {
                    Ok(_) => RouteAction::Created,
                    // created by a concurrent attempt: describe again on the retry and judge
                    Err(e) if e.code() == Some("RouteAlreadyExists") => {
                        return Err(LabError::not_ready(format!(
                            "route to {destination} in {table_id} appeared meanwhile"
                        )))
                    }
                    Err(e) if e.code() == Some("InvalidVpcPeeringConnectionID.NotFound") => {
                        return Err(LabError::not_ready(format!(
                            "peering {peering_id} not visible to {table_id} yet"
                        )))
                    }
                    Err(e) => {
                        return Err(aws_error(
                            &format!("adding route {destination} -> {peering_id} in {table_id}"),
                            e,
                        ))
                    }
                }
            }
        };
        out.push(RouteOutput {
            route_table_id: table_id,
            destination: destination.to_string(),
            action,
        });
    }
    if out.is_empty() {
        return Err(LabError::not_ready(format!(
            "{} has no route table of lab {lab_id} yet (or it is not listed yet)",
            from.vpc_id
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
