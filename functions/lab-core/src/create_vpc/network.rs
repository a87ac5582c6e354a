//! The network of one side: its VPC, its private subnet, the lab's own route table for that subnet, and the
//! security groups in it. Each found by tag (or by name within the VPC) before it is created.

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{IpPermission, ResourceType};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{client_token, Ctx};
use crate::error::{aws_error, required, LabError, Result};
use crate::input::SidePlan;
use crate::tags::{self, filter};

pub(super) async fn ensure_vpc(ctx: &Ctx<'_>, plan: &SidePlan) -> Result<String> {
    let found = ctx
        .ec2
        .describe_vpcs()
        .set_filters(Some(ctx.side_filters().to_vec()))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's VPC", e))?;
    if let Some(vpc) = found.vpcs().first() {
        if vpc.cidr_block() != Some(plan.cidr.to_string().as_str()) {
            return Err(LabError::ResourceConflict(format!(
                "lab {} already has a VPC {} for side {} with CIDR {}, not {}",
                ctx.lab.lab_id,
                vpc.vpc_id().unwrap_or("?"),
                ctx.side.letter(),
                vpc.cidr_block().unwrap_or("?"),
                plan.cidr
            )));
        }
        return Ok(required(vpc.vpc_id(), "the lab VPC's id")?.to_string());
    }
    let created = ctx
        .ec2
        .create_vpc()
        .cidr_block(plan.cidr.to_string())
        .tag_specifications(ctx.spec(ResourceType::Vpc, &tags::name("Vpc", ctx.side)))
        .send()
        .await
        .map_err(|e| aws_error(&format!("creating VPC {}", plan.cidr), e))?;
    let id = created
        .vpc()
        .and_then(|v| v.vpc_id())
        .map(str::to_string)
        .ok_or_else(|| LabError::not_ready("CreateVpc returned no VPC id"))?;
    // A new VPC answers NotFound for a moment, and a describe by filter does not list it yet (EC2 is eventually
    // consistent). Returning NotReady now would lose its id, and the retry, not finding it by tag, would create a
    // second VPC (CreateVpc takes no ClientToken). So wait here, with the SDK's VpcExists waiter, for as long as
    // the visibility lag's p99 with room to spare (infra/local/README.md: median 1 s, p99 5 s).
    ctx.ec2
        .wait_until_vpc_exists()
        .vpc_ids(&id)
        .wait(VPC_VISIBLE_WITHIN)
        .await
        .map_err(|e| {
            LabError::not_ready(format!(
                "VPC {id} was created but is not visible yet: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    Ok(id)
}

/// How long create-vpc waits for its new VPC to become visible (see `ensure_vpc`): twice the lag's p99.
pub const VPC_VISIBLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The lab's subnet of a side: (id, zone name, zone id).
pub(super) struct PlacedSubnet {
    pub(super) id: String,
    pub(super) zone: String,
    pub(super) zone_id: String,
}

fn placed(subnet: &aws_sdk_ec2::types::Subnet, what: &str) -> Result<PlacedSubnet> {
    Ok(PlacedSubnet {
        id: subnet
            .subnet_id()
            .ok_or_else(|| LabError::not_ready(format!("{what} returned a subnet without an id")))?
            .to_string(),
        zone: required(subnet.availability_zone(), "the lab subnet's zone")?.to_string(),
        zone_id: required(subnet.availability_zone_id(), "the lab subnet's zone id")?.to_string(),
    })
}

pub(super) async fn ensure_subnet(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    plan: &SidePlan,
) -> Result<PlacedSubnet> {
    let found = ctx
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("cidr-block", &plan.subnet_cidr.to_string()))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's subnet", e))?;
    if let Some(subnet) = found.subnets().first() {
        return placed(subnet, "DescribeSubnets");
    }
    // validate-input chose the zone from EC2's offerings; never leave it to AWS (it may pick one that does not
    // offer the instance type)
    let field = format!("lab.vpc_{}.availability_zone", ctx.side.key());
    let zone = plan.availability_zone.as_deref().ok_or_else(|| {
        LabError::invalid(format!(
            "{field}: missing; validate-input chooses it (was this plan made by an older version?)"
        ))
    })?;
    let created = ctx
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(plan.subnet_cidr.to_string())
        .availability_zone(zone)
        .tag_specifications(ctx.spec(ResourceType::Subnet, &tags::name("PrivateSubnet", ctx.side)))
        .send()
        .await;
    match created {
        Ok(out) => out
            .subnet()
            .ok_or_else(|| LabError::not_ready("CreateSubnet returned no subnet"))
            .and_then(|s| placed(s, "CreateSubnet")),
        // our subnet exists but a describe by filter does not list it yet (eventual consistency)
        Err(e) if e.code() == Some("InvalidSubnet.Conflict") => Err(LabError::not_ready(format!(
            "subnet {} of {vpc_id} exists but is not listed yet: {}",
            plan.subnet_cidr,
            e.message().unwrap_or("InvalidSubnet.Conflict")
        ))),
        Err(e) => Err(aws_error(
            &format!("creating subnet {} in {vpc_id} ({zone})", plan.subnet_cidr),
            e,
        )),
    }
}

/// The lab's own route table for a side's subnet, tagged for the lab and associated with the subnet. The lab
/// never touches the VPC's main route table: EC2 creates that one untagged, so an IAM policy could not limit
/// route changes to it (add-routes and teardown may change routes only in tables tagged `peerlab:lab-id`).
///
/// Idempotent: found by tag; created with a ClientToken (a retry that does not see the new table yet gets the same
/// one back, not a second); associated unless the subnet already is. AWS refuses a second explicit association
/// of a subnet (`Resource.AlreadyAssociated`) - that is ours when the subnet's association names our table.
pub(super) async fn ensure_route_table(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    subnet_id: &str,
) -> Result<String> {
    let found = ctx
        .ec2
        .describe_route_tables()
        .set_filters(Some(ctx.side_filters().to_vec()))
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's route table", e))?;
    let (table_id, associated) = match found.route_tables().first() {
        Some(table) => (
            table
                .route_table_id()
                .ok_or_else(|| LabError::not_ready("a route table is listed without an id"))?
                .to_string(),
            table
                .associations()
                .iter()
                .any(|a| a.subnet_id() == Some(subnet_id)),
        ),
        None => {
            let created = ctx
                .ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .client_token(client_token(&ctx.lab.lab_id, ctx.side, "route-table"))
                .tag_specifications(ctx.spec(
                    ResourceType::RouteTable,
                    &tags::name("RouteTable", ctx.side),
                ))
                .send()
                .await
                .map_err(|e| {
                    aws_error(&format!("creating the lab's route table in {vpc_id}"), e)
                })?;
            let table = created
                .route_table()
                .ok_or_else(|| LabError::not_ready("CreateRouteTable returned no route table"))?;
            (
                required(
                    table.route_table_id(),
                    "the id of the route table it created",
                )?
                .to_string(),
                table
                    .associations()
                    .iter()
                    .any(|a| a.subnet_id() == Some(subnet_id)),
            )
        }
    };
    if associated {
        return Ok(table_id);
    }
    let result = ctx
        .ec2
        .associate_route_table()
        .route_table_id(&table_id)
        .subnet_id(subnet_id)
        .send()
        .await;
    match result {
        Ok(_) => Ok(table_id),
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
            let now = ctx
                .ec2
                .describe_route_tables()
                .filters(filter("association.subnet-id", subnet_id))
                .send()
                .await
                .map_err(|e| aws_error(&format!("finding the route table of {subnet_id}"), e))?;
            match now.route_tables().first().and_then(|t| t.route_table_id()) {
                Some(id) if id == table_id => Ok(table_id),
                Some(other) => Err(LabError::ResourceConflict(format!(
                    "subnet {subnet_id} of lab {} is associated with route table {other}, not the lab's {table_id}",
                    ctx.lab.lab_id
                ))),
                None => Err(LabError::not_ready(format!(
                    "subnet {subnet_id} has an association that is not listed yet"
                ))),
            }
        }
        // the new table (or subnet) answers NotFound for a moment: NotReady (error::NOT_VISIBLE_YET)
        Err(e) => Err(aws_error(
            &format!("associating route table {table_id} with {subnet_id}"),
            e,
        )),
    }
}

pub(super) async fn ensure_group(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    name: &str,
    description: &str,
    tag_name: &str,
) -> Result<(String, Vec<IpPermission>)> {
    let found = ctx
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(|e| aws_error(&format!("finding security group {name}"), e))?;
    if let Some(group) = found.security_groups().first() {
        let ours = tags::tag_value(group.tags(), tags::LAB_ID) == Some(ctx.lab.lab_id.as_str());
        if !ours {
            return Err(LabError::ResourceConflict(format!(
                "security group {name} ({}) in {vpc_id} exists but is not tagged for lab {}",
                group.group_id().unwrap_or("?"),
                ctx.lab.lab_id
            )));
        }
        let id = group.group_id().ok_or_else(|| {
            LabError::not_ready(format!("security group {name} is listed without an id"))
        })?;
        return Ok((id.to_string(), group.ip_permissions().to_vec()));
    }
    let created = ctx
        .ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc_id)
        .tag_specifications(ctx.spec(ResourceType::SecurityGroup, tag_name))
        .send()
        .await;
    match created {
        Ok(out) => out
            .group_id()
            .map(|id| (id.to_string(), Vec::new()))
            .ok_or_else(|| {
                LabError::not_ready(format!("CreateSecurityGroup {name} returned no id"))
            }),
        // created by a concurrent retry between our describe and create
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => Err(LabError::not_ready(format!(
            "security group {name} is being created"
        ))),
        Err(e) => Err(aws_error(&format!("creating security group {name}"), e)),
    }
}
