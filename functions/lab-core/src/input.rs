//! The lab's input as a user writes it, its validation, and the normalized plan every step receives.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::clients::PeerAccess;
use crate::error::{LabError, Result};
use crate::exercise::Exercise;

pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
pub const MAX_HOLD_SECONDS: u64 = 12 * 3600;
pub const DEFAULT_TTL_SECONDS: u64 = 3600;
pub const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// One side as the user may override it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SideInput {
    pub cidr: Option<String>,
    pub subnet_cidr: Option<String>,
    /// A zone name (us-east-1a) or zone id (use1-az1) of the side's region; default: the first zone that
    /// offers the instance type (and, for A, the SSM endpoint services). Checked against EC2's offerings.
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Allow {
    /// All traffic from A's security group (the tutorial's rule).
    #[default]
    All,
    /// ICMP only: enough for the ping, nothing else.
    Icmp,
}

/// Peering to another account and/or region (the accepter side, VPC B, lives there).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerInput {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub accepter_role_arn: Option<String>,
}

/// What a user passes to start a lab. `{}` is the tutorial's lab.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LabInput {
    pub lab_id: Option<String>,
    pub vpc_a: Option<SideInput>,
    pub vpc_b: Option<SideInput>,
    pub instance_type: Option<String>,
    pub ami: Option<String>,
    pub allow: Option<Allow>,
    pub hold_seconds: Option<u64>,
    pub ttl_seconds: Option<u64>,
    pub peer: Option<PeerInput>,
    /// Build the lab with one hop missing (break-and-fix; `exercise.rs`).
    pub exercise: Option<Exercise>,
    /// The execution that started this lab, when one did (a workshop's Map starts each lab with
    /// `states:startExecution`): "When starting a nested execution, use a parameter named
    /// AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID" (Step Functions developer guide, "Start a new AWS Step Functions
    /// state machine from a running execution"); the console links the two executions by it. Accepted and
    /// ignored: the one key of an input that is not the lab's.
    #[serde(
        rename = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
        default,
        skip_serializing
    )]
    pub started_by_execution_id: Option<String>,
}

/// The processor architecture of the lab's instances: which Amazon Linux AMI they boot.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

/// One side of a validated lab.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SidePlan {
    pub cidr: Ipv4Net,
    pub subnet_cidr: Ipv4Net,
    /// The zone name the subnet goes in: as asked by the user after `validate`, chosen from EC2's offerings
    /// by validate-input (`placement`), which every later step receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// The peer as the steps receive it. The same fields as `PeerInput`, but not the same type: the user's input refuses
/// unknown fields, a payload between steps must not (model.rs, `SideOutput`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PeerPlan {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub accepter_role_arn: Option<String>,
}

/// The validated lab with every default resolved: what the steps receive as `lab`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct LabPlan {
    pub lab_id: String,
    pub vpc_a: SidePlan,
    pub vpc_b: SidePlan,
    pub instance_type: String,
    /// The instance type's architecture, as EC2 describes it: validate-input asks (`placement::architecture`),
    /// create-vpc picks the AMI by it. None only in a plan made before validate-input asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    pub ami: Option<String>,
    pub allow: Allow,
    pub hold_seconds: u64,
    pub ttl_seconds: u64,
    /// RFC 3339; the `peerlab:expires-at` tag of everything the lab creates (the sweeper deletes past it).
    pub expires_at: String,
    #[serde(default)]
    pub peer: Option<PeerPlan>,
    /// The hop this lab is built without, if it is a break-and-fix exercise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercise: Option<Exercise>,
}

impl LabPlan {
    /// What side B's clients need (`Aws::peer`): None when the lab has no peer (B is in the home scope).
    pub fn peer_access(&self) -> Option<PeerAccess<'_>> {
        self.peer.as_ref().map(|p| PeerAccess {
            region: p.region.as_deref(),
            role_arn: p.accepter_role_arn.as_deref(),
            lab_id: &self.lab_id,
        })
    }

    /// The region side B lives in: the peer's, else the home region.
    pub fn peer_region<'a>(&'a self, home_region: &'a str) -> &'a str {
        self.peer
            .as_ref()
            .and_then(|p| p.region.as_deref())
            .unwrap_or(home_region)
    }

    /// True when B is in another region: security groups cannot reference groups across regions.
    pub fn cross_region(&self, home_region: &str) -> bool {
        self.peer
            .as_ref()
            .and_then(|p| p.region.as_deref())
            .is_some_and(|r| r != home_region)
    }
}

fn parse_net(field: &str, text: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        LabError::invalid(format!(
            "{field}: {text:?} is not an IPv4 CIDR block like 10.0.0.0/16"
        ))
    })?;
    if net.network() != net.addr() {
        return Err(LabError::invalid(format!(
            "{field}: {text} has host bits set; did you mean {}?",
            net.trunc()
        )));
    }
    Ok(net)
}

