//! `peerlab run`: validate the input, start a lab, follow it live, print the report; exit 1 if the lab failed
//! (or, on a local AWS, left anything behind).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lab_core::input::LabPlan;
use time::OffsetDateTime;

use crate::aws_time::{self, Milestone};
use crate::error::aws;
use crate::input::{check_name, default_name, read_input};
use crate::local::{self, HOME_ACCOUNT};
use crate::place::{aws_config, place, project_root, Global, Local, Place};
use crate::sfn::{follow, OnTimeout};
use crate::stack::{PeerStack, StackTool, PEER_STACK};
use crate::{report, timeline};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The lab's input (JSON; see the README's input reference). Default: {} — the tutorial's lab.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Run on a local AWS: the one at --endpoint, or a private one started for this run.
    #[arg(long)]
    local: bool,
    /// Execution name (it names the lab unless the input sets lab_id). Default: lab-<UTC time>.
    #[arg(long)]
    name: Option<String>,
    /// Write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the timeline picture (SVG) here.
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,
    /// Stop following after this many seconds (default: 30 minutes plus the lab's hold_seconds). On the
    /// local AWS the execution is stopped; on AWS it keeps running (its own teardown, or the backstop's).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Extra arguments for the private local AWS (infra/local/start), e.g. "--profile realistic --time-scale 0.05".
    #[arg(long, allow_hyphen_values = true, value_name = "ARGS")]
    local_args: Option<String>,
    /// The built step functions for the private local AWS (default: $CARGO_TARGET_DIR/debug or target/debug).
    #[arg(long, value_name = "DIR")]
    lambda_dir: Option<PathBuf>,
}

/// Samples the local AWS's inventory of one lab while it runs: when each thing a wait waits for
/// (aws_time::WAITED) is first seen ready. Each milestone is dated halfway between the sample that saw it and the
/// one before (it happened in between): within ±SAMPLE/2 of wall time, SAMPLE/2 ÷ the time scale in AWS time. Where
/// the inventory has the local AWS's own timing of the resource (its `delays`: when each delay began and how long
/// it lasts in AWS time), the milestone is exact instead, and replayable in AWS time ([`aws_time::Basis`]).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Milestone>>,
}

const SAMPLE: Duration = Duration::from_millis(200);

impl Sampler {
    fn start(url: &str, lab_id: &str) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, lab, flag) = (url.to_string(), lab_id.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut seen = Seen::default();
            let mut before = now();
            while !flag.load(Ordering::Relaxed) {
                if let Ok(resources) = local::resources(&url, Some(&lab)) {
                    let at = now();
                    seen.sample((before + at) / 2.0, &resources);
                    before = at;
                }
                std::thread::sleep(SAMPLE);
            }
            seen.finish()
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Vec<Milestone> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Milestones from successive inventories of a lab.
#[derive(Default)]
struct Seen {
    milestones: Vec<Milestone>,
    had_instances: bool,
    had_endpoints: bool,
    /// Every resource of the lab, as last seen (gone ones too): id -> its inventory entry.
    known: std::collections::BTreeMap<String, serde_json::Value>,
}

fn of<'a>(
    resources: impl IntoIterator<Item = &'a serde_json::Value>,
    kind: &'static str,
) -> impl Iterator<Item = &'a serde_json::Value> {
    resources.into_iter().filter(move |r| r["type"] == kind)
}

fn side_of(instance: &serde_json::Value) -> String {
    instance["tags"][lab_core::tags::SIDE]
        .as_str()
        .unwrap_or("?")
        .to_uppercase()
}

/// The resource's delay `name` (the last it entered): (began, wall seconds, AWS seconds).
fn delay_of(resource: &serde_json::Value, name: &str) -> Option<(f64, f64, f64)> {
    let d = resource["delays"]
        .as_array()?
        .iter()
        .rev()
        .find(|d| d["name"] == name)?;
    Some((
        d["began"].as_f64()?,
        d["seconds"].as_f64()?,
        d["aws_seconds"].as_f64()?,
    ))
}

