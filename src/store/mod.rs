//! The model store: which model files caro knows (catalogue), fetching them
//! into the Hugging Face hub cache, and checking, listing and removing them.
//! Backs `caro model pull|list|path|verify|rm`.
//!
//! Files live in hf-hub's cache layout (see [`local`]), so a model pulled by
//! caro, by hf-hub or by the Python `huggingface_hub` is shared, never copied.

mod catalog;
mod config;
mod download;
mod error;
mod interrupt;
mod local;
mod progress;
mod remote;
mod verify;

use std::path::PathBuf;

pub use catalog::{Catalog, Variant};
pub use config::{DEFAULT_ENDPOINT, StoreConfig};
pub use download::{PullOptions, Pulled};
pub use error::StoreError;
pub use interrupt::CtrlC;
pub use local::{ModelInfo, Removed};
pub use progress::ProgressMode;

/// A re-hashed file that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct ModelStore {
    config: StoreConfig,
}

impl ModelStore {
    pub fn new(config: StoreConfig) -> Self {
        Self { config }
    }

    /// [`StoreConfig::from_env`]: HF_HUB_CACHE, HF_HOME, HF_ENDPOINT,
    /// HF_TOKEN, HF_HUB_OFFLINE.
    pub fn from_env() -> Result<Self, StoreError> {
        StoreConfig::from_env().map(Self::new)
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Downloads `variant` unless a verified copy is already there, and
    /// returns its path. Resumes a partial download; the file is only ever
    /// visible in the cache after its size and SHA-256 matched.
    pub fn pull(&self, variant: &Variant, options: &PullOptions<'_>) -> Result<Pulled, StoreError> {
        download::pull(&self.config, variant, options)
    }

    /// Where the downloaded file is, without network or hashing.
    pub fn find_cached(&self, variant: &Variant) -> Option<PathBuf> {
        local::find_cached(&self.config, variant)
    }

    /// Like [`ModelStore::find_cached`], with an error that says how to fix it.
    pub fn path(&self, variant: &Variant) -> Result<PathBuf, StoreError> {
        self.find_cached(variant)
            .ok_or_else(|| not_downloaded(variant))
    }

    /// Every catalogue variant, present or not; `active` names the one the
    /// caller will use.
    pub fn list(&self, catalog: &Catalog, active: Option<&str>) -> Vec<ModelInfo> {
        local::list(&self.config, catalog, active)
    }

    /// Re-hashes the downloaded file. A file that does not match is removed
    /// and the mismatch returned.
    pub fn verify(
        &self,
        variant: &Variant,
        progress: ProgressMode,
    ) -> Result<Verified, StoreError> {
        let path = local::find_any(&self.config, variant).ok_or_else(|| not_downloaded(variant))?;
        let sha = local::expected_sha(&path, variant).ok_or_else(|| StoreError::NoChecksum {
            file: variant.file.clone(),
        })?;
        let mut reporter = progress::Reporter::new(progress);
        match download::check(&path, variant, variant.size, &sha, &mut reporter) {
            Ok(size) => Ok(Verified {
                path,
                size,
                sha256: sha,
            }),
            Err(e @ (StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. })) => {
                local::remove(&self.config, variant)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the variant's file, its snapshot links and any partial
    /// download. Removing what is not there is not an error.
    pub fn remove(&self, variant: &Variant) -> Result<Removed, StoreError> {
        local::remove(&self.config, variant)
    }
}

fn not_downloaded(variant: &Variant) -> StoreError {
    StoreError::NotDownloaded {
        variant: variant.name.clone(),
        file: variant.file.clone(),
    }
}
