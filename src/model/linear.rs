//! Weight matrices and the embedding table: on the CPU our kernels on the mapped
//! GGUF blocks (one copy of the weights), elsewhere, or for formats the kernels do
//! not cover, candle's `QMatMul`.

use std::ops::Range;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor, gguf_file};
use candle_core::{Device, Module, Result, Tensor};

use super::kernels::{self, Activations, Format, QMatrix, Rounding};
use super::mapping::Mapping;

/// A quantized matrix lying in the mapped file.
#[derive(Clone)]
pub(super) struct Mapped {
    map: Arc<Mapping>,
    bytes: Range<usize>,
    format: Format,
    rows: usize,
    cols: usize,
}

impl Mapped {
    /// The tensor `name` if it is a 2-D matrix in a format the kernels run.
    fn find(ct: &gguf_file::Content, map: &Arc<Mapping>, name: &str) -> Result<Option<Self>> {
        let Some(info) = ct.tensor_infos.get(name) else {
            candle_core::bail!("missing tensor {name}")
        };
        let (Some(format), Ok((rows, cols))) =
            (Format::from_ggml(info.ggml_dtype), info.shape.dims2())
        else {
            return Ok(None);
        };
        let len = rows * cols / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let start = usize::try_from(ct.tensor_data_offset + info.offset)
            .map_err(|_| candle_core::Error::Msg(format!("tensor {name} offset")))?;
        let bytes = start..start.saturating_add(len);
        if bytes.end > map.bytes().len() {
            candle_core::bail!("tensor {name} runs past the end of the file");
        }
        let m = Self {
            map: map.clone(),
            bytes,
            format,
            rows,
            cols,
        };
        m.matrix()?;
        Ok(Some(m))
    }

    fn matrix(&self) -> Result<QMatrix<'_>> {
        QMatrix::new(
            self.format,
            &self.map.bytes()[self.bytes.clone()],
            self.rows,
            self.cols,
        )
        .map_err(candle_core::Error::Msg)
    }
}

/// A weight matrix `y = x · wᵀ`.
pub(super) enum Linear {
    Mapped(Mapped),
    Candle(Arc<QTensor>, QMatMul),
}

/// Where the loader takes tensors from: the mapped file when running on the CPU.
pub(super) struct Source<'a, R> {
    pub ct: &'a gguf_file::Content,
    pub reader: &'a mut R,
    pub map: Option<Arc<Mapping>>,
    pub device: &'a Device,
}

impl<R: std::io::Read + std::io::Seek> Source<'_, R> {
    fn mapped(&self, name: &str) -> Result<Option<Mapped>> {
        match &self.map {
            Some(map) if self.device.is_cpu() => Mapped::find(self.ct, map, name),
            _ => Ok(None),
        }
    }

    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        self.ct.tensor(self.reader, name, self.device)
    }

    pub fn linear(&mut self, name: &str) -> Result<Linear> {
        if let Some(m) = self.mapped(name)? {
            return Ok(Linear::Mapped(m));
        }
        let t = Arc::new(self.tensor(name)?);
        Ok(Linear::Candle(t.clone(), QMatMul::from_arc(t)?))
    }

    pub fn embedding(&mut self, name: &str) -> Result<Embedding> {
        if let Some(m) = self.mapped(name)? {
            return Ok(Embedding::Mapped(m));
        }
        Ok(Embedding::Candle(Arc::new(self.tensor(name)?)))
    }
}

impl Linear {
    /// `x` is `(1, seq, in)`; gives `(1, seq, out)`. `rounding` is for our kernels
    /// (candle's take rows as they come).
    pub fn forward(&self, x: &Tensor, rounding: Rounding) -> Result<Tensor> {
        match self {
            Linear::Candle(_, mm) => mm.forward(x),
            Linear::Mapped(_) => Ok(project_shared(&[self], x, rounding)?.remove(0)),
        }
    }
}

/// Runs `x` through several weight matrices that share it as input: the
/// activations are quantized once and all the matrices' rows are shared out to the
/// threads in one pass.
pub(super) fn project_shared(
    ws: &[&Linear],
    x: &Tensor,
    rounding: Rounding,
) -> Result<Vec<Tensor>> {
    let mapped: Option<Vec<&Mapped>> = ws
        .iter()
        .map(|w| match w {
            Linear::Mapped(m) => Some(m),
            Linear::Candle(..) => None,
        })
        .collect();
    match mapped {
        Some(ms) => mapped_matmul(&ms, x, rounding),
        None => candle_shared(ws, x, rounding),
    }
}

fn mapped_matmul(ms: &[&Mapped], x: &Tensor, rounding: Rounding) -> Result<Vec<Tensor>> {
    let (b, seq, cols) = x.dims3()?;
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    let mats = ms.iter().map(|m| m.matrix()).collect::<Result<Vec<_>>>()?;
    if let Some(m) = mats.iter().find(|m| m.cols() != cols) {
        candle_core::bail!(
            "matmul of {cols} columns by a {}×{} matrix",
            m.rows(),
            m.cols()
        );
    }
    let formats: Vec<Format> = mats.iter().map(|m| m.format()).collect();
    let acts = Activations::quantize(&xs, b * seq, cols, &formats);
    let outs = kernels::matmul(&mats, &acts, kernels::dispatch::active(), rounding);
    outs.into_iter()
        .zip(&mats)
        .map(|(o, m)| Tensor::from_vec(o, (b, seq, m.rows()), x.device()))
        .collect()
}

/// Candle's path; for one token candle fuses the matrices into one pass over the
/// activations.
fn candle_shared(ws: &[&Linear], x: &Tensor, rounding: Rounding) -> Result<Vec<Tensor>> {
    let (_, seq, _) = x.dims3()?;
    let tensors: Option<Vec<&QTensor>> = ws
        .iter()
        .map(|w| match w {
            Linear::Candle(t, _) => Some(t.as_ref()),
            Linear::Mapped(_) => None,
        })
        .collect();
    if seq == 1
        && let Some(ts) = &tensors
        && let Some(out) = QTensor::gemv_fused_shared_lhs(ts, x)?
    {
        return Ok(out);
    }
    ws.iter().map(|w| w.forward(x, rounding)).collect()
}

/// The token embedding table; rows are dequantized on lookup.
pub(super) enum Embedding {
    Mapped(Mapped),
    Candle(Arc<QTensor>),
}

impl Embedding {
    /// `(1, ids.len(), hidden)` f32.
    pub fn lookup(&self, ids: &[u32], device: &Device) -> Result<Tensor> {
        match self {
            Embedding::Candle(t) => {
                let ids = Tensor::new(ids, device)?.unsqueeze(0)?;
                t.embedding(&ids)
            }
            Embedding::Mapped(m) => {
                let mat = m.matrix()?;
                let mut out = vec![0f32; ids.len() * m.cols];
                for (&id, row) in ids.iter().zip(out.chunks_exact_mut(m.cols)) {
                    if id as usize >= m.rows {
                        candle_core::bail!("token {id} outside the vocabulary of {}", m.rows);
                    }
                    mat.dequantize_row(id as usize, row);
                }
                Tensor::from_vec(out, (1, ids.len(), m.cols), device)
            }
        }
    }

    /// The same table as an output head (models that tie the two).
    pub fn as_linear(&self) -> Result<Linear> {
        match self {
            Embedding::Mapped(m) => Ok(Linear::Mapped(m.clone())),
            Embedding::Candle(t) => Ok(Linear::Candle(t.clone(), QMatMul::from_arc(t.clone())?)),
        }
    }
}
