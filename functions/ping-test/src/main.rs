//! Ping B from A over SSM Run Command; explain a failure from the EC2 state.

use lab_core::handlers::ping_test;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { ping_test(event, &clients).await }).await
}
