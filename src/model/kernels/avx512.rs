//! AVX-512 dot products: one weight row against up to eight activation rows, so a
//! weight block is unpacked once for all of them (batched decoding, prefill).
//!
//! 64 values per register: a 32-byte run of Q4_K nibbles is broadcast to both
//! halves and shifted by 0 in the low half and 4 in the high half, which lays the
//! two 32-value sub-blocks out in order against one 64-byte activation load (Q6_K's
//! high bits likewise). With VNNI the scale multiply and the add fuse into one
//! `vpdpwssd`; without it they stay `vpmaddwd` + `vpaddd`.

use std::arch::x86_64::*;

use super::avx2::{f16x, f16x2, hsum128, load64, load128, load256};
use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K, Q8KGroup, unpack_scales_mins};

#[inline(always)]
fn load512<T: Copy>(b: &[T]) -> __m512i {
    assert!(std::mem::size_of_val(b) >= 64);
    // SAFETY: the slice holds at least 64 bytes (checked above); the load is unaligned.
    // Only called from functions compiled with AVX-512F.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

#[inline(always)]
fn load512ps(b: &[f32]) -> __m512 {
    assert!(b.len() >= 16);
    // SAFETY: the slice holds at least 16 floats (checked above); the load is
    // unaligned. Only called from functions compiled with AVX-512F.
    unsafe { _mm512_loadu_ps(b.as_ptr()) }
}

/// Σ p·s pairwise into `acc` (i16 × i16 → i32).
///
/// Not `inline(always)`: the asm's registers need AVX-512F on this function itself.
/// It is inlined into the kernels, which enable a superset of its features.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn dot16<const VNNI: bool>(acc: __m512i, p: __m512i, s: __m512i) -> __m512i {
    // SAFETY: only called from functions compiled with AVX-512BW, and with VNNI when
    // `VNNI` is true.
    unsafe {
        if VNNI {
            // In asm because LLVM splits a chain of `vpdpwssd` into `vpmaddwd` +
            // `vpaddd` for latency, which costs a vector slot per call: with several
            // activation rows in flight latency is hidden, slots are what limits.
            let mut acc = acc;
            std::arch::asm!(
                "vpdpwssd {acc}, {p}, {s}",
                acc = inout(zmm_reg) acc,
                p = in(zmm_reg) p,
                s = in(zmm_reg) s,
                options(pure, nomem, nostack, preserves_flags),
            );
            acc
        } else {
            _mm512_add_epi32(acc, _mm512_madd_epi16(p, s))
        }
    }
}

/// i16 lane indices that give lanes 0..16 word `a` and lanes 16..32 word `b`.
#[inline(always)]
fn pair_index(a: i16, b: i16) -> __m512i {
    // SAFETY: only called from functions compiled with AVX-512F.
    unsafe { _mm512_inserti64x4::<1>(_mm512_set1_epi16(a), _mm256_set1_epi16(b)) }
}

/// i16 lane indices that give lanes 8k..8k+8 word `4t + k`.
#[inline(always)]
fn quad_index(t: i16) -> __m512i {
    // SAFETY: only called from functions compiled with AVX-512F.
    unsafe {
        let lo = _mm256_inserti128_si256::<1>(
            _mm256_castsi128_si256(_mm_set1_epi16(4 * t)),
            _mm_set1_epi16(4 * t + 1),
        );
        let hi = _mm256_inserti128_si256::<1>(
            _mm256_castsi128_si256(_mm_set1_epi16(4 * t + 2)),
            _mm_set1_epi16(4 * t + 3),
        );
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    }
}

