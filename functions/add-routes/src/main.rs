//! Route each VPC's CIDR to the other through the peering, in every route table.

use lab_core::handlers::add_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { add_routes(event, &clients).await }).await
}
