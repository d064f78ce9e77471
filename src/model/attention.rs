//! Attention of one new token over the KV cache, on the CPU.
//!
//! Every decoded token attends over the whole cached prompt (the ~1000-token preamble
//! included). Through candle this is two small matmuls per layer over strided views,
//! plus a scale, a softmax and their allocations: measured at about 20 ms per token
//! over 1000 cached tokens, where the arithmetic needs a few. This kernel reads each
//! key and value row once for all the query heads that share it, with the loops
//! vectorised for AVX2 when the CPU has it.

use candle_core::{CpuStorage, Device, Layout, Result, Storage, Tensor};
use std::sync::Mutex;

/// `q`: `(1, n_head, 1, head_dim)`; `k`, `v`: `(1, n_kv_head, len, head_dim)` views of
/// the cache whose rows are contiguous. Returns `(1, 1, n_head * head_dim)`, or `None`
/// when the tensors are not f32 on the CPU in that layout (the caller then uses the
/// general path).
pub fn decode(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Option<Tensor>> {
    let (_, n_head, q_seq, hd) = q.dims4()?;
    let (_, n_kv, len, _) = k.dims4()?;
    if q_seq != 1 || !matches!(q.device(), Device::Cpu) || n_kv == 0 || !n_head.is_multiple_of(n_kv)
    {
        return Ok(None);
    }
    let q = q.contiguous()?;
    let (qs, ql) = q.storage_and_layout();
    let (ks, kl) = k.storage_and_layout();
    let (vs, vl) = v.storage_and_layout();
    let (
        Storage::Cpu(CpuStorage::F32(qd)),
        Storage::Cpu(CpuStorage::F32(kd)),
        Storage::Cpu(CpuStorage::F32(vd)),
    ) = (&*qs, &*ks, &*vs)
    else {
        return Ok(None);
    };
    let (Some(k_head), Some(v_head)) = (head_stride(kl, hd), head_stride(vl, hd)) else {
        return Ok(None);
    };
    let q_all = &qd[ql.start_offset()..ql.start_offset() + n_head * hd];
    let n_rep = n_head / n_kv;
    let mut out = vec![0f32; n_head * hd];
    each_group(&mut out, n_rep * hd, |h, out| {
        let q = &q_all[h * n_rep * hd..][..n_rep * hd];
        let k = &kd[kl.start_offset() + h * k_head..][..len * hd];
        let v = &vd[vl.start_offset() + h * v_head..][..len * hd];
        group(q, k, v, out, hd, scale);
    });
    Ok(Some(Tensor::from_vec(
        out,
        (1, 1, n_head * hd),
        &Device::Cpu,
    )?))
}

/// Keys and values of one attention segment: `(1, n_kv_head, len, head_dim)` views whose
/// rows are contiguous, as [`decode`] takes them.
pub type Segment<'a> = (&'a Tensor, &'a Tensor);

/// [`decode`] over two segments read as one sequence: a batch branch's query attends to
/// the shared prefix's cache and then to its own suffix, without concatenating them
/// (which would copy the prefix once per branch per layer per step). The scores,
/// the softmax and the weighted sum run in the same order as [`decode`] over the
/// joined sequence, so both give the same bits. `None` as for [`decode`].
pub fn decode_two(q: &Tensor, a: Segment, b: Segment, scale: f32) -> Result<Option<Tensor>> {
    let (_, n_head, q_seq, hd) = q.dims4()?;
    let (_, n_kv, len_a, _) = a.0.dims4()?;
    let len_b = b.0.dim(2)?;
    if q_seq != 1
        || !matches!(q.device(), Device::Cpu)
        || n_kv == 0
        || !n_head.is_multiple_of(n_kv)
        || b.0.dim(1)? != n_kv
    {
        return Ok(None);
    }
    let q = q.contiguous()?;
    let (qs, ql) = q.storage_and_layout();
    let views = [a.0, a.1, b.0, b.1].map(|t| t.storage_and_layout());
    let Storage::Cpu(CpuStorage::F32(qd)) = &*qs else {
        return Ok(None);
    };
    let mut data: Vec<(&[f32], usize, usize)> = Vec::with_capacity(4);
    for (s, l) in &views {
        let (Storage::Cpu(CpuStorage::F32(d)), Some(stride)) = (&**s, head_stride(l, hd)) else {
            return Ok(None);
        };
        data.push((d.as_slice(), l.start_offset(), stride));
    }
    let head = |i: usize, h: usize, len: usize| -> &[f32] {
        let (d, start, stride) = data[i];
        &d[start + h * stride..][..len * hd]
    };
    let q_all = &qd[ql.start_offset()..ql.start_offset() + n_head * hd];
    let n_rep = n_head / n_kv;
    let mut out = vec![0f32; n_head * hd];
    each_group(&mut out, n_rep * hd, |h, out| {
        let q = &q_all[h * n_rep * hd..][..n_rep * hd];
        let segs = [
            (head(0, h, len_a), head(1, h, len_a)),
            (head(2, h, len_b), head(3, h, len_b)),
        ];
        group_segments(q, &segs, out, hd, scale);
    });
    Ok(Some(Tensor::from_vec(
        out,
        (1, 1, n_head * hd),
        &Device::Cpu,
    )?))
}

/// Runs `f(h, part)` for each `chunk`-long part of `out` (one KV head's group of
/// query heads) on the engine's threads: candle's pool, which the matmuls use, so no
/// second pool's threads compete with its waiting workers for the cores.
fn each_group(out: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let parts: Vec<Mutex<&mut [f32]>> = out.chunks_mut(chunk).map(Mutex::new).collect();
    candle_core::utils::barrier_pool().execute_chunked(parts.len(), |range| {
        for h in range {
            // Each part is taken by one unit only; the lock is never contended.
            let mut part = parts[h].lock().unwrap_or_else(|p| p.into_inner());
            f(h, &mut part);
        }
    });
}

/// The distance between KV heads when each head's rows are contiguous, `head_dim` apart.
fn head_stride(l: &Layout, hd: usize) -> Option<usize> {
    match l.stride() {
        [_, h, row, 1] if *row == hd => Some(*h),
        _ => None,
    }
}

/// The query heads `q` (`n_rep × hd`) sharing one KV head with rows `k`, `v`
/// (`len × hd`), written to `out` (`n_rep × hd`).
fn group(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], hd: usize, scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { group_avx2(q, k, v, out, hd, scale) };
        return;
    }
    group_any(q, k, v, out, hd, scale);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn group_avx2(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], hd: usize, scale: f32) {
    group_any(q, k, v, out, hd, scale);
}

