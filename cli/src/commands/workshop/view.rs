//! What `peerlab workshop` shows: a line per lab while the workshop runs (redrawn in place on a terminal), and the
//! summary table at its end.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// What one lab is doing: its status and the state it last entered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabNow {
    pub status: String,
    pub state: Option<String>,
    pub seconds: f64,
}

/// One lab's line of the live view.
pub fn lab_line(name: &str, now: &LabNow) -> String {
    let mark = match now.status.as_str() {
        "RUNNING" => "▶",
        "SUCCEEDED" => "✓",
        "" => "·",
        _ => "✗",
    };
    let status = if now.status.is_empty() {
        "PENDING"
    } else {
        now.status.as_str()
    };
    format!(
        "{mark} {name:<24} {status:<10} {:>7.1}s  {}",
        now.seconds,
        now.state.as_deref().unwrap_or("")
    )
}

/// The live view: one line per lab, redrawn in place on a terminal; elsewhere a line each time a lab changes.
pub(super) struct View {
    bars: Option<(MultiProgress, BTreeMap<String, ProgressBar>)>,
    shown: BTreeMap<String, LabNow>,
    started: Instant,
}

impl View {
    pub(super) fn new() -> Result<View> {
        let bars = if std::io::stdout().is_terminal() {
            Some((
                MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                BTreeMap::new(),
            ))
        } else {
            None
        };
        Ok(View {
            bars,
            shown: BTreeMap::new(),
            started: Instant::now(),
        })
    }

    pub(super) fn show(&mut self, name: &str, now: &LabNow) -> Result<()> {
        let changed = self
            .shown
            .get(name)
            .is_none_or(|s| s.status != now.status || s.state != now.state);
        let line = lab_line(name, now);
        match &mut self.bars {
            Some((multi, bars)) => {
                if !bars.contains_key(name) {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{wide_msg}")
                            .context("the lab line's template")?,
                    );
                    bars.insert(name.to_string(), bar);
                }
                if let Some(bar) = bars.get(name) {
                    bar.set_message(line);
                }
            }
            None if changed => println!("{:>7.1}s  {line}", self.started.elapsed().as_secs_f64()),
            None => {}
        }
        self.shown.insert(name.to_string(), now.clone());
        Ok(())
    }

    pub(super) fn finish(&mut self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.values() {
                bar.finish();
            }
        }
    }
}

/// The summary table of a finished workshop: from its output (summarize-workshop's), one row per lab.
pub fn summary_lines(out: &Value) -> Vec<String> {
    let mut lines = vec![format!(
        "workshop {}: {} labs, {} succeeded, {} failed",
        out["workshop_id"].as_str().unwrap_or("?"),
        out["labs"],
        out["succeeded"],
        out["failed"].as_array().map_or(0, Vec::len)
    )];
    // the lab column as wide as the longest id (`<execution name>-<i>` can be long)
    let width = out["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["lab_id"].as_str().map(str::len))
        .max()
        .unwrap_or(0)
        .max(3);
    lines.push(format!(
        "  {:<width$} {:<10} {:<22} {}",
        "lab", "status", "ping", "teardown / why"
    ));
    let failed: BTreeMap<&str, &Value> = out["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["lab_id"].as_str().map(|id| (id, f)))
        .collect();
    for record in out["results"].as_array().into_iter().flatten() {
        let id = record["lab_id"].as_str().unwrap_or("?");
        let status = record["status"].as_str().unwrap_or("?");
        let row = match failed.get(id) {
            Some(f) => format!(
                "{:<22} {}: {}",
                "-",
                f["error"].as_str().unwrap_or("?"),
                crate::history::error_message(f["cause"].as_str().unwrap_or_default())
            ),
            None => {
                // the Map's digest of the report (an execution from before it: the whole report)
                let digest = record.get("digest").unwrap_or(&record["report"]);
                let (ping, teardown) = (&digest["ping"], &digest["teardown"]);
                let replies = format!("{}/{} replies", ping["received"], ping["transmitted"]);
                let deleted = &teardown["deleted"];
                format!(
                    "{replies:<22} deleted {}, remaining {}",
                    deleted
                        .as_u64()
                        .or_else(|| deleted.as_array().map(|a| a.len() as u64))
                        .unwrap_or(0),
                    teardown["remaining"]
                )
            }
        };
        lines.push(format!("  {id:<width$} {status:<10} {row}"));
    }
    for q in out["quotas"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  quota {} ({}/{}): {} ({}), in use {}, needed {}",
            q["name"].as_str().unwrap_or("?"),
            q["service_code"].as_str().unwrap_or("?"),
            q["quota_code"].as_str().unwrap_or("?"),
            q["value"],
            serde_json::from_value::<lab_core::preflight::QuotaSource>(q["source"].clone())
                .map_or("?", |source| source.describe()),
            q["in_use"],
            q["needed"]
        ));
    }
    lines
}
