//! preflight: the workshop's first state. The instructor's input becomes one lab input per student (`plan`), and
//! the account's quotas are checked for all of them at once (`quota`) before anything exists: a workshop that
//! would meet `VpcLimitExceeded` halfway, leaving half a class built, is refused here with `QuotaExceeded` naming
//! each quota that does not fit. Reads only: Service Quotas and EC2's Describe calls.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::InstanceType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::clients::Aws;
use crate::error::{aws_error, LabError, Result};
use crate::tags::filter_many;

pub mod plan;
pub mod quota;

pub use plan::{LabItem, WorkshopInput, MAX_LABS};
pub use quota::{QuotaCheck, QuotaSource};

/// The event of preflight: the workshop's input as given, and the execution that names the workshop.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PreflightEvent {
    #[serde(default)]
    pub input: serde_json::Value,
    pub execution_name: String,
    /// RFC 3339 start time of the execution (`$$.Execution.StartTime`): each lab's input is validated as of it.
    pub start_time: Option<String>,
}

/// What the workshop's Map runs: one item per lab, and the quotas that let them all run at once.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WorkshopPlan {
    pub workshop_id: String,
    pub region: String,
    pub labs: Vec<LabItem>,
    pub quotas: Vec<QuotaCheck>,
    /// The most labs every quota allows at once.
    pub fits: u64,
    /// The Map's MaxConcurrency: min(labs, fits, 40).
    pub max_concurrency: u64,
}

/// "Inline mode supports up to 40 concurrent iterations" (Step Functions developer guide, "Inline mode Map
/// state"): past it Step Functions runs the rest as iterations finish, whatever MaxConcurrency says. (MAX_LABS
/// keeps a workshop within it.)
pub const INLINE_MAP_CONCURRENCY: u64 = 40;

pub async fn handler(event: PreflightEvent, aws: &impl Aws) -> Result<WorkshopPlan> {
    let now = match event.start_time.as_deref() {
        None => OffsetDateTime::now_utc(),
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
            LabError::invalid(format!("start_time: {t:?} is not an RFC 3339 time: {e}"))
        })?,
    };
    let input = plan::parse(event.input)?;
    let workshop = plan::plan(&input, &event.execution_name, now)?;
    let home = aws.home();
    let quotas = aws.service_quotas();
    // Every read at once (none needs another's answer); an error is the first read's in this order, as when they
    // were made one after the other.
    let (values, vpcs, in_use) = tokio::join!(
        join_all(quota::QUOTAS.iter().map(|spec| quota_value(&quotas, spec))),
        vpcs_in_use(&home.ec2),
        standard_vcpus_in_use(&home.ec2, &workshop.instance_type),
    );
    let values = values.into_iter().collect::<Result<Vec<_>>>()?;
    let vpcs = vpcs?;
    let (running, vcpus) = in_use?;
    let lab_vcpus = vcpus.get(&workshop.instance_type).copied().ok_or_else(|| {
        LabError::invalid(format!(
            "lab.instance_type: EC2 does not describe {} in {}",
            workshop.instance_type, home.region
        ))
    })?;
    let usage = quota::Usage {
        vpcs,
        standard_vcpus: running,
        lab_standard_vcpus: if quota::is_standard(&workshop.instance_type) {
            2 * lab_vcpus
        } else {
            0
        },
    };
    let checks = quota::checks(&values, &usage, input.labs);
    let fits = quota::fits(&checks);
    let labs = u64::from(input.labs);
    if labs > fits {
        return Err(LabError::QuotaExceeded(quota::refusal(
            &checks,
            labs,
            fits,
            &home.region,
        )));
    }
    Ok(WorkshopPlan {
        workshop_id: workshop.workshop_id,
        region: home.region,
        labs: workshop.labs,
        quotas: checks,
        fits,
        max_concurrency: labs.min(fits).min(INLINE_MAP_CONCURRENCY),
    })
}

