//! Delete everything tagged with the lab's id, in dependency order; sweep expired labs; or, as the backstop,
//! clean up after an execution that ended FAILED, TIMED_OUT or ABORTED without its own teardown.

use lab_core::handlers::teardown_request;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { teardown_request(event, &clients).await })
        .await
}
