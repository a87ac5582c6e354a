//! An execution and its history, in the few fields the CLI reads: from the Step Functions SDK while following a
//! run, or from the JSON `aws stepfunctions describe-execution` / `get-execution-history` print (recorded runs,
//! `peerlab timeline --history FILE`).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub previous_id: i64,
    /// Seconds since the epoch.
    pub at: f64,
    /// The event type as AWS names it: `TaskStateEntered`, `TaskFailed`, `ExecutionSucceeded`, ...
    pub kind: String,
    /// The state's name, on `*StateEntered` / `*StateExited` events.
    pub state: Option<String>,
    /// Error and cause, on failure, time-out and abort events.
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The execution's output, on `ExecutionSucceeded`.
    pub output: Option<String>,
}

impl Event {
    pub fn entered(&self) -> bool {
        self.kind.ends_with("StateEntered")
    }

    pub fn exited(&self) -> bool {
        self.kind.ends_with("StateExited")
    }

    /// A failed attempt of a task (retried or not).
    pub fn attempt_failed(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "TaskFailed" | "TaskTimedOut" | "LambdaFunctionFailed" | "LambdaFunctionTimedOut"
        )
    }

    /// An attempt of a task starting.
    pub fn attempt_scheduled(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "TaskScheduled" | "LambdaFunctionScheduled"
        )
    }

    pub fn ends_execution(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut"
        )
    }

    /// The execution's status this event ends it with (`TIMED_OUT` for `ExecutionTimedOut`, ...).
    pub fn final_status(&self) -> Option<String> {
        if !self.ends_execution() {
            return None;
        }
        let status = self.kind.trim_start_matches("Execution").to_uppercase();
        Some(if status == "TIMEDOUT" {
            "TIMED_OUT".into()
        } else {
            status
        })
    }

    /// `error: message`, the message read with [`error_message`].
    pub fn reason(&self) -> String {
        let message = error_message(self.cause.as_deref().unwrap_or_default());
        match (self.error.as_deref(), message.is_empty()) {
            (Some(error), true) => error.to_string(),
            (Some(error), false) => format!("{error}: {message}"),
            (None, _) => message,
        }
    }
}

/// A cause as people read it: a Lambda error's `errorMessage`, else the cause as given.
pub fn error_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| cause.to_string())
}

/// An execution as `describe-execution` tells it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: String,
    pub start: f64,
    pub stop: Option<f64>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

fn seconds(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp_nanos() as f64 / 1e9),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

/// An execution's error and cause as the lab's failing step reported them: a lab that failed on a `States.*`
/// error fails as `StepFunctionsError` with that error in its cause ([`lab_core::error::caught_error`]).
fn as_caught(error: Option<String>, cause: Option<String>) -> (Option<String>, Option<String>) {
    match error {
        Some(error) => {
            let (error, cause) = lab_core::error::caught_error(&error, cause.as_deref());
            (Some(error), cause)
        }
        None => (None, cause),
    }
}

impl Event {
    /// From one element of `get-execution-history`'s `events`.
    pub fn from_json(v: &Value) -> Result<Event, String> {
        let kind = text(v.get("type")).ok_or("an event without a type")?;
        let id = v
            .get("id")
            .and_then(Value::as_i64)
            .ok_or("an event without an id")?;
        let at = v
            .get("timestamp")
            .and_then(seconds)
            .ok_or_else(|| format!("event {id}: no readable timestamp"))?;
        let details = |suffix: &str| -> Option<&Value> {
            v.as_object()?
                .iter()
                .find(|(k, _)| k.ends_with(suffix))
                .map(|(_, d)| d)
        };
        let state = v
            .get("stateEnteredEventDetails")
            .or_else(|| v.get("stateExitedEventDetails"))
            .and_then(|d| text(d.get("name")));
        let failure = [
            "FailedEventDetails",
            "TimedOutEventDetails",
            "AbortedEventDetails",
        ]
        .iter()
        .find_map(|s| details(s));
        let (error, cause) = as_caught(
            failure.and_then(|d| text(d.get("error"))),
            failure.and_then(|d| text(d.get("cause"))),
        );
        Ok(Event {
            id,
            previous_id: v
                .get("previousEventId")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            at,
            kind,
            state,
            error,
            cause,
            output: v
                .get("executionSucceededEventDetails")
                .and_then(|d| text(d.get("output"))),
        })
    }

