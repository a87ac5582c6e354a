//! Accept the peering as B's owner; NotReady until active, PeeringFailed on a terminal state.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::accept_peering::handler(event, &clients).await
    })
    .await
}
