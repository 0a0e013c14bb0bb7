//! `AWS_ENDPOINT_URL` and environment credentials reach every client (its own test binary: it sets the
//! process environment, which must happen before any other thread reads it).

mod support;

use strata::aws::{AwsClients, AwsSettings, RetrySettings, caller_account};
use support::moto::Moto;

#[tokio::test]
async fn endpoint_and_credentials_come_from_the_environment() {
    let moto = Moto::start();
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        for name in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
        std::env::set_var("AWS_ENDPOINT_URL", moto.endpoint_url());
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let settings = AwsSettings {
        retry: RetrySettings::Disabled,
        ..AwsSettings::new(support::moto::REGION)
    };
    let clients = AwsClients::load(&settings).await;
    assert_eq!(
        caller_account(&clients.sts).await.unwrap(),
        support::moto::ACCOUNT_ID
    );
    // Path-style addressing follows from the configured endpoint (no `<bucket>.127.0.0.1` host names).
    clients
        .s3
        .create_bucket()
        .bucket("shop-dev-inbox-111111111111")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let buckets = clients.s3.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 1);
}