/// The milestone when every one of `resources` has ended its delay `name`, from the local AWS's timing.
fn timed<'a>(
    what: &str,
    resources: impl IntoIterator<Item = &'a serde_json::Value>,
    name: &str,
) -> Option<Milestone> {
    let delays: Vec<(f64, f64, f64)> = resources
        .into_iter()
        .map(|r| delay_of(r, name))
        .collect::<Option<_>>()?;
    let at = delays
        .iter()
        .map(|(began, s, _)| began + s)
        .reduce(f64::max)?;
    Some(Milestone {
        at,
        what: what.to_string(),
        basis: aws_time::Basis::Delays(delays.iter().map(|(b, _, aws)| (*b, *aws)).collect()),
    })
}

impl Seen {
    fn mark(&mut self, at: f64, what: &str) {
        if !self.milestones.iter().any(|m| m.what == what) {
            self.milestones.push(Milestone::seen(at, what));
        }
    }

    fn sample(&mut self, at: f64, resources: &[serde_json::Value]) {
        for r in resources {
            if let Some(id) = r["id"].as_str() {
                self.known.insert(id.to_string(), r.clone());
            }
        }
        for i in of(resources, "instance") {
            let side = side_of(i);
            if i["state"] == "running" {
                self.mark(at, &format!("instance {side} running"));
            }
            if i["agent"]["state"] == "online" {
                self.mark(at, &format!("SSM Agent {side} online"));
            }
        }
        let endpoints: Vec<_> = of(resources, "vpc-endpoint").collect();
        if !endpoints.is_empty() && endpoints.iter().all(|e| e["state"] == "available") {
            self.mark(at, "SSM endpoints available");
        }
        for p in of(resources, "vpc-peering-connection") {
            for state in ["pending-acceptance", "active"] {
                if p["state"] == state {
                    self.mark(at, &format!("peering {state}"));
                }
            }
        }
        let instances = of(resources, "instance").count() > 0;
        if self.had_instances && !instances {
            self.mark(at, "instances terminated");
        }
        if self.had_endpoints && endpoints.is_empty() {
            self.mark(at, "SSM endpoints deleted");
        }
        self.had_instances |= instances;
        self.had_endpoints |= !endpoints.is_empty();
    }

    /// The milestones seen, each made exact where the local AWS timed it. A peering's `pending-acceptance` lasts
    /// a few hundredths of a second at ×0.02 and may fall between two samples: once it is `active`, the timing
    /// of its `initiating-request` says when it was.
    fn finish(self) -> Vec<Milestone> {
        let known = self.known.values();
        let instances: Vec<_> = of(known.clone(), "instance").collect();
        let endpoints: Vec<_> = of(known.clone(), "vpc-endpoint").collect();
        let peerings: Vec<_> = of(known, "vpc-peering-connection").collect();
        let mut out = Vec::new();
        let seen = |what: &str| self.milestones.iter().find(|m| m.what == what);
        for m in &self.milestones {
            let exact = match m.what.as_str() {
                "SSM endpoints available" => {
                    timed(&m.what, endpoints.iter().copied(), "endpoint_pending")
                }
                "SSM endpoints deleted" => {
                    timed(&m.what, endpoints.iter().copied(), "endpoint_deleting")
                }
                "instances terminated" => {
                    timed(&m.what, instances.iter().copied(), "instance_shutting_down")
                }
                "peering pending-acceptance" => {
                    timed(&m.what, peerings.iter().copied(), "peering_initiating")
                }
                "peering active" => {
                    timed(&m.what, peerings.iter().copied(), "peering_provisioning")
                }
                what => instances.iter().find_map(|i| {
                    let side = side_of(i);
                    let (began, seconds, aws) = delay_of(i, "instance_pending")?;
                    if what == format!("instance {side} running") {
                        return timed(what, [*i], "instance_pending");
                    }
                    // the agent's first ping comes after its instance runs: replayed from that milestone
                    let online = i["agent"]["online_epoch"].as_f64()?;
                    (what == format!("SSM Agent {side} online") && seconds > 0.0).then(|| {
                        Milestone {
                            at: online,
                            what: what.to_string(),
                            basis: aws_time::Basis::After(
                                format!("instance {side} running"),
                                (online - began - seconds) * aws / seconds,
                            ),
                        }
                    })
                }),
            };
            out.push(exact.unwrap_or_else(|| m.clone()));
        }
        if seen("peering active").is_some() && seen("peering pending-acceptance").is_none() {
            out.extend(timed(
                "peering pending-acceptance",
                peerings.iter().copied(),
                "peering_initiating",
            ));
        }
        out
    }
}

