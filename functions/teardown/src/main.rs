//! Delete everything tagged with the lab's id, in dependency order; sweep expired labs; or, as the backstop,
//! clean up after an execution that ended FAILED, TIMED_OUT or ABORTED without its own teardown.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::teardown::handler(event, &clients).await
    })
    .await
}
