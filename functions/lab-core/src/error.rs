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
    /// The negative control reached B before the peering existed: something else connects the VPCs.
    #[error("{0}")]
    ControlReachable(String),
    /// A resource with the lab's name exists but is not the lab's (other tags, other VPC).
    #[error("{0}")]
    ResourceConflict(String),
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
            LabError::ControlReachable(_) => "ControlReachable",
            LabError::ResourceConflict(_) => "ResourceConflict",
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
const TRANSIENT: &[&str] = &[
    "DependencyViolation",
    "IncorrectState",
    "InvalidInstanceID.NotFound",
];

/// The error code of an SDK error, if the service sent one.
pub fn code_of<E: ProvideErrorMetadata>(err: &E) -> Option<&str> {
    err.code()
}

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
    } else if TRANSIENT.contains(&code.as_str()) {
        LabError::NotReady(message)
    } else {
        LabError::Aws { code, message }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::delete_vpc::DeleteVpcError;

    fn err(code: &str) -> DeleteVpcError {
        DeleteVpcError::generic(ErrorMetadata::builder().code(code).message("m").build())
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
            LabError::ControlReachable(String::new()),
            LabError::ResourceConflict(String::new()),
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
                "ControlReachable",
                "ResourceConflict",
                "AwsError"
            ]
        );
    }
}