#[inline(always)]
fn q4k_body<const N: usize, const VNNI: bool>(
    w: &[BlockQ4K],
    a: &[BlockQ8K],
    g: &[Q8KGroup],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: only instantiated inside the `target_feature` entry points below, which
    // enable AVX-512F/BW/VL (and VNNI for `VNNI`); loads go through checked slices.
    unsafe {
        let m4 = _mm512_set1_epi8(0xF);
        let shift = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(4));
        let idx = [
            pair_index(0, 1),
            pair_index(2, 3),
            pair_index(4, 5),
            pair_index(6, 7),
        ];
        let g = &g[..w.len()];
        let ys: [&[BlockQ8K]; N] = std::array::from_fn(|c| &a[c * stride..][..w.len()]);
        let mut acc = [_mm512_setzero_ps(); N];
        // On the VNNI path each row sums its block in integers first, then scales it
        // (`gemm`'s arithmetic, which runs the same rows in prefill): the block
        // totals of rows 4h..4h+4 come out side by side, row c's sum in lane c % 4
        // of `sacc[c / 4]`.
        let mut sacc = [_mm_setzero_ps(); 2];
        // The mins' sums, rows 4h..4h+4 of the group in `acc_m[h]`, one 128-bit lane
        // per row: per lane the same operations as a row taken alone.
        let mut acc_m = [_mm512_setzero_ps(); 2];
        let halves = N.div_ceil(4);
        for (i, x) in w.iter().enumerate() {
            let (sc, mn) = unpack_scales_mins(&x.scales);
            let sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(load64(&sc)));
            let mins = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(load64(&mn)));
            let mut q = [_mm512_setzero_si512(); 4];
            let mut s = [_mm512_setzero_si512(); 4];
            for j in 0..4 {
                let b = _mm512_broadcast_i64x4(load256(&x.qs[32 * j..]));
                q[j] = _mm512_and_si512(_mm512_srlv_epi16(b, shift), m4);
                s[j] = _mm512_permutexvar_epi16(idx[j], sc16);
            }
            let (dw, dmin) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
            let gi = &g[i];
            let ndmin = _mm512_set1_ps(-dmin);
            for (h, m) in acc_m.iter_mut().enumerate().take(halves) {
                let mut prod = _mm512_madd_epi16(mins, load512(&gi.bsums32[32 * h..]));
                if VNNI {
                    // Each row's exact total in all four of its lanes, as `gemm` has it.
                    prod = _mm512_add_epi32(prod, _mm512_shuffle_epi32::<0b10_11_00_01>(prod));
                    prod = _mm512_add_epi32(prod, _mm512_shuffle_epi32::<0b01_00_11_10>(prod));
                }
                let f = _mm512_mul_ps(ndmin, load512ps(&gi.d4[16 * h..]));
                *m = _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(prod), *m);
            }
            // Each row's scale product, broadcast from memory (a load, not a shuffle).
            let mut dyd = [0f32; 8];
            _mm256_storeu_ps(
                dyd.as_mut_ptr(),
                _mm256_mul_ps(_mm256_set1_ps(dw), _mm256_loadu_ps(gi.d.as_ptr())),
            );
            let mut sums = [_mm512_setzero_si512(); N];
            for (c, sumi) in sums.iter_mut().enumerate() {
                let y = &ys[c][i];
                for j in 0..4 {
                    let p = _mm512_maddubs_epi16(q[j], load512(&y.qs[64 * j..]));
                    *sumi = dot16::<VNNI>(*sumi, p, s[j]);
                }
                if !VNNI {
                    acc[c] =
                        _mm512_fmadd_ps(_mm512_set1_ps(dyd[c]), _mm512_cvtepi32_ps(*sumi), acc[c]);
                }
            }
            if VNNI {
                for (h, sa) in sacc.iter_mut().enumerate().take(halves) {
                    let row = |k: usize| {
                        sums.get(4 * h + k)
                            .copied()
                            .unwrap_or(_mm512_setzero_si512())
                    };
                    let t = totals4([row(0), row(1), row(2), row(3)]);
                    let dyd4 = _mm_loadu_ps(dyd[4 * h..].as_ptr());
                    *sa = _mm_fmadd_ps(dyd4, _mm_cvtepi32_ps(t), *sa);
                }
            }
        }
        if VNNI {
            for c in 0..N {
                let m = _mm512_permutexvar_ps(_mm512_set1_epi32(4 * (c % 4) as i32), acc_m[c / 4]);
                let sa = _mm512_permutexvar_ps(
                    _mm512_set1_epi32((c % 4) as i32),
                    _mm512_castps128_ps512(sacc[c / 4]),
                );
                out[c] = _mm512_cvtss_f32(sa) + _mm512_cvtss_f32(m);
            }
            return;
        }
        for c in 0..N {
            let m = acc_m[c / 4];
            let lane = match c % 4 {
                0 => _mm512_extractf32x4_ps::<0>(m),
                1 => _mm512_extractf32x4_ps::<1>(m),
                2 => _mm512_extractf32x4_ps::<2>(m),
                _ => _mm512_extractf32x4_ps::<3>(m),
            };
            out[c] = _mm512_reduce_add_ps(acc[c]) + hsum128(lane);
        }
    }
}

