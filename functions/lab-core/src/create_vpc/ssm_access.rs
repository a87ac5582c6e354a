//! What SSM needs to reach instance A in a private subnet: the VPC's DNS attributes, a group admitting HTTPS from
//! the VPC, and the interface endpoints of `SSM_SERVICES` with private DNS (AWS Systems Manager User Guide,
//! "Use VPC endpoints to improve the security of EC2 instances"; SSM Agent 3.3.40+ needs no ec2messages).

use aws_sdk_ec2::types::{
    AttributeBooleanValue, IpPermission, IpRange, ResourceType, VpcEndpoint, VpcEndpointType,
};

use super::{client_token, network, Ctx};
use crate::error::{aws_error, LabError, Result};
use crate::security_groups;
use crate::tags::filter;

/// Interface endpoints the SSM Agent needs in a private subnet (agent 3.3.40+ needs no ec2messages).
pub const SSM_SERVICES: &[&str] = &["ssm", "ssmmessages"];

/// An endpoint's state in lower case. AWS sends "available", "deleted"...; the SDK's `State` enum expects
/// "Available", so real responses parse as `Unknown`: compare the text, not the enum.
pub fn endpoint_state(endpoint: &VpcEndpoint) -> String {
    endpoint
        .state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_else(|| "pending".into())
}

pub fn endpoint_group_name(lab_id: &str) -> String {
    format!("peerlab-{lab_id}-ssm-endpoints")
}

/// Private DNS of interface endpoints needs both attributes: one per call, as the API requires, support before
/// hostnames (EC2 refuses hostnames without support).
async fn dns_attributes(ctx: &Ctx<'_>, vpc_id: &str) -> Result<()> {
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
    Ok(())
}

/// What the endpoints need before they are created: their group admitting HTTPS from the VPC and the VPC's DNS
/// attributes (private DNS). Returns the group's id.
pub(super) async fn prepare(ctx: &Ctx<'_>, vpc_id: &str, cidr: &str) -> Result<String> {
    let (group_id, rules) = network::ensure_group(
        ctx,
        vpc_id,
        &endpoint_group_name(&ctx.lab.lab_id),
        "peerlab: HTTPS from the VPC to the SSM interface endpoints",
        "SsmEndpoints",
    )
    .await?;
    // Added whenever the group lacks it, not only when this call created the group: the create may have
    // succeeded in an earlier attempt whose AuthorizeSecurityGroupIngress met a group not visible yet. The DNS
    // attributes go just before it, so a group with its rule means they are on: an attempt of a lab already
    // prepared (every 5 s while its endpoints are pending) makes no ModifyVpcAttribute, a mutating call (bucket 50,
    // refill 5/s per account: EC2 API reference, "Request throttling") that 50 labs polling would otherwise call
    // 20 times a second.
    if !rules.iter().any(|r| r.from_port() == Some(443)) {
        dns_attributes(ctx, vpc_id).await?;
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
        security_groups::admit(ctx.ec2, &group_id, rule, "HTTPS from the VPC").await?;
    }
    Ok(group_id)
}

/// The endpoints' (id, state) in `SSM_SERVICES`' order, each found or created at once with the other (`prepare`
/// first). An error is the first service's that failed, as when they were made one after the other.
pub(super) async fn ensure_endpoints(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    subnet_id: &str,
    group_id: &str,
    region: &str,
) -> Result<Vec<(String, String)>> {
    let endpoints = SSM_SERVICES
        .iter()
        .map(|service| ensure_endpoint(ctx, vpc_id, subnet_id, group_id, region, service));
    futures::future::join_all(endpoints)
        .await
        .into_iter()
        .collect()
}

async fn ensure_endpoint(
    ctx: &Ctx<'_>,
    vpc_id: &str,
    subnet_id: &str,
    group_id: &str,
    region: &str,
    service: &str,
) -> Result<(String, String)> {
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
        let id = endpoint
            .vpc_endpoint_id()
            .ok_or_else(|| LabError::not_ready(format!("the {service} endpoint has no id yet")))?;
        return Ok((id.to_string(), endpoint_state(endpoint)));
    }
    // An endpoint of the service with private DNS still deleting holds the service's DNS domain in the VPC: EC2
    // refuses another with private DNS until it is deleted ("private-dns-enabled cannot be set because there is
    // already a conflicting DNS domain", InvalidParameter: hashicorp/terraform-provider-aws#17535), so wait.
    if let Some(old) = found
        .vpc_endpoints()
        .iter()
        .find(|e| endpoint_state(e) == "deleting" && e.private_dns_enabled() != Some(false))
    {
        return Err(LabError::not_ready(format!(
            "the {service} endpoint {} of {vpc_id} is still deleting: another with private DNS waits for it",
            old.vpc_endpoint_id().unwrap_or("?")
        )));
    }
    let created = ctx
        .ec2
        .create_vpc_endpoint()
        .vpc_id(vpc_id)
        .service_name(&service_name)
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .subnet_ids(subnet_id)
        .security_group_ids(group_id)
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
    Ok((id.to_string(), endpoint_state(endpoint)))
}
