//! The workshop's summary: every lab's record (its report, or its error and cause) into one report: how many
//! succeeded, which failed and why, what any teardown left. No AWS calls.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::summarize_workshop::handler(event, &clients).await
    })
    .await
}
