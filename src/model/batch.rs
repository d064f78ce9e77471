//! Several continuations of one session decoded together.
//!
//! Decoding one token reads every weight once for a single activation row, so on the
//! CPU a step costs about the time to stream the weights from memory. A [`Batch`]
//! stacks the next token of each branch as the rows of one activation matrix: the
//! weights are read once for all of them. The branches share the session's cached
//! prefix read-only (it is not copied) and keep only their own tokens' keys and
//! values.
//!
//! A batch gives the bits of `Session::forward` row for row on the CPU: our matrix
//! kernels (`model::kernels`) run every activation row with the arithmetic of a
//! one-row product while reading each weight row once for all of them. (Candle's
//! kernels, still used on other devices, switch Q6_K to repacked tiles for more
//! than one row, which moves the real model's logits by ~0.5.)

use candle_core::{DType, Result, Tensor};

use super::attention;
use super::kernels::Rounding;
use super::kv_cache::LayerCache;
use super::linear::project_shared;
use super::qwen2::{Layer, Session, Weights};

/// Rows a branch's suffix cache allocates at first (it doubles when full): a reply is
/// a few dozen tokens, and the session's 512-row default, per layer per branch, would
/// outweigh the prefix the branches share.
const SUFFIX_CAPACITY: usize = 32;

impl Session {
    /// Starts `n` branches that each continue this session's tokens. The session stays
    /// borrowed, and unchanged, while the batch lives.
    pub fn fork(&self, n: usize) -> Batch<'_> {
        let layers = self.caches.len();
        let suffixes = (0..n)
            .map(|_| Suffix {
                caches: (0..layers)
                    .map(|_| LayerCache::with_initial_capacity(SUFFIX_CAPACITY))
                    .collect(),
                tokens: Vec::new(),
            })
            .collect();
        Batch {
            prefix: self,
            suffixes,
        }
    }
}

/// What one branch adds after the shared prefix.
struct Suffix {
    caches: Vec<LayerCache>,
    tokens: Vec<u32>,
}

/// Branches continuing one [`Session`]; see [`Session::fork`].
pub struct Batch<'s> {
    prefix: &'s Session,
    suffixes: Vec<Suffix>,
}