/// RFC 1918's private ranges (checked at compile time: no parse that could fall back to 0.0.0.0/0).
const PRIVATE_RANGES: [Ipv4Net; 3] = [
    Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(std::net::Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(std::net::Ipv4Addr::new(192, 168, 0, 0), 16),
];

fn side(
    field: &str,
    given: Option<&SideInput>,
    default_cidr: &str,
    default_subnet: &str,
) -> Result<SidePlan> {
    let given = given.cloned().unwrap_or_default();
    let cidr = parse_net(
        &format!("{field}.cidr"),
        given.cidr.as_deref().unwrap_or(default_cidr),
    )?;
    if !PRIVATE_RANGES.iter().any(|r| r.contains(&cidr)) {
        return Err(LabError::invalid(format!(
            "{field}.cidr: {cidr} is not inside a private (RFC 1918) range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        )));
    }
    if !(16..=28).contains(&cidr.prefix_len()) {
        return Err(LabError::invalid(format!(
            "{field}.cidr: a VPC block must be between /16 and /28, got /{}",
            cidr.prefix_len()
        )));
    }
    let subnet_text = match given.subnet_cidr.as_deref() {
        Some(text) => text.to_string(),
        None if given.cidr.is_none() => default_subnet.to_string(),
        // a custom VPC without a subnet: the first /24 (or the whole block if smaller)
        None => Ipv4Net::new(cidr.network(), cidr.prefix_len().max(24))
            .map(|n| n.to_string())
            .unwrap_or_else(|_| cidr.to_string()),
    };
    let subnet_cidr = parse_net(&format!("{field}.subnet_cidr"), &subnet_text)?;
    if !cidr.contains(&subnet_cidr) {
        return Err(LabError::invalid(format!(
            "{field}.subnet_cidr: {subnet_cidr} is not inside the VPC's {cidr}"
        )));
    }
    if subnet_cidr.prefix_len() > 28 {
        return Err(LabError::invalid(format!(
            "{field}.subnet_cidr: a subnet must be /28 or larger, got /{}",
            subnet_cidr.prefix_len()
        )));
    }
    if let Some(zone) = &given.availability_zone {
        check_pattern(
            &format!("{field}.availability_zone"),
            zone,
            is_zone(zone),
            "is not an Availability Zone name like us-east-1a or a zone id like use1-az1",
        )?;
    }
    Ok(SidePlan {
        cidr,
        subnet_cidr,
        availability_zone: given.availability_zone,
    })
}

/// A zone name (a region name and a letter: us-east-1a) or a zone id (use1-az1).
fn is_zone(z: &str) -> bool {
    let name = z.len() > 1
        && z.ends_with(|c: char| c.is_ascii_lowercase())
        && is_region(&z[..z.len() - 1]);
    let id = z.split_once("-az").is_some_and(|(prefix, n)| {
        !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    });
    name || id
}

fn check_lab_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(LabError::invalid(format!(
            "lab_id: {id:?} must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'"
        )))
    }
}

/// A lab id from an execution name: lower-cased, other characters turned to '-', at most 40 characters.
pub fn lab_id_from(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    id.truncate(40);
    let id = id.trim_matches('-').to_string();
    if id.is_empty() {
        "lab".to_string()
    } else {
        id
    }
}

fn check_pattern(field: &str, value: &str, ok: bool, hint: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(LabError::invalid(format!("{field}: {value:?} {hint}")))
    }
}

fn is_instance_type(t: &str) -> bool {
    let mut parts = t.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(family), Some(size), None) => {
            !family.is_empty()
                && !size.is_empty()
                && family
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && size
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        _ => false,
    }
}

