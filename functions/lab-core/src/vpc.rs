//! create-vpc: one side of the lab: VPC, private subnet with the lab's own route table, the instance's security
//! group, the instance; on the
//! side that runs the ping also what SSM needs in a private subnet (DNS attributes, interface endpoints with
//! private DNS and a group admitting HTTPS from the VPC, the instance profile).
//!
//! Idempotent: everything is found by tag (or by name within the VPC) before it is created, and the instance
//! is launched with a ClientToken derived from the lab and side. Returns `NotReady` until the instance runs.
//!
//! Order on side A: the endpoints first, the instance only once both are `available`. The SSM Agent pings SSM
//! once as it starts; if that fails (endpoints still `pending`), it hibernates and tries again only 5 minutes
//! later, then every 10 (aws/amazon-ssm-agent, agent/hibernation/hibernation.go): an instance launched with its
//! endpoints would be Online many minutes late. Side B waits for nothing of A's.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, IamInstanceProfileSpecification, InstanceStateName, InstanceType,
    IpPermission, IpRange, ResourceType, VpcEndpoint, VpcEndpointType,
};

use aws_sdk_ec2::client::Waiters;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Scope;
use crate::error::{aws_error, required, LabError, Result};
use crate::input::{LabPlan, SidePlan};
use crate::model::{Side, SideOutput};
use crate::tags::{self, filter, lab_filter};

/// Interface endpoints the SSM Agent needs in a private subnet (agent 3.3.40+ needs no ec2messages).
pub const SSM_SERVICES: &[&str] = &["ssm", "ssmmessages"];
pub const AMI_PARAMETER_X86: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AMI_PARAMETER_ARM: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

/// The instance profile given to instance A (created by the stack, not the workflow: a fresh profile takes
/// time to propagate). Read from this environment variable of the create-vpc function.
pub const INSTANCE_PROFILE_ENV: &str = "PEERLAB_INSTANCE_PROFILE";

/// An endpoint's state in lower case. AWS sends "available", "deleted"...; the SDK's `State` enum expects
/// "Available", so real responses parse as `Unknown`: compare the text, not the enum.
pub fn endpoint_state(endpoint: &VpcEndpoint) -> String {
    endpoint
        .state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_else(|| "pending".into())
}

/// Graviton families (t4g, m7g, c6gn...) run arm64 AMIs.
pub fn is_arm(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    family.len() >= 2
        && family[1..].contains('g')
        && !family.starts_with("g")
        && !family.starts_with("inf")
}

/// The ClientToken of a side's instance: the same lab and side launch one instance, however often retried.
pub fn client_token(lab_id: &str, side: Side, what: &str) -> String {
    let mut token = format!("peerlab-{lab_id}-{}-{what}", side.key());
    token.truncate(64);
    token
}

pub fn group_name(lab_id: &str, side: Side) -> String {
    format!("peerlab-{lab_id}-instance-{}", side.key())
}

pub fn endpoint_group_name(lab_id: &str) -> String {
    format!("peerlab-{lab_id}-ssm-endpoints")
}

struct Ctx<'a> {
    ec2: &'a aws_sdk_ec2::Client,
    lab: &'a LabPlan,
    side: Side,
}

impl Ctx<'_> {
    fn spec(&self, kind: ResourceType, name: &str) -> aws_sdk_ec2::types::TagSpecification {
        tags::spec(
            kind,
            &self.lab.lab_id,
            &self.lab.expires_at,
            name,
            &[(tags::SIDE, self.side.key())],
        )
    }

    fn side_filters(&self) -> [aws_sdk_ec2::types::Filter; 2] {
        [
            lab_filter(&self.lab.lab_id),
            filter(&format!("tag:{}", tags::SIDE), self.side.key()),
        ]
    }
}

