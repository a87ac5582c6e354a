//! Route each VPC's CIDR to the other through the peering, in the lab's route table of each VPC.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::add_routes::handler(event, &clients).await
    })
    .await
}
