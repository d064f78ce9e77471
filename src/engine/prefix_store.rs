//! The preamble's keys and values on disk, so that a new daemon (or a one-shot
//! `--no-daemon` run) loads them in milliseconds instead of prefilling hundreds of
//! tokens on every start. A file is only ever a cache: any failure to read or write
//! one falls back to computing the prefix, and is logged, never shown as an error.
//!
//! The key covers everything the values depend on: the model file (path, size,
//! modification time), the exact preamble tokens, the prefill chunk size and thread
//! count (float rounding), and caro's version. A loaded prefix is therefore bit-identical
//! to a computed one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use crate::model::Session;

/// Files kept in the directory; older ones (other preambles, other models) are removed.
const KEEP: usize = 3;

#[derive(Debug, Clone)]
pub struct PrefixStore {
    dir: PathBuf,
    model_id: String,
}

impl PrefixStore {
    pub fn new(dir: &Path, model: &Path) -> Self {
        let meta = std::fs::metadata(model).ok();
        let mtime = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let size = meta.map_or(0, |m| m.len());
        Self {
            dir: dir.to_owned(),
            model_id: format!("{}|{size}|{mtime}", model.display()),
        }
    }

    fn path(&self, tokens: &[u32]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.model_id.as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(super::candle::prefill_chunk().to_le_bytes());
        h.update(super::threads::current().to_le_bytes());
        for t in tokens {
            h.update(t.to_le_bytes());
        }
        let hex: String = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("prefix-{hex}.safetensors"))
    }

    /// Fills `session` with the stored prefix for `tokens`; false when there is none
    /// or it cannot be used.
    pub fn load(&self, session: &mut Session, tokens: &[u32]) -> bool {
        let path = self.path(tokens);
        if !path.exists() {
            return false;
        }
        let result = candle_core::safetensors::load(&path, &Device::Cpu).and_then(|mut map| {
            let layers = map.len() / 2;
            let mut kv = Vec::with_capacity(layers);
            for i in 0..layers {
                match (map.remove(&format!("k.{i}")), map.remove(&format!("v.{i}"))) {
                    (Some(k), Some(v)) => kv.push((k, v)),
                    _ => candle_core::bail!("layer {i} missing"),
                }
            }
            session.import(tokens, &kv)
        });
        match result {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("prefix cache {} unusable: {e}", path.display());
                session.truncate(0);
                let _ = std::fs::remove_file(&path);
                false
            }
        }
    }

    /// Stores the prefix `session` holds (best effort).
    pub fn save(&self, session: &Session) {
        if let Err(e) = self.try_save(session) {
            tracing::debug!("prefix cache not saved: {e}");
        }
    }

    fn try_save(&self, session: &Session) -> Result<(), String> {
        let (tokens, kv) = session.export().map_err(|e| e.to_string())?;
        let path = self.path(&tokens);
        if path.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (i, (k, v)) in kv.into_iter().enumerate() {
            map.insert(format!("k.{i}"), k);
            map.insert(format!("v.{i}"), v);
        }
        // Written aside and renamed, so a reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = candle_core::safetensors::save(&map, &tmp)
            .map_err(|e| e.to_string())
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| e.to_string()));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.prune(&path);
        Ok(())
    }

    /// Keeps the `KEEP` most recently written prefix files.
    fn prune(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("prefix-"))
                    && p != keep
            })
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
            .collect();
        files.sort();
        let excess = (files.len() + 1).saturating_sub(KEEP);
        for (_, p) in files.into_iter().take(excess) {
            let _ = std::fs::remove_file(p);
        }
    }
}
