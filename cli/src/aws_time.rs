//! A run on the local AWS, told in AWS time, and what it would cost there. The local AWS runs EC2's delays and
//! Step Functions' waits (Retry intervals, Wait states) at its time scale, but a function runs in real time: so a
//! lab's AWS duration is its scaled waits ÷ the scale plus each function's run time as the history measured it
//! (not divided by the scale) plus Step Functions' own time between them (real here too). Along the critical path:
//! a Parallel takes as long as its longest branch, in AWS time.
//!
//! Per wait, what the local AWS saw become ready (its inventory, sampled while the run went: [`Milestone`]) against
//! the attempt that noticed it: the polling lag, in AWS seconds. And the cost of the lab on AWS from the same
//! quantities: billed state transitions, Lambda requests and GB-seconds, instance and endpoint time.
//!
//! Pure functions over a history (and the milestones), so a recorded run tests them; `peerlab run` prints them and
//! writes them into its JSON report, which the bench (bench/run.py) reads: the estimator is written once, here.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::history::Event;
use crate::runs::{Runs, StateRun};

/// Something the lab waits for, ready on the local AWS (wall seconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub at: f64,
    pub what: String,
    pub basis: Basis,
}

impl Milestone {
    /// Seen ready at `at`, nothing more known.
    pub fn seen(at: f64, what: &str) -> Milestone {
        Milestone {
            at,
            what: what.to_string(),
            basis: Basis::Seen,
        }
    }
}

/// What made a milestone come when it did, as far as the local AWS told (its inventory's `delays`): what lets the
/// projection replay it in AWS time. Below time scale 1 the local AWS's delays run on at 1/scale while a function
/// runs in real time, so a thing the workflow polls for is ready after fewer AWS seconds of the run than on AWS;
/// replayed, it is ready when the call that began it was made (in AWS time) plus its delay in AWS seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// Only seen (sampled): it counts as ready where the run's AWS time was when it was seen.
    Seen,
    /// Delays that began at wall times and last so many AWS seconds: ready when the last one is over.
    Delays(Vec<(f64, f64)>),
    /// So many AWS seconds after another milestone (the SSM Agent's first ping after its instance runs).
    After(String, f64),
}

/// Each waiting state of statemachine/peering-lab.asl.json and the milestones its NotReady retries wait for, in
/// order (a unit test holds the names to the definition). What no inventory shows (consistency windows, command
/// delivery) is not listed: its lag stays in the state's retry waits.
pub const WAITED: &[(&str, &[&str])] = &[
    (
        "Create VPC A",
        &["SSM endpoints available", "instance A running"],
    ),
    ("Create VPC B", &["instance B running"]),
    (
        "Ping B from A before peering (expect no reply)",
        &["SSM Agent A online"],
    ),
    (
        "Accept the peering",
        &["peering pending-acceptance", "peering active"],
    ),
    (
        "Tear the lab down",
        &["instances terminated", "SSM endpoints deleted"],
    ),
];

/// Where a run's time went, in AWS seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Parts {
    /// Lambda run time, as measured here (TaskScheduled -> TaskSucceeded/TaskFailed), not scaled.
    pub function: f64,
    /// Retry intervals and Wait states, wall ÷ scale.
    pub waits: f64,
    /// Step Functions' own time between them (entering, leaving, scheduling), as measured here.
    pub overhead: f64,
}

impl Parts {
    pub fn total(&self) -> f64 {
        self.function + self.waits + self.overhead
    }

    fn add(self, other: Parts) -> Parts {
        Parts {
            function: self.function + other.function,
            waits: self.waits + other.waits,
            overhead: self.overhead + other.overhead,
        }
    }
}

/// A state's polling lag for one milestone: seconds after the state was entered, in AWS time.
#[derive(Debug, Clone, PartialEq)]
pub struct Lag {
    pub state: String,
    pub awaited: String,
    pub ready: f64,
    pub noticed: f64,
}

