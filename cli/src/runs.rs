//! What happened to each state of an execution, read from its history: when it was entered and left, how deep
//! in a Parallel it ran, and each attempt of a task (a failed attempt followed by another is a retry). Events
//! are attributed to states through `previousEventId`, which keeps Parallel branches apart.

use std::collections::HashMap;

use crate::history::Event;

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub start: f64,
    pub end: Option<f64>,
    /// `error: message` when the attempt failed.
    pub failure: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateRun {
    pub name: String,
    /// `Task`, `Parallel`, `Wait`, `Choice`, `Pass`, `Map`, `Fail`, `Succeed`.
    pub kind: String,
    /// 0 at the top level, 1 inside a Parallel's branch, ...
    pub depth: usize,
    /// The Parallel (or Map) run whose branch this state runs in; None at the top level.
    pub parent: Option<usize>,
    /// Which branch of `parent` (numbered across the execution as they start); 0 at the top level.
    pub branch: usize,
    pub entered: f64,
    pub exited: Option<f64>,
    pub attempts: Vec<Attempt>,
}

impl StateRun {
    /// Attempts that failed and were tried again.
    pub fn retries(&self) -> usize {
        self.attempts.len().saturating_sub(1)
    }

    /// The state ended on a failed attempt (a Catch took over, or the execution failed).
    pub fn failed(&self) -> Option<&Attempt> {
        self.attempts.last().filter(|a| a.failure.is_some())
    }

    pub fn duration(&self) -> Option<f64> {
        self.exited.map(|x| x - self.entered)
    }

    /// A teardown state (drawn in its own colour): one of [`TEARDOWN_STATES`].
    pub fn is_teardown(&self) -> bool {
        TEARDOWN_STATES.contains(&self.name.as_str())
    }
}

/// The states of statemachine/*.asl.json that run the teardown function (their `FunctionName` is
/// `${TeardownFunctionArn}`); a unit test holds this list to the definitions.
pub const TEARDOWN_STATES: &[&str] = &[
    "Tear the lab down",
    "Tear down after a failure",
    "Tear down what the execution left",
];

/// Folds events, in order, into state runs. Feed it the whole history, or page by page while following.
#[derive(Debug, Default)]
pub struct Runs {
    pub runs: Vec<StateRun>,
    owner: HashMap<i64, usize>,
    kinds: HashMap<i64, String>,
    branches: usize,
    pub start: Option<f64>,
}

/// What one event did to the runs (for the live view).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Entered(usize),
    Exited(usize),
    /// This attempt (the state's last) failed.
    AttemptFailed(usize, Attempt),
    Retried(usize),
    Ended(Event),
    Nothing,
}

impl Runs {
    pub fn from_events(events: &[Event]) -> Runs {
        let mut runs = Runs::default();
        for e in events {
            runs.feed(e);
        }
        runs
    }

    pub fn feed(&mut self, e: &Event) -> Change {
        self.start.get_or_insert(e.at);
        self.kinds.insert(e.id, e.kind.clone());
        let parent = self.owner.get(&e.previous_id).copied();
        if e.entered() {
            let opens_branch = self
                .kinds
                .get(&e.previous_id)
                .is_some_and(|k| k == "ParallelStateStarted" || k == "MapIterationStarted");
            let (depth, enclosing, branch) = match parent {
                Some(p) if opens_branch => {
                    self.branches += 1;
                    (self.runs[p].depth + 1, Some(p), self.branches)
                }
                Some(p) => (self.runs[p].depth, self.runs[p].parent, self.runs[p].branch),
                None => (0, None, 0),
            };
            self.runs.push(StateRun {
                name: e.state.clone().unwrap_or_default(),
                kind: e.kind.trim_end_matches("StateEntered").to_string(),
                depth,
                parent: enclosing,
                branch,
                entered: e.at,
                exited: None,
                attempts: Vec::new(),
            });
            let index = self.runs.len() - 1;
            self.owner.insert(e.id, index);
            return Change::Entered(index);
        }
        if e.exited() {
            let name = e.state.clone().unwrap_or_default();
            let open = self
                .runs
                .iter()
                .rposition(|r| r.name == name && r.exited.is_none());
            if let Some(index) = open {
                self.runs[index].exited = Some(e.at);
                self.owner.insert(e.id, index);
                return Change::Exited(index);
            }
            return Change::Nothing;
        }
        if e.ends_execution() {
            return Change::Ended(e.clone());
        }
        let Some(index) = parent else {
            return Change::Nothing;
        };
        self.owner.insert(e.id, index);
        let run = &mut self.runs[index];
        if e.attempt_scheduled() {
            let retried = run.attempts.last().is_some_and(|a| a.failure.is_some());
            run.attempts.push(Attempt {
                start: e.at,
                end: None,
                failure: None,
                error: None,
            });
            return if retried {
                Change::Retried(index)
            } else {
                Change::Nothing
            };
        }
        if let Some(attempt) = run.attempts.last_mut().filter(|a| a.end.is_none()) {
            if e.attempt_failed() {
                attempt.end = Some(e.at);
                attempt.failure = Some(e.reason());
                attempt.error = e.error.clone();
                return Change::AttemptFailed(index, attempt.clone());
            }
            if e.kind.ends_with("Succeeded") {
                attempt.end = Some(e.at);
            }
        }
        Change::Nothing
    }

