//! The quota arithmetic of a workshop: what N labs need of each quota, what is free, and how many labs fit at once.
//! Pure: the values and the usage are read by the handler (`preflight.rs`).
//!
//! What one lab needs (the workflow's own resources, `create_vpc`): 2 VPCs; 2 interface endpoints (`ssm`,
//! `ssmmessages`) in its new VPC A; 2 instances of the lab's type.

use serde::{Deserialize, Serialize};

/// A quota the workshop checks, as Service Quotas names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSpec {
    pub name: &'static str,
    pub service_code: &'static str,
    pub quota_code: &'static str,
    pub scope: Scope,
}

impl QuotaSpec {
    /// `vpc/L-F678F1CE`, as the quota's ARN ends.
    pub fn key(&self) -> String {
        format!("{}/{}", self.service_code, self.quota_code)
    }
}

/// What a quota counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The account's whole region: every lab draws on the same quota.
    Region,
    /// Each VPC on its own: every lab's VPC A is new, so it starts at 0 whatever other VPCs hold.
    EachVpc,
}

/// VPCs per Region: default 5, adjustable (Amazon VPC User Guide, "Amazon VPC quotas").
pub const VPCS_PER_REGION: QuotaSpec = QuotaSpec {
    name: "VPCs per Region",
    service_code: "vpc",
    quota_code: "L-F678F1CE",
    scope: Scope::Region,
};
/// Interface VPC endpoints per VPC: default 50 (Amazon VPC User Guide, "Amazon VPC quotas", "Interface and Gateway
/// Load Balancer endpoints per VPC"; the code as Service Quotas lists it, moto's copy of its default quotas).
pub const INTERFACE_ENDPOINTS_PER_VPC: QuotaSpec = QuotaSpec {
    name: "Interface VPC endpoints per VPC",
    service_code: "vpc",
    quota_code: "L-29B6F2EB",
    scope: Scope::EachVpc,
};
/// Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, in vCPUs (EC2 User Guide, "On-Demand Instance
/// quotas"; the code L-1216C47A as Service Quotas gives it). Its default varies by account: read, never assumed.
pub const STANDARD_VCPUS: QuotaSpec = QuotaSpec {
    name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (vCPUs)",
    service_code: "ec2",
    quota_code: "L-1216C47A",
    scope: Scope::Region,
};
pub const QUOTAS: &[QuotaSpec] = &[VPCS_PER_REGION, INTERFACE_ENDPOINTS_PER_VPC, STANDARD_VCPUS];

/// VPCs and interface endpoints one lab creates (create-vpc: VPC A with `ssm` and `ssmmessages`, VPC B).
pub const VPCS_PER_LAB: u64 = 2;
pub const ENDPOINTS_PER_LAB_VPC: u64 = 2;
pub const INSTANCES_PER_LAB: u64 = 2;

/// Whether an instance type counts toward the standard On-Demand vCPU quota: the families the quota's name lists
/// (A, C, D, H, I, M, R, T, Z), less those whose names begin with those letters yet have quotas of their own — DL,
/// HPC, Inf, Trn ("Running On-Demand DL/HPC/Inf/Trn instances"; the same prefixes decide the quota in e.g.
/// adobe/aquarium-fish's AWS driver, `lib/drivers/aws/driver.go`).
pub fn is_standard(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or("");
    let own_quota = ["dl", "hpc", "inf", "trn"];
    family
        .chars()
        .next()
        .is_some_and(|c| "acdhimrtz".contains(c))
        && !own_quota.iter().any(|p| family.starts_with(p))
}

/// Where a quota's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaSource {
    /// GetServiceQuota: the value applied to this account.
    Applied,
    /// GetAWSDefaultServiceQuota: no value was ever applied; AWS's default holds.
    AwsDefault,
}

impl QuotaSource {
    /// For people: "applied" or "AWS default".
    pub fn describe(self) -> &'static str {
        match self {
            QuotaSource::Applied => "applied",
            QuotaSource::AwsDefault => "AWS default",
        }
    }
}

