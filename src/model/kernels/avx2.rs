//! AVX2 dot products, one weight row against one activation row: ports of GGML's
//! `ggml_vec_dot_{q4_K_q8_K,q6_K_q8_K,q8_0_q8_0}` AVX2 branches.

use std::arch::x86_64::*;

use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K, unpack_scales_mins};

/// Two little-endian f16s (`[a, b]`, 4 bytes) converted by F16C: the software
/// conversion costs as much as a third of a Q4_K block's dot product.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn f16x2(b: [u8; 4]) -> (f32, f32) {
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from_le_bytes(b)));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn f16x(b: [u8; 2]) -> f32 {
    f16x2([b[0], b[1], 0, 0]).0
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn hsum256(x: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x));
    hsum128(s)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn hsum128(s: __m128) -> f32 {
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Loads 32 bytes from the start of `b`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn load256<T: Copy>(b: &[T]) -> __m256i {
    assert!(std::mem::size_of_val(b) >= 32);
    // SAFETY: the slice holds at least 32 bytes (checked above); the load is unaligned.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn load128<T: Copy>(b: &[T]) -> __m128i {
    assert!(std::mem::size_of_val(b) >= 16);
    // SAFETY: the slice holds at least 16 bytes (checked above); the load is unaligned.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn load64(b: &[u8; 8]) -> __m128i {
    _mm_set_epi64x(0, i64::from_le_bytes(*b))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub fn dot_q4k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let m4 = _mm256_set1_epi8(0xF);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let (xd, xmin) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
        let d = y.d * xd;
        let dmin = -y.d * xmin;
        let (sc, mn) = unpack_scales_mins(&x.scales);
        let prod = _mm_madd_epi16(_mm_cvtepu8_epi16(load64(&mn)), load128(&y.bsums32));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let q4 = load256(&x.qs[32 * j..]);
            let q4l = _mm256_and_si256(q4, m4);
            let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4), m4);
            let pl = _mm256_maddubs_epi16(q4l, load256(&y.qs[64 * j..]));
            let ph = _mm256_maddubs_epi16(q4h, load256(&y.qs[64 * j + 32..]));
            let pl = _mm256_madd_epi16(_mm256_set1_epi16(sc[2 * j] as i16), pl);
            let ph = _mm256_madd_epi16(_mm256_set1_epi16(sc[2 * j + 1] as i16), ph);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum256(acc) + hsum128(acc_m)
}

/// Byte shuffles that spread Q6_K scales `2i` and `2i+1` over 8 lanes each.
const Q6K_SCALE_SHUFFLE: [[u8; 16]; 8] = {
    let mut t = [[0u8; 16]; 8];
    let mut i = 0;
    while i < 8 {
        let mut l = 0;
        while l < 16 {
            t[i][l] = (2 * i + l / 8) as u8;
            l += 1;
        }
        i += 1;
    }
    t
};

#[target_feature(enable = "avx2,fma,f16c")]
pub fn dot_q6k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let m15 = _mm256_set1_epi8(15);
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = y.d * f16x(x.d);
        let scales = load128(&x.scales);
        let q8sclsub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(
            load256(&y.bsums),
            _mm256_cvtepi8_epi16(scales),
        ));
        let mut sumi = _mm256_setzero_si256();
        for j in 0..2 {
            let b1 = load256(&x.ql[64 * j..]);
            let b2 = load256(&x.ql[64 * j + 32..]);
            let bh = load256(&x.qh[32 * j..]);
            let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(bh, m3));
            let h1 = _mm256_slli_epi16::<2>(_mm256_and_si256(bh, _mm256_set1_epi8(12)));
            let h2 = _mm256_and_si256(bh, _mm256_set1_epi8(48));
            let h3 = _mm256_srli_epi16::<2>(_mm256_and_si256(bh, _mm256_set1_epi8(-64)));
            let q = [
                _mm256_or_si256(_mm256_and_si256(b1, m15), h0),
                _mm256_or_si256(_mm256_and_si256(b2, m15), h1),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(b1), m15), h2),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(b2), m15), h3),
            ];
            for (k, q) in q.into_iter().enumerate() {
                let p = _mm256_maddubs_epi16(q, load256(&y.qs[128 * j + 32 * k..]));
                let s = _mm_shuffle_epi8(scales, load128(&Q6K_SCALE_SHUFFLE[4 * j + k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_cvtepi8_epi16(s), p));
            }
        }
        sumi = _mm256_sub_epi32(sumi, q8sclsub);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum256(acc)
}

/// Σ x·y over 32 signed bytes as 8 floats (GGML's `mul_sum_i8_pairs_float`).
#[target_feature(enable = "avx2,fma,f16c")]
fn mul_sum_i8_pairs(x: __m256i, y: __m256i) -> __m256 {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    let dot = _mm256_maddubs_epi16(ax, sy);
    _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), dot))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub fn dot_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = _mm256_set1_ps(f16x(x.d) * f16x(y.d));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs(load256(&x.qs), load256(&y.qs)), acc);
    }
    hsum256(acc)
}

/// `one` for each weight row of a tile (`out.len()` rows of `per_row` blocks, one
/// after another in `w`) against the one activation row `a`: decoding's one kernel
/// call per tile, on this path and (inlined into its entry points) on AVX-512's.
/// Callers pass a closure, not the kernel's name: a closure inherits its function's
/// target features, while a function item is called through a shim built without
/// them, which keeps the kernel from being inlined.
#[inline(always)]
pub(super) fn per_weight_row<W, A>(
    w: &[W],
    per_row: usize,
    a: &[A],
    out: &mut [f32],
    one: impl Fn(&[W], &[A]) -> f32,
) {
    let a = &a[..per_row];
    for (o, w) in out.iter_mut().zip(w.chunks_exact(per_row)) {
        *o = one(w, a);
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub fn q4k_one_row(w: &[BlockQ4K], per_row: usize, a: &[BlockQ8K], out: &mut [f32]) {
    per_weight_row(w, per_row, a, out, |w, a| dot_q4k(w, a))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub fn q6k_one_row(w: &[BlockQ6K], per_row: usize, a: &[BlockQ8K], out: &mut [f32]) {
    per_weight_row(w, per_row, a, out, |w, a| dot_q6k(w, a))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub fn q8_0_one_row(w: &[BlockQ8_0], per_row: usize, a: &[BlockQ8_0], out: &mut [f32]) {
    per_weight_row(w, per_row, a, out, |w, a| dot_q8_0(w, a))
}
