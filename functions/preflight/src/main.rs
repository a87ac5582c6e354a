//! The workshop's preflight: the workshop input checked and planned into one lab input per student, and the
//! account's quotas (Service Quotas, usage from EC2) checked for all of them at once: QuotaExceeded names each
//! quota that does not fit, InvalidInput the field at fault; it creates nothing.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lab_core::lambda::run(|event, clients| async move {
        lab_core::preflight::handler(event, &clients).await
    })
    .await
}
