//! The two kinds of failure the CLI tells apart: a mistake in what was asked (exit 2, `Usage`), and a lab or AWS
//! that failed (exit 1, any other error).

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A mistake in what was asked (exit 2), as opposed to a lab or AWS that failed (exit 1).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// An SDK error in one line: the service's code and message, or what is missing (credentials, region).
pub fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    err: SdkError<E>,
) -> anyhow::Error {
    if let Some(code) = err.code() {
        let message = err.message().unwrap_or_default().to_string();
        return match code {
            "ExecutionDoesNotExist" | "StateMachineDoesNotExist" | "InvalidArn" => {
                usage(format!("{what}: {code}: {message}"))
            }
            _ => anyhow::anyhow!("{what}: {code}: {message}"),
        };
    }
    let detail = format!("{}", DisplayErrorContext(&err));
    if detail.to_lowercase().contains("credentials") {
        return usage(format!(
            "{what}: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or use --local)"
        ));
    }
    let first = detail.lines().next().unwrap_or_default();
    anyhow::anyhow!("{what}: {first}")
}