/// The infra/peer-account.yaml a lab needs on the local AWS: one whose side B is in another account needs it
/// there (as on AWS: README, "Side B in another account"), trusting `home_stack`'s roles, its role named as the
/// input's accepter_role_arn.
fn peer_stack(plan: &LabPlan, home_stack: &str) -> Option<PeerStack> {
    let peer = plan.peer.as_ref()?;
    let account = peer.account_id.as_deref().filter(|a| *a != HOME_ACCOUNT)?;
    Some(PeerStack {
        account: account.to_string(),
        home_stack: home_stack.to_string(),
        role_name: peer
            .accepter_role_arn
            .as_deref()
            .and_then(|arn| arn.rsplit_once(":role/"))
            .map(|(_, name)| name.to_string()),
    })
}

/// A local AWS with the lab's stacks on it: infra/template.yaml as `global.stack` (deployed unless a running one
/// has it already) and, when the lab needs it, the peer account's. Returns the lab state machine.
fn prepare_local(local: &Local, global: &Global, args: &Args, plan: &LabPlan) -> Result<String> {
    let stack = global.stack.as_str();
    let peer = peer_stack(plan, stack);
    // the home stack may assume accepter roles only in the accounts it is told about (its PeerAccountIds)
    let peer_accounts: Vec<&str> = peer.iter().map(|p| p.account.as_str()).collect();
    let machine = local
        .stack(stack, args.lambda_dir.as_deref(), &peer_accounts)?
        .state_machine;
    if let Some(peer) = peer {
        println!(
            "deploying infra/peer-account.yaml as stack {PEER_STACK} in account {} on {}",
            peer.account,
            local.url()
        );
        StackTool::new(&project_root()?).deploy_peer(local.url(), &peer)?;
    }
    Ok(machine)
}

