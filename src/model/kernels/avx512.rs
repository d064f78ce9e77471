//! AVX-512 dot products: one weight row against up to eight activation rows, so a
//! weight block is unpacked once for all of them (batched decoding, prefill).
//!
//! 64 values per register: a 64-byte load of Q4_K nibbles gives two registers
//! (low and high nibbles), each two sub-blocks that are not neighbours, so Q4_K
//! takes its activations reordered to match (`quantize::q4k_order`); Q6_K's
//! values come in order. With VNNI the scale multiply and the add fuse into one
//! `vpdpwssd`; without it they stay `vpmaddwd` + `vpaddd`.
//!
//! Each row accumulates its blocks in floats, 16 lanes of partial sums, and sums
//! the lanes once at the end: a per-block horizontal sum cost more than the rest of
//! the block in decoding. `gemm` (prefill) sums each block exactly first, so its
//! results differ from these in rounding only.

use std::arch::x86_64::*;

use super::avx2::{f16x, f16x2, hsum128, load64, load128, load256, per_weight_row};
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

/// Bytes past the weight block in use that the one-row kernels prefetch: decoding
/// streams every weight from memory once per token, and the hardware prefetcher
/// alone leaves the core waiting on part of it.
const PREFETCH: usize = 2048;

/// Asks for the `LINES` cache lines `PREFETCH` bytes past `x`.
#[inline(always)]
fn prefetch<T, const LINES: usize>(x: &T) {
    let p = (x as *const T).cast::<i8>().wrapping_add(PREFETCH);
    for l in 0..LINES {
        // SAFETY: a prefetch is a hint: it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * l)) };
    }
}

/// A Q4_K block's nibbles as four registers of 64 values. One 64-byte load holds
/// sub-blocks 2k and 2k+2 in its low nibbles and 2k+1 and 2k+3 in its high ones,
/// so the registers hold sub-blocks (0, 2), (1, 3), (4, 6), (5, 7): the order of
/// `quantize::q4k_order`, in which these kernels take their activations.
#[inline(always)]
fn q4k_nibbles(x: &BlockQ4K) -> [__m512i; 4] {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let m4 = _mm512_set1_epi8(0xF);
        let v0 = load512(&x.qs[..]);
        let v1 = load512(&x.qs[64..]);
        [
            _mm512_and_si512(v0, m4),
            _mm512_and_si512(_mm512_srli_epi16::<4>(v0), m4),
            _mm512_and_si512(v1, m4),
            _mm512_and_si512(_mm512_srli_epi16::<4>(v1), m4),
        ]
    }
}

/// The sub-block scales of [`q4k_nibbles`]' registers, as i16 lanes.
#[inline(always)]
fn q4k_scales(sc: &[u8; 8]) -> [__m512i; 4] {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(load64(sc)));
        [
            _mm512_permutexvar_epi16(pair_index(0, 2), sc16),
            _mm512_permutexvar_epi16(pair_index(1, 3), sc16),
            _mm512_permutexvar_epi16(pair_index(4, 6), sc16),
            _mm512_permutexvar_epi16(pair_index(5, 7), sc16),
        ]
    }
}

/// Σ scale·q·y over one block of weights `q` (scales `s`) and activations `yq`, as
/// 16 exact partial sums. Two chains: with one activation row in flight, a single
/// chain's latency limits.
#[inline(always)]
fn block_sum<const VNNI: bool>(q: &[__m512i; 4], s: &[__m512i; 4], yq: &[i8; 256]) -> __m512i {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let p0 = _mm512_maddubs_epi16(q[0], load512(&yq[..]));
        let p1 = _mm512_maddubs_epi16(q[1], load512(&yq[64..]));
        let p2 = _mm512_maddubs_epi16(q[2], load512(&yq[128..]));
        let p3 = _mm512_maddubs_epi16(q[3], load512(&yq[192..]));
        let a = dot16::<VNNI>(_mm512_setzero_si512(), p0, s[0]);
        let b = dot16::<VNNI>(_mm512_setzero_si512(), p1, s[1]);
        let a = dot16::<VNNI>(a, p2, s[2]);
        let b = dot16::<VNNI>(b, p3, s[3]);
        _mm512_add_epi32(a, b)
    }
}