fn is_ami(a: &str) -> bool {
    a.strip_prefix("ami-").is_some_and(|h| {
        (8..=17).contains(&h.len())
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_role_arn(a: &str) -> bool {
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

/// Validate user input and resolve defaults. `execution_name` names the lab when `lab_id` is not given; `now`
/// fixes `expires_at`. Every message names the field at fault.
pub fn validate(input: &LabInput, execution_name: &str, now: OffsetDateTime) -> Result<LabPlan> {
    let lab_id = match &input.lab_id {
        Some(id) => {
            check_lab_id(id)?;
            id.clone()
        }
        None => lab_id_from(execution_name),
    };
    let vpc_a = side("vpc_a", input.vpc_a.as_ref(), "10.0.0.0/16", "10.0.1.0/24")?;
    let vpc_b = side("vpc_b", input.vpc_b.as_ref(), "10.1.0.0/16", "10.1.1.0/24")?;
    if vpc_a.cidr.contains(&vpc_b.cidr) || vpc_b.cidr.contains(&vpc_a.cidr) {
        return Err(LabError::invalid(format!(
            "vpc_b.cidr: {} overlaps vpc_a.cidr {}; peered VPCs need disjoint blocks",
            vpc_b.cidr, vpc_a.cidr
        )));
    }
    let instance_type = input
        .instance_type
        .clone()
        .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.to_string());
    check_pattern(
        "instance_type",
        &instance_type,
        is_instance_type(&instance_type),
        "is not an instance type like t3.micro",
    )?;
    if let Some(ami) = &input.ami {
        check_pattern(
            "ami",
            ami,
            is_ami(ami),
            "is not an AMI id like ami-0123456789abcdef0",
        )?;
    }
    let hold_seconds = input.hold_seconds.unwrap_or(0);
    if hold_seconds > MAX_HOLD_SECONDS {
        return Err(LabError::invalid(format!(
            "hold_seconds: {hold_seconds} is more than the maximum {MAX_HOLD_SECONDS} (12 hours)"
        )));
    }
    let ttl_seconds = input
        .ttl_seconds
        .unwrap_or(DEFAULT_TTL_SECONDS.max(hold_seconds + 1800));
    if ttl_seconds > MAX_TTL_SECONDS {
        return Err(LabError::invalid(format!(
            "ttl_seconds: {ttl_seconds} is more than the maximum {MAX_TTL_SECONDS} (7 days)"
        )));
    }
    if ttl_seconds <= hold_seconds {
        return Err(LabError::invalid(format!(
            "ttl_seconds: {ttl_seconds} must be more than hold_seconds ({hold_seconds}), or the sweeper would delete the lab while it is held"
        )));
    }
    let peer = match &input.peer {
        None => None,
        Some(p) => {
            if let Some(a) = &p.account_id {
                check_pattern(
                    "peer.account_id",
                    a,
                    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()),
                    "is not a 12-digit AWS account id",
                )?;
            }
            if let Some(r) = &p.region {
                check_pattern(
                    "peer.region",
                    r,
                    is_region(r),
                    "is not a region name like eu-west-1",
                )?;
            }
            if let Some(arn) = &p.accepter_role_arn {
                check_pattern(
                    "peer.accepter_role_arn",
                    arn,
                    is_role_arn(arn),
                    "is not an IAM role ARN like arn:aws:iam::123456789012:role/name",
                )?;
                if let Some(account) = &p.account_id {
                    if arn.split(':').nth(4) != Some(account.as_str()) {
                        return Err(LabError::invalid(format!(
                            "peer.accepter_role_arn: {arn} is not in peer.account_id {account}"
                        )));
                    }
                }
            }
            if p.account_id.is_some() && p.accepter_role_arn.is_none() {
                return Err(LabError::invalid(
                    "peer.accepter_role_arn: required with peer.account_id, to accept the peering and build side B there",
                ));
            }
            Some(PeerPlan {
                account_id: p.account_id.clone(),
                region: p.region.clone(),
                accepter_role_arn: p.accepter_role_arn.clone(),
            })
        }
    };
    if let (
        Some(exercise),
        Some(PeerPlan {
            account_id: Some(account),
            ..
        }),
    ) = (input.exercise, &peer)
    {
        return Err(LabError::invalid(format!(
            "exercise: {} runs in one account, but peer.account_id is {account}: break-and-fix exercises change side B with this account's roles",
            exercise.as_str()
        )));
    }
    let expires = now + time::Duration::seconds(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2));
    let expires_at = expires
        .replace_nanosecond(0)
        .unwrap_or(expires)
        .format(&Rfc3339)
        .map_err(|e| LabError::invalid(format!("ttl_seconds: cannot form an expiry time: {e}")))?;
    Ok(LabPlan {
        lab_id,
        vpc_a,
        vpc_b,
        instance_type,
        architecture: None,
        ami: input.ami.clone(),
        allow: input.allow.unwrap_or_default(),
        hold_seconds,
        ttl_seconds,
        expires_at,
        peer,
        exercise: input.exercise,
    })
}

/// Parse user input from JSON, turning serde's complaints (unknown field, wrong type) into `InvalidInput`.
pub fn parse_input(value: serde_json::Value) -> Result<LabInput> {
    if value.is_null() {
        return Ok(LabInput::default());
    }
    // the path of the value serde refused, so that the message names the field even where serde's own does not
    // (`{"hold_seconds": -1}`: "hold_seconds: invalid value: integer `-1`, expected u64")
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            LabError::invalid(format!("input: {}", e.inner()))
        } else {
            LabError::invalid(format!("input: {path}: {}", e.inner()))
        }
    })
}

#[cfg(test)]
mod tests;
