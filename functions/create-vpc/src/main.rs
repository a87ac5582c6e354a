//! Build one side of the lab: VPC, private subnet, security group, instance (and SSM endpoints on side A).

use lab_core::handlers::create_vpc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { create_vpc(event, &clients).await }).await
}