impl Lag {
    pub fn lag(&self) -> f64 {
        self.noticed - self.ready
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub scale: f64,
    /// The whole execution along its critical path.
    pub parts: Parts,
    /// Each state run as it lasted in AWS time (a Parallel: its longest branch).
    pub states: Vec<(String, Parts)>,
    pub lags: Vec<Lag>,
    /// How many of the lags were replayed from the local AWS's timing (not only seen).
    pub replayed: usize,
    /// AWS seconds each instance was `running` (billed): from running (seen, else noticed) to teardown's first call.
    pub instance_seconds: Vec<f64>,
    /// The execution's wall seconds here: ÷ the scale, an upper bound of its AWS time (function run time counted
    /// 1/scale times), as `parts.total()` is a lower one below scale 1 (delays ran on at 1/scale while functions ran).
    pub wall: f64,
}

impl Projection {
    /// wall ÷ scale: what the execution would take on AWS if everything here had been scaled, functions included.
    pub fn upper_bound(&self) -> f64 {
        self.wall / self.scale
    }
}

/// One stretch of a state run: wall seconds and how many AWS seconds each of them is.
struct Segment {
    from: f64,
    to: f64,
    aws_per_wall: f64,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Function,
    Wait,
    Overhead,
}

fn end_of(run: &StateRun, last: f64) -> f64 {
    run.exited.unwrap_or(last)
}

/// A Task's stretches: attempts (real), the retry waits between them (scaled), Step Functions' time around them.
fn segments(run: &StateRun, scale: f64, last: f64) -> Vec<Segment> {
    let end = end_of(run, last);
    let scaled = 1.0 / scale;
    let mut out = Vec::new();
    let mut at = run.entered;
    if run.kind == "Wait" {
        out.push(Segment {
            from: at,
            to: end,
            aws_per_wall: scaled,
            kind: Kind::Wait,
        });
        return out;
    }
    for (i, attempt) in run.attempts.iter().enumerate() {
        let before = if i == 0 { Kind::Overhead } else { Kind::Wait };
        out.push(Segment {
            from: at,
            to: attempt.start,
            aws_per_wall: if before == Kind::Wait { scaled } else { 1.0 },
            kind: before,
        });
        let finished = attempt.end.unwrap_or(end);
        out.push(Segment {
            from: attempt.start,
            to: finished,
            aws_per_wall: 1.0,
            kind: Kind::Function,
        });
        at = finished;
    }
    out.push(Segment {
        from: at,
        to: end,
        aws_per_wall: 1.0,
        kind: Kind::Overhead,
    });
    out
}

fn parts_of(segments: &[Segment]) -> Parts {
    let mut parts = Parts::default();
    for s in segments {
        let aws = (s.to - s.from).max(0.0) * s.aws_per_wall;
        match s.kind {
            Kind::Function => parts.function += aws,
            Kind::Wait => parts.waits += aws,
            Kind::Overhead => parts.overhead += aws,
        }
    }
    parts
}

/// AWS seconds between wall times `from` and `to` within a run's stretches.
fn aws_between(segments: &[Segment], from: f64, to: f64) -> f64 {
    segments
        .iter()
        .map(|s| (s.to.min(to) - s.from.max(from)).max(0.0) * s.aws_per_wall)
        .sum()
}

struct Estimator<'a> {
    runs: &'a Runs,
    scale: f64,
    last: f64,
    /// Each run's parts, by its index in `runs.runs`.
    parts: Vec<Parts>,
    /// Each run's start in AWS seconds since the execution's (None until it is estimated).
    start: Vec<Option<f64>>,
    /// Each run's replayed polls: from wall time `.0` on, `.1` more AWS seconds than here.
    shifts: Vec<Vec<(f64, f64)>>,
    milestones: &'a [Milestone],
    /// Each NotReady retrier's interval (AWS seconds), by state name.
    intervals: &'a HashMap<String, f64>,
    /// Milestones replayed: AWS seconds since the execution's start.
    ready: HashMap<String, f64>,
    lags: Vec<Lag>,
    replayed: usize,
}

