//! [`ArtifactStore`] over aws-sdk-s3. SDK types stop here.

use std::sync::Arc;

use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;

use super::artifacts::ArtifactStore;
use super::error::{AwsError, Call, classify};

#[derive(Debug, Clone)]
pub struct SdkArtifacts {
    s3: aws_sdk_s3::Client,
}

impl SdkArtifacts {
    pub fn new(clients: &super::AwsClients) -> Self {
        SdkArtifacts {
            s3: clients.s3.clone(),
        }
    }
}

/// Lowercase hex to the base64 S3 wants in `x-amz-checksum-sha256`; `None` if it is not hex.
fn base64_of_hex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|at| {
            hex.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    bytes.map(aws_smithy_types::base64::encode)
}

impl ArtifactStore for SdkArtifacts {
    /// HeadObject. Without `s3:ListBucket` on the bucket S3 answers a missing object with 403
    /// rather than 404 (S3 API reference, HeadObject, Permissions), which surfaces as access denied:
    /// the deploying role needs both (examples/ci/README.md).
    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, AwsError> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(HeadObjectError::is_not_found) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify(Call::new("HeadObject"), err)),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Arc<Vec<u8>>,
        sha256: &str,
    ) -> Result<(), AwsError> {
        let body = ByteStream::from(bytes.as_ref().clone());
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body)
            .content_type("application/zip")
            .set_checksum_sha256(base64_of_hex(sha256))
            .send()
            .await
            .map(drop)
            .map_err(|err| classify(Call::new("PutObject"), err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_go_to_s3_as_base64() {
        // SHA-256 of "abc".
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(
            base64_of_hex(hex).as_deref(),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        assert_eq!(base64_of_hex("zz"), None);
    }
}
