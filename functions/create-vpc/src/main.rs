//! Build one side of the lab: VPC, private subnet, route table, security group, instance (and SSM endpoints on
//! side A).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The function's configuration, read once as it starts (like its clients), not by the step.
    let config = lab_core::create_vpc::Config::from_env();
    let config = &config;
    lab_core::lambda::run(|event, clients| async move {
        lab_core::create_vpc::handler(event, &clients, config).await
    })
    .await
}
