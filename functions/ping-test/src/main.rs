//! Ping B from A over SSM Run Command; explain a failure from the EC2 state.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::ping_test::handler(event, &clients).await
    })
    .await
}