/// [`q4k_body`] on the VNNI path for one activation row (decoding): the same
/// arithmetic per block, with both block totals taken from narrow registers.
#[inline(always)]
fn q4k_one(w: &[BlockQ4K], a: &[BlockQ8K], out: &mut [f32]) {
    // SAFETY: as in `q4k_body`.
    unsafe {
        let m4 = _mm512_set1_epi8(0xF);
        let shift = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(4));
        let idx = [
            pair_index(0, 1),
            pair_index(2, 3),
            pair_index(4, 5),
            pair_index(6, 7),
        ];
        let a = &a[..w.len()];
        let (mut acc, mut accm) = (0f32, 0f32);
        for (x, y) in w.iter().zip(a) {
            let (sc, mn) = unpack_scales_mins(&x.scales);
            let sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(load64(&sc)));
            let mut sumi = _mm512_setzero_si512();
            for (j, ix) in idx.iter().enumerate() {
                let b = _mm512_broadcast_i64x4(load256(&x.qs[32 * j..]));
                let q = _mm512_and_si512(_mm512_srlv_epi16(b, shift), m4);
                let s = _mm512_permutexvar_epi16(*ix, sc16);
                let p = _mm512_maddubs_epi16(q, load512(&y.qs[64 * j..]));
                sumi = dot16::<true>(sumi, p, s);
            }
            let m = _mm_madd_epi16(_mm_cvtepu8_epi16(load64(&mn)), load128(&y.bsums32));
            let s8 = _mm256_add_epi32(
                _mm512_castsi512_si256(sumi),
                _mm512_extracti64x4_epi64::<1>(sumi),
            );
            let s4 = _mm_add_epi32(
                _mm256_castsi256_si128(s8),
                _mm256_extracti128_si256::<1>(s8),
            );
            // [Σsumi, Σmins, Σsumi, Σmins], exact.
            let t = _mm_hadd_epi32(s4, m);
            let t = _mm_cvtepi32_ps(_mm_hadd_epi32(t, t));
            let (dw, dmin) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
            acc = (dw * y.d).mul_add(_mm_cvtss_f32(t), acc);
            accm = (-dmin * y.d).mul_add(_mm_cvtss_f32(_mm_movehdup_ps(t)), accm);
        }
        out[0] = acc + accm;
    }
}

/// The totals of four registers' 16 lanes each, in lanes 0..4 (exact integers).
#[inline(always)]
fn totals4([s0, s1, s2, s3]: [__m512i; 4]) -> __m128i {
    // SAFETY: only inlined into the AVX-512 kernels above (AVX-512F/BW/VL enabled).
    unsafe {
        // Per 128-bit lane [s0, s1, s2, s3] partial sums, then the four lanes.
        let a = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1));
        let b = _mm512_add_epi32(_mm512_unpacklo_epi32(s2, s3), _mm512_unpackhi_epi32(s2, s3));
        let t = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
        let t = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64::<1>(t));
        _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256::<1>(t))
    }
}

