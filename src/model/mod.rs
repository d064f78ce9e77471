//! The language model: GGUF loading, the Qwen2 network, its tokenizer and KV cache.

mod attention;
mod batch;
pub mod kernels;
mod kv_cache;
mod linear;
mod loader;
mod mapping;
mod qwen2;
mod tokenizer;

pub use batch::Batch;
pub use loader::{LoadedModel, load};
pub use qwen2::{Qwen2Config, Session, SessionState, Weights};
pub use tokenizer::{TextStream, Tokenizer};

use std::path::PathBuf;

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file not found: {}", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read model file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a GGUF model file", path.display())]
    NotGguf { path: PathBuf },
    #[error("model file {} is truncated or corrupt ({detail})", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("unsupported model architecture `{arch}` in {} (caro runs qwen2)", path.display())]
    UnsupportedArch { path: PathBuf, arch: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

/// The tiny random-weight model, for tests only; it lives with the integration tests'
/// helpers, which write it too.
#[cfg(test)]
#[path = "../../tests/common/tiny.rs"]
pub mod tiny;

#[cfg(test)]
mod tests;
