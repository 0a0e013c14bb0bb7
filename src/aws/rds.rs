//! What outputs need from RDS: the master password secret that RDS manages itself, which
//! CloudFormation cannot export (`Fn::GetAtt MasterUserSecret.SecretArn` is not reliably supported).

use std::future::Future;

use super::error::{AwsError, Call, classify};

pub trait DatabaseSecrets: Send + Sync {
    /// The ARN of the Secrets Manager secret RDS keeps the master password in; `None` when the
    /// instance does not exist or RDS does not manage its password.
    fn master_user_secret_arn(
        &self,
        db_instance_id: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

#[derive(Debug, Clone)]
pub struct SdkRds {
    client: aws_sdk_rds::Client,
}

impl SdkRds {
    pub fn new(client: aws_sdk_rds::Client) -> Self {
        SdkRds { client }
    }
}

impl DatabaseSecrets for SdkRds {
    async fn master_user_secret_arn(
        &self,
        db_instance_id: &str,
    ) -> Result<Option<String>, AwsError> {
        let call = Call::new("DescribeDBInstances");
        let output = match self
            .client
            .describe_db_instances()
            .db_instance_identifier(db_instance_id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) => {
                return match classify(call, err) {
                    AwsError::Other { code, .. } if code == "DBInstanceNotFound" => Ok(None),
                    other => Err(other),
                };
            }
        };
        Ok(output
            .db_instances()
            .first()
            .and_then(|db| db.master_user_secret())
            .and_then(|secret| secret.secret_arn())
            .map(str::to_owned))
    }
}