/// A quota's value as Service Quotas answered it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaValue {
    pub spec: QuotaSpec,
    pub value: f64,
    pub source: QuotaSource,
}

/// What is in use in the region, and what one lab's instances count toward the vCPU quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// VPCs of the region, the default VPC included.
    pub vpcs: u64,
    /// vCPUs of pending and running instances of the standard families.
    pub standard_vcpus: u64,
    /// 2 instances x the lab type's default vCPUs if the type is of a standard family, else 0.
    pub lab_standard_vcpus: u64,
}

/// One quota checked for the workshop: in the plan's output and, when it does not fit, in the refusal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct QuotaCheck {
    pub name: String,
    pub service_code: String,
    pub quota_code: String,
    pub scope: Scope,
    /// The quota (whole units; Service Quotas answers a float).
    pub value: u64,
    pub source: QuotaSource,
    /// In use now (for `each_vpc`: in each lab's new VPC, 0).
    pub in_use: u64,
    /// value - in_use, never below 0.
    pub free: u64,
    pub per_lab: u64,
    /// What the workshop needs of it: per_lab x labs (for `each_vpc`: per_lab, in every lab's VPC).
    pub needed: u64,
    /// The most labs this quota allows at once; None: it does not limit the count of labs.
    pub fits: Option<u64>,
}

fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.floor() as u64
    } else {
        0
    }
}

/// Each quota against what `labs` labs need of it.
pub fn checks(values: &[QuotaValue], usage: &Usage, labs: u32) -> Vec<QuotaCheck> {
    values
        .iter()
        .map(|q| {
            let value = whole(q.value);
            let (in_use, per_lab) = match q.spec {
                s if s == VPCS_PER_REGION => (usage.vpcs, VPCS_PER_LAB),
                s if s == INTERFACE_ENDPOINTS_PER_VPC => (0, ENDPOINTS_PER_LAB_VPC),
                s if s == STANDARD_VCPUS => (usage.standard_vcpus, usage.lab_standard_vcpus),
                _ => (0, 0),
            };
            let free = value.saturating_sub(in_use);
            let (needed, fits) = match q.spec.scope {
                Scope::Region => (
                    per_lab * u64::from(labs),
                    (per_lab > 0).then(|| free / per_lab),
                ),
                // every lab's VPC A is new: either each one has room for the endpoints or none has
                Scope::EachVpc => (per_lab, (free < per_lab).then_some(0)),
            };
            QuotaCheck {
                name: q.spec.name.to_string(),
                service_code: q.spec.service_code.to_string(),
                quota_code: q.spec.quota_code.to_string(),
                scope: q.spec.scope,
                value,
                source: q.source,
                in_use,
                free,
                per_lab,
                needed,
                fits,
            }
        })
        .collect()
}

/// The most labs every quota allows at once (MAX_LABS when none limits the count).
pub fn fits(checks: &[QuotaCheck]) -> u64 {
    checks
        .iter()
        .filter_map(|c| c.fits)
        .min()
        .unwrap_or(u64::from(super::MAX_LABS))
}

/// The QuotaExceeded message: every quota that does not fit `labs`, each with its value, use, free and need.
pub fn refusal(checks: &[QuotaCheck], labs: u64, fits: u64, region: &str) -> String {
    let short: Vec<String> = checks
        .iter()
        .filter(|c| c.fits.is_some_and(|f| f < labs))
        .map(|c| match c.scope {
            Scope::Region => format!(
                "{} ({}/{}): quota {} ({}), in use {}, free {}, needed {} ({} per lab)",
                c.name,
                c.service_code,
                c.quota_code,
                c.value,
                c.source.describe(),
                c.in_use,
                c.free,
                c.needed,
                c.per_lab
            ),
            Scope::EachVpc => format!(
                "{} ({}/{}): quota {} ({}) per VPC, each lab's new VPC A needs {}",
                c.name,
                c.service_code,
                c.quota_code,
                c.value,
                c.source.describe(),
                c.needed
            ),
        })
        .collect();
    format!(
        "a workshop of {labs} labs does not fit this account's quotas in {region} ({fits} would); nothing was created: {}",
        short.join("; ")
    )
}
