//! The model store: which model files caro knows (catalogue), fetching them
//! into the Hugging Face hub cache, and checking, listing and removing them.
//! Backs `caro model pull|list|path|verify|rm`.
//!
//! Files live in hf-hub's cache layout (see [`local`]), so a model pulled by
//! caro, by hf-hub or by the Python `huggingface_hub` is shared, never copied.
//! A verified file already in caro's own models directory ([`placed`]) counts as
//! downloaded too, so it is never fetched a second time.

mod catalog;
mod download;
mod error;
mod hub;
mod interrupt;
mod local;
mod placed;
mod progress;
mod remote;
mod verify;

use std::path::PathBuf;

pub use catalog::{Catalog, Variant};
pub use download::{PullOptions, Pulled};
pub use error::StoreError;
pub use hub::{DEFAULT_ENDPOINT, HubSettings};
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
    hub: HubSettings,
    /// caro's own models directory, looked at before the hub cache.
    models_dir: Option<PathBuf>,
}

impl ModelStore {
    pub fn new(hub: HubSettings) -> Self {
        Self {
            hub,
            models_dir: None,
        }
    }

    /// Also counts a verified catalogue file in `dir` as downloaded.
    pub fn with_models_dir(mut self, dir: PathBuf) -> Self {
        self.models_dir = Some(dir);
        self
    }

    /// [`HubSettings::from_env`]: HF_HUB_CACHE, HF_HOME, HF_ENDPOINT,
    /// HF_TOKEN, HF_HUB_OFFLINE.
    pub fn from_env() -> Result<Self, StoreError> {
        HubSettings::from_env().map(Self::new)
    }

    pub fn hub(&self) -> &HubSettings {
        &self.hub
    }

    /// What is at the variant's path in the models directory, checked against the pin.
    fn placed(
        &self,
        variant: &Variant,
        hashing: placed::Hashing,
        reporter: &mut progress::Reporter,
    ) -> placed::Placed {
        match &self.models_dir {
            Some(dir) => placed::check(dir, variant, hashing, reporter),
            None => placed::Placed::Absent,
        }
    }

    /// Downloads `variant` unless a verified copy is already there, and
    /// returns its path. Resumes a partial download; the file is only ever
    /// visible in the cache after its size and SHA-256 matched. A verified
    /// file in the models directory is returned without touching the network;
    /// one that does not match is removed first, as in the hub cache.
    pub fn pull(&self, variant: &Variant, options: &PullOptions<'_>) -> Result<Pulled, StoreError> {
        let mut reporter = progress::Reporter::new(options.progress);
        match self.placed(variant, placed::Hashing::Remembered, &mut reporter) {
            placed::Placed::Verified(v) => {
                reporter.note(&format!(
                    "{} is already in place and verified",
                    variant.file
                ));
                return Ok(Pulled {
                    path: v.path,
                    size: v.size,
                    sha256: v.sha256,
                    downloaded: false,
                });
            }
            placed::Placed::Unverified {
                path,
                error:
                    error @ (StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. }),
            } => {
                if let Some(dir) = &self.models_dir {
                    placed::remove(dir, variant)?;
                }
                reporter.note(&format!("{}: {error}", path.display()));
            }
            placed::Placed::Unverified { .. } | placed::Placed::Absent => {}
        }
        download::pull(&self.hub, variant, options)
    }

    /// Where the downloaded file is in the hub cache, without network or hashing.
    pub fn find_cached(&self, variant: &Variant) -> Option<PathBuf> {
        local::find_cached(&self.hub, variant)
    }

    /// Where the variant is: a verified file in the models directory (hashed only
    /// when it changed since it was last verified), else the hub cache's copy; an
    /// error that says how to fix it when neither is there.
    pub fn path(&self, variant: &Variant) -> Result<PathBuf, StoreError> {
        let mut quiet = progress::Reporter::new(ProgressMode::Silent);
        match self.placed(variant, placed::Hashing::Remembered, &mut quiet) {
            placed::Placed::Verified(v) => Ok(v.path),
            _ => self
                .find_cached(variant)
                .ok_or_else(|| not_downloaded(variant)),
        }
    }

    /// Every catalogue variant, present or not; `active` names the one the
    /// caller will use.
    pub fn list(&self, catalog: &Catalog, active: Option<&str>) -> Vec<ModelInfo> {
        let mut quiet = progress::Reporter::new(ProgressMode::Silent);
        let mut infos = local::list(&self.hub, catalog, active);
        for (info, v) in infos.iter_mut().zip(&catalog.variants) {
            match self.placed(v, placed::Hashing::Remembered, &mut quiet) {
                placed::Placed::Verified(ok) => {
                    info.path = Some(ok.path);
                    info.size = Some(ok.size);
                    info.partial = None;
                }
                placed::Placed::Unverified { path, .. } => info.unverified = Some(path),
                placed::Placed::Absent => {}
            }
        }
        infos
    }

    /// Re-hashes the variant's file: the one in the models directory if there
    /// is one, else the hub cache's. A file that does not match is removed
    /// and the mismatch returned.
    pub fn verify(
        &self,
        variant: &Variant,
        progress: ProgressMode,
    ) -> Result<Verified, StoreError> {
        let mut reporter = progress::Reporter::new(progress);
        match self.placed(variant, placed::Hashing::Always, &mut reporter) {
            placed::Placed::Verified(ok) => return Ok(ok),
            placed::Placed::Unverified { error, .. } => {
                if matches!(
                    error,
                    StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. }
                ) && let Some(dir) = &self.models_dir
                {
                    placed::remove(dir, variant)?;
                }
                return Err(error);
            }
            placed::Placed::Absent => {}
        }
        let path = local::find_any(&self.hub, variant).ok_or_else(|| not_downloaded(variant))?;
        let sha = local::expected_sha(&path, variant).ok_or_else(|| StoreError::NoChecksum {
            file: variant.file.clone(),
        })?;
        match download::check(&path, variant, variant.size, &sha, &mut reporter) {
            Ok(size) => Ok(Verified {
                path,
                size,
                sha256: sha,
            }),
            Err(e @ (StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. })) => {
                local::remove(&self.hub, variant)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the variant's file (in the models directory and the hub cache),
    /// its snapshot links and any partial download. Removing what is not there
    /// is not an error.
    pub fn remove(&self, variant: &Variant) -> Result<Removed, StoreError> {
        let mut removed = local::remove(&self.hub, variant)?;
        if let Some(dir) = &self.models_dir
            && let Some((path, freed)) = placed::remove(dir, variant)?
        {
            removed.paths.push(path);
            removed.freed += freed;
        }
        Ok(removed)
    }
}

fn not_downloaded(variant: &Variant) -> StoreError {
    StoreError::NotDownloaded {
        variant: variant.name.clone(),
        file: variant.file.clone(),
    }
}
