//! Validate the user's input and resolve defaults (no AWS calls): InvalidInput names the field.

use lab_core::handlers::validate_input;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move { validate_input(event, &clients).await })
        .await
}
