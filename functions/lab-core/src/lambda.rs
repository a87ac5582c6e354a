//! The glue between a handler and the Lambda runtime (feature `lambda`, on for the step binaries): tracing,
//! clients loaded once, events parsed into `InvalidInput` on error, and errors mapped to a `Diagnostic` whose
//! `error_type` is the stable name the state machine's Retry/Catch match.

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clients::Clients;
use crate::error::LabError;

impl From<LabError> for Diagnostic {
    fn from(error: LabError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            // bounded: a failed lab's cause travels in its workshop's state (crate::error::MAX_MESSAGE)
            error_message: crate::error::cut(&error.to_string(), crate::error::MAX_MESSAGE),
        }
    }
}

/// Run `handler` as this process's Lambda function.
pub async fn run<E, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    O: Serialize,
    F: Fn(E, Clients) -> Fut,
    Fut: Future<Output = Result<O, LabError>>,
{
    lambda_runtime::tracing::init_default_subscriber();
    let clients = Clients::from_env().await;
    let handler = &handler;
    let clients = &clients;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let parsed: E = serde_json::from_value(event.payload)
                .map_err(|e| LabError::invalid(format!("event: {e}")))?;
            let result = handler(parsed, clients.clone()).await;
            if let Err(error) = &result {
                tracing::info!(error_type = error.error_type(), "{error}");
            }
            result.map_err(Diagnostic::from)
        },
    ))
    .await
}
