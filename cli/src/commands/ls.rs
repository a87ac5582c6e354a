//! `peerlab ls`: the labs that exist (by their peerlab tags), with their expiry, and the executions running.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use lab_core::tags;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ago;
use crate::error::aws;
use crate::place::Global;

/// A lab found by its VPCs' tags.
#[derive(Default)]
struct Lab {
    vpcs: Vec<String>,
    expires: String,
}

pub async fn ls(global: &Global) -> Result<ExitCode> {
    let config = global.config().await?;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values(tags::LAB_ID)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws("listing the labs' VPCs", e))?;
    let now = OffsetDateTime::now_utc();
    let mut labs: BTreeMap<String, Lab> = BTreeMap::new();
    for vpc in vpcs.vpcs() {
        let Some(id) = tags::tag_value(vpc.tags(), tags::LAB_ID) else {
            continue;
        };
        let lab = labs.entry(id.to_string()).or_default();
        lab.vpcs.push(vpc.vpc_id().unwrap_or_default().to_string());
        if let Some(expires) = tags::tag_value(vpc.tags(), tags::EXPIRES_AT) {
            lab.expires = expires.to_string();
        }
    }
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    if labs.is_empty() {
        println!("no labs in {region}");
    } else {
        println!("{:<40} {:<22} {:<14} VPCS", "LAB", "EXPIRES", "");
    }
    for (id, lab) in &labs {
        let left = match OffsetDateTime::parse(&lab.expires, &Rfc3339).ok() {
            Some(t) if t <= now => "expired (sweep)".to_string(),
            Some(t) => format!("in {}", ago((t - now).as_seconds_f64())),
            None => "no expiry".to_string(),
        };
        println!(
            "{id:<40} {:<22} {left:<14} {}",
            lab.expires,
            lab.vpcs.join(" ")
        );
    }
    if let Some(machine) = global.state_machine()? {
        let running = aws_sdk_sfn::Client::new(&config)
            .list_executions()
            .state_machine_arn(&machine)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .send()
            .await
            .map_err(|e| aws("listing running executions", e))?;
        let now_s = now.unix_timestamp_nanos() as f64 / 1e9;
        for e in running.executions() {
            println!(
                "running: {} (for {})",
                e.name(),
                ago(now_s - e.start_date().as_secs_f64())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
