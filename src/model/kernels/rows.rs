//! One weight row against a few activation rows, on the chosen path.

use super::blocks::{BlockQ4K, BlockQ6K, BlockQ8_0, BlockQ8K};
use super::dispatch::Path;
use super::{q4k, q6k, q8_0};

/// Activation rows one kernel call takes at most.
pub const MAX_ROWS: usize = 4;

/// The row-at-a-time kernels' shared loop: `dot` per activation row `c`, which
/// starts at `a[c * stride]`.
fn each<W, A>(w: &[W], a: &[A], stride: usize, out: &mut [f32], dot: impl Fn(&[W], &[A]) -> f32) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = dot(w, &a[c * stride..c * stride + w.len()]);
    }
}

pub fn q4k(path: Path, w: &[BlockQ4K], a: &[BlockQ8K], stride: usize, out: &mut [f32]) {
    debug_assert!(out.len() <= MAX_ROWS && a.len() >= (out.len() - 1) * stride + w.len());
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` is only ever a path `dispatch::detected` found this CPU to run.
        Path::Avx512Vnni => unsafe { super::avx512::q4k_vnni(w, a, stride, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx512 => unsafe { super::avx512::q4k(w, a, stride, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx2 => each(w, a, stride, out, |w, a| unsafe {
            super::avx2::dot_q4k(w, a)
        }),
        _ => each(w, a, stride, out, q4k::dot),
    }
}

pub fn q6k(path: Path, w: &[BlockQ6K], a: &[BlockQ8K], stride: usize, out: &mut [f32]) {
    debug_assert!(out.len() <= MAX_ROWS && a.len() >= (out.len() - 1) * stride + w.len());
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` is only ever a path `dispatch::detected` found this CPU to run.
        Path::Avx512Vnni => unsafe { super::avx512::q6k_vnni(w, a, stride, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx512 => unsafe { super::avx512::q6k(w, a, stride, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx2 => each(w, a, stride, out, |w, a| unsafe {
            super::avx2::dot_q6k(w, a)
        }),
        _ => each(w, a, stride, out, q6k::dot),
    }
}

pub fn q8_0(path: Path, w: &[BlockQ8_0], a: &[BlockQ8_0], stride: usize, out: &mut [f32]) {
    debug_assert!(out.len() <= MAX_ROWS && a.len() >= (out.len() - 1) * stride + w.len());
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` is only ever a path `dispatch::detected` found this CPU to run.
        Path::Avx512Vnni => each(w, a, stride, out, |w, a| unsafe {
            super::avx512::dot_q8_0_vnni(w, a)
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx512 => each(w, a, stride, out, |w, a| unsafe {
            super::avx512::dot_q8_0(w, a)
        }),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx2 => each(w, a, stride, out, |w, a| unsafe {
            super::avx2::dot_q8_0(w, a)
        }),
        _ => each(w, a, stride, out, q8_0::dot),
    }
}
