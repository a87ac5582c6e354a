//! Request the VPC peering A -> B, or find the lab's own.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::request_peering::handler(event, &clients).await
    })
    .await
}
