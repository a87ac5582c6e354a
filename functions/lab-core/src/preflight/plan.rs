//! The workshop's input and its plan: one lab input per student, each validated with the lab's own rules
//! (`input::parse_input` and `input::validate`), named `<workshop_id>-<i>`, optionally with VPC blocks of its own
//! carved from `cidr_base`. Pure: no AWS.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{LabError, Result};
use crate::input::{self, SideInput};

/// At most this many labs in one workshop: every lab starts at once, and an inline Map runs at most 40 iterations
/// at a time (Step Functions developer guide, "Inline mode Map state": "supports up to 40 concurrent iterations"),
/// so a 41st student would wait for another's lab to end. The state stays small enough too: the Map's result
/// (each lab's record: its report, about 2 KB, or its error and cause) and the plan (about 0.5 KB a lab) travel in
/// the workshop's state, which Step Functions caps at 262,144 bytes ("Step Functions service quotas": maximum input
/// or output size for a task, state, or execution; `StateEnteredEventDetails.input` has that length limit):
/// 40 x (3 + 0.5) KB = 140 KB. A bigger class: two workshops.
pub const MAX_LABS: u32 = 40;
/// Lab ids are 1-40 characters (the lab's input rules, `lab_id`).
const LAB_ID_MAX: usize = 40;
/// "Names of state machines, executions, and activity tasks must not exceed 80 characters" (Step Functions service
/// quotas, "General quotas").
const EXECUTION_NAME_MAX: usize = 80;

/// What an instructor passes to start a workshop. Unknown fields are an error.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkshopInput {
    /// How many labs (students), 1..=MAX_LABS.
    pub labs: u32,
    /// Every lab's input (as `tests/events/*.json`), without `lab_id` and `peer`. Default `{}`: the tutorial's lab.
    #[serde(default)]
    pub lab: serde_json::Value,
    /// Names the labs `<workshop_id>-<i>`; default: from the execution's name.
    pub workshop_id: Option<String>,
    /// With it, lab i's VPCs get /16 blocks of their own carved from it, in order; without it every lab uses the lab
    /// input's blocks (the same blocks in different VPCs: each lab peers only its own two).
    pub cidr_base: Option<String>,
}

/// One lab of the workshop: what the Map starts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct LabItem {
    pub lab_id: String,
    /// The child execution's name: `<workshop execution name>-<i>`, unique as the workshop's own name is (execution
    /// names can't be reused for 90 days: StartExecution API reference).
    pub name: String,
    /// The child's whole input: the workshop's lab input with `lab_id` (and its own VPC blocks with `cidr_base`).
    pub input: serde_json::Value,
}

/// The workshop planned: its id, the labs, and the instance type every lab runs (for the vCPU quota).
#[derive(Debug, Clone, PartialEq)]
pub struct Workshop {
    pub workshop_id: String,
    pub instance_type: String,
    pub labs: Vec<LabItem>,
}

/// Parse the workshop's input, turning serde's complaints into `InvalidInput` naming the field.
pub fn parse(value: serde_json::Value) -> Result<WorkshopInput> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            LabError::invalid(format!("input: {}", e.inner()))
        } else {
            LabError::invalid(format!("input: {path}: {}", e.inner()))
        }
    })
}

/// The lab input's own errors, named under `lab.` (`lab.vpc_a.cidr: ...`).
fn under_lab(error: LabError) -> LabError {
    match error {
        LabError::InvalidInput(message) => {
            let message = message.strip_prefix("input: ").unwrap_or(&message);
            if message.starts_with("invalid type") {
                LabError::invalid(format!("lab: {message}"))
            } else {
                LabError::invalid(format!("lab.{message}"))
            }
        }
        other => other,
    }
}

