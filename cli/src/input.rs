//! A lab's input and name, checked before anything starts (`run`, `schedule`): the workflow's own rules, from
//! lab-core, so a mistake is one line here rather than a failed execution.

use std::path::Path;

use anyhow::Result;
use lab_core::input::LabPlan;
use time::OffsetDateTime;

use crate::error::usage;

/// `<prefix>-<UTC time>`: the default execution name (`lab-...`, which names the lab too; `workshop-...`).
pub fn default_name(prefix: &str, now: OffsetDateTime) -> String {
    format!(
        "{prefix}-{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Read and validate the input with the workflow's own rules, before anything starts.
/// Returns the input as JSON text, and the lab plan the workflow will make of it.
pub fn read_input(
    path: Option<&Path>,
    name: &str,
    now: OffsetDateTime,
) -> Result<(String, LabPlan)> {
    let (label, text) = match path {
        None => ("(default)".to_string(), "{}".to_string()),
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| usage(format!("input {}: {e}", p.display())))?,
        ),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| usage(format!("input {label}: not JSON: {e}")))?;
    let parsed = lab_core::input::parse_input(value.clone())
        .map_err(|e| usage(format!("input {label}: {e}")))?;
    let plan = lab_core::input::validate(&parsed, name, now)
        .map_err(|e| usage(format!("input {label}: {e}")))?;
    Ok((value.to_string(), plan))
}

/// An execution name Step Functions accepts (and a lab id the workflow accepts).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "--name {name:?}: an execution name is 1-80 characters of A-Z a-z 0-9 - _"
        )))
    }
}