impl Estimator<'_> {
    /// The runs of one sequence that starts at wall `from` and AWS second `start`: the top level (parent None) or
    /// one branch of a Parallel.
    fn sequence(
        &mut self,
        parent: Option<usize>,
        branch: usize,
        from: f64,
        to: f64,
        start: f64,
    ) -> Parts {
        let members: Vec<usize> = (0..self.runs.runs.len())
            .filter(|&i| self.runs.runs[i].parent == parent && self.runs.runs[i].branch == branch)
            .collect();
        let mut parts = Parts::default();
        let (mut inside, mut wall, mut aws) = (0.0, from, start);
        for i in members {
            let run = &self.runs.runs[i];
            let (entered, end) = (run.entered, end_of(run, self.last));
            aws += (entered - wall).max(0.0); // Step Functions' own time before it, real
            inside += end - entered;
            let p = self.run(i, aws);
            parts = parts.add(p);
            aws += p.total();
            wall = end;
        }
        // between the states: Step Functions' own time, real
        parts.overhead += (to - from - inside).max(0.0);
        parts
    }

    fn run(&mut self, index: usize, start: f64) -> Parts {
        self.start[index] = Some(start);
        let run = &self.runs.runs[index];
        let (entered, end) = (run.entered, end_of(run, self.last));
        let parts = if run.kind == "Parallel" || run.kind == "Map" {
            let mut branches: Vec<usize> = self
                .runs
                .runs
                .iter()
                .filter(|r| r.parent == Some(index))
                .map(|r| r.branch)
                .collect();
            branches.dedup();
            let mut longest: Option<Parts> = None;
            let mut last_end = entered;
            for b in branches {
                let members = self
                    .runs
                    .runs
                    .iter()
                    .filter(|r| r.parent == Some(index) && r.branch == b);
                let branch_end = members
                    .map(|r| end_of(r, self.last))
                    .fold(entered, f64::max);
                let p = self.sequence(Some(index), b, entered, branch_end, start);
                last_end = last_end.max(branch_end);
                if longest.is_none_or(|l| p.total() > l.total()) {
                    longest = Some(p);
                }
            }
            match longest {
                // Step Functions' time from the last branch's end to the Parallel's
                Some(p) => Parts {
                    overhead: p.overhead + (end - last_end).max(0.0),
                    ..p
                },
                None => parts_of(&segments(run, self.scale, self.last)),
            }
        } else if run.kind == "Task" || run.kind == "Wait" {
            let parts = parts_of(&segments(run, self.scale, self.last));
            self.replay(index, parts)
        } else {
            Parts {
                overhead: end - entered,
                ..Parts::default()
            }
        };
        self.parts[index] = parts;
        parts
    }

    /// Where wall time `at` falls in AWS time (seconds since the execution's start): within the innermost Task
    /// or Wait estimated so far that ran then, its replayed polls included.
    fn aws_at(&self, at: f64) -> Option<f64> {
        let (i, run) = self
            .runs
            .runs
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                self.start[*i].is_some()
                    && (r.kind == "Task" || r.kind == "Wait")
                    && r.entered <= at
                    && at <= end_of(r, self.last)
            })
            .max_by_key(|(_, r)| r.depth)?;
        let within = aws_between(&segments(run, self.scale, self.last), run.entered, at);
        Some(self.start[i]? + within + self.shift_at(i, at))
    }

    fn shift_at(&self, index: usize, at: f64) -> f64 {
        self.shifts[index]
            .iter()
            .filter(|(from, _)| *from <= at)
            .map(|(_, s)| s)
            .sum()
    }

    /// A waiting state's polls as they would go on AWS: each milestone it waits for is ready at its replayed AWS
    /// time; where that is after the attempt that noticed it here, the state polls on at its NotReady interval
    /// (each poll as long as its polls here) until one comes after it, and everything from that attempt on moves
    /// that much later. Below time scale 1 a milestone can only come sooner in the run's AWS time here than on
    /// AWS (its delay ran on at 1/scale while functions ran), so the replay only ever adds polls.
    fn replay(&mut self, index: usize, mut parts: Parts) -> Parts {
        let run = &self.runs.runs[index];
        let Some((_, awaited)) = WAITED.iter().find(|(name, _)| *name == run.name) else {
            return parts;
        };
        let (entered, end) = (run.entered, end_of(run, self.last));
        let start = self.start[index].unwrap_or(0.0);
        let stretches = segments(run, self.scale, self.last);
        let interval = self.intervals.get(&run.name).copied();
        // in the order they came here: each one's polls move what comes after it, never what came before
        let mut mine: Vec<&Milestone> = awaited
            .iter()
            .filter_map(|what| self.milestones.iter().find(|m| m.what == *what))
            .filter(|m| m.at <= end) // a later one is not this run's to wait for
            .collect();
        mine.sort_by(|a, b| a.at.total_cmp(&b.at));
        for m in mine.iter().copied() {
            let what = m.what.as_str();
            // this run first: the other branch of a Parallel ran at the same wall times
            let aws_of = |at: f64| {
                if entered <= at && at <= end {
                    Some(start + aws_between(&stretches, entered, at) + self.shift_at(index, at))
                } else {
                    self.aws_at(at)
                }
            };
            let ready = match &m.basis {
                Basis::Seen => aws_of(m.at),
                Basis::Delays(delays) => delays
                    .iter()
                    .map(|(began, aws)| aws_of(*began).map(|b| b + aws))
                    .collect::<Option<Vec<f64>>>()
                    .and_then(|all| all.into_iter().reduce(f64::max)),
                Basis::After(other, aws) => self.ready.get(other).map(|r| r + aws),
            };
            let Some(ready) = ready.or_else(|| aws_of(m.at)) else {
                continue;
            };
            self.ready.insert(what.to_string(), ready);
            if m.basis != Basis::Seen {
                self.replayed += 1;
            }
            let ready = ready - start;
            if m.at < entered && ready <= 0.0 {
                continue; // ready before the state began, here and on AWS
            }
            // Where it was noticed here: by the attempt that was running when it became ready, if that attempt
            // acted on it (another milestone of this state began in it afterwards, or the attempt ended the state:
            // it checked after that moment); else by the first attempt that started after it (else the state's exit).
            let later: Vec<f64> = mine
                .iter()
                .filter(|other| other.what != what)
                .flat_map(|m| match &m.basis {
                    Basis::Delays(delays) => delays.iter().map(|(began, _)| *began).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let last = run.attempts.len().saturating_sub(1);
            let acted = run.attempts.iter().enumerate().position(|(j, a)| {
                let Some(attempt_end) = a.end else {
                    return false;
                };
                a.start <= m.at
                    && m.at <= attempt_end
                    && ((j == last && a.failure.is_none())
                        || later.iter().any(|b| m.at <= *b && *b <= attempt_end))
            });
            let (noticing, at) = match acted {
                Some(j) => (Some(j), m.at),
                None => {
                    let k = run.attempts.iter().position(|a| a.start >= m.at);
                    (k, k.map_or(end, |k| run.attempts[k].start))
                }
            };
            let mut noticed = aws_between(&stretches, entered, at) + self.shift_at(index, at);
            if let (Some(k), Some(interval)) = (noticing, interval) {
                if ready > noticed {
                    // on AWS that attempt came too soon: the state polls on at its interval, each poll as long as
                    // the shortest attempt here (the first one creates, the last one finishes), and everything from
                    // that attempt on comes as much later
                    let poll = run
                        .attempts
                        .iter()
                        .filter_map(|a| a.end.map(|e| e - a.start))
                        .reduce(f64::min)
                        .unwrap_or(0.0);
                    let polls = ((ready - noticed) / (poll + interval)).ceil();
                    let shift = polls * (poll + interval);
                    self.shifts[index].push((run.attempts[k].start, shift));
                    parts.function += polls * poll;
                    parts.waits += polls * interval;
                    noticed += shift;
                }
            }
            self.lags.push(Lag {
                state: run.name.clone(),
                awaited: what.to_string(),
                ready,
                noticed,
            });
        }
        parts
    }
}

/// Each NotReady retrier's interval in a state machine definition (ASL), by state name, Parallel branches and Map
/// iterators included: what a replayed poll waits (BackoffRate 1 in peerlab's definitions; a test holds them to it).
pub fn not_ready_intervals(definition: &Value) -> HashMap<String, f64> {
    fn walk(states: &Value, out: &mut HashMap<String, f64>) {
        let Some(states) = states.as_object() else {
            return;
        };
        for (name, state) in states {
            for retrier in state["Retry"].as_array().into_iter().flatten() {
                let errors = retrier["ErrorEquals"].as_array().into_iter().flatten();
                if errors.clone().any(|e| e == "NotReady") {
                    out.insert(
                        name.clone(),
                        retrier["IntervalSeconds"].as_f64().unwrap_or(1.0),
                    );
                }
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                walk(&branch["States"], out);
            }
            for inner in ["Iterator", "ItemProcessor"] {
                walk(&state[inner]["States"], out);
            }
        }
    }
    let mut out = HashMap::new();
    walk(&definition["States"], &mut out);
    out
}

/// statemachine/peering-lab.asl.json, as the CLI was built with it: its NotReady intervals are the replay's.
pub fn lab_intervals() -> HashMap<String, f64> {
    let definition: Value =
        serde_json::from_str(include_str!("../../statemachine/peering-lab.asl.json"))
            .unwrap_or_default();
    not_ready_intervals(&definition)
}

/// The execution's AWS time from its history: `start`/`stop` the execution's (wall seconds), `scale` the local
/// AWS's Step Functions time scale (1 on AWS), `milestones` what the local AWS saw become ready (may be empty),
/// `intervals` the NotReady intervals of its definition ([`not_ready_intervals`]; empty: no replay).
pub fn project(
    events: &[Event],
    start: f64,
    stop: Option<f64>,
    scale: f64,
    milestones: &[Milestone],
    intervals: &HashMap<String, f64>,
) -> Projection {
    let runs = Runs::from_events(events);
    let last = stop.unwrap_or_else(|| events.last().map_or(start, |e| e.at));
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let mut estimator = Estimator {
        runs: &runs,
        scale,
        last,
        parts: vec![Parts::default(); runs.runs.len()],
        start: vec![None; runs.runs.len()],
        shifts: vec![Vec::new(); runs.runs.len()],
        milestones,
        intervals,
        ready: HashMap::new(),
        lags: Vec::new(),
        replayed: 0,
    };
    let parts = estimator.sequence(None, 0, start, last, 0.0);
    let per_run = estimator.parts;
    let (lags, replayed) = (estimator.lags, estimator.replayed);
    let instance_seconds = instance_seconds(&runs, &per_run, &lags, scale, last);
    let states = runs
        .runs
        .iter()
        .zip(&per_run)
        .map(|(r, p)| (r.name.clone(), *p))
        .collect();
    Projection {
        scale,
        parts,
        states,
        lags,
        replayed,
        instance_seconds,
        wall: (last - start).max(0.0),
    }
}

/// AWS seconds each instance is billed (`running`; EC2 User Guide, "Amazon EC2 instance state changes": pending and
/// shutting-down are not billed): from the end of "Create both VPCs" to the teardown's first attempt, which
/// terminates it, plus the time it ran before its side's state noticed (the lag, when seen) and, for the side
/// that finished first, the time it ran while the other side still waited.
fn instance_seconds(runs: &Runs, parts: &[Parts], lags: &[Lag], scale: f64, last: f64) -> Vec<f64> {
    let by_name = |name: &str| runs.runs.iter().position(|r| r.name == name);
    let (Some(parallel), Some(teardown)) = (
        by_name("Create both VPCs"),
        runs.runs.iter().position(|r| r.is_teardown()),
    ) else {
        return Vec::new();
    };
    let Some(created) = runs.runs[parallel].exited else {
        return Vec::new();
    };
    let down = &runs.runs[teardown];
    let terminated = down.attempts.first().map_or(down.entered, |a| a.start);
    let between: Vec<usize> = (0..runs.runs.len())
        .filter(|&i| {
            let r = &runs.runs[i];
            r.parent.is_none() && r.entered >= created && r.entered < down.entered
        })
        .collect();
    let inside: f64 = between
        .iter()
        .map(|&i| end_of(&runs.runs[i], last) - runs.runs[i].entered)
        .sum();
    let common = between.iter().map(|&i| parts[i].total()).sum::<f64>()
        + (down.entered - created - inside).max(0.0)
        + aws_between(&segments(down, scale, last), down.entered, terminated);
    let side = |state: &str, running: &str| {
        let own = by_name(state).map_or(0.0, |i| parts[i].total());
        let lag = lags
            .iter()
            .find(|l| l.state == state && l.awaited == running)
            .map_or(0.0, Lag::lag);
        (own, lag)
    };
    let (a, lag_a) = side("Create VPC A", "instance A running");
    let (b, lag_b) = side("Create VPC B", "instance B running");
    let longest = a.max(b);
    vec![
        common + (longest - a) + lag_a,
        common + (longest - b) + lag_b,
    ]
}

// Prices, us-east-1 list prices read 2026-11-28 (README "Cost": the EC2 On-Demand, PrivateLink, Step Functions
// and Lambda pricing pages; shared/LOCAL-AWS-FACTS.md "Billing" for how each is counted).
/// Step Functions Standard: $0.025 per 1,000 state transitions, every retry included.
pub const TRANSITION_USD: f64 = 0.025 / 1000.0;
/// Lambda: $0.20 per 1M requests; $0.0000133334 per GB-second on arm64 (the template's default Architecture),
/// duration rounded up to the millisecond; every function has 128 MB (infra/template.yaml MemorySize).
pub const LAMBDA_REQUEST_USD: f64 = 0.20 / 1_000_000.0;
pub const LAMBDA_GB_SECOND_USD: f64 = 0.000_013_333_4;
pub const LAMBDA_GB: f64 = 0.125;
/// t3.micro (Linux): $0.0104 per hour, billed per second with a 60 s minimum while running.
pub const INSTANCE_HOUR_USD: f64 = 0.0104;
pub const INSTANCE_MINIMUM_SECONDS: f64 = 60.0;
/// Interface endpoint: $0.01 per endpoint per AZ per hour, a started hour billed in full; a lab has two (`ssm`,
/// `ssmmessages`) in one AZ.
pub const ENDPOINT_HOUR_USD: f64 = 0.01;
pub const ENDPOINTS: f64 = 2.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub transitions: usize,
    pub transitions_usd: f64,
    pub lambda_requests: usize,
    pub lambda_gb_seconds: f64,
    pub lambda_usd: f64,
    pub instance_seconds: Vec<f64>,
    pub instances_usd: f64,
    pub endpoint_hours: f64,
    pub endpoints_usd: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.transitions_usd + self.lambda_usd + self.instances_usd + self.endpoints_usd
    }
}

