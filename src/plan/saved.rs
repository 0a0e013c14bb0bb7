//! A plan saved for later (`plan --out plan.json`, applied by CI with `apply --plan`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::plan::Plan;

/// Bumped when the file's shape changes; older files are refused rather than misread.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub strata_version: String,
    #[serde(flatten)]
    pub plan: Plan,
}

impl SavedPlan {
    pub fn new(plan: Plan) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION,
            strata_version: env!("CARGO_PKG_VERSION").to_string(),
            plan,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).map_err(|err| Error::SerializePlan {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|err| Error::StalePlan {
            path: path.to_path_buf(),
            reason: format!("not a strata plan file: {err}"),
        })?;
        if saved.format_version != FORMAT_VERSION {
            return Err(Error::StalePlan {
                path: path.to_path_buf(),
                reason: format!(
                    "plan file format {} is not the supported {FORMAT_VERSION}",
                    saved.format_version
                ),
            });
        }
        Ok(saved)
    }
}