    pub fn from_sdk(e: &aws_sdk_sfn::types::HistoryEvent) -> Event {
        let failure: Option<(Option<&str>, Option<&str>)> = e
            .task_failed_event_details()
            .map(|d| (d.error(), d.cause()))
            .or_else(|| {
                e.task_timed_out_event_details()
                    .map(|d| (d.error(), d.cause()))
            })
            .or_else(|| {
                e.lambda_function_failed_event_details()
                    .map(|d| (d.error(), d.cause()))
            })
            .or_else(|| {
                e.lambda_function_timed_out_event_details()
                    .map(|d| (d.error(), d.cause()))
            })
            .or_else(|| {
                e.execution_failed_event_details()
                    .map(|d| (d.error(), d.cause()))
            })
            .or_else(|| {
                e.execution_timed_out_event_details()
                    .map(|d| (d.error(), d.cause()))
            })
            .or_else(|| {
                e.execution_aborted_event_details()
                    .map(|d| (d.error(), d.cause()))
            });
        let (error, cause) = as_caught(
            failure.and_then(|f| f.0).map(str::to_string),
            failure.and_then(|f| f.1).map(str::to_string),
        );
        Event {
            id: e.id(),
            previous_id: e.previous_event_id(),
            at: e.timestamp().as_secs_f64(),
            kind: e.r#type().as_str().to_string(),
            state: e
                .state_entered_event_details()
                .map(|d| d.name().to_string())
                .or_else(|| e.state_exited_event_details().map(|d| d.name().to_string())),
            error,
            cause,
            output: e
                .execution_succeeded_event_details()
                .and_then(|d| d.output())
                .map(str::to_string),
        }
    }
}

impl Execution {
    /// From `describe-execution`'s JSON.
    pub fn from_json(v: &Value) -> Result<Execution, String> {
        let (error, cause) = as_caught(text(v.get("error")), text(v.get("cause")));
        Ok(Execution {
            arn: text(v.get("executionArn")).ok_or("no executionArn")?,
            name: text(v.get("name")).unwrap_or_default(),
            state_machine_arn: text(v.get("stateMachineArn")).unwrap_or_default(),
            status: text(v.get("status")).ok_or("no status")?,
            start: v.get("startDate").and_then(seconds).ok_or("no startDate")?,
            stop: v.get("stopDate").and_then(seconds),
            input: text(v.get("input")),
            output: text(v.get("output")),
            error,
            cause,
        })
    }

    pub fn from_sdk(
        d: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    ) -> Execution {
        let (error, cause) =
            as_caught(d.error().map(str::to_string), d.cause().map(str::to_string));
        Execution {
            arn: d.execution_arn().to_string(),
            name: d.name().unwrap_or_default().to_string(),
            state_machine_arn: d.state_machine_arn().to_string(),
            status: d.status().as_str().to_string(),
            start: d.start_date().as_secs_f64(),
            stop: d.stop_date().map(|t| t.as_secs_f64()),
            input: d.input().map(str::to_string),
            output: d.output().map(str::to_string),
            error,
            cause,
        }
    }

