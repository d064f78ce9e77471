//! Q4_K weights: the reference dequantization and the portable dot product.

use super::blocks::{BlockQ4K, BlockQ8K, f16_le, unpack_scales_mins};

/// The block's 256 values, in order (GGML's `dequantize_row_q4_K`).
pub fn dequantize(b: &BlockQ4K, out: &mut [f32]) {
    let d = f16_le(b.d);
    let dmin = f16_le(b.dmin);
    let (sc, mn) = unpack_scales_mins(&b.scales);
    for (j, (qs, y)) in
        b.qs.chunks_exact(32)
            .zip(out.chunks_exact_mut(64))
            .enumerate()
    {
        let (lo, hi) = y.split_at_mut(32);
        let (d1, m1) = (d * sc[2 * j] as f32, dmin * mn[2 * j] as f32);
        let (d2, m2) = (d * sc[2 * j + 1] as f32, dmin * mn[2 * j + 1] as f32);
        for ((q, l), h) in qs.iter().zip(lo).zip(hi) {
            *l = d1 * (q & 0xF) as f32 - m1;
            *h = d2 * (q >> 4) as f32 - m2;
        }
    }
}

/// Σ w·a over one row, in integers per block as GGML's generic kernel does.
pub fn dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut sum = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = unpack_scales_mins(&x.scales);
        let mut sumi = 0i32;
        for (j, (qs, q8)) in x.qs.chunks_exact(32).zip(y.qs.chunks_exact(64)).enumerate() {
            let (lo, hi) = q8.split_at(32);
            let mut dl = 0i32;
            let mut dh = 0i32;
            for ((&q, &l), &h) in qs.iter().zip(lo).zip(hi) {
                dl += (q & 0xF) as i32 * l as i32;
                dh += (q >> 4) as i32 * h as i32;
            }
            sumi += sc[2 * j] as i32 * dl + sc[2 * j + 1] as i32 * dh;
        }
        let summ: i32 = mn
            .iter()
            .zip(&y.bsums32)
            .map(|(&m, &s)| m as i32 * s as i32)
            .sum();
        sum += y.d * (f16_le(x.d) * sumi as f32 - f16_le(x.dmin) * summ as f32);
    }
    sum
}