pub async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name("lab", now));
    check_name(&name)?;
    let (input, plan) = read_input(args.input.as_deref(), &name, now)?;
    let timeout = Duration::from_secs(args.timeout.unwrap_or(1800 + plan.hold_seconds));
    let where_ = place(
        args.local,
        global,
        "lab",
        "ARN (or set PEERLAB_STATE_MACHINE_ARN)",
    )?;
    let (local, machine) = match where_ {
        Place::Aws(machine) => (None, machine),
        Place::Endpoint(url) => {
            let local = Local::Shared(url);
            let machine = prepare_local(&local, global, args, &plan)?;
            (Some(local), machine)
        }
        Place::Private => {
            let local = Local::start(args.lambda_dir.as_deref(), args.local_args.as_deref())?;
            let machine = prepare_local(&local, global, args, &plan)?;
            (Some(local), machine)
        }
    };
    let config = match &local {
        Some(local) => local::config(local.url()).await,
        None => aws_config(global.region.as_deref()).await?,
    };
    let sfn = aws_sdk_sfn::Client::new(&config);
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&name)
        .input(&input)
        .send()
        .await
        .map_err(|e| aws("starting the execution", e))?;
    let arn = started.execution_arn().to_string();
    println!("started {arn}");
    // what the lab waits for, as the local AWS sees it become ready (for the polling lag)
    let sampler = local
        .as_ref()
        .map(|l| Sampler::start(l.url(), &plan.lab_id));
    // on a local AWS nobody else follows the execution: stop it rather than leave it running
    let (poll, on_timeout) = match local {
        Some(_) => (Duration::from_millis(250), OnTimeout::Stop),
        None => (Duration::from_secs(2), OnTimeout::KeepRunning),
    };
    let followed = tokio::select! {
        followed = follow(&sfn, &arn, poll, timeout, on_timeout) => followed?,
        _ = tokio::signal::ctrl_c() => {
            let what = match local {
                Some(Local::Private(_)) => "the private local AWS is stopped".to_string(),
                _ => format!("the lab keeps running — `peerlab status {arn}`"),
            };
            drop(local);
            bail!("interrupted: {what}");
        }
    };
    let (execution, events) = followed;
    let mut built = report::build(&execution, &events);
    let mut leaked = Vec::new();
    if let Some(local) = &local {
        // a private local AWS held only this lab: anything left is a leak, tagged or not; a shared one
        // (--endpoint) may hold other labs: this lab's tagged resources only
        let lab = match local {
            Local::Private(_) => None,
            Local::Shared(_) => Some(plan.lab_id.as_str()),
        };
        leaked = local::resources(local.url(), lab)?
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["type"].as_str().unwrap_or("?"),
                    r["id"].as_str().unwrap_or("?")
                )
            })
            .collect();
        built.json["leaked"] = serde_json::json!(leaked);
    }
    println!();
    for line in &built.lines {
        println!("{line}");
    }
    // In AWS time: the local AWS's waits ÷ its Step Functions time scale, function run time as measured (aws_time.rs)
    let scale = match &local {
        Some(local) => {
            let config = local::get(local.url(), "/peerlab/config")?;
            config["stepfunctions_time_scale"]
                .as_f64()
                .or_else(|| config["time_scale"].as_f64())
                .unwrap_or(1.0)
        }
        None => 1.0,
    };
    let milestones = sampler.map(Sampler::stop).unwrap_or_default();
    let projection = aws_time::project(
        &events,
        execution.start,
        execution.stop,
        scale,
        &milestones,
        &aws_time::lab_intervals(),
    );
    let cost = aws_time::cost(&events, &projection);
    let (aws_json, cost_json) = aws_time::to_json(&projection, &cost);
    built.json["projected_aws_seconds"] =
        serde_json::json!((projection.parts.total() * 10.0).round() / 10.0);
    built.json["projected_aws_seconds_at_most"] =
        serde_json::json!((projection.upper_bound() * 10.0).round() / 10.0);
    built.json["aws_time"] = aws_json;
    built.json["aws_cost"] = cost_json;
    for line in aws_time::lines(&projection, &cost) {
        println!("{line}");
    }
    if local.is_some() {
        println!(
            "  leaked resources: {}",
            if leaked.is_empty() {
                "none".to_string()
            } else {
                leaked.join(", ")
            }
        );
    }
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&built.json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.timeline {
        std::fs::write(path, timeline::svg(&execution, &events))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("timeline: {}", path.display());
    }
    drop(local); // a private local AWS stops here, before the exit code says how the lab went
    Ok(if execution.status == "SUCCEEDED" && leaked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(name: &str, began: f64, seconds: f64) -> serde_json::Value {
        serde_json::json!({"name": name, "began": began, "seconds": seconds, "aws_seconds": seconds / 0.02})
    }

    /// The sampler's milestones are made exact from the local AWS's timing: when each delay began and how long it
    /// lasts in AWS seconds; a peering's pending-acceptance that fell between two samples is found from it too.
    #[test]
    fn milestones_are_exact_where_the_inventory_times_them() {
        let mut seen = Seen::default();
        let endpoint = |id: &str, state: &str| {
            serde_json::json!({"type": "vpc-endpoint", "id": id, "state": state,
                               "delays": [delay("endpoint_pending", 100.0, 1.8)]})
        };
        let peering = serde_json::json!({"type": "vpc-peering-connection", "id": "pcx-1", "state": "active",
            "delays": [delay("peering_initiating", 103.0, 0.04), delay("peering_provisioning", 103.5, 0.1)]});
        seen.sample(
            101.0,
            &[endpoint("vpce-1", "pending"), endpoint("vpce-2", "pending")],
        );
        seen.sample(
            102.1,
            &[
                endpoint("vpce-1", "available"),
                endpoint("vpce-2", "available"),
            ],
        );
        seen.sample(103.7, &[peering]);
        let milestones = seen.finish();
        let find = |what: &str| milestones.iter().find(|m| m.what == what).unwrap().clone();
        let endpoints = find("SSM endpoints available");
        assert!((endpoints.at - 101.8).abs() < 1e-9, "{endpoints:?}"); // began + 1.8 s, not the sample's 102.1
        assert_eq!(
            endpoints.basis,
            aws_time::Basis::Delays(vec![(100.0, 90.0), (100.0, 90.0)])
        );
        let active = find("peering active");
        assert_eq!(active.basis, aws_time::Basis::Delays(vec![(103.5, 5.0)]));
        // never seen pending-acceptance: its initiating-request delay says when it was
        let pending = find("peering pending-acceptance");
        assert!((pending.at - 103.04).abs() < 1e-9, "{pending:?}");
        assert_eq!(pending.basis, aws_time::Basis::Delays(vec![(103.0, 2.0)]));
    }

    fn global(endpoint: Option<&str>, state_machine: Option<&str>) -> Global {
        Global {
            endpoint: endpoint.map(str::to_string),
            region: None,
            state_machine_arn: state_machine.map(str::to_string),
            stack: "peerlab".into(),
        }
    }

    #[test]
    fn a_lab_runs_in_one_place_said_once() {
        let (url, arn) = (
            "http://127.0.0.1:4566",
            "arn:aws:states:us-east-1:1:stateMachine:x",
        );
        let said = |local, endpoint, machine| {
            place(local, &global(endpoint, machine), "lab", "ARN").map_err(|e| e.to_string())
        };
        assert_eq!(said(true, None, None), Ok(Place::Private));
        assert_eq!(said(true, Some(url), None), Ok(Place::Endpoint(url.into())));
        assert_eq!(
            said(false, Some(url), None),
            Ok(Place::Endpoint(url.into()))
        );
        assert_eq!(said(false, None, Some(arn)), Ok(Place::Aws(arn.into())));
        for (local, endpoint, machine, expected) in [
            (false, None, None, "pass --local, or --state-machine-arn"),
            (
                true,
                None,
                Some(arn),
                "--local and --state-machine-arn: choose one",
            ),
            (
                false,
                Some(url),
                Some(arn),
                "--endpoint and --state-machine-arn: choose one",
            ),
            (
                true,
                Some(url),
                Some(arn),
                "--endpoint and --state-machine-arn: choose one",
            ),
        ] {
            let err = place(local, &global(endpoint, machine), "lab", "ARN").unwrap_err();
            assert!(err.downcast_ref::<crate::error::Usage>().is_some());
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    fn plan(event: &str) -> LabPlan {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/events")
            .join(event);
        read_input(Some(&path), "lab", OffsetDateTime::now_utc())
            .unwrap()
            .1
    }

    #[test]
    fn only_a_lab_with_side_b_in_another_account_needs_the_peer_stack() {
        assert_eq!(peer_stack(&plan("tutorial.json"), "peerlab"), None);
        assert_eq!(
            peer_stack(&plan("peer-account-same-region.json"), "mine"),
            Some(PeerStack {
                account: "210987654321".into(),
                home_stack: "mine".into(),
                role_name: Some("peerlab-accepter".into()),
            })
        );
    }
}
