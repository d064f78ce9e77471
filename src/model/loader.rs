//! Opening a GGUF file and turning it into shared weights plus a tokenizer, with
//! errors that say what is wrong with the file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use candle_core::quantized::gguf_file;

use super::mapping::Mapping;
use super::{ModelError, Tokenizer, Weights};

pub struct LoadedModel {
    pub weights: Arc<Weights>,
    pub tokenizer: Arc<Tokenizer>,
}

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

pub fn load(path: &Path, context_cap: usize, device: &Device) -> Result<LoadedModel, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::NotFound {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    if file.metadata().map_err(io)?.is_dir() {
        return Err(ModelError::NotGguf {
            path: path.to_owned(),
        });
    }
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 4];
    match reader.read_exact(&mut magic) {
        Ok(()) if &magic == GGUF_MAGIC => {}
        Ok(()) => {
            return Err(ModelError::NotGguf {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ModelError::NotGguf {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io(e)),
    }
    let corrupt = |e: candle_core::Error| ModelError::Corrupt {
        path: path.to_owned(),
        detail: e.to_string().lines().next().unwrap_or_default().to_owned(),
    };
    use std::io::Seek;
    reader.rewind().map_err(io)?;
    let content = gguf_file::Content::read(&mut reader).map_err(corrupt)?;
    let arch = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    if arch != "qwen2" {
        return Err(ModelError::UnsupportedArch {
            path: path.to_owned(),
            arch,
        });
    }
    let tokenizer = Tokenizer::from_gguf(&content)?;
    let map = if device.is_cpu() {
        Some(Arc::new(Mapping::new(reader.get_ref()).map_err(io)?))
    } else {
        None
    };
    let weights =
        Weights::from_gguf(&content, &mut reader, map, context_cap, device).map_err(corrupt)?;
    Ok(LoadedModel {
        weights: Arc::new(weights),
        tokenizer: Arc::new(tokenizer),
    })
}
