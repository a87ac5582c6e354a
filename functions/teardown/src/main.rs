//! Delete everything tagged with the lab's id, in dependency order (or sweep expired labs).

use lab_core::handlers::teardown_lab;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { teardown_lab(event, &clients).await }).await
}
