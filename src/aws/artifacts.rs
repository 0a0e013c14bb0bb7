//! The artifact seam: putting function packages into the environment's artifact bucket, as plain data.
//!
//! Packages are content-addressed (the key is the package's SHA-256), so an object that exists already
//! holds exactly these bytes and is not sent again.

use std::future::Future;
use std::sync::Arc;

use super::error::AwsError;

pub trait ArtifactStore: Send + Sync {
    /// Whether `bucket` already holds `key`.
    fn exists(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Stores `bytes` at `bucket`/`key`; `sha256` (lowercase hex) lets S3 verify what arrived.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Arc<Vec<u8>>,
        sha256: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Objects by (bucket, key).
#[cfg(test)]
type Objects = std::collections::BTreeMap<(String, String), Arc<Vec<u8>>>;

/// An in-memory store for tests: what was put, and what exists.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemoryArtifacts {
    pub objects: std::sync::Mutex<Objects>,
    pub puts: std::sync::Mutex<Vec<String>>,
    /// Answers every call with access denied, as S3 does without `s3:PutObject` on the bucket.
    pub deny: bool,
}

#[cfg(test)]
impl ArtifactStore for MemoryArtifacts {
    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, AwsError> {
        if self.deny {
            return Err(AwsError::AccessDenied {
                operation: "HeadObject",
                stack: None,
                message: format!("not allowed to read {bucket}"),
            });
        }
        let objects = self.objects.lock().expect("test lock");
        Ok(objects.contains_key(&(bucket.to_owned(), key.to_owned())))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Arc<Vec<u8>>,
        _sha256: &str,
    ) -> Result<(), AwsError> {
        self.puts.lock().expect("test lock").push(key.to_owned());
        self.objects
            .lock()
            .expect("test lock")
            .insert((bucket.to_owned(), key.to_owned()), bytes);
        Ok(())
    }
}
