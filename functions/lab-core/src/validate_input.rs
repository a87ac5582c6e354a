//! validate-input: the user's input checked and completed into the lab's plan, and each side placed in an
//! Availability Zone that offers what it needs (asking EC2, creating nothing): a zone that will not do is
//! `InvalidInput` here, before any resource exists.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::clients::Aws;
use crate::error::{LabError, Result};
use crate::input::{self, LabPlan};

pub mod placement;

/// The event of validate-input: the user's input as given, and the execution that names the lab.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ValidateEvent {
    #[serde(default)]
    pub input: serde_json::Value,
    pub execution_name: String,
    /// RFC 3339 start time of the execution (`$$.Execution.StartTime`); the expiry counts from it.
    pub start_time: Option<String>,
}

fn parse_time(field: &str, text: Option<&str>) -> Result<OffsetDateTime> {
    match text {
        None => Ok(OffsetDateTime::now_utc()),
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| LabError::invalid(format!("{field}: {t:?} is not an RFC 3339 time: {e}"))),
    }
}

pub async fn handler(event: ValidateEvent, aws: &impl Aws) -> Result<LabPlan> {
    let now = parse_time("start_time", event.start_time.as_deref())?;
    let parsed = input::parse_input(event.input)?;
    let mut plan = input::validate(&parsed, &event.execution_name, now)?;
    place(&mut plan, aws).await?;
    Ok(plan)
}

async fn place(plan: &mut LabPlan, aws: &impl Aws) -> Result<()> {
    let home = aws.home();
    let architecture = placement::architecture(&home.ec2, &plan.instance_type).await?;
    plan.architecture = Some(architecture);
    if let Some(ami) = &plan.ami {
        placement::image(
            &home.ec2,
            &home.region,
            ami,
            architecture,
            &plan.instance_type,
        )
        .await?;
    }
    let offered = placement::offerings(&home.ec2, &home.region, &plan.instance_type, true).await?;
    let zone_a = offered.choose(
        "vpc_a.availability_zone",
        plan.vpc_a.availability_zone.as_deref(),
        &plan.instance_type,
    )?;
    let there = if plan.peer.is_none() {
        // B in the same account and region: the same zones, without A's endpoint services
        placement::Offerings {
            offering_endpoints: None,
            ..offered
        }
    } else {
        let peer = aws.peer(plan.peer_access()).await?;
        if let Some(ami) = &plan.ami {
            // side B launches the same image, in its own account and region
            let where_ = format!("{}, side B's region", peer.region);
            placement::image(&peer.ec2, &where_, ami, architecture, &plan.instance_type).await?;
        }
        placement::offerings(&peer.ec2, &peer.region, &plan.instance_type, false).await?
    };
    let zone_b = there.choose(
        "vpc_b.availability_zone",
        plan.vpc_b.availability_zone.as_deref(),
        &plan.instance_type,
    )?;
    plan.vpc_a.availability_zone = Some(zone_a.name);
    plan.vpc_b.availability_zone = Some(zone_b.name);
    Ok(())
}

#[cfg(test)]
mod tests;
