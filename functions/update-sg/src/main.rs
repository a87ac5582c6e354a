//! Create group InstanceB admitting instance A and attach it to instance B.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::update_sg::handler(event, &clients).await
    })
    .await
}
