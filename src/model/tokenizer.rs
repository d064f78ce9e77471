//! The tokenizer, built from the GGUF's own metadata so the model is one file.

use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;

use super::ModelError;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Tokens that end an assistant turn (`<|im_end|>`, `<|endoftext|>`).
    stop: Vec<u32>,
}

impl Tokenizer {
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self, ModelError> {
        let inner = tokenizers::Tokenizer::from_gguf(ct)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut stop = Vec::new();
        for name in ["<|im_end|>", "<|endoftext|>"] {
            if let Some(id) = inner.token_to_id(name) {
                stop.push(id);
            }
        }
        if let Some(eos) = ct
            .metadata
            .get("tokenizer.ggml.eos_token_id")
            .and_then(|v| v.to_u32().ok())
            && !stop.contains(&eos)
        {
            stop.push(eos);
        }
        if inner.token_to_id("<|im_start|>").is_none() || stop.is_empty() {
            return Err(ModelError::Tokenizer(
                "vocabulary lacks the ChatML tokens <|im_start|>/<|im_end|>".into(),
            ));
        }
        Ok(Self { inner, stop })
    }

    /// Encodes text; ChatML markers in it become their special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    pub fn is_stop(&self, id: u32) -> bool {
        self.stop.contains(&id)
    }
}

/// Turns a growing list of generated ids into text pieces, holding back bytes
/// until they form whole UTF-8 characters (one token can carry half an emoji).
#[derive(Default)]
pub struct TextStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TextStream {
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<Option<String>, ModelError> {
        self.ids.push(id);
        let text = tok.decode(&self.ids)?;
        if text.ends_with('\u{fffd}') || text.len() <= self.emitted {
            return Ok(None);
        }
        let piece = text.get(self.emitted..).map(str::to_owned);
        self.emitted = text.len();
        Ok(piece)
    }

    pub fn text(&self, tok: &Tokenizer) -> Result<String, ModelError> {
        tok.decode(&self.ids)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
