//! The workflow's error vocabulary. Each variant has a stable `error_type` that the state machine's
//! `Retry`/`Catch` name in `ErrorEquals`.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum LabError {
    /// A precondition is not true yet (instance pending, peering provisioning, deletion in progress...).
    /// The state machine retries it with backoff; the step itself never sleeps.
    #[error("{0}")]
    NotReady(String),
    /// The input is wrong; nothing was created because of it.
    #[error("{0}")]
    InvalidInput(String),
    /// The peering connection reached a terminal state (failed, rejected, expired, deleted).
    #[error("{0}")]
    PeeringFailed(String),
    /// A route to the peer CIDR exists through something other than this lab's peering.
    #[error("{0}")]
    RouteConflict(String),
    /// AWS throttled the call even after the SDK's own retries.
    #[error("{0}")]
    Throttled(String),
    /// The final ping did not get through; the message names the hop that blocks it.
    #[error("{0}")]
    PingFailed(String),
    /// A break-and-fix exercise did not break what it meant to: the ping got through, or the diagnosis named
    /// another hop than the one left out.
    #[error("{0}")]
    ExerciseFailed(String),
    /// The negative control reached B before the peering existed: something else connects the VPCs.
    #[error("{0}")]
    ControlReachable(String),
    /// A resource with the lab's name exists but is not the lab's (other tags, other VPC).
    #[error("{0}")]
    ResourceConflict(String),
    /// A workshop needs more than the account's quotas leave free (the workshop's preflight, before anything
    /// exists): the message names each quota, its value, what is in use, free and needed.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Any other AWS error, with its code.
    #[error("{code}: {message}")]
    Aws { code: String, message: String },
}

impl LabError {
    /// The stable name of the error: what the state machine matches, and what Step Functions shows.
    pub fn error_type(&self) -> &'static str {
        match self {
            LabError::NotReady(_) => "NotReady",
            LabError::InvalidInput(_) => "InvalidInput",
            LabError::PeeringFailed(_) => "PeeringFailed",
            LabError::RouteConflict(_) => "RouteConflict",
            LabError::Throttled(_) => "Throttled",
            LabError::PingFailed(_) => "PingFailed",
            LabError::ExerciseFailed(_) => "ExerciseFailed",
            LabError::ControlReachable(_) => "ControlReachable",
            LabError::ResourceConflict(_) => "ResourceConflict",
            LabError::QuotaExceeded(_) => "QuotaExceeded",
            LabError::Aws { .. } => "AwsError",
        }
    }

    pub fn not_ready(message: impl Into<String>) -> Self {
        LabError::NotReady(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        LabError::InvalidInput(message.into())
    }
}

/// Codes AWS uses for throttling across EC2, SSM and STS.
const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
];

/// Codes that mean "not yet": retried by the state machine.
const TRANSIENT: &[&str] = &["DependencyViolation", "IncorrectState"];

/// "Does not exist" for every kind of resource the lab creates or finds by its tag. The EC2 API is eventually
/// consistent: a resource may answer these codes for a while after the call that created it, and a describe by
/// filter may not list it yet (EC2 API reference, "Eventual consistency in the Amazon EC2 API";
/// infra/local/README.md gives the windows the local AWS draws). Every id a step passes to EC2 is one the lab
/// created or found by tag, so these mean "not visible yet": NotReady, bounded by the state machine's retrier.
/// (No step takes a VPC, subnet, group... id from the user; the only id from the input is the AMI, and
/// `InvalidAMIID.NotFound` is not in this list: a wrong AMI is a clear error.)
pub const NOT_VISIBLE_YET: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidNetworkAclID.NotFound",
    "InvalidVpcEndpointId.NotFound",
    "InvalidInstanceID.NotFound",
    "InvalidVpcPeeringConnectionID.NotFound",
    "InvalidVpcPeeringConnectionId.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
];

