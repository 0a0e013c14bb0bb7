//! Everything that talks to AWS: one client factory, narrow traits with plain data, the SDK adapters, and the
//! one place AWS errors are classified.

pub mod account;
pub mod artifacts;
pub mod artifacts_sdk;
pub mod client;
pub mod cloudformation;
pub mod cloudformation_sdk;
pub mod drift_detection;
pub mod drift_detection_sdk;
pub mod error;
pub mod facts;
pub mod facts_sdk;
#[cfg(test)]
pub(crate) mod fake;
pub mod live;
pub mod live_sdk;
pub mod logs;
pub mod logs_sdk;
pub mod once;

pub use account::caller_account;
pub use artifacts::ArtifactStore;
pub use artifacts_sdk::SdkArtifacts;
pub use client::{AwsClients, AwsSettings, RetrySettings, StaticCredentials};
pub use cloudformation::{CloudFormation, WaitPolicy, wait_for_change_set, wait_for_stack};
pub use cloudformation_sdk::SdkCloudFormation;
pub use error::AwsError;
pub use facts::AccountFacts;
pub use facts_sdk::SdkAccountFacts;