impl Batch<'_> {
    /// The number of branches.
    pub fn len(&self) -> usize {
        self.suffixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.suffixes.is_empty()
    }

    /// The branch's own tokens, after the prefix (empty for an unknown branch).
    pub fn tokens(&self, branch: usize) -> &[u32] {
        self.suffixes.get(branch).map_or(&[], |s| &s.tokens)
    }

    /// Feeds one token to each listed branch (other branches are left as they are:
    /// finished ones drop out) in one forward pass and returns their next-token
    /// logits, one row per listed branch in the order given: `(rows, vocab)` f32.
    pub fn step(&mut self, feed: &[(usize, u32)]) -> Result<Tensor> {
        self.check(feed)?;
        let w = self.prefix.weights.clone();
        // A step that failed half-way may have left extra rows in some layers.
        for s in &mut self.suffixes {
            for c in &mut s.caches {
                c.truncate(s.tokens.len());
            }
        }
        let ids: Vec<u32> = feed.iter().map(|&(_, t)| t).collect();
        let mut x = w.embed.lookup(&ids, &w.device)?;
        let (cos, sin) = self.rope_rows(&w, feed)?;
        for (l, layer) in w.layers.iter().enumerate() {
            x = self.layer(&w, l, layer, feed, &x, &cos, &sin)?;
        }
        for &(b, t) in feed {
            self.suffixes[b].tokens.push(t);
        }
        let x = candle_nn::ops::rms_norm(&x, &w.norm, w.cfg.rms_eps)?;
        w.output
            .forward(&x, Rounding::RowAlone)?
            .squeeze(0)?
            .to_dtype(DType::F32)
    }

    /// Refuses a feed that names a branch twice or not at all, or that would pass the
    /// context limit, before anything is computed.
    fn check(&self, feed: &[(usize, u32)]) -> Result<()> {
        if feed.is_empty() {
            candle_core::bail!("batch step with no tokens");
        }
        let max = self.prefix.weights.cfg.max_context;
        let mut seen = vec![false; self.suffixes.len()];
        for &(b, _) in feed {
            match seen.get_mut(b) {
                None => candle_core::bail!("branch {b} of a batch of {}", self.suffixes.len()),
                Some(true) => candle_core::bail!("branch {b} fed twice in one step"),
                Some(s) => *s = true,
            }
            let len = self.prefix.tokens.len() + self.suffixes[b].tokens.len() + 1;
            if len > max {
                candle_core::bail!("sequence of {len} tokens exceeds the context of {max}");
            }
        }
        Ok(())
    }

    /// The RoPE rows for each fed token at its own branch's position: branches that
    /// were fed different numbers of tokens sit at different positions.
    fn rope_rows(&self, w: &Weights, feed: &[(usize, u32)]) -> Result<(Tensor, Tensor)> {
        let base = self.prefix.tokens.len();
        let pos: Vec<u32> = feed
            .iter()
            .map(|&(b, _)| (base + self.suffixes[b].tokens.len()) as u32)
            .collect();
        let pos = Tensor::new(pos.as_slice(), &w.device)?;
        Ok((w.cos.index_select(&pos, 0)?, w.sin.index_select(&pos, 0)?))
    }

    /// One decoder layer over the `(1, rows, hidden)` activations, as
    /// `Session::forward` computes it for one token, with each row's attention over
    /// the prefix and its own branch's suffix.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        w: &Weights,
        l: usize,
        layer: &Layer,
        feed: &[(usize, u32)],
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
    ) -> Result<Tensor> {
        let cfg = &w.cfg;
        let rows = feed.len();
        let h = candle_nn::ops::rms_norm(x, &layer.attn_norm, cfg.rms_eps)?;
        let qkv = project_shared(&[&layer.wq, &layer.wk, &layer.wv], &h, Rounding::RowAlone)?;
        let [q, k, v] = <[Tensor; 3]>::try_from(qkv)
            .map_err(|_| candle_core::Error::Msg("qkv projection".into()))?;
        // Rows take the place of the sequence axis, so RoPE's per-position tables
        // apply per row.
        let heads = |t: Tensor, bias: &Tensor, n: usize| -> Result<Tensor> {
            t.broadcast_add(bias)?
                .reshape((1, rows, n, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(q, &layer.bq, cfg.n_head)?;
        let k = heads(k, &layer.bk, cfg.n_kv_head)?;
        let v = heads(v, &layer.bv, cfg.n_kv_head)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;

        let scale = 1.0 / (cfg.head_dim as f64).sqrt();
        let prefix = self.prefix_kv(w, l)?;
        let mut ys = Vec::with_capacity(rows);
        for (i, &(b, _)) in feed.iter().enumerate() {
            let cache = &mut self.suffixes[b].caches[l];
            let (ks, vs) = cache.append(&k.narrow(2, i, 1)?, &v.narrow(2, i, 1)?)?;
            let qi = q.narrow(2, i, 1)?;
            ys.push(attend(w, &qi, (&prefix.0, &prefix.1), (&ks, &vs), scale)?);
        }
        let y = Tensor::cat(&ys, 1)?;
        let x = (x + layer.wo.forward(&y, Rounding::RowAlone)?)?;

        let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, cfg.rms_eps)?;
        let gu = project_shared(&[&layer.w_gate, &layer.w_up], &h, Rounding::RowAlone)?;
        let [gate, up] = <[Tensor; 2]>::try_from(gu)
            .map_err(|_| candle_core::Error::Msg("gate/up projection".into()))?;
        let act = (candle_nn::ops::silu(&gate)? * up)?;
        x + layer.w_down.forward(&act, Rounding::RowAlone)?
    }

    /// The prefix's keys and values of layer `l` (views), or empty ones for an empty
    /// session.
    fn prefix_kv(&self, w: &Weights, l: usize) -> Result<(Tensor, Tensor)> {
        if let Some(kv) = self.prefix.caches[l].view()?
            && self.prefix.caches[l].len() == self.prefix.tokens.len()
        {
            return Ok(kv);
        }
        if !self.prefix.tokens.is_empty() {
            candle_core::bail!("the session's cache does not cover its tokens");
        }
        let empty = Tensor::zeros(
            (1, w.cfg.n_kv_head, 0, w.cfg.head_dim),
            DType::F32,
            &w.device,
        )?;
        Ok((empty.clone(), empty))
    }
}

/// One row's query `(1, n_head, 1, head_dim)` over the prefix and then its suffix;
/// returns `(1, 1, hidden)`.
fn attend(
    w: &Weights,
    q: &Tensor,
    prefix: attention::Segment,
    suffix: attention::Segment,
    scale: f64,
) -> Result<Tensor> {
    if let Some(y) = attention::decode_two(q, prefix, suffix, scale as f32)? {
        return Ok(y);
    }
    // Other devices: join the segments and take the matmul path of `Session::forward`.
    let cfg = &w.cfg;
    let n_rep = cfg.n_head / cfg.n_kv_head;
    let k = Tensor::cat(&[prefix.0, suffix.0], 2)?;
    let v = Tensor::cat(&[prefix.1, suffix.1], 2)?;
    let q = q
        .contiguous()?
        .reshape((1, cfg.n_kv_head, n_rep, cfg.head_dim))?;
    let att = (q.matmul(&k.t()?)? * scale)?;
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    att.matmul(&v)?.reshape((1, 1, cfg.hidden))
}