/// Classify an SDK error by its code (never by its message): throttling, transient states, or an AWS error
/// carrying the code and the whole error chain. `action` says what was being done, for the message.
pub fn aws_error<E>(action: &str, err: E) -> LabError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or("Unknown").to_string();
    let detail = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    let message = format!("{action}: {code}: {detail}");
    if THROTTLING.contains(&code.as_str()) {
        LabError::Throttled(message)
    } else if TRANSIENT.contains(&code.as_str()) || NOT_VISIBLE_YET.contains(&code.as_str()) {
        LabError::NotReady(message)
    } else {
        LabError::Aws { code, message }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// A field AWS always puts in this answer (an id it assigned, the zone of a subnet): its absence is an error that
/// names it (`IncompleteResponse`, an `AwsError`), never an empty string handed on to the next call.
pub fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| LabError::Aws {
            code: "IncompleteResponse".into(),
            message: format!("AWS answered without {what}"),
        })
}

/// The error a lab fails with when the error it caught is one of Step Functions' own (`States.Timeout`,
/// `States.TaskFailed`, ...): statemachine/peering-lab.asl.json's "Fail with the Step Functions error" names it so
/// and carries the caught error whole, `{"Error", "Cause"}` as JSON, in its cause. A custom error is re-raised by
/// its own name through `ErrorPath`; for a `States.*` name there AWS documents nothing (the Amazon States Language
/// reserves the prefix, and moto's engine fails such a Fail state with `States.Runtime`).
pub const STEP_FUNCTIONS_ERROR: &str = "StepFunctionsError";

/// A lab's failure as the step that failed reported it: for [`STEP_FUNCTIONS_ERROR`], the `Error` and `Cause` its
/// cause carries; any other error (or a cause that does not carry one) as given.
pub fn caught_error(error: &str, cause: Option<&str>) -> (String, Option<String>) {
    let carried = (error == STEP_FUNCTIONS_ERROR)
        .then(|| cause.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()))
        .flatten()
        .and_then(|v| {
            let inner = v.get("Error")?.as_str()?.to_string();
            Some((
                inner,
                v.get("Cause").and_then(|c| c.as_str()).map(str::to_string),
            ))
        });
    carried.unwrap_or_else(|| (error.to_string(), cause.map(str::to_string)))
}

/// The longest error message a step gives, in bytes of UTF-8. A failed lab's cause travels in its workshop's state,
/// 40 labs' under Step Functions' 256 KiB payload quota (statemachine/workshop.asl.json; measured in
/// infra/local/tests/test_stepfunctions/test_workshop_payloads.py), so a longer one (EC2's `UnauthorizedOperation`
/// with its encoded authorization message runs to kilobytes) is cut, and says how much was cut.
pub const MAX_MESSAGE: usize = 2048;