    /// Seconds since the execution started.
    pub fn since_start(&self, at: f64) -> f64 {
        at - self.start.unwrap_or(at)
    }

    pub fn transitions(&self) -> usize {
        self.runs.len()
    }

    pub fn retries(&self) -> usize {
        self.runs.iter().map(StateRun::retries).sum()
    }

    /// State transitions as Step Functions Standard bills them: each state entered, and each retry attempt.
    pub fn billed_transitions(&self) -> usize {
        self.transitions() + self.retries()
    }

    /// States entered and not left.
    pub fn open(&self) -> impl Iterator<Item = &StateRun> {
        self.runs.iter().filter(|r| r.exited.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::fixture;

    #[test]
    fn parallel_branches_are_kept_apart() {
        let (_, events) = fixture("tutorial-realistic");
        let runs = Runs::from_events(&events);
        let by_name = |n: &str| runs.runs.iter().find(|r| r.name == n).unwrap();
        let (a, b, both) = (
            by_name("Create VPC A"),
            by_name("Create VPC B"),
            by_name("Create both VPCs"),
        );
        assert_eq!((both.depth, a.depth, b.depth), (0, 1, 1));
        // A waited once (NotReady), B twice (NotReady, then Lambda throttling): retries follow their own branch
        assert_eq!(a.retries(), 1);
        assert_eq!(b.retries(), 2);
        assert_eq!(
            b.attempts[1].error.as_deref(),
            Some("Lambda.TooManyRequestsException")
        );
        assert!(a.exited.unwrap() < b.exited.unwrap());
        assert_eq!(by_name("Request the peering").depth, 0);
        assert_eq!(runs.transitions(), 14);
        assert_eq!(runs.open().count(), 0);
    }

    #[test]
    fn a_caught_failure_ends_its_state_on_a_failed_attempt() {
        let (_, events) = fixture("blocked-by-nacl");
        let runs = Runs::from_events(&events);
        let ping = runs
            .runs
            .iter()
            .find(|r| r.name == "Ping B from A (expect replies)")
            .unwrap();
        let failed = ping.failed().unwrap();
        assert_eq!(failed.error.as_deref(), Some("PingFailed"));
        assert!(failed.failure.as_ref().unwrap().contains("network ACL"));
        assert!(runs
            .runs
            .iter()
            .any(|r| r.name == "Tear down after a failure" && r.is_teardown()));
    }

    /// Task states of a state machine definition whose FunctionName is `function`, Parallel branches included.
    fn tasks_running(states: &serde_json::Value, function: &str, found: &mut Vec<String>) {
        for (name, state) in states.as_object().into_iter().flatten() {
            // lambda:invoke's FunctionName (JSONPath Parameters or JSONata Arguments), or the function as Resource
            let runs = state["Parameters"]["FunctionName"] == function
                || state["Arguments"]["FunctionName"] == function
                || state["Resource"] == function;
            if state["Type"] == "Task" && runs {
                found.push(name.clone());
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                tasks_running(&branch["States"], function, found);
            }
            for inner in ["Iterator", "ItemProcessor"] {
                tasks_running(&state[inner]["States"], function, found);
            }
        }
    }

    #[test]
    fn the_teardown_states_are_those_of_the_state_machines() {
        let mut found = Vec::new();
        for file in ["peering-lab.asl.json", "backstop.asl.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../statemachine")
                .join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            let definition: serde_json::Value = serde_json::from_str(&text).unwrap();
            tasks_running(&definition["States"], "${TeardownFunctionArn}", &mut found);
        }
        found.sort();
        let mut listed: Vec<String> = TEARDOWN_STATES.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(listed, found, "TEARDOWN_STATES vs statemachine/*.asl.json");
    }

    #[test]
    fn following_page_by_page_gives_the_same_runs() {
        let (_, events) = fixture("tutorial-realistic");
        let mut paged = Runs::default();
        for chunk in events.chunks(7) {
            for e in chunk {
                paged.feed(e);
            }
        }
        assert_eq!(paged.runs, Runs::from_events(&events).runs);
    }
}
