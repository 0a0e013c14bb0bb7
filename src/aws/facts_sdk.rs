//! [`AccountFacts`] over aws-sdk-ssm, aws-sdk-ec2, aws-sdk-rds and aws-sdk-s3. SDK types stop here.

use aws_sdk_ec2::types::{AccountAttributeName, Filter};
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;

use super::error::{AwsError, Call, classify};
use super::facts::{
    AccountFacts, BucketOwnership, ElasticIpUsage, EngineVersion, Image, InstanceType,
};

/// The account attribute holding the Elastic IP quota of VPC addresses (EC2 API reference,
/// DescribeAccountAttributes). Not in the SDK's `AccountAttributeName` enum, so passed as text.
const ELASTIC_IP_QUOTA: &str = "vpc-max-elastic-ips";

#[derive(Debug, Clone)]
pub struct SdkAccountFacts {
    ssm: aws_sdk_ssm::Client,
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    s3: aws_sdk_s3::Client,
}

impl SdkAccountFacts {
    pub fn new(clients: &super::AwsClients) -> Self {
        SdkAccountFacts {
            ssm: clients.ssm.clone(),
            ec2: clients.ec2.clone(),
            rds: clients.rds.clone(),
            s3: clients.s3.clone(),
        }
    }
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

impl AccountFacts for SdkAccountFacts {
    async fn ssm_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.ssm.get_parameter().name(name).send().await {
            Ok(output) => Ok(output
                .parameter()
                .and_then(|p| p.value())
                .map(str::to_owned)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(GetParameterError::is_parameter_not_found) =>
            {
                Ok(None)
            }
            Err(err) => Err(classify(Call::new("GetParameter"), err)),
        }
    }

    async fn images(&self, ids: &[String]) -> Result<Vec<Image>, AwsError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // As a filter, an id that does not exist is simply absent; `ImageIds` would fail the whole call with
        // InvalidAMIID.NotFound (or .Malformed).
        let call = Call::new("DescribeImages");
        let mut pages = self
            .ec2
            .describe_images()
            .filters(
                Filter::builder()
                    .name("image-id")
                    .set_values(Some(ids.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            found.extend(page.images().iter().map(|image| Image {
                id: image.image_id().unwrap_or_default().to_owned(),
                architecture: image.architecture().map(|a| a.as_str().to_owned()),
                state: image.state().map(|s| s.as_str().to_owned()),
                name: owned(image.name()),
            }));
        }
        Ok(found)
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, AwsError> {
        // One call per name: with several names, one unknown name fails the call for all of them.
        let call = Call::new("DescribeInstanceTypes");
        let mut found = Vec::new();
        for name in names {
            let answer = self
                .ec2
                .describe_instance_types()
                .instance_types(aws_sdk_ec2::types::InstanceType::from(name.as_str()))
                .send()
                .await;
            match answer {
                Ok(output) => found.extend(output.instance_types().iter().map(|t| {
                    InstanceType {
                        name: t
                            .instance_type()
                            .map(|n| n.as_str().to_owned())
                            .unwrap_or_default(),
                        architectures: t
                            .processor_info()
                            .map(|p| {
                                p.supported_architectures()
                                    .iter()
                                    .map(|a| a.as_str().to_owned())
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }
                })),
                Err(err) => match classify(call, err) {
                    AwsError::Other { code, .. } if code == "InvalidInstanceType" => {}
                    other => return Err(other),
                },
            }
        }
        Ok(found)
    }

    async fn engine_versions(&self, engine: &str) -> Result<Vec<EngineVersion>, AwsError> {
        let call = Call::new("DescribeDBEngineVersions");
        let mut pages = self
            .rds
            .describe_db_engine_versions()
            .engine(engine)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            found.extend(page.db_engine_versions().iter().map(|v| EngineVersion {
                engine: v.engine().unwrap_or(engine).to_owned(),
                version: v.engine_version().unwrap_or_default().to_owned(),
            }));
        }
        Ok(found)
    }

    async fn orderable_versions(&self, engine: &str, class: &str) -> Result<Vec<String>, AwsError> {
        let call = Call::new("DescribeOrderableDBInstanceOptions");
        let mut pages = self
            .rds
            .describe_orderable_db_instance_options()
            .engine(engine)
            .db_instance_class(class)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify(call, err))?;
            found.extend(
                page.orderable_db_instance_options()
                    .iter()
                    .filter_map(|o| o.engine_version().map(str::to_owned)),
            );
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    async fn bucket_ownership(&self, name: &str) -> Result<BucketOwnership, AwsError> {
        match self.s3.head_bucket().bucket(name).send().await {
            Ok(output) => Ok(BucketOwnership::Accessible {
                region: owned(output.bucket_region()),
            }),
            Err(err) => {
                if err
                    .as_service_error()
                    .is_some_and(HeadBucketError::is_not_found)
                {
                    return Ok(BucketOwnership::Free);
                }
                // HeadBucket answers have no body, so no error code: the status says it (S3 API reference,
                // HeadBucket: "400 Bad Request, 403 Forbidden or 404 Not Found"; 301 for another region).
                let raw = err.raw_response();
                let status = raw.map(|r| r.status().as_u16());
                let region = raw
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_owned);
                match status {
                    Some(403) => Ok(BucketOwnership::Forbidden),
                    Some(301) => Ok(BucketOwnership::ElsewhereInRegion { region }),
                    _ => Err(classify(Call::new("HeadBucket"), err)),
                }
            }
        }
    }

    async fn elastic_ip_usage(&self) -> Result<ElasticIpUsage, AwsError> {
        let attributes = self
            .ec2
            .describe_account_attributes()
            .attribute_names(AccountAttributeName::from(ELASTIC_IP_QUOTA))
            .send()
            .await
            .map_err(|err| classify(Call::new("DescribeAccountAttributes"), err))?;
        let quota = attributes
            .account_attributes()
            .iter()
            .find(|a| a.attribute_name() == Some(ELASTIC_IP_QUOTA))
            .and_then(|a| a.attribute_values().first())
            .and_then(|v| v.attribute_value())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| AwsError::MalformedResponse {
                operation: "DescribeAccountAttributes",
                stack: None,
                message: format!("no numeric `{ELASTIC_IP_QUOTA}` attribute in the answer"),
            })?;
        let addresses = self
            .ec2
            .describe_addresses()
            .send()
            .await
            .map_err(|err| classify(Call::new("DescribeAddresses"), err))?;
        let allocated = u32::try_from(addresses.addresses().len()).unwrap_or(u32::MAX);
        Ok(ElasticIpUsage { quota, allocated })
    }
}
