//! The one place AWS clients are made: one `aws_config` load, one HTTPS client, every service client.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// How to reach AWS. Everything not given falls back to the SDK's default chains: `AWS_PROFILE`,
/// `AWS_ENDPOINT_URL`, environment credentials, shared config/credentials files, SSO, credential_process,
/// web identity, ECS and IMDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: String,
    /// Overrides `AWS_ENDPOINT_URL` and the profile's `endpoint_url` when set.
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub retry: RetrySettings,
    /// Static credentials that bypass the provider chain (for emulators and tests).
    pub credentials: Option<StaticCredentials>,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySettings {
    /// The SDK's standard mode: exponential backoff with jitter on throttling and transient errors.
    Standard { max_attempts: u32 },
    /// One attempt only. Used against emulators: an unimplemented action answers HTML 500, which the SDK
    /// would otherwise retry as a transient server error.
    Disabled,
}

#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

impl AwsSettings {
    pub fn new(region: impl Into<String>) -> Self {
        AwsSettings {
            region: region.into(),
            endpoint_url: None,
            profile: None,
            retry: RetrySettings::Standard { max_attempts: 5 },
            credentials: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Every client strata uses, sharing one configuration, one HTTP connection pool and one credentials cache.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub kms: aws_sdk_kms::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub rds: aws_sdk_rds::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sns: aws_sdk_sns::Client,
    pub apigateway: aws_sdk_apigatewayv2::Client,
}

impl AwsClients {
    pub async fn load(settings: &AwsSettings) -> AwsClients {
        let config = load_sdk_config(settings).await;
        AwsClients::from_config(&config)
    }

    pub fn from_config(config: &SdkConfig) -> AwsClients {
        // Buckets are addressed by path whenever an endpoint is configured: custom endpoints (S3-compatible
        // services, VPC endpoints by IP, local emulators) rarely resolve `<bucket>.<host>` names.
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        AwsClients {
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sqs: aws_sdk_sqs::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            apigateway: aws_sdk_apigatewayv2::Client::new(config),
        }
    }
}

/// Loads the shared SDK configuration once.
pub async fn load_sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // HTTPS (and plain HTTP, for local endpoints) through hyper + rustls with the `ring` provider: one TLS
        // stack, no aws-lc/cmake build, native root certificates. Credential providers (SSO, STS, IMDS) use it too.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .region(Region::new(settings.region.clone()))
        .retry_config(retry_config(settings.retry))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    // Without an explicit URL the loader still honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>).
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(creds) = &settings.credentials {
        loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            None,
            None,
            "strata-static",
        ));
    }
    loader.load().await
}

fn retry_config(retry: RetrySettings) -> RetryConfig {
    match retry {
        RetrySettings::Standard { max_attempts } => {
            RetryConfig::standard().with_max_attempts(max_attempts.max(1))
        }
        RetrySettings::Disabled => RetryConfig::disabled(),
    }
}
