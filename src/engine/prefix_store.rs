//! The preamble's keys and values on disk, so that a new daemon (or a one-shot
//! `--no-daemon` run) loads them in milliseconds instead of prefilling hundreds of
//! tokens on every start. A file is only ever a cache: any failure to read or write
//! one falls back to computing the prefix, and is logged, never shown as an error.
//!
//! The key covers everything the values depend on: the model file (path, size,
//! modification time), the exact preamble tokens, the prefill chunk size and thread
//! count (float rounding), and caro's version. Each file also carries a SHA-256 of its
//! tokens, keys and values, checked on every load: a file changed on disk would
//! otherwise steer every later answer without any sign. A loaded prefix is therefore
//! bit-identical to a computed one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};

use crate::model::Session;

/// Files kept in the directory; older ones (other preambles, other models) are removed.
const KEEP: usize = 3;
/// The tensor in each file that holds the checksum of the others.
const CHECKSUM: &str = "sha256";

#[derive(Debug, Clone)]
pub struct PrefixStore {
    dir: PathBuf,
    model_id: String,
    /// Tokens per prefill pass; part of the key, as it changes float rounding.
    prefill_chunk: usize,
}

/// This executable's size and modification time, read once.
fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}|{mtime}", m.len())
            })
            .unwrap_or_default()
    })
}

impl PrefixStore {
    pub fn new(dir: &Path, model: &Path, prefill_chunk: usize) -> Self {
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
            prefill_chunk,
        }
    }

    fn path(&self, tokens: &[u32]) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.model_id.as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(self.prefill_chunk.to_le_bytes());
        h.update(super::threads::current().to_le_bytes());
        // The kernels' float rounding: the path they take and the build that has them
        // (a rebuilt binary may round differently under the same version number).
        h.update(crate::model::kernels::dispatch::active().name().as_bytes());
        h.update(build_id().as_bytes());
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
    /// or it cannot be used. An unusable file is removed (the caller computes the
    /// prefix and stores it again) and reported in one warning.
    pub fn load(&self, session: &mut Session, tokens: &[u32]) -> bool {
        let path = self.path(tokens);
        if !path.exists() {
            return false;
        }
        let result = read(&path, tokens).and_then(|kv| session.import(tokens, &kv));
        match result {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "prefix cache {} unusable ({e}); computing it again",
                    path.display()
                );
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
        let sum = checksum(&tokens, &kv).map_err(|e| e.to_string())?;
        let mut map: HashMap<String, Tensor> = HashMap::new();
        map.insert(
            CHECKSUM.to_owned(),
            Tensor::new(sum.as_slice(), &Device::Cpu).map_err(|e| e.to_string())?,
        );
        // On the CPU whatever device computed them: the file is the same for every device.
        for (i, (k, v)) in kv.into_iter().enumerate() {
            let cpu = |t: Tensor| t.to_device(&Device::Cpu).map_err(|e| e.to_string());
            map.insert(format!("k.{i}"), cpu(k)?);
            map.insert(format!("v.{i}"), cpu(v)?);
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

/// The keys and values stored in `path` for `tokens`, once their checksum matches.
fn read(path: &Path, tokens: &[u32]) -> candle_core::Result<Vec<(Tensor, Tensor)>> {
    let mut map = candle_core::safetensors::load(path, &Device::Cpu)?;
    let Some(stored) = map.remove(CHECKSUM) else {
        candle_core::bail!("no checksum");
    };
    let layers = map.len() / 2;
    let mut kv = Vec::with_capacity(layers);
    for i in 0..layers {
        match (map.remove(&format!("k.{i}")), map.remove(&format!("v.{i}"))) {
            (Some(k), Some(v)) => kv.push((k, v)),
            _ => candle_core::bail!("layer {i} missing"),
        }
    }
    if !map.is_empty() {
        candle_core::bail!("{} unexpected tensors", map.len());
    }
    if stored.to_vec1::<u8>()? != checksum(tokens, &kv)? {
        candle_core::bail!("checksum mismatch");
    }
    Ok(kv)
}

/// SHA-256 of the tokens and of every layer's keys and values (shape and contents).
/// Contents are hashed as f32, which every float type converts to without loss.
fn checksum(tokens: &[u32], kv: &[(Tensor, Tensor)]) -> candle_core::Result<Vec<u8>> {
    let mut h = Sha256::new();
    h.update((tokens.len() as u64).to_le_bytes());
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    for t in kv.iter().flat_map(|(k, v)| [k, v]) {
        h.update((t.dims().len() as u64).to_le_bytes());
        for d in t.dims() {
            h.update((*d as u64).to_le_bytes());
        }
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        h.update(&bytes);
    }
    Ok(h.finalize().to_vec())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::{self, tiny};

    /// Overwrites bytes in the middle of the tensor data (past the safetensors header):
    /// the file still parses, only values change.
    pub(crate) fn corrupt(path: &Path) {
        let mut bytes = std::fs::read(path).expect("read prefix file");
        let header: [u8; 8] = bytes[..8].try_into().expect("header length");
        let data = 8 + u64::from_le_bytes(header) as usize;
        let mid = data + (bytes.len() - data) / 2;
        bytes[mid..mid + 64].fill(0x42);
        std::fs::write(path, bytes).expect("write prefix file");
    }

    fn only_file(dir: &Path) -> PathBuf {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("store dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files.into_iter().next().expect("one file")
    }

    #[test]
    fn a_changed_file_is_detected_and_replaced_and_the_logits_stay_exact() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tiny.gguf");
        tiny::write(&path, 5).expect("write tiny model");
        let m = model::load(&path, 1024, &Device::Cpu).expect("load tiny model");
        let store = PrefixStore::new(&dir.path().join("prefix"), &path, 31);
        let prefix = m
            .tokenizer
            .encode("<|im_start|>system\nanswer with one command<|im_end|>\n")
            .expect("encode");
        let request = m.tokenizer.encode("list files").expect("encode");
        let logits = |s: &mut Session| {
            s.forward(&request)
                .and_then(|l| l.to_vec1::<f32>())
                .expect("forward")
        };

        let mut computed = Session::new(m.weights.clone());
        computed.forward(&prefix).expect("prefill");
        store.save(&computed);
        let want = logits(&mut computed);

        let mut loaded = Session::new(m.weights.clone());
        assert!(store.load(&mut loaded, &prefix), "an intact file loads");
        assert_eq!(logits(&mut loaded), want);

        let file = only_file(&dir.path().join("prefix"));
        corrupt(&file);
        let mut s = Session::new(m.weights.clone());
        assert!(!store.load(&mut s, &prefix), "changed values are caught");
        assert!(s.tokens().is_empty());
        assert!(!file.exists(), "the damaged file is removed");

        // Computed again and stored again, exactly as the first time.
        s.forward(&prefix).expect("prefill");
        store.save(&s);
        assert_eq!(logits(&mut s), want);
        let mut again = Session::new(m.weights.clone());
        assert!(store.load(&mut again, &prefix), "the replacement loads");
        assert_eq!(logits(&mut again), want);

        // A file cut short is caught the same way.
        let bytes = std::fs::read(&file).expect("read");
        std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
        assert!(!store.load(&mut Session::new(m.weights.clone()), &prefix));
    }
}
