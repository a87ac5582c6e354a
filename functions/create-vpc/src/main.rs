//! Build one side of the lab: VPC, private subnet, route table, security group, instance (and SSM endpoints on
//! side A).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::create_vpc::handler(event, &clients).await
    })
    .await
}
