//! What the steps pass to each other through the state machine.

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::exercise::ExerciseOutcome;
use crate::input::LabPlan;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn letter(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

/// What create-vpc built for one side.
///
/// The payloads steps pass each other (this, `LabPlan`, the steps' events) accept fields they do not know
/// (no `deny_unknown_fields`, which only the user's input keeps, and `TeardownEvent`, whose fields tell a lab's
/// teardown from EventBridge's event): an execution in flight across a deploy hands the new code what the old code
/// wrote.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SideOutput {
    pub side: Side,
    pub region: String,
    pub vpc_id: String,
    pub cidr: String,
    pub subnet_id: String,
    /// The lab's own route table, associated with the subnet (add-routes adds the peering route there).
    #[serde(default)]
    pub route_table_id: String,
    /// The subnet's zone name and zone id (the same physical zone in every account).
    #[serde(default)]
    pub availability_zone: String,
    #[serde(default)]
    pub availability_zone_id: String,
    pub security_group_id: String,
    pub instance_id: String,
    pub private_ip: String,
    /// Interface endpoints for SSM (side A only).
    #[serde(default)]
    pub endpoint_ids: Vec<String>,
}

/// The event of create-vpc.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreateSideEvent {
    pub lab: LabPlan,
    pub side: Side,
}

/// The events of request-peering, accept-peering, add-routes and update-sg.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PairEvent {
    pub lab: LabPlan,
    pub vpc_a: SideOutput,
    pub vpc_b: SideOutput,
    #[serde(default)]
    pub peering_id: Option<String>,
}