#[inline(always)]
fn q6k_body<const N: usize, const VNNI: bool>(
    w: &[BlockQ6K],
    a: &[BlockQ8K],
    g: &[Q8KGroup],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: as in `q4k_body`.
    unsafe {
        let m3 = _mm512_set1_epi8(3);
        let m15 = _mm512_set1_epi8(15);
        // Bits 0-1 and 2-3 of `qh` for values 0..64 of a half, 4-5 and 6-7 for 64..128.
        let sh_lo = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(2));
        let sh_hi = _mm512_inserti64x4::<1>(_mm512_set1_epi16(4), _mm256_set1_epi16(6));
        let idx = [quad_index(0), quad_index(1), quad_index(2), quad_index(3)];
        let g = &g[..w.len()];
        let ys: [&[BlockQ8K]; N] = std::array::from_fn(|c| &a[c * stride..][..w.len()]);
        let mut acc = [_mm512_setzero_ps(); N];
        let mut sacc = [_mm_setzero_ps(); 2];
        let mut sacc1 = 0f32;
        for (i, x) in w.iter().enumerate() {
            let sc16 = _mm256_cvtepi8_epi16(load128(&x.scales));
            let sc512 = _mm512_castsi256_si512(sc16);
            let mut q = [_mm512_setzero_si512(); 4];
            for n in 0..2 {
                let ql = load512(&x.ql[64 * n..]);
                let qh = _mm512_broadcast_i64x4(load256(&x.qh[32 * n..]));
                let hl = _mm512_slli_epi16::<4>(_mm512_and_si512(_mm512_srlv_epi16(qh, sh_lo), m3));
                let hh = _mm512_slli_epi16::<4>(_mm512_and_si512(_mm512_srlv_epi16(qh, sh_hi), m3));
                q[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, m15), hl);
                q[2 * n + 1] =
                    _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql), m15), hh);
            }
            let s = [
                _mm512_permutexvar_epi16(idx[0], sc512),
                _mm512_permutexvar_epi16(idx[1], sc512),
                _mm512_permutexvar_epi16(idx[2], sc512),
                _mm512_permutexvar_epi16(idx[3], sc512),
            ];
            let dw = f16x(x.d);
            let mut dyd = [0f32; 8];
            _mm256_storeu_ps(
                dyd.as_mut_ptr(),
                _mm256_mul_ps(_mm256_set1_ps(dw), _mm256_loadu_ps(g[i].d.as_ptr())),
            );
            let mut sums = [_mm512_setzero_si512(); N];
            for (c, sumi) in sums.iter_mut().enumerate() {
                let y = &ys[c][i];
                // The -32 offset through the activation sums: Σ(q-32)a = Σqa - 32Σa.
                let corr = _mm256_slli_epi32::<5>(_mm256_madd_epi16(load256(&y.bsums), sc16));
                *sumi = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr));
                for t in 0..4 {
                    let p = _mm512_maddubs_epi16(q[t], load512(&y.qs[64 * t..]));
                    *sumi = dot16::<VNNI>(*sumi, p, s[t]);
                }
                if !VNNI {
                    acc[c] =
                        _mm512_fmadd_ps(_mm512_set1_ps(dyd[c]), _mm512_cvtepi32_ps(*sumi), acc[c]);
                }
            }
            // On the VNNI path, `gemm`'s arithmetic: the block's exact total, then one
            // fma per row (as in `q4k_body`).
            if VNNI && N == 1 {
                let t = _mm512_reduce_add_epi32(sums[0]) as f32;
                sacc1 = dyd[0].mul_add(t, sacc1);
            } else if VNNI {
                for (h, sa) in sacc.iter_mut().enumerate().take(N.div_ceil(4)) {
                    let row = |k: usize| {
                        sums.get(4 * h + k)
                            .copied()
                            .unwrap_or(_mm512_setzero_si512())
                    };
                    let t = totals4([row(0), row(1), row(2), row(3)]);
                    let dyd4 = _mm_loadu_ps(dyd[4 * h..].as_ptr());
                    *sa = _mm_fmadd_ps(dyd4, _mm_cvtepi32_ps(t), *sa);
                }
            }
        }
        if VNNI && N == 1 {
            out[0] = sacc1;
            return;
        }
        if VNNI {
            for c in 0..N {
                let sa = _mm512_permutexvar_ps(
                    _mm512_set1_epi32((c % 4) as i32),
                    _mm512_castps128_ps512(sacc[c / 4]),
                );
                out[c] = _mm512_cvtss_f32(sa);
            }
            return;
        }
        for c in 0..N {
            out[c] = _mm512_reduce_add_ps(acc[c]);
        }
    }
}

