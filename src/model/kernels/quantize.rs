//! Activations to 8-bit blocks, as GGML's `quantize_row_q8_K_ref` and
//! `quantize_row_q8_0` do, so the dot products see the same integers as llama.cpp.

use super::blocks::{BlockQ8_0, BlockQ8K, GROUP, Q8KGroup, QK_K, QK8_0, f16_bytes};

/// Quantizes `x` (a whole number of 256-value blocks) into `out`.
pub fn q8k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xs, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        // Two passes, both vectorisable: the largest magnitude, then its first
        // occurrence's sign (the value GGML's single pass keeps).
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let max = xs.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0);
        if amax == 0.0 {
            *b = BlockQ8K::default();
            continue;
        }
        // -127/max, not 127/amax: GGML's choice, kept so the integers match.
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(xs) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for (s, qs) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| q as i16).sum();
        }
        for (s, pair) in b.bsums32.iter_mut().zip(b.bsums.chunks_exact(2)) {
            *s = pair[0] + pair[1];
        }
        b.d = 1.0 / iscale;
    }
}

/// The per-group figures of `q` (`rows` rows of `per_row` blocks), see [`Q8KGroup`].
pub fn q8k_groups(q: &[BlockQ8K], rows: usize, per_row: usize) -> Vec<Q8KGroup> {
    let mut out = vec![Q8KGroup::default(); rows.div_ceil(GROUP) * per_row];
    for r in 0..rows {
        let (g, slot) = (r / GROUP, r % GROUP);
        for i in 0..per_row {
            let b = &q[r * per_row + i];
            let dst = &mut out[g * per_row + i];
            dst.bsums32[8 * slot..8 * slot + 8].copy_from_slice(&b.bsums32);
            dst.d4[4 * slot..4 * slot + 4].fill(b.d);
            dst.d[slot] = b.d;
        }
    }
    out
}

/// Quantizes `x` (a whole number of 32-value blocks) into `out`.
pub fn q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xs, b) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16_bytes(d);
        for (q, &v) in b.qs.iter_mut().zip(xs) {
            *q = nearest_int(v * id) as i8;
        }
    }
}

/// Round to nearest, ties to even, for |x| < 2²²: GGML's `nearest_int`. Adding
/// 1.5·2²³ leaves the rounded integer in the low mantissa bits; unlike
/// `f32::round_ties_even` (a libm call without SSE4.1) it vectorises.
fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// `q` with each block's values in the order the AVX-512 Q4_K row kernels read
/// Q4_K nibbles: a 64-byte load of Q4_K's `qs` holds sub-blocks 2k and 2k+2 in its
/// low nibbles and 2k+1 and 2k+3 in its high ones, so the activations come as
/// sub-blocks 0, 2, 1, 3, 4, 6, 5, 7 (32 values each). The sums stay in value order.
pub fn q4k_order(q: &[BlockQ8K]) -> Vec<BlockQ8K> {
    const ORDER: [usize; 8] = [0, 2, 1, 3, 4, 6, 5, 7];
    q.iter()
        .map(|b| {
            let mut o = *b;
            for (dst, &src) in o.qs.chunks_exact_mut(32).zip(&ORDER) {
                dst.copy_from_slice(&b.qs[32 * src..32 * src + 32]);
            }
            o
        })
        .collect()
}