async fn ensure_vpc(ctx: &Ctx<'_>, plan: &SidePlan) -> Result<String> {
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
struct PlacedSubnet {
    id: String,
    zone: String,
    zone_id: String,
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

async fn ensure_subnet(ctx: &Ctx<'_>, vpc_id: &str, plan: &SidePlan) -> Result<PlacedSubnet> {
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
async fn ensure_route_table(ctx: &Ctx<'_>, vpc_id: &str, subnet_id: &str) -> Result<String> {
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

async fn ensure_group(
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

async fn ssm_prerequisites(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    cidr: &str,
    subnet_id: &str,
    region: &str,
) -> Result<Vec<(String, String)>> {
    // Private DNS of interface endpoints needs both attributes (one per call, as the API requires).
    for support in [true, false] {
        let call = ctx.ec2.modify_vpc_attribute().vpc_id(vpc_id);
        let call = if support {
            call.enable_dns_support(AttributeBooleanValue::builder().value(true).build())
        } else {
            call.enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        };
        call.send()
            .await
            .map_err(|e| aws_error(&format!("turning on DNS attributes of {vpc_id}"), e))?;
    }
    let (group_id, rules) = ensure_group(
        ctx,
        vpc_id,
        &endpoint_group_name(&ctx.lab.lab_id),
        "peerlab: HTTPS from the VPC to the SSM interface endpoints",
        "SsmEndpoints",
    )
    .await?;
    // Added whenever the group lacks it, not only when this call created the group: the create may have
    // succeeded in an earlier attempt whose AuthorizeSecurityGroupIngress met a group not visible yet.
    if !rules.iter().any(|r| r.from_port() == Some(443)) {
        let rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .description("HTTPS from the VPC")
                    .build(),
            )
            .build();
        crate::security::admit(ctx.ec2, &group_id, rule, "HTTPS from the VPC").await?;
    }
    let mut ids = Vec::new();
    for service in SSM_SERVICES {
        let service_name = format!("com.amazonaws.{region}.{service}");
        let found = ctx
            .ec2
            .describe_vpc_endpoints()
            .filters(filter("vpc-id", vpc_id))
            .filters(filter("service-name", &service_name))
            .send()
            .await
            .map_err(|e| aws_error(&format!("finding the {service} endpoint"), e))?;
        let live = found.vpc_endpoints().iter().find(|e| {
            !matches!(
                endpoint_state(e).as_str(),
                "deleted" | "deleting" | "failed" | "rejected" | "expired"
            )
        });
        if let Some(endpoint) = live {
            let id = endpoint.vpc_endpoint_id().ok_or_else(|| {
                LabError::not_ready(format!("the {service} endpoint has no id yet"))
            })?;
            ids.push((id.to_string(), endpoint_state(endpoint)));
            continue;
        }
        let created = ctx
            .ec2
            .create_vpc_endpoint()
            .vpc_id(vpc_id)
            .service_name(&service_name)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .subnet_ids(subnet_id)
            .security_group_ids(&group_id)
            .private_dns_enabled(true)
            .client_token(client_token(&ctx.lab.lab_id, ctx.side, service))
            .tag_specifications(ctx.spec(
                ResourceType::VpcEndpoint,
                &format!("{}Endpoint", service.to_uppercase()),
            ))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating the {service} endpoint"), e))?;
        let endpoint = created.vpc_endpoint().ok_or_else(|| {
            LabError::not_ready(format!("CreateVpcEndpoint returned no {service} endpoint"))
        })?;
        let id = endpoint.vpc_endpoint_id().ok_or_else(|| {
            LabError::not_ready(format!(
                "CreateVpcEndpoint returned a {service} endpoint without an id"
            ))
        })?;
        ids.push((id.to_string(), endpoint_state(endpoint)));
    }
    Ok(ids)
}

async fn resolve_ami(ssm: &aws_sdk_ssm::Client, lab: &LabPlan) -> Result<String> {
    if let Some(ami) = &lab.ami {
        return Ok(ami.clone());
    }
    let parameter = if is_arm(&lab.instance_type) {
        AMI_PARAMETER_ARM
    } else {
        AMI_PARAMETER_X86
    };
    let out = ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the AMI id from {parameter}"), e))?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_string)
        .ok_or_else(|| LabError::Aws {
            code: "NoAmi".into(),
            message: format!("{parameter} has no value"),
        })
}

/// The lab's live instance of a side, if any: (id, state, private ip).
async fn find_instance(ctx: &Ctx<'_>) -> Result<Option<(String, InstanceStateName, String)>> {
    let out = ctx
        .ec2
        .describe_instances()
        .set_filters(Some(ctx.side_filters().to_vec()))
        .filters(tags::filter_many(
            "instance-state-name",
            ["pending", "running"],
        ))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's instance", e))?;
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .map(instance_facts)
        .transpose()
}

/// An instance's id, state and primary private IP (EC2 assigns the IP at launch: RunInstances' answer has it). A
/// missing state is read as pending: the step asks again.
fn instance_facts(i: &aws_sdk_ec2::types::Instance) -> Result<(String, InstanceStateName, String)> {
    let id = required(i.instance_id(), "an instance's id")?;
    Ok((
        id.to_string(),
        i.state()
            .and_then(|s| s.name())
            .cloned()
            .unwrap_or(InstanceStateName::Pending),
        required(i.private_ip_address(), &format!("the private IP of {id}"))?.to_string(),
    ))
}

/// Build (or find) one side. `NotReady` until its instance is running; the state machine retries.
pub async fn create_side(
    scope: &Scope,
    lab: &LabPlan,
    side: Side,
    instance_profile: Option<&str>,
) -> Result<SideOutput> {
    let (ec2, region) = (&scope.ec2, scope.region.as_str());
    let ctx = Ctx { ec2, lab, side };
    let plan = match side {
        Side::A => &lab.vpc_a,
        Side::B => &lab.vpc_b,
    };
    let vpc_id = ensure_vpc(&ctx, plan).await?;
    let subnet = ensure_subnet(&ctx, &vpc_id, plan).await?;
    let subnet_id = subnet.id.clone();
    let route_table_id = ensure_route_table(&ctx, &vpc_id, &subnet_id).await?;
    let (group_id, _) = ensure_group(
        &ctx,
        &vpc_id,
        &group_name(&lab.lab_id, side),
        &format!("peerlab: instance {} of lab {}", side.letter(), lab.lab_id),
        &tags::name("InstanceSecurityGroup", side), // not "InstanceB": that is update-sg's group
    )
    .await?;
    let runs_ping = side == Side::A;
    let endpoints = if runs_ping {
        ssm_prerequisites(&ctx, &vpc_id, &plan.cidr.to_string(), &subnet_id, region).await?
    } else {
        Vec::new()
    };
    let endpoint_ids: Vec<String> = endpoints.iter().map(|(id, _)| id.clone()).collect();
    let (instance_id, state, private_ip) = match find_instance(&ctx).await? {
        Some(found) => found,
        None => {
            // Launch A only once its agent's first ping can succeed (see the module's doc).
            let pending: Vec<String> = endpoints
                .iter()
                .filter(|(_, state)| state != "available")
                .map(|(id, state)| format!("{id} ({state})"))
                .collect();
            if !pending.is_empty() {
                return Err(LabError::not_ready(format!(
                    "instance A waits for its SSM endpoints to be available: {}",
                    pending.join(", ")
                )));
            }
            let ami = resolve_ami(&scope.ssm, lab).await?;
            let mut run = ec2
                .run_instances()
                .image_id(&ami)
                .instance_type(InstanceType::from(lab.instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet_id)
                .security_group_ids(&group_id)
                .client_token(client_token(&lab.lab_id, side, "instance"))
                .tag_specifications(
                    ctx.spec(ResourceType::Instance, &tags::name("Instance", side)),
                );
            if runs_ping {
                let profile = instance_profile.ok_or_else(|| {
                    LabError::invalid(format!(
                        "create-vpc needs an instance profile for instance A (SSM): set {INSTANCE_PROFILE_ENV} on the function"
                    ))
                })?;
                run = run.iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .name(profile)
                        .build(),
                );
            }
            let out = run.send().await.map_err(|e| {
                // A new instance profile is refused for a while (IAM is eventually consistent: IAM User Guide,
                // "Troubleshoot IAM", changes not immediately visible). AWS says so only in the message of a
                // generic code, so this one check reads the message.
                if e.code() == Some("InvalidParameterValue")
                    && e.message()
                        .is_some_and(|m| m.contains("IAM Instance Profile"))
                {
                    LabError::not_ready(format!(
                        "launching instance {}: the instance profile is not usable yet: {}",
                        side.letter(),
                        e.message().unwrap_or_default()
                    ))
                } else if e.code() == Some("InsufficientInstanceCapacity") {
                    // AWS's capacity in a zone shifts within minutes (EC2 User Guide, "Troubleshoot instance
                    // launch issues", Insufficient instance capacity: wait a few minutes and submit again): the
                    // create-vpc retrier tries again; the input's availability_zone can move a lab that keeps
                    // meeting it.
                    LabError::not_ready(format!(
                        "launching instance {}: EC2 has no {} capacity in {} right now (InsufficientInstanceCapacity); trying again (set vpc_{}.availability_zone to move the lab): {}",
                        side.letter(),
                        lab.instance_type,
                        plan.availability_zone.as_deref().unwrap_or("its zone"),
                        side.key(),
                        e.message().unwrap_or_default()
                    ))
                } else {
                    aws_error(&format!("launching instance {}", side.letter()), e)
                }
            })?;
            let instance = out
                .instances()
                .first()
                .ok_or_else(|| LabError::not_ready("RunInstances returned no instance"))?;
            instance_facts(instance)?
        }
    };
    if state != InstanceStateName::Running {
        return Err(LabError::not_ready(format!(
            "instance {} ({instance_id}) is {}",
            side.letter(),
            state.as_str()
        )));
    }
    Ok(SideOutput {
        side,
        region: region.to_string(),
        vpc_id,
        cidr: plan.cidr.to_string(),
        subnet_id,
        route_table_id,
        availability_zone: subnet.zone,
        availability_zone_id: subnet.zone_id,
        security_group_id: group_id,
        instance_id,
        private_ip,
        endpoint_ids,
    })
}