    pub fn running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// A recorded run: `{"execution": <describe-execution>, "history": <get-execution-history>}`, or just the
/// history (`{"events": [...]}`), whose execution is then made up from its first and last events.
pub fn read_recording(text: &str) -> Result<(Execution, Vec<Event>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let history = v.get("history").unwrap_or(&v);
    let events = history
        .get("events")
        .and_then(Value::as_array)
        .ok_or("no \"events\" array (the output of aws stepfunctions get-execution-history)")?
        .iter()
        .map(Event::from_json)
        .collect::<Result<Vec<_>, _>>()?;
    let execution = match v.get("execution") {
        Some(e) => Execution::from_json(e)?,
        None => {
            let first = events.first().ok_or("an empty history")?;
            let last = events.iter().rev().find(|e| e.ends_execution());
            Execution {
                arn: "(recorded)".into(),
                name: "(recorded)".into(),
                status: last
                    .and_then(Event::final_status)
                    .unwrap_or_else(|| "RUNNING".into()),
                start: first.at,
                stop: last.map(|e| e.at),
                output: last.and_then(|e| e.output.clone()),
                error: last.and_then(|e| e.error.clone()),
                cause: last.and_then(|e| e.cause.clone()),
                ..Default::default()
            }
        }
    };
    Ok((execution, events))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn fixture(name: &str) -> (Execution, Vec<Event>) {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        read_recording(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn recorded_histories_are_read() {
        let (execution, events) = fixture("tutorial-realistic");
        assert_eq!(execution.status, "SUCCEEDED");
        assert_eq!(events.len(), 83);
        assert_eq!(events[1].state.as_deref(), Some("Validate the input"));
        let failed = events.iter().find(|e| e.attempt_failed()).unwrap();
        assert_eq!(failed.error.as_deref(), Some("NotReady"));
        assert!(
            failed.reason().starts_with("NotReady: "),
            "{}",
            failed.reason()
        );
        assert!(
            !failed.reason().contains("errorType"),
            "{}",
            failed.reason()
        );
        assert!(events.last().unwrap().output.is_some());
    }

    #[test]
    fn a_lab_failed_on_a_step_functions_error_reads_as_that_error() {
        let described = serde_json::json!({
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:lab:run-1",
            "status": "FAILED",
            "startDate": 1.0,
            "error": lab_core::error::STEP_FUNCTIONS_ERROR,
            "cause": r#"{"Error":"States.Timeout","Cause":"Create VPC A took too long"}"#,
        });
        let execution = Execution::from_json(&described).unwrap();
        assert_eq!(execution.error.as_deref(), Some("States.Timeout"));
        assert_eq!(
            execution.cause.as_deref(),
            Some("Create VPC A took too long")
        );
        let failed = Event::from_json(&serde_json::json!({
            "type": "ExecutionFailed", "id": 9, "timestamp": 2.0,
            "executionFailedEventDetails": {
                "error": lab_core::error::STEP_FUNCTIONS_ERROR,
                "cause": r#"{"Error":"States.Runtime","Cause":"no $.x"}"#,
            },
        }))
        .unwrap();
        assert_eq!(failed.reason(), "States.Runtime: no $.x");
    }

    #[test]
    fn a_bare_history_makes_up_its_execution() {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/blocked-by-nacl.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let (execution, events) = read_recording(&v["history"].to_string()).unwrap();
        assert_eq!(execution.status, "FAILED");
        assert_eq!(execution.error.as_deref(), Some("PingFailed"));
        assert_eq!(execution.start, events[0].at);
    }

    #[test]
    fn timestamps_as_numbers_or_rfc3339() {
        let a = Event::from_json(
            &serde_json::json!({"id": 1, "type": "ExecutionStarted", "timestamp": 1795527927.5}),
        )
        .unwrap();
        let b = Event::from_json(&serde_json::json!({"id": 1, "type": "ExecutionStarted", "timestamp": "2026-11-24T10:25:27.500000+00:00"})).unwrap();
        assert_eq!(a.at, 1795527927.5);
        assert_eq!(b.at, 1795515927.5);
        assert!(Event::from_json(
            &serde_json::json!({"id": 1, "type": "X", "timestamp": "yesterday"})
        )
        .is_err());
        assert!(read_recording("{\"events\": 3}")
            .unwrap_err()
            .contains("events"));
        assert!(read_recording("nope").unwrap_err().contains("not JSON"));
    }
}
