//! Qwen2 decoder: candle tensors for the small operations, our kernels on the mapped
//! GGUF blocks for the weight matrices (see `linear`).
//!
//! Unlike `candle_transformers::models::quantized_qwen2`, the immutable weights
//! ([`Weights`], shared through `Arc`) are split from the per-request state
//! ([`Session`]), a session can roll its KV cache back to a kept prefix, and the
//! token embedding stays quantized (rows are dequantized on lookup) instead of
//! becoming a ~900 MB f32 table.

use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Result, Tensor};

use super::kernels::Rounding;
use super::kv_cache::LayerCache;
use super::linear::{Embedding, Linear, Source, project_shared};
use super::mapping::Mapping;

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Qwen2Config {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub vocab: usize,
    /// Longest sequence a session may hold (the model's own limit, capped by caro).
    pub max_context: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
}

impl Qwen2Config {
    pub fn from_gguf(ct: &gguf_file::Content, context_cap: usize) -> Result<Self> {
        let get = |key: &str| -> Result<&gguf_file::Value> {
            ct.metadata
                .get(key)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing metadata key {key}")))
        };
        let n_head = get("qwen2.attention.head_count")?.to_u32()? as usize;
        let n_kv_head = get("qwen2.attention.head_count_kv")?.to_u32()? as usize;
        let hidden = get("qwen2.embedding_length")?.to_u32()? as usize;
        let n_layer = get("qwen2.block_count")?.to_u32()? as usize;
        let context = get("qwen2.context_length")?.to_u32()? as usize;
        let rms_eps = get("qwen2.attention.layer_norm_rms_epsilon")?.to_f32()?;
        let rope_base = get("qwen2.rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(10_000.0);
        let vocab = match ct.tensor_infos.get("token_embd.weight") {
            Some(info) => info.shape.dims2()?.0,
            None => candle_core::bail!("missing tensor token_embd.weight"),
        };
        if n_head == 0
            || n_kv_head == 0
            || !hidden.is_multiple_of(n_head)
            || !n_head.is_multiple_of(n_kv_head)
        {
            candle_core::bail!(
                "inconsistent attention shape: {n_head} heads, {n_kv_head} kv heads, hidden {hidden}"
            );
        }
        Ok(Self {
            n_layer,
            n_head,
            n_kv_head,
            head_dim: hidden / n_head,
            hidden,
            vocab,
            max_context: context.min(context_cap),
            rms_eps,
            rope_base,
        })
    }
}

pub(super) struct Layer {
    pub(super) attn_norm: Tensor,
    pub(super) wq: Linear,
    pub(super) wk: Linear,
    pub(super) wv: Linear,
    pub(super) bq: Tensor,
    pub(super) bk: Tensor,
    pub(super) bv: Tensor,
    pub(super) wo: Linear,
    pub(super) ffn_norm: Tensor,
    pub(super) w_gate: Linear,
    pub(super) w_up: Linear,
    pub(super) w_down: Linear,
}

/// The immutable part of the model, loaded once and shared by every session.
pub struct Weights {
    pub(super) cfg: Qwen2Config,
    pub(super) embed: Embedding,
    pub(super) layers: Vec<Layer>,
    pub(super) norm: Tensor,
    pub(super) output: Linear,
    pub(super) cos: Tensor,
    pub(super) sin: Tensor,
    pub(super) device: Device,
    /// The file the CPU reads the weights from, when it does.
    file: Option<Arc<Mapping>>,
}

impl Weights {
    /// Where the weights live; KV caches and activations follow them.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `map`, the whole file mapped, lets the CPU use the weights in place; without
    /// it (or on another device) they are read into candle tensors.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        map: Option<Arc<Mapping>>,
        context_cap: usize,
        device: &Device,
    ) -> Result<Self> {
        let cfg = Qwen2Config::from_gguf(ct, context_cap)?;
        let file = map.clone();
        let mut src = Source {
            ct,
            reader,
            map,
            device,
        };
        let embed = src.embedding("token_embd.weight")?;
        let norm = src.tensor("output_norm.weight")?.dequantize(device)?;
        // Qwen2.5 small models may tie the output head to the embedding table; share
        // the one quantized copy rather than loading it twice.
        let output = if ct.tensor_infos.contains_key("output.weight") {
            src.linear("output.weight")?
        } else {
            embed.as_linear()?
        };
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = format!("blk.{i}");
            let mut small = |n: &str| src.tensor(&format!("{p}.{n}"))?.dequantize(device);
            let attn_norm = small("attn_norm.weight")?;
            let bq = small("attn_q.bias")?;
            let bk = small("attn_k.bias")?;
            let bv = small("attn_v.bias")?;
            let ffn_norm = small("ffn_norm.weight")?;
            let mut lin = |n: &str| src.linear(&format!("{p}.{n}"));
            layers.push(Layer {
                attn_norm,
                wq: lin("attn_q.weight")?,
                wk: lin("attn_k.weight")?,
                wv: lin("attn_v.weight")?,
                bq,
                bk,
                bv,
                wo: lin("attn_output.weight")?,
                ffn_norm,
                w_gate: lin("ffn_gate.weight")?,
                w_up: lin("ffn_up.weight")?,
                w_down: lin("ffn_down.weight")?,
            });
        }
        let (cos, sin) = rope_tables(&cfg, device)?;
        Ok(Self {
            cfg,
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
            device: device.clone(),
            file,
        })
    }

    /// Starts moving the weights onto huge pages in the background (see `Mapping`).
    /// For processes that stay: a one-shot run would pay for the copy and gain little.
    pub fn settle_in_background(&self) {
        if let Some(f) = &self.file {
            Mapping::settle_in_background(f);
        }
    }

    /// Waits until the weights have moved onto huge pages (see `Mapping`), for
    /// measurements of the steady state.
    pub fn wait_settled(&self) {
        if let Some(f) = &self.file {
            f.wait_settled();
        }
    }

    pub fn config(&self) -> &Qwen2Config {
        &self.cfg
    }
}

