//! A per-session key/value cache that can be rolled back to any earlier length.
//!
//! The stock candle caches only grow or reset; caro needs to keep the constant
//! system-prompt prefix and drop everything after it once a request is done, so
//! the next request only pays for its own tokens.

use candle_core::{DType, Device, Result, Tensor};

/// Keys and values of one attention layer, stored as `(1, n_kv_head, capacity, head_dim)`.
#[derive(Debug, Clone)]
pub struct LayerCache {
    k: Option<Tensor>,
    v: Option<Tensor>,
    len: usize,
    capacity: usize,
    /// Rows allocated on the first append.
    initial: usize,
}

const INITIAL_CAPACITY: usize = 512;

impl LayerCache {
    pub fn new() -> Self {
        Self::with_initial_capacity(INITIAL_CAPACITY)
    }

    /// A cache whose first allocation holds `rows` positions: a batch branch's suffix
    /// grows by a few tokens, and one 512-row cache per layer per branch would cost
    /// more than the shared prefix it extends.
    pub fn with_initial_capacity(rows: usize) -> Self {
        Self {
            k: None,
            v: None,
            len: 0,
            capacity: 0,
            initial: rows.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Views (not copies) of the cached keys and values, `(1, n_kv_head, len, head_dim)`
    /// each; `None` while empty.
    pub fn view(&self) -> Result<Option<(Tensor, Tensor)>> {
        match (&self.k, &self.v) {
            (Some(k), Some(v)) if self.len > 0 => {
                Ok(Some((k.narrow(2, 0, self.len)?, v.narrow(2, 0, self.len)?)))
            }
            _ => Ok(None),
        }
    }

    /// Forget everything after the first `len` positions. Stale data past `len` is
    /// overwritten by later appends, so this costs nothing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `k`/`v` of shape `(1, n_kv_head, seq, head_dim)` and returns views of the
    /// whole cached sequence.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, n_kv, seq, hd) = k.dims4()?;
        let needed = self.len + seq;
        if needed > self.capacity || self.k.is_none() {
            let mut capacity = self.capacity.max(self.initial);
            while capacity < needed {
                capacity *= 2;
            }
            let grow = |old: &Option<Tensor>, dtype: DType, device: &Device| -> Result<Tensor> {
                let fresh = Tensor::zeros((b, n_kv, capacity, hd), dtype, device)?;
                if let Some(old) = old
                    && self.len > 0
                {
                    fresh.slice_set(&old.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                }
                Ok(fresh)
            };
            let new_k = grow(&self.k, k.dtype(), k.device())?;
            let new_v = grow(&self.v, v.dtype(), v.device())?;
            self.k = Some(new_k);
            self.v = Some(new_v);
            self.capacity = capacity;
        }
        let (Some(kc), Some(vc)) = (&self.k, &self.v) else {
            candle_core::bail!("kv cache not allocated");
        };
        kc.slice_set(&k.contiguous()?, 2, self.len)?;
        vc.slice_set(&v.contiguous()?, 2, self.len)?;
        self.len = needed;
        Ok((kc.narrow(2, 0, self.len)?, vc.narrow(2, 0, self.len)?))
    }
}

impl LayerCache {
    /// Copies of the cached keys and values, `(1, n_kv_head, len, head_dim)` each.
    pub fn export(&self) -> Result<Option<(Tensor, Tensor)>> {
        match (&self.k, &self.v) {
            (Some(k), Some(v)) if self.len > 0 => Ok(Some((
                k.narrow(2, 0, self.len)?.copy()?,
                v.narrow(2, 0, self.len)?.copy()?,
            ))),
            _ => Ok(None),
        }
    }
}

impl Default for LayerCache {
    fn default() -> Self {
        Self::new()
    }
}
