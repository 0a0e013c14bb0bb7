//! What only the account and region can answer, read before anything is changed: Parameter Store values, which
//! images and instance types exist, which database engine versions and classes can be ordered, who owns a bucket
//! name, how many Elastic IPs the account may hold. Plain data in and out; `facts_sdk` holds the SDK calls.
//! The questions asked of this data live in [`crate::preflight`] and [`crate::plan`].

use std::future::Future;

use super::error::AwsError;

/// One image as DescribeImages reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    /// `x86_64`, `arm64`, `i386`, `x86_64_mac`, `arm64_mac`.
    pub architecture: Option<String>,
    /// `available`, `pending`, `failed`, `deregistered`, `disabled`...
    pub state: Option<String>,
    pub name: Option<String>,
}

/// One instance type as DescribeInstanceTypes reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    pub name: String,
    /// `ProcessorInfo.SupportedArchitectures`.
    pub architectures: Vec<String>,
}

/// One engine version RDS offers (DescribeDBEngineVersions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    pub engine: String,
    pub version: String,
}

/// What S3 answers to HeadBucket about a bucket name, from this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketOwnership {
    /// 404: nobody has it.
    Free,
    /// 200: it exists and this account may read it (it owns it, or is granted access), in `region`.
    Accessible { region: Option<String> },
    /// 403: it exists and belongs to someone else.
    Forbidden,
    /// 301: it exists in another region (`x-amz-bucket-region`).
    ElsewhereInRegion { region: Option<String> },
}

/// The account's Elastic IP allowance in the region and what is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElasticIpUsage {
    /// DescribeAccountAttributes `vpc-max-elastic-ips`.
    pub quota: u32,
    /// Addresses allocated in the region (DescribeAddresses).
    pub allocated: u32,
}

/// Read-only calls plan makes before it creates any change set.
pub trait AccountFacts: Send + Sync {
    /// The value of a Systems Manager parameter (public ones such as
    /// `/aws/service/ami-amazon-linux-latest/...` included); `None` when it does not exist.
    fn ssm_parameter(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// The images among `ids` that exist and this account may launch; the others are absent.
    fn images(&self, ids: &[String]) -> impl Future<Output = Result<Vec<Image>, AwsError>> + Send;

    /// The instance types among `names` that exist in the region; the others are absent.
    fn instance_types(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceType>, AwsError>> + Send;

    /// Every version of `engine` RDS offers in the region.
    fn engine_versions(
        &self,
        engine: &str,
    ) -> impl Future<Output = Result<Vec<EngineVersion>, AwsError>> + Send;

    /// The versions of `engine` that can be ordered with instance class `class` in the region
    /// (DescribeOrderableDBInstanceOptions).
    fn orderable_versions(
        &self,
        engine: &str,
        class: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    fn bucket_ownership(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<BucketOwnership, AwsError>> + Send;

    fn elastic_ip_usage(&self) -> impl Future<Output = Result<ElasticIpUsage, AwsError>> + Send;
}

/// Answers from plain data, for tests: by default every SSM parameter resolves to `ami-0fixed`, that image
/// and every instance type exist on x86_64, every engine version and class can be ordered, every bucket
/// name is free, and Elastic IPs are plenty.
#[cfg(test)]
pub mod fixed {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    pub struct FixedFacts {
        pub ssm: Mutex<BTreeMap<String, String>>,
        pub images: Vec<Image>,
        pub instance_types: Option<Vec<InstanceType>>,
        pub engine_versions: Result<Vec<EngineVersion>, &'static str>,
        /// Per class, the versions orderable on it; `None`: every offered version on every class.
        pub orderable: Option<BTreeMap<String, Vec<String>>>,
        pub buckets: BTreeMap<String, BucketOwnership>,
        pub elastic_ips: ElasticIpUsage,
    }

    pub const IMAGE: &str = "ami-0fixed";

    impl Default for FixedFacts {
        fn default() -> Self {
            FixedFacts {
                ssm: Mutex::new(BTreeMap::new()),
                images: vec![Image {
                    id: IMAGE.into(),
                    architecture: Some("x86_64".into()),
                    state: Some("available".into()),
                    name: Some("fixed".into()),
                }],
                instance_types: None,
                engine_versions: Ok(["17.6", "16.10"]
                    .into_iter()
                    .map(|version| EngineVersion {
                        engine: "postgres".into(),
                        version: version.into(),
                    })
                    .collect()),
                orderable: None,
                buckets: BTreeMap::new(),
                elastic_ips: ElasticIpUsage {
                    quota: 100,
                    allocated: 0,
                },
            }
        }
    }

    impl FixedFacts {
        pub fn set_ssm(&self, name: &str, value: &str) {
            self.ssm
                .lock()
                .unwrap()
                .insert(name.to_owned(), value.to_owned());
        }
    }

    impl AccountFacts for FixedFacts {
        async fn ssm_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
            Ok(Some(
                self.ssm
                    .lock()
                    .unwrap()
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| IMAGE.to_owned()),
            ))
        }

        async fn images(&self, ids: &[String]) -> Result<Vec<Image>, AwsError> {
            Ok(self
                .images
                .iter()
                .filter(|i| ids.contains(&i.id))
                .cloned()
                .collect())
        }

        async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, AwsError> {
            Ok(match &self.instance_types {
                Some(known) => known
                    .iter()
                    .filter(|t| names.contains(&t.name))
                    .cloned()
                    .collect(),
                None => names
                    .iter()
                    .map(|name| InstanceType {
                        name: name.clone(),
                        architectures: vec!["x86_64".into()],
                    })
                    .collect(),
            })
        }

        async fn engine_versions(&self, engine: &str) -> Result<Vec<EngineVersion>, AwsError> {
            match &self.engine_versions {
                Ok(versions) => Ok(versions
                    .iter()
                    .filter(|v| v.engine == engine)
                    .cloned()
                    .collect()),
                Err(operation) => Err(AwsError::Unsupported {
                    operation,
                    stack: None,
                    status: 500,
                }),
            }
        }

        async fn orderable_versions(
            &self,
            engine: &str,
            class: &str,
        ) -> Result<Vec<String>, AwsError> {
            Ok(match &self.orderable {
                Some(by_class) => by_class.get(class).cloned().unwrap_or_default(),
                None => self
                    .engine_versions(engine)
                    .await?
                    .into_iter()
                    .map(|v| v.version)
                    .collect(),
            })
        }

        async fn bucket_ownership(&self, name: &str) -> Result<BucketOwnership, AwsError> {
            Ok(self
                .buckets
                .get(name)
                .cloned()
                .unwrap_or(BucketOwnership::Free))
        }

        async fn elastic_ip_usage(&self) -> Result<ElasticIpUsage, AwsError> {
            Ok(self.elastic_ips)
        }
    }
}
