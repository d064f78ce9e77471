//! Q6_K weights: the reference dequantization and the portable dot product.

use super::blocks::{BlockQ6K, BlockQ8K, QK_K, f16_le};

/// The block's 256 six-bit values as stored (0..64, before the -32 offset), in order.
fn unpack(b: &BlockQ6K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for n in 0..2 {
        let (ql, qh) = (&b.ql[64 * n..64 * n + 64], &b.qh[32 * n..32 * n + 32]);
        let y = &mut q[128 * n..128 * n + 128];
        for l in 0..32 {
            y[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            y[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    q
}

/// The block's 256 values, in order (GGML's `dequantize_row_q6_K`).
pub fn dequantize(b: &BlockQ6K, out: &mut [f32]) {
    let d = f16_le(b.d);
    let q = unpack(b);
    for (i, (y, &q)) in out.iter_mut().zip(&q).enumerate() {
        *y = d * b.scales[i / 16] as f32 * (q as i32 - 32) as f32;
    }
}

/// Σ w·a over one row, in integers per block.
pub fn dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0f32;
    for (x, y) in w.iter().zip(a) {
        let q = unpack(x);
        let mut sumi = 0i32;
        for (s, (qs, q8)) in q.chunks_exact(16).zip(y.qs.chunks_exact(16)).enumerate() {
            let d: i32 = qs.iter().zip(q8).map(|(&q, &a)| q as i32 * a as i32).sum();
            // The -32 offset, through the activation sums: Σ(q-32)a = Σqa - 32Σa.
            sumi += x.scales[s] as i32 * (d - 32 * y.bsums[s] as i32);
        }
        sum += y.d * f16_le(x.d) * sumi as f32;
    }
    sum
}
