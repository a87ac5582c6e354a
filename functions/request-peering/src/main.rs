//! Request the VPC peering A -> B, or find the lab's own.

use lab_core::handlers::request_peering;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { request_peering(event, &clients).await })
        .await
}