/// Q4_K against `N` activation rows (in `q4k_order`). Per row and block: the scaled
/// products' 16 partial sums go into a float accumulator with one fma, and the mins'
/// four into a 128-bit one, one lane group per row ([`q4k_one`] does the same for a
/// single row, so a row gives the same bits in any batch the row kernels take).
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
        let g = &g[..w.len()];
        let ys: [&[BlockQ8K]; N] = std::array::from_fn(|c| &a[c * stride..][..w.len()]);
        let mut acc = [_mm512_setzero_ps(); N];
        // The mins' sums, rows 4h..4h+4 of the group in `acc_m[h]`, one 128-bit lane
        // per row: per lane the same operations as a row taken alone.
        let mut acc_m = [_mm512_setzero_ps(); 2];
        for (i, x) in w.iter().enumerate() {
            let (sc, mn) = unpack_scales_mins(&x.scales);
            let q = q4k_nibbles(x);
            let s = q4k_scales(&sc);
            let mins = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(load64(&mn)));
            let (dw, dmin) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
            let gi = &g[i];
            let ndmin = _mm512_set1_ps(-dmin);
            for (h, m) in acc_m.iter_mut().enumerate().take(N.div_ceil(4)) {
                let prod = _mm512_madd_epi16(mins, load512(&gi.bsums32[32 * h..]));
                let f = _mm512_mul_ps(ndmin, load512ps(&gi.d4[16 * h..]));
                *m = _mm512_fmadd_ps(f, _mm512_cvtepi32_ps(prod), *m);
            }
            for (c, acc) in acc.iter_mut().enumerate() {
                let y = &ys[c][i];
                let sumi = block_sum::<VNNI>(&q, &s, &y.qs);
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(dw * y.d), _mm512_cvtepi32_ps(sumi), *acc);
            }
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

/// [`q4k_body`] for one activation row (decoding), with the same arithmetic per
/// block, the mins from the row's own sums, and the weights prefetched.
#[inline(always)]
fn q4k_one<const VNNI: bool>(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    // SAFETY: as in `q4k_body`.
    unsafe {
        let mut acc = _mm512_setzero_ps();
        let mut acc_m = _mm_setzero_ps();
        for (x, y) in w.iter().zip(&a[..w.len()]) {
            prefetch::<_, 3>(x);
            let (sc, mn) = unpack_scales_mins(&x.scales);
            let q = q4k_nibbles(x);
            let s = q4k_scales(&sc);
            let (dw, dmin) = f16x2([x.d[0], x.d[1], x.dmin[0], x.dmin[1]]);
            let prod = _mm_madd_epi16(_mm_cvtepu8_epi16(load64(&mn)), load128(&y.bsums32));
            acc_m = _mm_fmadd_ps(_mm_set1_ps(-dmin * y.d), _mm_cvtepi32_ps(prod), acc_m);
            let sumi = block_sum::<VNNI>(&q, &s, &y.qs);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(dw * y.d), _mm512_cvtepi32_ps(sumi), acc);
        }
        _mm512_reduce_add_ps(acc) + hsum128(acc_m)
    }
}

/// A Q6_K block's values (0..64, without the -32 offset) as four registers of 64.
#[inline(always)]
fn q6k_values(x: &BlockQ6K) -> [__m512i; 4] {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let m3 = _mm512_set1_epi8(3);
        let m15 = _mm512_set1_epi8(15);
        // Bits 0-1 and 2-3 of `qh` for values 0..64 of a half, 4-5 and 6-7 for 64..128.
        let sh_lo = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(2));
        let sh_hi = _mm512_inserti64x4::<1>(_mm512_set1_epi16(4), _mm256_set1_epi16(6));
        let mut q = [_mm512_setzero_si512(); 4];
        for n in 0..2 {
            let ql = load512(&x.ql[64 * n..]);
            let qh = _mm512_broadcast_i64x4(load256(&x.qh[32 * n..]));
            let hl = _mm512_slli_epi16::<4>(_mm512_and_si512(_mm512_srlv_epi16(qh, sh_lo), m3));
            let hh = _mm512_slli_epi16::<4>(_mm512_and_si512(_mm512_srlv_epi16(qh, sh_hi), m3));
            q[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, m15), hl);
            q[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(ql), m15), hh);
        }
        q
    }
}

