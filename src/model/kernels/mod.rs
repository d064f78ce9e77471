//! Quantized matrix kernels on the GGUF blocks themselves (Q4_K, Q6_K, Q8_0), so
//! the weights exist once in memory: candle's kernels keep a second, repacked copy.
//!
//! As llama.cpp does, activations are quantized to 8 bits (Q8_K for the K-quants,
//! Q8_0 for Q8_0) and the dot products run in integers per block. Paths: AVX-512
//! (with VNNI where present), AVX2, and a portable one; [`dispatch`] picks one at
//! run time and `CARO_KERNELS` forces one.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocks;
pub mod dispatch;
#[cfg(target_arch = "x86_64")]
mod gemm;
#[cfg(target_arch = "x86_64")]
mod gemm_avx2;
mod matmul;
mod q4k;
mod q6k;
mod q8_0;
mod quantize;
mod rows;

pub use dispatch::Path;
pub use matmul::{Activations, Format, MAX_EXACT_BATCH, QMatrix, Rounding, matmul};

#[cfg(test)]
mod tests;