/// What the run would cost on AWS: its billed transitions and Lambda invocations as the history counts them, its
/// instances' running time and its endpoints' started hours in AWS time ([`project`]).
pub fn cost(events: &[Event], projection: &Projection) -> Cost {
    let runs = Runs::from_events(events);
    let attempts: Vec<f64> = runs
        .runs
        .iter()
        .flat_map(|r| r.attempts.iter())
        .map(|a| a.end.map_or(0.0, |end| end - a.start))
        .collect();
    let gb_seconds: f64 = attempts
        .iter()
        .map(|s| (s * 1000.0).ceil() / 1000.0 * LAMBDA_GB)
        .sum();
    let instances_usd = projection
        .instance_seconds
        .iter()
        .map(|s| s.max(INSTANCE_MINIMUM_SECONDS) * INSTANCE_HOUR_USD / 3600.0)
        .sum();
    // the endpoints live within the execution: at most its AWS time, in started hours
    let made_endpoints = runs.runs.iter().any(|r| r.name == "Create VPC A");
    let endpoint_hours = if made_endpoints {
        ENDPOINTS * (projection.parts.total() / 3600.0).ceil().max(1.0)
    } else {
        0.0
    };
    Cost {
        transitions: runs.billed_transitions(),
        transitions_usd: runs.billed_transitions() as f64 * TRANSITION_USD,
        lambda_requests: attempts.len(),
        lambda_gb_seconds: gb_seconds,
        lambda_usd: attempts.len() as f64 * LAMBDA_REQUEST_USD + gb_seconds * LAMBDA_GB_SECOND_USD,
        instance_seconds: projection.instance_seconds.clone(),
        instances_usd,
        endpoint_hours,
        endpoints_usd: endpoint_hours * ENDPOINT_HOUR_USD,
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (value * f).round() / f
}

/// The report's `aws_time` and `aws_cost` objects.
pub fn to_json(projection: &Projection, cost: &Cost) -> (Value, Value) {
    let parts = |p: &Parts| {
        json!({"seconds": round(p.total(), 3), "function_seconds": round(p.function, 3),
               "wait_seconds": round(p.waits, 3), "overhead_seconds": round(p.overhead, 3)})
    };
    let mut time = parts(&projection.parts);
    time["time_scale"] = json!(projection.scale);
    time["states"] = projection
        .states
        .iter()
        .map(|(name, p)| {
            let mut v = parts(p);
            v["state"] = json!(name);
            v
        })
        .collect();
    time["waits"] = projection
        .lags
        .iter()
        .map(|l| {
            json!({"state": l.state, "awaited": l.awaited, "ready_after_seconds": round(l.ready, 3),
                   "noticed_after_seconds": round(l.noticed, 3), "lag_seconds": round(l.lag(), 3)})
        })
        .collect();
    time["polling_lag_seconds"] = json!(round(projection.lags.iter().map(Lag::lag).sum(), 3));
    let money = json!({
        "usd": round(cost.total(), 6),
        "transitions": cost.transitions, "transitions_usd": round(cost.transitions_usd, 6),
        "lambda_requests": cost.lambda_requests, "lambda_gb_seconds": round(cost.lambda_gb_seconds, 3),
        "lambda_usd": round(cost.lambda_usd, 6),
        "instance_seconds": cost.instance_seconds.iter().map(|s| round(*s, 1)).collect::<Vec<_>>(),
        "instances_usd": round(cost.instances_usd, 6),
        "endpoint_hours": cost.endpoint_hours, "endpoints_usd": round(cost.endpoints_usd, 6),
    });
    (time, money)
}

/// The lines `peerlab run` prints.
pub fn lines(projection: &Projection, cost: &Cost) -> Vec<String> {
    let p = &projection.parts;
    let mut out = vec![format!(
        "  projected on AWS: {:.1} min = {:.1} s of functions (as run here) + {:.1} s of waits (here \u{00f7} time scale {}) + {:.1} s of Step Functions between them",
        p.total() / 60.0,
        p.function,
        p.waits,
        projection.scale,
        p.overhead
    )];
    if projection.scale < 1.0 && projection.replayed == 0 {
        // Below scale 1, with nothing to replay (no timing from the local AWS), the estimate is short (README,
        // Performance): say so, with the other bound beside it.
        out.push(format!(
            "    at most {:.1} min (wall \u{00f7} time scale): the estimate above is short at this scale, since the local AWS's delays went on at {:.0}\u{00d7} while functions ran and none was replayed; time scale 1 measures it",
            projection.upper_bound() / 60.0,
            1.0 / projection.scale
        ));
    }
    if !projection.lags.is_empty() {
        let each: Vec<String> = projection
            .lags
            .iter()
            .map(|l| {
                format!(
                    "{} ready +{:.1}s, noticed +{:.1}s",
                    l.awaited, l.ready, l.noticed
                )
            })
            .collect();
        out.push(format!(
            "  polling lag on AWS: {:.1} s ({})",
            projection.lags.iter().map(Lag::lag).sum::<f64>(),
            each.join("; ")
        ));
    }
    out.push(format!(
        "  cost on AWS: ${:.4} = {} transitions ${:.4} + Lambda ${:.4} + instances ${:.4} ({}) + endpoints ${:.4} ({} endpoint-hours)",
        cost.total(),
        cost.transitions,
        cost.transitions_usd,
        cost.lambda_usd,
        cost.instances_usd,
        cost.instance_seconds
            .iter()
            .map(|s| format!("{s:.0} s"))
            .collect::<Vec<_>>()
            .join(" + "),
        cost.endpoints_usd,
        cost.endpoint_hours
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::fixture;

    /// When the first attempt of the state named `state` began (wall seconds).
    fn first_attempt(events: &[Event], state: &str) -> f64 {
        let runs = Runs::from_events(events);
        runs.runs.iter().find(|r| r.name == state).unwrap().attempts[0].start
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.0005
    }

    /// tutorial-realistic was recorded at time scale 0.02: its retry waits and its 1 s hold (recorded before
    /// Step Functions' waits were scaled: 1.0 s of wall) are × 50, its attempts and the rest count as measured.
    /// The expected figures were computed by hand from the fixture's timestamps.
    #[test]
    fn waits_are_scaled_back_functions_and_step_functions_are_not() {
        let (execution, events) = fixture("tutorial-realistic");
        let p = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[],
            &HashMap::new(),
        );
        // functions: validate 0.188 + A 1.303 (B's branch is longer in AWS time: 1.309) + control 0.173 +
        // request 0.351 + accept 0.135 + routes 0.161 + update-sg 0.469 + final 0.081 + teardown 1.417
        assert!(close(p.parts.function, 4.284), "{:?}", p.parts);
        // waits: B's 1.913 s of retries, control 0.286, accept 1.265, final 0.789, teardown 0.653, hold 1.002: ÷ 0.02
        assert!(close(p.parts.waits, 295.4), "{:?}", p.parts);
        assert!(close(p.parts.overhead, 0.139), "{:?}", p.parts);
        assert!(close(p.parts.total(), 299.823), "{:?}", p.parts);
        let state = |name: &str| p.states.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(close(state("Create VPC A").total(), 23.354));
        assert!(close(state("Create VPC B").total(), 96.964));
        // the Parallel lasts as long as its longest branch in AWS time (B, whose retries were longer)
        assert!(state("Create both VPCs").total() > 96.964);
        assert!(
            close(state("Keep the lab up").waits, 50.1),
            "{:?}",
            state("Keep the lab up")
        );
        assert!(p.lags.is_empty());
    }

    #[test]
    fn at_time_scale_one_the_projection_is_the_wall_time_along_the_longest_branch() {
        let (execution, events) = fixture("tutorial-realistic");
        let p = project(
            &events,
            execution.start,
            execution.stop,
            1.0,
            &[],
            &HashMap::new(),
        );
        let wall = execution.stop.unwrap() - execution.start;
        // B's branch ended last in wall time too: nothing is left out, nothing counted twice
        assert!(
            close(p.parts.total(), wall),
            "{} vs {wall}",
            p.parts.total()
        );
    }

    #[test]
    fn below_time_scale_one_without_replay_the_lines_say_the_estimate_is_short_and_give_wall_over_scale(
    ) {
        let (execution, events) = fixture("tutorial-realistic");
        let wall = execution.stop.unwrap() - execution.start;
        let scaled = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[],
            &HashMap::new(),
        );
        assert!(close(scaled.upper_bound(), wall / 0.02));
        assert!(scaled.upper_bound() > scaled.parts.total());
        let cost = cost(&events, &scaled);
        let text = lines(&scaled, &cost).join("\n");
        let at_most = format!(
            "at most {:.1} min (wall \u{00f7} time scale)",
            wall / 0.02 / 60.0
        );
        assert!(text.contains(&at_most), "{text}");
        assert!(text.contains("is short at this scale"), "{text}");
        let real = project(
            &events,
            execution.start,
            execution.stop,
            1.0,
            &[],
            &HashMap::new(),
        );
        assert!(!lines(&real, &cost).join("\n").contains("at most"));
        // replayed from the local AWS's timing, it is not short: no such line
        let first = first_attempt(&events, "Create VPC A");
        let timed = Milestone {
            at: events[0].at + 1.0,
            what: "instance A running".into(),
            basis: Basis::Delays(vec![(first + 0.1, 15.0)]),
        };
        let replayed = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[timed],
            &lab_intervals(),
        );
        assert_eq!(replayed.replayed, 1);
        assert!(!lines(&replayed, &cost).join("\n").contains("at most"));
    }

    #[test]
    fn a_milestone_is_noticed_by_the_first_attempt_after_it() {
        let (execution, events) = fixture("tutorial-realistic");
        // instance A seen running 1.0 s into the run: during Create VPC A's retry wait (0.853 s to 1.294 s after
        // the first event, itself 0.061 s after the start)
        let seen = Milestone::seen(events[0].at + 1.0, "instance A running");
        let p = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[seen],
            &lab_intervals(),
        );
        assert_eq!(p.lags.len(), 1);
        let lag = &p.lags[0];
        assert_eq!(lag.state, "Create VPC A");
        // ready: its first attempt (0.650 s) + 0.147 s of the wait ÷ 0.02; noticed: the whole wait, 0.441 s ÷ 0.02
        assert!(close(lag.ready, 8.0), "{lag:?}");
        assert!(close(lag.noticed, 22.7), "{lag:?}");
        assert!(close(lag.lag(), 14.7), "{lag:?}");
        // a milestone outside its state's run is no one's lag
        let late = Milestone::seen(events[0].at + 5.0, "instance A running");
        assert!(project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[late],
            &lab_intervals()
        )
        .lags
        .is_empty());
    }

    /// Below time scale 1 the local AWS's delays ran on at 1/scale while functions ran: replayed, a milestone is
    /// ready at its call's AWS time plus its delay in AWS seconds, and the state polls on at its NotReady interval
    /// until an attempt comes after it; everything after that attempt moves as much.
    #[test]
    fn a_delay_longer_on_aws_than_here_adds_the_polls_aws_would_make() {
        let (execution, events) = fixture("tutorial-realistic");
        let first = first_attempt(&events, "Create VPC A");
        // here the endpoints were ready 1.0 s into the run, during A's retry wait (as in the test above), and
        // noticed by A's second attempt, 22.7 AWS seconds into the state (its first attempt 0.650 s + the 0.441 s
        // wait ÷ 0.02); the call that began them came 0.1 s into A's first attempt
        let endpoints = |aws_seconds: f64| Milestone {
            at: events[0].at + 1.0,
            what: "SSM endpoints available".into(),
            basis: Basis::Delays(vec![(first + 0.1, aws_seconds)]),
        };
        let intervals = lab_intervals();
        assert_eq!(intervals["Create VPC A"], 5.0);
        let project = |m: &[Milestone]| {
            project(
                &events,
                execution.start,
                execution.stop,
                0.02,
                m,
                &intervals,
            )
        };
        let state =
            |p: &Projection, name: &str| p.states.iter().find(|(n, _)| n == name).unwrap().1;
        let before = project(&[]);

        // 60 s on AWS: ready 60.1 s into the state; AWS polls on every 5 s + a poll (A's shortest attempt, 0.650 s):
        // 7 more polls (22.7 + 7 x 5.65 = 62.25 is the first after 60.1)
        let after = project(&[endpoints(60.0)]);
        let lag = &after.lags[0];
        assert_eq!(lag.awaited, "SSM endpoints available");
        assert!(close(lag.ready, 60.1), "{lag:?}");
        assert!(close(lag.noticed, 62.25), "{lag:?}");
        let (a, a_before) = (
            state(&after, "Create VPC A"),
            state(&before, "Create VPC A"),
        );
        assert!(close(a.waits - a_before.waits, 35.0), "{a:?}");
        assert!(close(a.function - a_before.function, 7.0 * 0.65), "{a:?}");
        // B's branch (96.964 s) is still the longer one: the lab takes as long as before
        assert!(
            close(after.parts.total(), before.parts.total()),
            "{:?}",
            after.parts
        );

        // 120 s: 18 more polls (22.7 + 18 x 5.65 = 124.4), A now 23.354 + 101.7 = 125.054 s, past B by 28.09 s (less
        // the 7 ms by which Step Functions' own time around A's branch was shorter than around B's)
        let after = project(&[endpoints(120.0)]);
        assert!(close(state(&after, "Create VPC A").total(), 125.054));
        assert!(
            (after.parts.total() - before.parts.total() - (125.054 - 96.964)).abs() < 0.01,
            "{:?}",
            after.parts
        );

        // a delay the run here waited out already is not replayed: 10 s from the call is before 22.7
        let after = project(&[endpoints(10.0)]);
        assert!(close(after.lags[0].ready, 10.1) && close(after.lags[0].noticed, 22.7));
        assert!(close(after.parts.total(), before.parts.total()));
    }

    /// Two things one state waits for: each one's polls move what comes after it, and the polls one needs are not
    /// counted again for the other.
    #[test]
    fn the_polls_for_two_milestones_of_a_state_are_counted_once() {
        let (execution, events) = fixture("tutorial-realistic");
        // its first attempt (1.161 s) began both deletions 0.1 s in; then 0.653 s of retry wait (32.65 AWS s) and
        // the second attempt (0.256 s), which finds both gone: here they were, 1.4 and 1.6 s after the first began
        let first = first_attempt(&events, "Tear the lab down");
        let began = first + 0.1;
        let gone = |what: &str, at: f64, aws: f64| Milestone {
            at: first + at,
            what: what.into(),
            basis: Basis::Delays(vec![(began, aws)]),
        };
        let milestones = [
            gone("instances terminated", 1.6, 70.0),
            gone("SSM endpoints deleted", 1.4, 60.0),
        ];
        let p = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &milestones,
            &lab_intervals(),
        );
        let lag = |what: &str| p.lags.iter().find(|l| l.awaited == what).unwrap().clone();
        // the second attempt came 0.005 + 1.161 + 32.65 = 33.816 s in; polls every 5 s + 0.256 s (its shortest
        // attempt): the endpoints, ready at 60.105, take 6 polls (65.352), the instances, at 70.105, one more
        let (endpoints, instances) = (lag("SSM endpoints deleted"), lag("instances terminated"));
        assert!(
            close(endpoints.ready, 60.105) && close(endpoints.noticed, 65.352),
            "{endpoints:?}"
        );
        assert!(
            close(instances.ready, 70.105) && close(instances.noticed, 70.608),
            "{instances:?}"
        );
        let before = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[],
            &lab_intervals(),
        );
        let state = |p: &Projection| {
            p.states
                .iter()
                .find(|(n, _)| n == "Tear the lab down")
                .unwrap()
                .1
        };
        assert!(
            close(state(&p).total() - state(&before).total(), 7.0 * 5.256),
            "{:?}",
            state(&p)
        );
    }

    /// A milestone after another (the SSM Agent online after its instance runs) is replayed from that one's
    /// replayed time, in the next state that waits for it.
    #[test]
    fn a_milestone_after_another_is_replayed_from_it() {
        let (execution, events) = fixture("tutorial-realistic");
        let first = first_attempt(&events, "Create VPC A");
        let running = Milestone {
            at: events[0].at + 1.0,
            what: "instance A running".into(),
            basis: Basis::Delays(vec![(first + 0.1, 15.0)]),
        };
        // online here before the ping state began; on AWS 200 s after its instance ran: long after
        let online = Milestone {
            at: events[0].at + 1.1,
            what: "SSM Agent A online".into(),
            basis: Basis::After("instance A running".into(), 200.0),
        };
        let p = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[running, online],
            &lab_intervals(),
        );
        let lag = p
            .lags
            .iter()
            .find(|l| l.awaited == "SSM Agent A online")
            .unwrap();
        assert_eq!(lag.state, "Ping B from A before peering (expect no reply)");
        let entered = p
            .states
            .iter()
            .position(|(n, _)| n == "Ping B from A before peering (expect no reply)")
            .unwrap();
        // ready 15.1 + 200 s after A's state began (the execution's AWS time of the ping state's start subtracted)
        assert!(
            lag.ready > 0.0 && lag.noticed >= lag.ready,
            "{lag:?} {entered}"
        );
        let ping = p.states[entered].1;
        assert!(ping.total() >= lag.ready, "{ping:?}");
    }

    #[test]
    fn a_lab_costs_its_endpoint_hours_its_instances_and_its_transitions() {
        let (execution, events) = fixture("tutorial-realistic");
        let p = project(
            &events,
            execution.start,
            execution.stop,
            0.02,
            &[],
            &HashMap::new(),
        );
        let c = cost(&events, &p);
        assert_eq!(c.transitions, 21);
        assert!(close(c.transitions_usd, 21.0 * 0.025 / 1000.0));
        assert_eq!(c.lambda_requests, 17);
        // two endpoints, one started hour each (the lab lasts 5 minutes in AWS time)
        assert_eq!(c.endpoint_hours, 2.0);
        assert!(close(c.endpoints_usd, 0.02));
        // both instances ran from the Parallel's end to teardown's first call (control 14.479 + request 0.356 +
        // accept 63.391 + routes 0.169 + update-sg 0.477 + final 39.539 + choice 0.001 + hold 50.1 + the gaps
        // between and teardown's 0.005 s before its first attempt = 168.517), A also while B still waited
        // (B 96.964 - A 23.354 = 73.61): each over the 60 s minimum, $0.0104 an hour
        assert_eq!(c.instance_seconds.len(), 2);
        assert!(
            close(c.instance_seconds[0], 242.127),
            "{:?}",
            c.instance_seconds
        );
        assert!(
            close(c.instance_seconds[1], 168.517),
            "{:?}",
            c.instance_seconds
        );
        assert!(
            (c.instances_usd - 0.0011863).abs() < 1e-7,
            "{}",
            c.instances_usd
        );
        let total = c.transitions_usd + c.lambda_usd + c.instances_usd + c.endpoints_usd;
        assert!(close(c.total(), total));
    }

    #[test]
    fn the_waited_states_are_those_of_the_lab_state_machine() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../statemachine/peering-lab.asl.json");
        let text = std::fs::read_to_string(path).unwrap();
        for (state, _) in WAITED {
            assert!(
                text.contains(&format!("\"{state}\": {{")),
                "{state} is not a state of peering-lab.asl.json"
            );
        }
    }
}