impl PairEvent {
    /// The peering's id, which every step after request-peering needs.
    pub fn peering(&self) -> Result<&str> {
        self.peering_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| LabError::invalid("peering_id: required"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PeeringOutput {
    pub peering_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RouteOutput {
    pub route_table_id: String,
    pub destination: String,
    pub action: RouteAction,
}

/// What add-routes did in one table.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RouteAction {
    /// The route was there already, through this peering (a retry).
    Existing,
    Created,
    /// A blackhole route of an earlier peering now points at this one.
    Replaced,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RoutesOutput {
    pub routes: Vec<RouteOutput>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SecurityGroupOutput {
    pub security_group_id: String,
    /// "group sg-..." or "cidr 10.0.0.0/16"
    pub source: String,
    pub protocol: String,
    pub instance_groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Reachable,
    Unreachable,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PingEvent {
    pub lab: LabPlan,
    pub vpc_a: SideOutput,
    pub vpc_b: SideOutput,
    pub expect: Expect,
    /// Names the command (its Comment), so a retried step finds the command it already sent.
    pub phase: String,
    #[serde(default)]
    pub peering_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PingOutput {
    pub reachable: bool,
    pub transmitted: u32,
    pub received: u32,
    pub loss_percent: f64,
    pub rtt_avg_ms: Option<f64>,
    pub expected: Expect,
    pub passed: bool,
    /// True when the local AWS computed the ping from the EC2 state instead of sending packets.
    pub simulated: bool,
    pub command_id: String,
    pub target_ip: String,
    /// An exercise lab's final ping: what was broken and what the diagnosis found. Always present (null
    /// otherwise): the state machine's ResultSelector names it, and a missing field would fail the state.
    #[serde(default)]
    pub exercise: Option<ExerciseOutcome>,
}

/// What a teardown event asks for.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TeardownMode {
    /// This lab (the default).
    #[default]
    Lab,
    /// Every lab whose `peerlab:expires-at` has passed (the sweeper schedule's `{"mode": "sweep"}`).
    Sweep,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeardownEvent {
    #[serde(default)]
    pub lab_id: Option<String>,
    #[serde(default)]
    pub mode: TeardownMode,
    #[serde(default)]
    pub lab: Option<LabPlan>,
    /// Ids the execution knows of (reported as deleted once gone); deletion itself goes by tag. Strings or
    /// arrays of them, nested as the state machine's `States.Array` builds them.
    #[serde(default)]
    pub known_ids: Vec<serde_json::Value>,
    /// After a failure: teardown is done only once nothing is left *and* its state has been retried
    /// `teardown::QUIET_RETRIES` times (a quiet period, `teardown::Quiet`), for what a step still in flight may
    /// create. false (default): done as soon as nothing is left.
    #[serde(default)]
    pub after_failure: bool,
    /// `$$.State.RetryCount` of this teardown state.
    #[serde(default)]
    pub retry_count: u32,
}

impl TeardownEvent {
    /// `known_ids` flattened to the strings in it.
    pub fn known(&self) -> Vec<String> {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) if !s.is_empty() => out.push(s.clone()),
                serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.known_ids.iter().for_each(|v| walk(v, &mut out));
        out
    }
}

/// The EventBridge event Step Functions sends when an execution changes status (detail-type "Step Functions
/// Execution Status Change"): what the backstop rule hands teardown for executions that ended FAILED,
/// TIMED_OUT or ABORTED, where the state machine's own Catch never ran.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExecutionStatusChange {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub detail: ExecutionDetail,
    /// `$$.State.RetryCount` of the backstop's teardown state (see `TeardownRequest`); 0 for a bare event.
    #[serde(default, skip)]
    pub retry_count: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    /// The execution's input as a JSON text; absent when too large for the event.
    #[serde(default)]
    pub input: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub start_date: Option<i64>,
}

/// What teardown is asked to do: tear down one lab or sweep (from the state machine, a schedule, a person), or
/// clean up after an execution that ended without its Catch (from the backstop rule).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum TeardownRequest {
    Backstop(ExecutionStatusChange),
    Lab(TeardownEvent),
}

impl<'de> Deserialize<'de> for TeardownRequest {
    /// By shape, so that each kind's errors name its own fields: an event with a `detail-type` is EventBridge's,
    /// bare or as the backstop state machine passes it, `{"event": <event>, "retry_count": N}` (a JSONPath cannot
    /// name `detail-type` field by field: statelint refuses the hyphen).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut value = serde_json::Value::deserialize(deserializer)?;
        let retry_count = value
            .get("retry_count")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        if value
            .get("event")
            .is_some_and(|e| e.get("detail-type").is_some())
        {
            value = value["event"].take();
        }
        if value.get("detail-type").is_some() {
            serde_json::from_value(value)
                .map(|event: ExecutionStatusChange| {
                    TeardownRequest::Backstop(ExecutionStatusChange {
                        retry_count: retry_count.unwrap_or(0),
                        ..event
                    })
                })
                .map_err(D::Error::custom)
        } else {
            serde_json::from_value(value)
                .map(TeardownRequest::Lab)
                .map_err(D::Error::custom)
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct TeardownOutput {
    pub lab_ids: Vec<String>,
    pub deleted: Vec<String>,
    pub remaining: Vec<String>,
    /// Sweep only: expired labs this run had no time for (the next run takes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_are_flattened() {
        let e: TeardownEvent = serde_json::from_value(serde_json::json!({
            "lab_id": "x", "known_ids": ["i-1", ["vpce-1", "vpce-2"], "", null, "vpc-1"]
        }))
        .unwrap();
        assert_eq!(e.known(), ["i-1", "vpce-1", "vpce-2", "vpc-1"]);
    }

    #[test]
    fn payloads_between_steps_accept_fields_a_newer_step_adds() {
        let side = SideOutput {
            side: Side::A,
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            cidr: "10.0.0.0/16".into(),
            subnet_id: "subnet-1".into(),
            route_table_id: "rtb-1".into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: "use1-az6".into(),
            security_group_id: "sg-1".into(),
            instance_id: "i-1".into(),
            private_ip: "10.0.1.4".into(),
            endpoint_ids: vec![],
        };
        let mut written = serde_json::to_value(&side).unwrap();
        written["added_later"] = serde_json::json!(true);
        assert_eq!(serde_json::from_value::<SideOutput>(written).unwrap(), side);
        let plan = crate::input::validate(
            &crate::input::LabInput::default(),
            "lab-1",
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        let mut written = serde_json::to_value(&plan).unwrap();
        written["added_later"] = serde_json::json!(1);
        written["vpc_a"]["added_later"] = serde_json::json!(1);
        assert_eq!(
            serde_json::from_value::<crate::input::LabPlan>(written).unwrap(),
            plan
        );
    }

    #[test]
    fn teardown_requests_are_told_apart_by_shape() {
        let lab: TeardownRequest =
            serde_json::from_value(serde_json::json!({"lab_id": "x"})).unwrap();
        assert!(matches!(lab, TeardownRequest::Lab(e) if e.lab_id.as_deref() == Some("x")));
        let backstop: TeardownRequest =
            serde_json::from_str(include_str!("../../teardown/events/backstop.json")).unwrap();
        assert!(matches!(backstop, TeardownRequest::Backstop(e) if e.detail.status == "TIMED_OUT"));
        // Each kind's own error: a lab event with a misspelt field, an EventBridge event without its detail.
        let typo = serde_json::from_value::<TeardownRequest>(serde_json::json!({"labid": "x"}));
        assert!(typo.unwrap_err().to_string().contains("labid"));
        let bare = serde_json::from_value::<TeardownRequest>(
            serde_json::json!({"detail-type": "Step Functions Execution Status Change", "source": "aws.states"}),
        );
        assert!(bare.unwrap_err().to_string().contains("detail"));
    }
}
