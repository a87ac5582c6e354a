//! Accept the peering as B's owner; NotReady until active, PeeringFailed on a terminal state.

use lab_core::handlers::accept_peering;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { accept_peering(event, &clients).await })
        .await
}