#[inline(always)]
fn q8_0_body<const VNNI: bool>(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    // SAFETY: as in `q4k_body`.
    unsafe {
        let mut acc = _mm512_setzero_ps();
        let pairs = w.len() / 2;
        for i in 0..pairs {
            let (x0, x1) = (&w[2 * i], &w[2 * i + 1]);
            let (y0, y1) = (&a[2 * i], &a[2 * i + 1]);
            let x =
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(load256(&x0.qs)), load256(&x1.qs));
            let y =
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(load256(&y0.qs)), load256(&y1.qs));
            // u8 × i8 products need an unsigned side: |x| against y with x's sign.
            let neg = _mm512_movepi8_mask(x);
            let ax = _mm512_abs_epi8(x);
            let sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
            let sumi = if VNNI {
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sy)
            } else {
                _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sy), _mm512_set1_epi16(1))
            };
            let d = _mm512_insertf32x8::<1>(
                _mm512_set1_ps(f16x(x0.d) * f16x(y0.d)),
                _mm256_set1_ps(f16x(x1.d) * f16x(y1.d)),
            );
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc);
        }
        let mut sum = _mm512_reduce_add_ps(acc);
        if w.len() % 2 == 1 {
            sum += super::q8_0::dot(&w[w.len() - 1..], &a[w.len() - 1..w.len()]);
        }
        sum
    }
}

/// Dispatches `out.len()` (1..=`rows::MAX_ROWS`) activation rows to the body compiled for `n`.
macro_rules! by_rows {
    ($body:ident, $vnni:expr, $w:expr, $a:expr, $g:expr, $stride:expr, $out:expr) => {
        match $out.len() {
            1 => $body::<1, $vnni>($w, $a, $g, $stride, $out),
            2 => $body::<2, $vnni>($w, $a, $g, $stride, $out),
            3 => $body::<3, $vnni>($w, $a, $g, $stride, $out),
            4 => $body::<4, $vnni>($w, $a, $g, $stride, $out),
            5 => $body::<5, $vnni>($w, $a, $g, $stride, $out),
            6 => $body::<6, $vnni>($w, $a, $g, $stride, $out),
            7 => $body::<7, $vnni>($w, $a, $g, $stride, $out),
            _ => $body::<8, $vnni>($w, $a, $g, $stride, &mut $out[..8]),
        }
    };
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
pub fn q4k_vnni(w: &[BlockQ4K], a: &[BlockQ8K], g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    if out.len() == 1 {
        return q4k_one(w, a, out);
    }
    by_rows!(q4k_body, true, w, a, g, stride, out)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
pub fn q4k(w: &[BlockQ4K], a: &[BlockQ8K], g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    by_rows!(q4k_body, false, w, a, g, stride, out)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
pub fn q6k_vnni(w: &[BlockQ6K], a: &[BlockQ8K], g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    by_rows!(q6k_body, true, w, a, g, stride, out)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
pub fn q6k(w: &[BlockQ6K], a: &[BlockQ8K], g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    by_rows!(q6k_body, false, w, a, g, stride, out)
}

/// Q8_0 runs one activation row at a time (it is not in the shipped model).
#[inline(always)]
fn q8_0_rows<const VNNI: bool>(w: &[BlockQ8_0], a: &[BlockQ8_0], stride: usize, out: &mut [f32]) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = q8_0_body::<VNNI>(w, &a[c * stride..c * stride + w.len()]);
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
pub fn q8_0_vnni(
    w: &[BlockQ8_0],
    a: &[BlockQ8_0],
    _g: &[Q8KGroup],
    stride: usize,
    out: &mut [f32],
) {
    q8_0_rows::<true>(w, a, stride, out)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
pub fn q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0], _g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    q8_0_rows::<false>(w, a, stride, out)
}