/// `message` as it is if it has at most `max` bytes, else its start (whole characters) and how many bytes were cut,
/// `max` bytes at most in all.
pub fn cut(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_string();
    }
    // room for the note: "…" (3 bytes), " (", at most 20 digits, " bytes cut)"
    let mut end = max.saturating_sub(36);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &message[..end], message.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{err_saying, fails};
    use aws_sdk_ec2::operation::delete_vpc::DeleteVpcError;

    fn err(code: &str) -> DeleteVpcError {
        fails(err_saying(code, "m"))()
    }

    #[test]
    fn a_message_past_the_bound_is_cut_at_a_character_and_says_so() {
        assert_eq!(cut("short", MAX_MESSAGE), "short");
        let exact = "x".repeat(MAX_MESSAGE);
        assert_eq!(cut(&exact, MAX_MESSAGE), exact);
        let long = format!("UnauthorizedOperation: {}", "é".repeat(3000)); // 6023 bytes, 2 per é
        let short = cut(&long, MAX_MESSAGE);
        assert!(short.len() <= MAX_MESSAGE, "{}", short.len());
        assert!(short.starts_with("UnauthorizedOperation: éé"));
        let kept = short.len() - short.rsplit_once('…').unwrap().1.len() - '…'.len_utf8();
        assert!(
            short.ends_with(&format!("… ({} bytes cut)", long.len() - kept)),
            "{short}"
        );
    }

    #[test]
    fn a_missing_or_empty_field_is_an_error_naming_it() {
        assert_eq!(required(Some("vpc-1"), "the VPC's id"), Ok("vpc-1"));
        for missing in [None, Some("")] {
            let err = required(missing, "the VPC's id").unwrap_err();
            assert_eq!(err.error_type(), "AwsError");
            assert_eq!(
                err.to_string(),
                "IncompleteResponse: AWS answered without the VPC's id"
            );
        }
    }

    #[test]
    fn throttling_codes_are_throttled() {
        assert_eq!(
            aws_error("x", err("RequestLimitExceeded")).error_type(),
            "Throttled"
        );
        assert_eq!(
            aws_error("x", err("ThrottlingException")).error_type(),
            "Throttled"
        );
    }

    #[test]
    fn dependency_violation_is_not_ready() {
        let e = aws_error("deleting vpc-1", err("DependencyViolation"));
        assert_eq!(
            e,
            LabError::NotReady("deleting vpc-1: DependencyViolation: m".into())
        );
    }

    #[test]
    fn not_found_of_every_lab_kind_is_not_ready() {
        for code in NOT_VISIBLE_YET {
            assert_eq!(
                aws_error("tagging the lab's resource", err(code)).error_type(),
                "NotReady",
                "{code}"
            );
        }
        // one per kind the lab creates: VPC, subnet, group, route table, network ACL, endpoint, instance, peering
        for prefix in [
            "InvalidVpcID",
            "InvalidSubnetID",
            "InvalidGroup",
            "InvalidRouteTableID",
            "InvalidNetworkAclID",
            "InvalidVpcEndpointId",
            "InvalidInstanceID",
            "InvalidVpcPeeringConnectionID",
        ] {
            assert!(
                NOT_VISIBLE_YET.contains(&format!("{prefix}.NotFound").as_str()),
                "{prefix}"
            );
        }
    }

    #[test]
    fn a_missing_ami_from_the_input_is_a_clear_error() {
        match aws_error("launching instance A", err("InvalidAMIID.NotFound")) {
            LabError::Aws { code, .. } => assert_eq!(code, "InvalidAMIID.NotFound"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn other_codes_keep_their_code() {
        match aws_error("x", err("UnauthorizedOperation")) {
            LabError::Aws { code, message } => {
                assert_eq!(code, "UnauthorizedOperation");
                assert_eq!(message, "x: UnauthorizedOperation: m");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_types_are_stable_names() {
        let all = [
            LabError::NotReady(String::new()),
            LabError::InvalidInput(String::new()),
            LabError::PeeringFailed(String::new()),
            LabError::RouteConflict(String::new()),
            LabError::Throttled(String::new()),
            LabError::PingFailed(String::new()),
            LabError::ExerciseFailed(String::new()),
            LabError::ControlReachable(String::new()),
            LabError::ResourceConflict(String::new()),
            LabError::QuotaExceeded(String::new()),
            LabError::Aws {
                code: String::new(),
                message: String::new(),
            },
        ];
        let names: Vec<_> = all.iter().map(LabError::error_type).collect();
        assert_eq!(
            names,
            [
                "NotReady",
                "InvalidInput",
                "PeeringFailed",
                "RouteConflict",
                "Throttled",
                "PingFailed",
                "ExerciseFailed",
                "ControlReachable",
                "ResourceConflict",
                "QuotaExceeded",
                "AwsError"
            ]
        );
    }

    #[test]
    fn a_step_functions_error_is_read_back_as_the_error_it_carries() {
        let carried = r#"{"Error":"States.Timeout","Cause":"took too long"}"#;
        assert_eq!(
            caught_error(STEP_FUNCTIONS_ERROR, Some(carried)),
            (
                "States.Timeout".to_string(),
                Some("took too long".to_string())
            )
        );
        // no Cause in what was caught: none
        assert_eq!(
            caught_error(STEP_FUNCTIONS_ERROR, Some(r#"{"Error":"States.Runtime"}"#)),
            ("States.Runtime".to_string(), None)
        );
    }

    #[test]
    fn other_errors_and_unreadable_causes_are_kept_as_given() {
        assert_eq!(
            caught_error("PingFailed", Some(r#"{"Error":"X","Cause":"y"}"#)),
            (
                "PingFailed".to_string(),
                Some(r#"{"Error":"X","Cause":"y"}"#.to_string())
            )
        );
        assert_eq!(
            caught_error(STEP_FUNCTIONS_ERROR, Some("not JSON")),
            (
                STEP_FUNCTIONS_ERROR.to_string(),
                Some("not JSON".to_string())
            )
        );
        assert_eq!(
            caught_error(STEP_FUNCTIONS_ERROR, None),
            (STEP_FUNCTIONS_ERROR.to_string(), None)
        );
    }
}
