//! Validate the user's input, resolve its defaults and place each side in a zone that offers what it needs
//! (asking EC2, creating nothing): InvalidInput names the field.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::validate_input::handler(event, &clients).await
    })
    .await
}