fn rope_tables(cfg: &Qwen2Config, device: &Device) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..cfg.head_dim)
        .step_by(2)
        .map(|i| 1f32 / cfg.rope_base.powf(i as f32 / cfg.head_dim as f32))
        .collect();
    let n = inv_freq.len();
    let inv_freq = Tensor::from_vec(inv_freq, (1, n), device)?;
    let positions = Tensor::arange(0u32, cfg.max_context as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((cfg.max_context, 1))?;
    let angles = positions.matmul(&inv_freq)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// The tokens a session holds and their keys and values, one `(k, v)` per layer.
pub type SessionState = (Vec<u32>, Vec<(Tensor, Tensor)>);

/// One conversation's state: a KV cache per layer and the tokens it holds.
pub struct Session {
    pub(super) weights: Arc<Weights>,
    pub(super) caches: Vec<LayerCache>,
    pub(super) tokens: Vec<u32>,
}

impl Session {
    pub fn new(weights: Arc<Weights>) -> Self {
        let caches = (0..weights.cfg.n_layer)
            .map(|_| LayerCache::new())
            .collect();
        Self {
            weights,
            caches,
            tokens: Vec::new(),
        }
    }

    pub fn weights(&self) -> &Arc<Weights> {
        &self.weights
    }

    /// The tokens whose keys and values are cached, in order.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The cached tokens with their keys and values per layer, to be saved or given
    /// to another session (deep copies: sessions never share cache storage).
    pub fn export(&self) -> Result<SessionState> {
        let mut kv = Vec::with_capacity(self.caches.len());
        for c in &self.caches {
            match c.export()? {
                Some(pair) => kv.push(pair),
                None => candle_core::bail!("the session holds no tokens"),
            }
        }
        Ok((self.tokens.clone(), kv))
    }

    /// Replaces the session's state with `tokens` and their keys and values, as
    /// [`Session::export`] gave them. Shapes are checked: a file from another model
    /// is refused, not half-used.
    pub fn import(&mut self, tokens: &[u32], kv: &[(Tensor, Tensor)]) -> Result<()> {
        if kv.len() != self.caches.len() || tokens.is_empty() {
            candle_core::bail!(
                "{} layers and {} tokens given, the model has {} layers",
                kv.len(),
                tokens.len(),
                self.caches.len()
            );
        }
        let cfg = &self.weights.cfg;
        let want = (1, cfg.n_kv_head, tokens.len(), cfg.head_dim);
        let mut caches = Vec::with_capacity(kv.len());
        for (k, v) in kv {
            if k.dims4()? != want || v.dims4()? != want {
                candle_core::bail!("kv shape {:?}, expected {want:?}", k.dims());
            }
            let mut c = LayerCache::new();
            // A stored prefix is read on the CPU; the cache lives with the weights.
            let device = &self.weights.device;
            c.append(&k.to_device(device)?, &v.to_device(device)?)?;
            caches.push(c);
        }
        self.caches = caches;
        self.tokens = tokens.to_vec();
        Ok(())
    }

    /// Rolls the session back so it holds only its first `len` tokens.
    pub fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
        for c in &mut self.caches {
            c.truncate(len);
        }
    }

    /// Evaluates `tokens` after the cached ones and returns the logits that predict the
    /// next token, as a `(vocab,)` f32 tensor.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        match self.forward_rows(tokens, Rows::Last)? {
            Some(t) => t.flatten_all(),
            None => candle_core::bail!("no logits from the forward pass"),
        }
    }

    /// Evaluates `tokens` into the cache without logits: a prompt chunk whose next
    /// token nobody samples (a cached prefix, the chunks before a prompt's last)
    /// skips the output head, a 151936-row matrix read for one row.
    pub fn extend(&mut self, tokens: &[u32]) -> Result<()> {
        self.forward_rows(tokens, Rows::None).map(drop)
    }

    /// Evaluates `tokens` after the cached ones and returns the logits after each of
    /// them, `(tokens.len(), vocab)` f32: what checks a speculative draft in one pass.
    /// On the CPU each row's attention runs the one-token kernel over the cache as it
    /// stood at that row, so row `i` has the bits `forward` gives when the tokens are
    /// fed one at a time (the matrix kernels already compute rows independently).
    pub fn forward_each(&mut self, tokens: &[u32]) -> Result<Tensor> {
        match self.forward_rows(tokens, Rows::Each)? {
            Some(t) => t.squeeze(0),
            None => candle_core::bail!("no logits from the forward pass"),
        }
    }

    /// The forward pass, with the logits `rows` asks for; with [`Rows::Each`]
    /// attention is computed row by row as in one-token decoding.
    fn forward_rows(&mut self, tokens: &[u32], rows: Rows) -> Result<Option<Tensor>> {
        let each = rows == Rows::Each;
        let w = self.weights.clone();
        let cfg = &w.cfg;
        let seq = tokens.len();
        let pos = self.tokens.len();
        if seq == 0 {
            candle_core::bail!("forward called with no tokens");
        }
        if pos + seq > cfg.max_context {
            candle_core::bail!(
                "sequence of {} tokens exceeds the context of {}",
                pos + seq,
                cfg.max_context
            );
        }
        // A forward that failed half-way may have left extra entries in some layers.
        for c in &mut self.caches {
            c.truncate(pos);
        }
        let mut x = w.embed.lookup(tokens, &w.device)?;
        let cos = w.cos.narrow(0, pos, seq)?;
        let sin = w.sin.narrow(0, pos, seq)?;
        let n_rep = cfg.n_head / cfg.n_kv_head;
        let mask = if seq > 1 {
            Some(causal_mask(seq, pos, n_rep, &w.device)?)
        } else {
            None
        };
        let scale = 1.0 / (cfg.head_dim as f64).sqrt();
        // Checked drafts must match one-token decoding row for row; a prompt's rows
        // only need to agree up to rounding.
        let rounding = if each {
            Rounding::RowAlone
        } else {
            Rounding::Prompt
        };

        for (layer, cache) in w.layers.iter().zip(self.caches.iter_mut()) {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, cfg.rms_eps)?;
            let qkv = project_shared(&[&layer.wq, &layer.wk, &layer.wv], &h, rounding)?;
            let [q, k, v] = <[Tensor; 3]>::try_from(qkv)
                .map_err(|_| candle_core::Error::Msg("qkv projection".into()))?;
            let heads = |t: Tensor, bias: &Tensor, n: usize| -> Result<Tensor> {
                t.broadcast_add(bias)?
                    .reshape((1, seq, n, cfg.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = heads(q, &layer.bq, cfg.n_head)?;
            let k = heads(k, &layer.bk, cfg.n_kv_head)?;
            let v = heads(v, &layer.bv, cfg.n_kv_head)?;
            let q = candle_nn::rotary_emb::rope(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope(&k, &cos, &sin)?;
            let (k, v) = cache.append(&k, &v)?;

            let y = if each && seq > 1 {
                attend_each_row(&q, &k, &v, scale as f32)?
            } else {
                super::attention::decode(&q, &k, &v, scale as f32)?
            };
            let y = match y {
                Some(y) => y,
                None => {
                    // Grouped-query attention without copying K/V per head: the query
                    // heads that share one KV head are stacked as extra rows of one matmul.
                    let q = q.reshape((1, cfg.n_kv_head, n_rep * seq, cfg.head_dim))?;
                    let att = (q.matmul(&k.t()?)? * scale)?;
                    let att = match &mask {
                        Some(m) => att.broadcast_add(m)?,
                        None => att,
                    };
                    let att = candle_nn::ops::softmax_last_dim(&att)?;
                    att.matmul(&v)?
                        .reshape((1, cfg.n_head, seq, cfg.head_dim))?
                        .transpose(1, 2)?
                        .reshape((1, seq, cfg.hidden))?
                }
            };
            x = (x + layer.wo.forward(&y, rounding)?)?;

            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, cfg.rms_eps)?;
            let gu = project_shared(&[&layer.w_gate, &layer.w_up], &h, rounding)?;
            let [gate, up] = <[Tensor; 2]>::try_from(gu)
                .map_err(|_| candle_core::Error::Msg("gate/up projection".into()))?;
            let act = (candle_nn::ops::silu(&gate)? * up)?;
            x = (x + layer.w_down.forward(&act, rounding)?)?;
        }
        self.tokens.extend_from_slice(tokens);
        let x = match rows {
            Rows::None => return Ok(None),
            Rows::Last => x.narrow(1, seq - 1, 1)?,
            Rows::Each => x,
        };
        let x = candle_nn::ops::rms_norm(&x, &w.norm, cfg.rms_eps)?;
        w.output
            .forward(&x, rounding)?
            .to_dtype(DType::F32)
            .map(Some)
    }
}

/// Which positions of a forward pass get logits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    None,
    Last,
    Each,
}