#[inline(always)]
fn group_any(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], hd: usize, scale: f32) {
    let n_rep = q.len() / hd;
    let len = k.len() / hd;
    let mut scores = vec![0f32; n_rep * len];
    for (j, key) in k.chunks_exact(hd).enumerate() {
        for (r, qr) in q.chunks_exact(hd).enumerate() {
            scores[r * len + j] = dot(qr, key) * scale;
        }
    }
    for row in scores.chunks_exact_mut(len) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for s in row.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|s| *s *= inv);
    }
    out.fill(0.0);
    for (j, value) in v.chunks_exact(hd).enumerate() {
        for (r, o) in out.chunks_exact_mut(hd).enumerate() {
            let p = scores[r * len + j];
            for (o, x) in o.iter_mut().zip(value) {
                *o += p * x;
            }
        }
    }
}

/// [`group`] over keys and values split into consecutive segments (`(k, v)` each).
fn group_segments(q: &[f32], segs: &[(&[f32], &[f32])], out: &mut [f32], hd: usize, scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { group_segments_avx2(q, segs, out, hd, scale) };
        return;
    }
    group_segments_any(q, segs, out, hd, scale);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn group_segments_avx2(
    q: &[f32],
    segs: &[(&[f32], &[f32])],
    out: &mut [f32],
    hd: usize,
    scale: f32,
) {
    group_segments_any(q, segs, out, hd, scale);
}

/// [`group_any`] with the key rows (and value rows) taken from `segs` in turn: every
/// loop visits positions in the same order as over one joined sequence, so float
/// rounding matches it exactly.
#[inline(always)]
fn group_segments_any(
    q: &[f32],
    segs: &[(&[f32], &[f32])],
    out: &mut [f32],
    hd: usize,
    scale: f32,
) {
    let n_rep = q.len() / hd;
    let len: usize = segs.iter().map(|(k, _)| k.len() / hd).sum();
    let mut scores = vec![0f32; n_rep * len];
    let keys = segs.iter().flat_map(|(k, _)| k.chunks_exact(hd));
    for (j, key) in keys.enumerate() {
        for (r, qr) in q.chunks_exact(hd).enumerate() {
            scores[r * len + j] = dot(qr, key) * scale;
        }
    }
    for row in scores.chunks_exact_mut(len) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for s in row.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|s| *s *= inv);
    }
    out.fill(0.0);
    let values = segs.iter().flat_map(|(_, v)| v.chunks_exact(hd));
    for (j, value) in values.enumerate() {
        for (r, o) in out.chunks_exact_mut(hd).enumerate() {
            let p = scores[r * len + j];
            for (o, x) in o.iter_mut().zip(value) {
                *o += p * x;
            }
        }
    }
}