/// The labs' ids and names, their inputs, each checked with the lab's own rules as of `now`.
pub fn plan(input: &WorkshopInput, execution_name: &str, now: OffsetDateTime) -> Result<Workshop> {
    if !(1..=MAX_LABS).contains(&input.labs) {
        return Err(LabError::invalid(format!(
            "labs: {} is not between 1 and {MAX_LABS} (the workshop's state carries every lab's report; see the README)",
            input.labs
        )));
    }
    let lab = match &input.lab {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(map) => map.clone(),
        other => {
            return Err(LabError::invalid(format!(
                "lab: expected an object (a lab's input), got {other}"
            )))
        }
    };
    let parsed = input::parse_input(serde_json::Value::Object(lab.clone())).map_err(under_lab)?;
    if parsed.lab_id.is_some() {
        return Err(LabError::invalid(
            "lab.lab_id: a workshop names its labs <workshop_id>-<i>; set workshop_id instead",
        ));
    }
    if parsed.peer.is_some() {
        return Err(LabError::invalid(
            "lab.peer: a workshop's labs are all in this account and region, the ones whose quotas it checks",
        ));
    }
    // the lab's own rules, once for every lab (a lab id is filled in below)
    let checked = input::validate(&parsed, "workshop-lab", now).map_err(under_lab)?;
    let suffix = format!("-{}", input.labs).len();
    let workshop_id = match &input.workshop_id {
        Some(id) => {
            check_workshop_id(id, LAB_ID_MAX - suffix)?;
            id.clone()
        }
        None => {
            let mut id = input::lab_id_from(execution_name);
            id.truncate(LAB_ID_MAX - suffix);
            let id = id.trim_end_matches('-').to_string();
            if id.is_empty() {
                "workshop".to_string()
            } else {
                id
            }
        }
    };
    let blocks = match &input.cidr_base {
        None => None,
        Some(base) => {
            for (side, given) in [("vpc_a", &parsed.vpc_a), ("vpc_b", &parsed.vpc_b)] {
                if given
                    .as_ref()
                    .is_some_and(|s| s.cidr.is_some() || s.subnet_cidr.is_some())
                {
                    return Err(LabError::invalid(format!(
                        "cidr_base: with it every lab's VPC blocks are carved from {base}; leave out lab.{side}.cidr and lab.{side}.subnet_cidr"
                    )));
                }
            }
            Some(carve(base, input.labs)?)
        }
    };
    let mut name_prefix: String = execution_name.to_string();
    truncate_chars(&mut name_prefix, EXECUTION_NAME_MAX - suffix);
    let mut labs = Vec::new();
    for i in 1..=input.labs {
        let lab_id = format!("{workshop_id}-{i}");
        let mut child = lab.clone();
        child.insert("lab_id".into(), lab_id.clone().into());
        if let Some(blocks) = &blocks {
            let (a, b) = blocks[(i - 1) as usize];
            child.insert("vpc_a".into(), side(parsed.vpc_a.as_ref(), a)?);
            child.insert("vpc_b".into(), side(parsed.vpc_b.as_ref(), b)?);
        }
        let child = serde_json::Value::Object(child);
        // the child's validate-input will say the same; saying it here creates nothing
        input::parse_input(child.clone())
            .and_then(|p| input::validate(&p, &lab_id, now))
            .map_err(|e| match (&input.cidr_base, e) {
                (Some(base), LabError::InvalidInput(m)) => {
                    LabError::invalid(format!("cidr_base: {base} gives lab {lab_id}: {m}"))
                }
                (_, e) => under_lab(e),
            })?;
        labs.push(LabItem {
            name: format!("{name_prefix}-{i}"),
            lab_id,
            input: child,
        });
    }
    Ok(Workshop {
        workshop_id,
        instance_type: checked.instance_type,
        labs,
    })
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
}

fn check_workshop_id(id: &str, max: usize) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= max
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(LabError::invalid(format!(
            "workshop_id: {id:?} must be 1-{max} characters of a-z, 0-9 and '-', not starting or ending with '-' (lab ids are <workshop_id>-<i>, at most {LAB_ID_MAX})"
        )))
    }
}

/// One side of a carved lab: its block, the block's first /24 as the subnet, the zone the lab input asked for.
fn side(given: Option<&SideInput>, cidr: Ipv4Net) -> Result<serde_json::Value> {
    let subnet = Ipv4Net::new(cidr.network(), 24)
        .map_err(|e| LabError::invalid(format!("cidr_base: {cidr}: {e}")))?;
    let mut side = serde_json::json!({"cidr": cidr.to_string(), "subnet_cidr": subnet.to_string()});
    if let Some(zone) = given.and_then(|g| g.availability_zone.as_deref()) {
        side["availability_zone"] = zone.into();
    }
    Ok(side)
}

/// Two /16 blocks per lab (VPC A, VPC B), in order from `base`; every block disjoint from every other lab's.
pub fn carve(base: &str, labs: u32) -> Result<Vec<(Ipv4Net, Ipv4Net)>> {
    let net: Ipv4Net = base.parse().map_err(|_| {
        LabError::invalid(format!(
            "cidr_base: {base:?} is not an IPv4 CIDR block like 10.0.0.0/8"
        ))
    })?;
    if net.network() != net.addr() {
        return Err(LabError::invalid(format!(
            "cidr_base: {base} has host bits set; did you mean {}?",
            net.trunc()
        )));
    }
    let needed = 2 * u64::from(labs);
    let held = if net.prefix_len() <= 16 {
        1u64 << (16 - net.prefix_len())
    } else {
        0
    };
    if held < needed {
        return Err(LabError::invalid(format!(
            "cidr_base: {base} holds {held} /16 block(s); {labs} lab(s) need {needed} (a /16 for each VPC)"
        )));
    }
    let blocks: Vec<Ipv4Net> = net
        .subnets(16)
        .map_err(|e| LabError::invalid(format!("cidr_base: {base}: {e}")))?
        .take(needed as usize)
        .collect();
    check_disjoint(&blocks)?;
    Ok(blocks.chunks(2).map(|p| (p[0], p[1])).collect())
}

/// No two blocks overlap (carving makes them so; this says so for any plan).
pub fn check_disjoint(blocks: &[Ipv4Net]) -> Result<()> {
    for (i, a) in blocks.iter().enumerate() {
        for b in &blocks[i + 1..] {
            if a.contains(&b.network()) || b.contains(&a.network()) {
                return Err(LabError::invalid(format!(
                    "cidr_base: the planned blocks {a} and {b} overlap"
                )));
            }
        }
    }
    Ok(())
}