/// Attention of each of `q`'s rows `(1, n_head, seq, head_dim)` over the cache `k`, `v`
/// up to and including its own position, by the one-token kernel; `None` where that
/// kernel does not run (the caller then takes the masked matmul path).
fn attend_each_row(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Option<Tensor>> {
    let seq = q.dim(2)?;
    let len = k.dim(2)?;
    let mut ys = Vec::with_capacity(seq);
    for i in 0..seq {
        let upto = len - seq + i + 1;
        let qi = q.narrow(2, i, 1)?;
        let (ki, vi) = (k.narrow(2, 0, upto)?, v.narrow(2, 0, upto)?);
        match super::attention::decode(&qi, &ki, &vi, scale)? {
            Some(y) => ys.push(y),
            None => return Ok(None),
        }
    }
    Tensor::cat(&ys, 1).map(Some)
}

/// Additive causal mask for `seq` new tokens after `pos` cached ones, repeated for the
/// `n_rep` query heads stacked per KV head.
fn causal_mask(seq: usize, pos: usize, n_rep: usize, device: &Device) -> Result<Tensor> {
    let kv = pos + seq;
    let mut data = Vec::with_capacity(n_rep * seq * kv);
    for _ in 0..n_rep {
        for i in 0..seq {
            data.extend((0..kv).map(|j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }));
        }
    }
    Tensor::from_vec(data, (n_rep * seq, kv), device)
}
