//! Create group InstanceB admitting instance A and attach it to instance B.

use lab_core::handlers::update_sg;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { update_sg(event, &clients).await }).await
}