/// A quota's value: the applied one, else AWS's default. "A Service Quota will always have a default value, but
/// will only have a current value if it has been set. If it is not set, GetServiceQuota will return
/// NoSuchResourceException" (the Terraform AWS provider, `internal/service/servicequotas/
/// service_quota_data_source.go`); a quota answered with an `ErrorReason` or without a `Value` has no usable value
/// either (its `find.go`).
async fn quota_value(
    quotas: &aws_sdk_servicequotas::Client,
    spec: &quota::QuotaSpec,
) -> Result<quota::QuotaValue> {
    let applied = quotas
        .get_service_quota()
        .service_code(spec.service_code)
        .quota_code(spec.quota_code)
        .send()
        .await;
    match applied {
        Ok(out) => {
            if let Some(value) = usable(out.quota()) {
                return Ok(quota::QuotaValue {
                    spec: *spec,
                    value,
                    source: QuotaSource::Applied,
                });
            }
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_no_such_resource_exception()) => {}
        Err(e) => {
            return Err(aws_error(
                &format!("reading the quota {} ({})", spec.name, spec.key()),
                e,
            ))
        }
    }
    let default = quotas
        .get_aws_default_service_quota()
        .service_code(spec.service_code)
        .quota_code(spec.quota_code)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &format!("reading AWS's default of {} ({})", spec.name, spec.key()),
                e,
            )
        })?;
    let value = usable(default.quota()).ok_or_else(|| LabError::Aws {
        code: "IncompleteResponse".into(),
        message: format!(
            "Service Quotas has no value for {} ({}), applied or default",
            spec.name,
            spec.key()
        ),
    })?;
    Ok(quota::QuotaValue {
        spec: *spec,
        value,
        source: QuotaSource::AwsDefault,
    })
}

fn usable(quota: Option<&aws_sdk_servicequotas::types::ServiceQuota>) -> Option<f64> {
    quota
        .filter(|q| q.error_reason().is_none())
        .and_then(|q| q.value())
}

/// Every VPC of the region, the default VPC included: it is a VPC like any other (Amazon VPC User Guide,
/// "Default VPCs": DescribeVpcs lists it, `isDefault` true), and no AWS page exempts it from VPCs per Region.
async fn vpcs_in_use(ec2: &aws_sdk_ec2::Client) -> Result<u64> {
    let mut count = 0u64;
    let mut pages = ec2.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("counting the region's VPCs", e))?;
        count += page.vpcs().len() as u64;
    }
    Ok(count)
}

/// The vCPUs of the region's pending and running instances of the standard families, and the vCPUs of each type
/// seen (the lab's own type included). EC2 "measures usage towards each limit based on the total number of vCPUs
/// that are assigned to the running On-Demand instances" (EC2 API reference, error `VcpuLimitExceeded`); a
/// `pending` instance counts here too, as it is on its way to running: the stricter reading.
async fn standard_vcpus_in_use(
    ec2: &aws_sdk_ec2::Client,
    lab_type: &str,
) -> Result<(u64, BTreeMap<String, u64>)> {
    let mut running: Vec<String> = Vec::new();
    let mut pages = ec2
        .describe_instances()
        .filters(filter_many("instance-state-name", ["pending", "running"]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing the region's running instances", e))?;
        for reservation in page.reservations() {
            for instance in reservation.instances() {
                if let Some(t) = instance.instance_type() {
                    running.push(t.as_str().to_string());
                }
            }
        }
    }
    let types: BTreeSet<String> = running
        .iter()
        .filter(|t| quota::is_standard(t))
        .cloned()
        .chain([lab_type.to_string()])
        .collect();
    let vcpus = vcpus_of(ec2, &types).await?;
    let mut total = 0u64;
    for t in running.iter().filter(|t| quota::is_standard(t)) {
        total += vcpus.get(t).copied().ok_or_else(|| LabError::Aws {
            code: "IncompleteResponse".into(),
            message: format!("EC2 did not describe the vCPUs of {t}, a type running here"),
        })?;
    }
    Ok((total, vcpus))
}

/// `VCpuInfo.DefaultVCpus` of each type (DescribeInstanceTypes takes at most 100 types a call: EC2 API reference).
async fn vcpus_of(
    ec2: &aws_sdk_ec2::Client,
    types: &BTreeSet<String>,
) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let types: Vec<&String> = types.iter().collect();
    for chunk in types.chunks(100) {
        let mut pages = ec2
            .describe_instance_types()
            .set_instance_types(Some(
                chunk
                    .iter()
                    .map(|t| InstanceType::from(t.as_str()))
                    .collect(),
            ))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                // an unknown type in the request: the lab's own is the only one not read from EC2
                if e.code() == Some("InvalidInstanceType") {
                    LabError::invalid(format!(
                        "lab.instance_type: EC2 does not know it: {}",
                        e.message().unwrap_or("InvalidInstanceType")
                    ))
                } else {
                    aws_error("asking EC2 the vCPUs of the instance types", e)
                }
            })?;
            for info in page.instance_types() {
                if let (Some(t), Some(v)) = (
                    info.instance_type(),
                    info.v_cpu_info().and_then(|c| c.default_v_cpus()),
                ) {
                    out.insert(t.as_str().to_string(), u64::try_from(v).unwrap_or(0));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