/// Eight partial sums so the loop vectorises without reassociation flags.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, ar) = a.split_at(a.len() / 8 * 8);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(8).zip(bc.chunks_exact(8)) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += x * y;
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// The kernel against the matmul formulation, over a view of a larger cache as the
    /// session holds it.
    #[test]
    fn matches_the_matmul_path_on_a_cache_view() -> Result<()> {
        let dev = Device::Cpu;
        let (n_head, n_kv, hd, cap, len) = (6, 2, 16, 40, 23);
        let q = Tensor::randn(0f32, 1.0, (1, n_head, 1, hd), &dev)?;
        let kc = Tensor::randn(0f32, 1.0, (1, n_kv, cap, hd), &dev)?;
        let vc = Tensor::randn(0f32, 1.0, (1, n_kv, cap, hd), &dev)?;
        let (k, v) = (kc.narrow(2, 0, len)?, vc.narrow(2, 0, len)?);
        let scale = 0.25;
        let got = decode(&q, &k, &v, scale)?.expect("cpu f32 layout is supported");

        let n_rep = n_head / n_kv;
        let qg = q.reshape((1, n_kv, n_rep, hd))?;
        let att = candle_nn::ops::softmax_last_dim(&(qg.matmul(&k.t()?)? * scale as f64)?)?;
        let want = att.matmul(&v)?.reshape((1, 1, n_head * hd))?;
        let diff = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "max difference {diff}");
        Ok(())
    }

    /// Two segments give the bits of one joined sequence (the batch relies on it to
    /// match a plain session).
    #[test]
    fn two_segments_equal_the_joined_sequence_bit_for_bit() -> Result<()> {
        let dev = Device::Cpu;
        let (n_head, n_kv, hd, len_a, len_b) = (6, 2, 16, 23, 5);
        let q = Tensor::randn(0f32, 1.0, (1, n_head, 1, hd), &dev)?;
        let kc = Tensor::randn(0f32, 1.0, (1, n_kv, 40, hd), &dev)?;
        let vc = Tensor::randn(0f32, 1.0, (1, n_kv, 40, hd), &dev)?;
        let (k, v) = (
            kc.narrow(2, 0, len_a + len_b)?,
            vc.narrow(2, 0, len_a + len_b)?,
        );
        let joined = decode(&q, &k, &v, 0.25)?.expect("supported layout");
        // The second segment lives in a tensor of its own, as a branch's suffix does.
        let kb = kc.narrow(2, len_a, len_b)?.contiguous()?;
        let vb = vc.narrow(2, len_a, len_b)?.contiguous()?;
        let (ka, va) = (kc.narrow(2, 0, len_a)?, vc.narrow(2, 0, len_a)?);
        let split = decode_two(&q, (&ka, &va), (&kb, &vb), 0.25)?.expect("supported layout");
        assert_eq!(
            joined.flatten_all()?.to_vec1::<f32>()?,
            split.flatten_all()?.to_vec1::<f32>()?
        );
        // An empty first segment (a batch forked from an empty session).
        let empty = kc.narrow(2, 0, 0)?;
        let only_b = decode_two(&q, (&empty, &empty), (&kb, &vb), 0.25)?.expect("supported");
        let plain = decode(&q, &kb, &vb, 0.25)?.expect("supported");
        assert_eq!(
            plain.flatten_all()?.to_vec1::<f32>()?,
            only_b.flatten_all()?.to_vec1::<f32>()?
        );
        Ok(())
    }

    #[test]
    fn other_layouts_are_left_to_the_general_path() -> Result<()> {
        let dev = Device::Cpu;
        let q = Tensor::zeros((1, 2, 1, 4), DType::F32, &dev)?;
        let k = Tensor::zeros((1, 2, 3, 8), DType::F32, &dev)?.narrow(3, 0, 4)?;
        assert!(decode(&q, &k, &k, 1.0)?.is_none());
        let q2 = Tensor::zeros((1, 2, 2, 4), DType::F32, &dev)?;
        let k2 = Tensor::zeros((1, 2, 3, 4), DType::F32, &dev)?;
        assert!(decode(&q2, &k2, &k2, 1.0)?.is_none());
        Ok(())
    }
}
