//! Without any credentials a call fails as `Credentials`, naming the operation (its own test binary: it clears
//! the process environment).

use strata::aws::{AwsClients, AwsError, AwsSettings, RetrySettings, caller_account};

#[tokio::test]
async fn missing_credentials_are_a_credentials_error() {
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        for name in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    // Nothing listens there: credentials are resolved before any connection is made.
    let settings = AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        retry: RetrySettings::Disabled,
        ..AwsSettings::new("eu-west-1")
    };
    let clients = AwsClients::load(&settings).await;
    let err = caller_account(&clients.sts).await.unwrap_err();
    assert!(
        matches!(
            err,
            AwsError::Credentials {
                operation: "GetCallerIdentity",
                ..
            }
        ),
        "{err:?}"
    );
    eprintln!("{err}");
}