/// Q6_K's 16 sub-block scales as i16 lanes (`sc16`) and as the four registers that
/// match [`q6k_values`]'.
#[inline(always)]
fn q6k_scales(x: &BlockQ6K) -> (__m256i, [__m512i; 4]) {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let sc16 = _mm256_cvtepi8_epi16(load128(&x.scales));
        let sc512 = _mm512_castsi256_si512(sc16);
        let s = [
            _mm512_permutexvar_epi16(quad_index(0), sc512),
            _mm512_permutexvar_epi16(quad_index(1), sc512),
            _mm512_permutexvar_epi16(quad_index(2), sc512),
            _mm512_permutexvar_epi16(quad_index(3), sc512),
        ];
        (sc16, s)
    }
}

/// Σ scale·(q-32)·y over one Q6_K block, as 16 exact partial sums: the -32 offset
/// through the activation sums, Σ(q-32)a = Σqa - 32Σa.
#[inline(always)]
fn q6k_block_sum<const VNNI: bool>(
    q: &[__m512i; 4],
    sc16: __m256i,
    s: &[__m512i; 4],
    y: &BlockQ8K,
) -> __m512i {
    // SAFETY: only inlined into the AVX-512 kernels below.
    unsafe {
        let corr = _mm256_slli_epi32::<5>(_mm256_madd_epi16(load256(&y.bsums), sc16));
        let sumi = block_sum::<VNNI>(q, s, &y.qs);
        _mm512_sub_epi32(sumi, _mm512_zextsi256_si512(corr))
    }
}

#[inline(always)]
fn q6k_body<const N: usize, const VNNI: bool>(
    w: &[BlockQ6K],
    a: &[BlockQ8K],
    _g: &[Q8KGroup],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: as in `q4k_body`.
    unsafe {
        let ys: [&[BlockQ8K]; N] = std::array::from_fn(|c| &a[c * stride..][..w.len()]);
        let mut acc = [_mm512_setzero_ps(); N];
        for (i, x) in w.iter().enumerate() {
            if N == 1 {
                prefetch::<_, 4>(x);
            }
            let q = q6k_values(x);
            let (sc16, s) = q6k_scales(x);
            let dw = f16x(x.d);
            for (c, acc) in acc.iter_mut().enumerate() {
                let y = &ys[c][i];
                let sumi = q6k_block_sum::<VNNI>(&q, sc16, &s, y);
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(dw * y.d), _mm512_cvtepi32_ps(sumi), *acc);
            }
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
        out[0] = q4k_one::<true>(w, a);
        return;
    }
    by_rows!(q4k_body, true, w, a, g, stride, out)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
pub fn q4k(w: &[BlockQ4K], a: &[BlockQ8K], g: &[Q8KGroup], stride: usize, out: &mut [f32]) {
    if out.len() == 1 {
        out[0] = q4k_one::<false>(w, a);
        return;
    }
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

/// [`q6k_body`] for one activation row, as a value.
#[inline(always)]
fn q6k_one<const VNNI: bool>(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut o = [0f32];
    q6k_body::<1, VNNI>(w, a, &[], w.len(), &mut o);
    o[0]
}

/// Defines `$vnni` and `$plain`: the weight rows of a tile against one activation row
/// (decoding), `$one` per weight row, in one call rather than one per weight row
/// (1536 values), whose call, dispatch and hand-over cost 9 % of a token.
macro_rules! one_row_tiles {
    ($vnni:ident, $plain:ident, $block:ty, $act:ty, $one:ident) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")]
        pub fn $vnni(w: &[$block], per_row: usize, a: &[$act], out: &mut [f32]) {
            per_weight_row(w, per_row, a, out, |w, a| $one::<true>(w, a))
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
        pub fn $plain(w: &[$block], per_row: usize, a: &[$act], out: &mut [f32]) {
            per_weight_row(w, per_row, a, out, |w, a| $one::<false>(w, a))
        }
    };
}

one_row_tiles!(q4k_vnni_one, q4k_one_row, BlockQ4K, BlockQ8K, q4k_one);
one_row_tiles!(q6k_vnni_one, q6k_one_row, BlockQ6K, BlockQ8K, q6k_one);
one_row_tiles!(q8_0_vnni_one, q8_0_one_row, BlockQ8_0, BlockQ8_0, q8_0_body);

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
