//! GGUF weights read in place from a read-only memory map of the file.
//!
//! Candle's reader copies every tensor to the heap, and on x86 with AVX2 its
//! quantized matmul also keeps a repacked copy of `Q4_K`, `Q6_K` and `Q8_0`
//! weights (scales unpacked to f32: 1.33× the bytes of a `Q4_K` tensor) the
//! first time it runs them. A weight that only ever runs through the
//! repacked kernels is then held twice. Here a quantized tensor points into a
//! private read-only mapping of the file instead ([`Tensors::get`]); once
//! Candle has repacked a weight and does not read the original any more, the
//! original's pages are handed back to the kernel ([`Linear`]). Nothing is
//! lost by that: the mapping is never written, so a page read again faults
//! back in from the file with the same bytes. A weight that Candle's kernels
//! read directly (no repacking, e.g. `Q6_K` with one activation row) is
//! copied to the heap, as Candle's reader does.
//!
//! Like every memory-mapped model (llama.cpp's default), this expects the
//! file not to be truncated or rewritten in place while the model is loaded:
//! the model cache replaces files by renaming.
use super::kernels;
use super::kquants::{self, Packed};
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::k_quants::{
    self, BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1,
    BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1, GgmlType,
};
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor, QuantizedType};
use candle_core::{CpuStorage, DType, Device, Module, Result, Tensor};
use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A private read-only mapping of a whole file.
pub(crate) struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    page: usize,
}

// SAFETY: the mapping is read-only and lives until `Drop`; sharing the
// pointer between threads only shares immutable bytes.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
use crate::pages::sys;

impl Mapping {
    /// Map `file` read-only; `None` where this is not supported (or fails):
    /// the caller reads the tensors instead.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    pub fn new(file: &File) -> Option<Self> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: plain system calls; a failed mmap returns MAP_FAILED (-1).
        let (ptr, page) = unsafe {
            let ptr = sys::mmap(
                std::ptr::null_mut(),
                len,
                sys::PROT_READ,
                sys::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            );
            (ptr, sys::sysconf(sys::SC_PAGESIZE))
        };
        if ptr as isize == -1 {
            return None;
        }
        if page <= 0 {
            // SAFETY: the mapping just made.
            unsafe { sys::munmap(ptr, len) };
            return None;
        }
        Some(Self {
            ptr: std::ptr::NonNull::new(ptr.cast())?,
            len,
            page: page as usize,
        })
    }

    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    pub fn new(_file: &File) -> Option<Self> {
        None
    }

    fn bytes(&self, range: Range<usize>) -> &[u8] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: inside the mapping, which outlives `&self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(range.start), range.len()) }
    }

    /// Drop the resident pages wholly inside `range` from this process. They
    /// are not lost: the next read faults them back in from the file.
    pub fn release(&self, range: Range<usize>) {
        let end = range.end.min(self.len);
        crate::pages::release(self.bytes(range.start.min(end)..end), self.page);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        // SAFETY: the mapping made in `new`; nothing borrows it any more (every
        // tensor pointing into it holds an `Arc` of it).
        unsafe {
            sys::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// How Candle has read a mapped tensor.
#[derive(Default)]
pub(crate) struct Uses {
    /// By a kernel that reads the blocks as they are (matmul without
    /// repacking, dequantization).
    direct: AtomicBool,
    /// Times its bytes were taken by address: how Candle repacks a weight
    /// (and `QTensor::data`).
    reads: AtomicUsize,
}

impl Uses {
    fn direct(&self) -> bool {
        self.direct.load(Ordering::Relaxed)
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
}

/// The blocks of one tensor as Candle's CPU storage: inside a [`Mapping`],
/// or (for the formats of [`kernels`], so that they run the same kernel
/// wherever they were read from) on the heap.
struct MappedBlocks<T> {
    store: Store<T>,
    uses: Arc<Uses>,
}

enum Store<T> {
    Mapped {
        map: Arc<Mapping>,
        start: usize,
        count: usize,
    },
    Heap(Vec<T>),
}

impl<T: GgmlType> MappedBlocks<T> {
    /// `None` when the bytes are not aligned for `T` (then the tensor is read).
    fn new(map: Arc<Mapping>, bytes: Range<usize>, uses: Arc<Uses>) -> Option<Self> {
        let size = std::mem::size_of::<T>();
        let addr = map.bytes(bytes.clone()).as_ptr() as usize;
        if !bytes.len().is_multiple_of(size) || !addr.is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        Some(Self {
            store: Store::Mapped {
                map,
                start: bytes.start,
                count: bytes.len() / size,
            },
            uses,
        })
    }

    /// The blocks of `bytes` (a tensor's data, any alignment) on the heap.
    fn heap(bytes: &[u8]) -> Option<Self> {
        Some(Self {
            store: Store::Heap(read_blocks(bytes)?),
            uses: Arc::default(),
        })
    }

    fn blocks(&self) -> &[T] {
        match &self.store {
            Store::Mapped { map, start, count } => {
                let bytes = map.bytes(*start..*start + count * std::mem::size_of::<T>());
                // SAFETY: aligned and sized for `count` blocks (checked in
                // `new`); the blocks are plain data, immutable for the
                // mapping's life.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), *count) }
            }
            Store::Heap(blocks) => blocks,
        }
    }
}

impl<T: GgmlType> QuantizedType for MappedBlocks<T> {
    fn dtype(&self) -> GgmlDType {
        T::DTYPE
    }

    fn matmul_t(&self, mkn: (usize, usize, usize), lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        self.uses.direct.store(true, Ordering::Relaxed);
        if let Some(done) = kernels::matmul(mkn, lhs, self.blocks(), dst) {
            return done;
        }
        k_quants::matmul(mkn, lhs, self.blocks(), dst)
    }

    fn matmul_t_f16(
        &self,
        mkn: (usize, usize, usize),
        lhs: &[half::f16],
        dst: &mut [half::f16],
    ) -> Result<()> {
        self.uses.direct.store(true, Ordering::Relaxed);
        k_quants::matmul_f16(mkn, lhs, self.blocks(), dst)
    }

    /// The rows of `ids`, each dequantized by itself (as Candle's own
    /// storage does): a lookup reads only those rows' pages.
    fn embedding(&self, ids: &[u32], rows: usize, hidden: usize) -> Result<CpuStorage> {
        let blocks = self.blocks();
        if !hidden.is_multiple_of(T::BLCK_SIZE) || blocks.len() != rows * (hidden / T::BLCK_SIZE) {
            candle_core::bail!(
                "embedding of {rows} × {hidden} over {} blocks of {:?}",
                blocks.len(),
                T::DTYPE
            );
        }
        let row_blocks = hidden / T::BLCK_SIZE;
        let mut out = vec![0f32; ids.len() * hidden];
        for (dst, &id) in out.chunks_exact_mut(hidden).zip(ids) {
            let row = id as usize;
            if row >= rows {
                candle_core::bail!("embedding id {row} is out of range for {rows} rows");
            }
            T::to_float(&blocks[row * row_blocks..(row + 1) * row_blocks], dst);
        }
        Ok(CpuStorage::F32(out))
    }

    fn dequantize(&self, elem_count: usize) -> Result<CpuStorage> {
        self.uses.direct.store(true, Ordering::Relaxed);
        let mut ys = vec![0f32; elem_count];
        T::to_float(self.blocks(), &mut ys);
        Ok(CpuStorage::F32(ys))
    }

    fn storage_size_in_bytes(&self) -> usize {
        std::mem::size_of_val(self.blocks())
    }

    fn as_ptr(&self) -> *const u8 {
        self.uses.reads.fetch_add(1, Ordering::Relaxed);
        self.blocks().as_ptr().cast()
    }

    fn block_size(&self) -> usize {
        T::BLCK_SIZE
    }

    /// Candle quantizes only into storage it allocates itself.
    fn from_float(&mut self, _xs: &[f32]) {
        unreachable!("mapped GGUF weights are read-only")
    }

    fn from_float_imatrix(&mut self, _xs: &[f32], _imatrix: &[f32], _n_per_row: usize) {
        unreachable!("mapped GGUF weights are read-only")
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self.blocks())
    }
}

/// Where a mapped tensor's bytes are, and how they have been read.
#[derive(Clone)]
pub(crate) struct Source {
    map: Arc<Mapping>,
    bytes: Range<usize>,
    uses: Arc<Uses>,
}

impl Source {
    /// Hand the tensor's resident pages back to the kernel.
    pub fn release(&self) {
        self.map.release(self.bytes.clone());
    }
}

/// A tensor of the file: in place in the mapping (`source`), or read.
pub(crate) struct Loaded {
    pub tensor: QTensor,
    pub source: Option<Source>,
}

/// The tensors of a GGUF file: quantized ones mapped where possible (CPU,
/// Linux), everything else read onto the device by Candle's reader.
pub(crate) struct Tensors<'a> {
    content: &'a Content,
    reader: &'a mut BufReader<File>,
    device: &'a Device,
    map: Option<Arc<Mapping>>,
}

impl<'a> Tensors<'a> {
    pub fn new(content: &'a Content, reader: &'a mut BufReader<File>, device: &'a Device) -> Self {
        let map = match device.is_cpu() {
            true => Mapping::new(reader.get_ref()).map(Arc::new),
            false => None,
        };
        Self {
            content,
            reader,
            device,
            map,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    pub fn get(&mut self, name: &str) -> Result<Loaded> {
        if let Some(loaded) = self.mapped(name) {
            return Ok(loaded);
        }
        Ok(Loaded {
            tensor: self.content.tensor(self.reader, name, self.device)?,
            source: None,
        })
    }

    fn mapped(&self, name: &str) -> Option<Loaded> {
        let map = self.map.as_ref()?;
        let info = self.content.tensor_infos.get(name)?;
        let dtype = info.ggml_dtype;
        let elems = info.shape.elem_count();
        if elems % dtype.block_size() != 0 {
            return None;
        }
        let start = usize::try_from(self.content.tensor_data_offset + info.offset).ok()?;
        let bytes = start..start.checked_add(elems / dtype.block_size() * dtype.type_size())?;
        if bytes.end > map.len {
            return None;
        }
        let source = Source {
            map: map.clone(),
            bytes,
            uses: Arc::default(),
        };
        let storage = mapped_storage(dtype, &source)?;
        let tensor = QTensor::new(QStorage::Cpu(storage), info.shape.clone()).ok()?;
        Some(Loaded {
            tensor,
            source: Some(source),
        })
    }
}

/// Candle's CPU storage of `dtype` over `source`; `None` for the float
/// formats (norms and biases: small, and turned into tensors anyway).
fn mapped_storage(dtype: GgmlDType, source: &Source) -> Option<Box<dyn QuantizedType>> {
    fn boxed<T: GgmlType + 'static>(s: &Source) -> Option<Box<dyn QuantizedType>> {
        let blocks = MappedBlocks::<T>::new(s.map.clone(), s.bytes.clone(), s.uses.clone())?;
        Some(Box::new(blocks))
    }
    match dtype {
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => None,
        GgmlDType::Q4_0 => boxed::<BlockQ4_0>(source),
        GgmlDType::Q4_1 => boxed::<BlockQ4_1>(source),
        GgmlDType::Q5_0 => boxed::<BlockQ5_0>(source),
        GgmlDType::Q5_1 => boxed::<BlockQ5_1>(source),
        GgmlDType::Q8_0 => boxed::<BlockQ8_0>(source),
        GgmlDType::Q8_1 => boxed::<BlockQ8_1>(source),
        GgmlDType::Q2K => boxed::<BlockQ2K>(source),
        GgmlDType::Q3K => boxed::<BlockQ3K>(source),
        GgmlDType::Q4K => boxed::<BlockQ4K>(source),
        GgmlDType::Q5K => boxed::<BlockQ5K>(source),
        GgmlDType::Q6K => boxed::<BlockQ6K>(source),
        GgmlDType::Q8K => boxed::<BlockQ8K>(source),
    }
}

/// `bytes` (any alignment) as blocks of `T`; `None` unless a whole number
/// of blocks.
pub(super) fn read_blocks<T: GgmlType>(bytes: &[u8]) -> Option<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size) {
        return None;
    }
    let blocks = bytes
        .chunks_exact(size)
        // SAFETY: `size` bytes each; the blocks are plain data (integers and
        // f16 scales: any bits are a value).
        .map(|b| unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
        .collect();
    Some(blocks)
}

/// A heap copy of `q` in this module's storage, for the formats that
/// [`kernels`] multiplies (Candle's own storage would run its scalar loop).
fn native_copy(q: &QTensor) -> Result<QTensor> {
    fn boxed<T: GgmlType + 'static>(q: &QTensor) -> Result<Box<dyn QuantizedType>> {
        match MappedBlocks::<T>::heap(&q.data()?) {
            Some(b) => Ok(Box::new(b)),
            None => candle_core::bail!("{:?} data of {} bytes", q.dtype(), q.data()?.len()),
        }
    }
    let storage = match q.dtype() {
        GgmlDType::Q4_1 => boxed::<BlockQ4_1>(q)?,
        GgmlDType::Q5_0 => boxed::<BlockQ5_0>(q)?,
        GgmlDType::Q8_0 => boxed::<BlockQ8_0>(q)?,
        other => candle_core::bail!("no kernel of this crate for {other:?}"),
    };
    QTensor::new(QStorage::Cpu(storage), q.shape().clone())
}

/// A copy of `q` in Candle's own heap storage.
fn heap_copy(q: &QTensor) -> Result<QTensor> {
    let storage = QStorage::from_data(Cow::Borrowed(&q.data()?), &Device::Cpu, q.dtype())?;
    QTensor::new(storage, q.shape().clone())
}

/// A matmul weight. A mapped one is kept where Candle reads it from: the
/// repacked copy only (the file pages released), or a heap copy.
///
/// Every row of an input is computed by the same kernel whatever the number
/// of rows (see [`pads_single_rows`]), so a sequence's logits do not depend
/// on how many other sequences share its decode step.
pub(crate) struct Linear {
    matmul: QMatMul,
    /// `Q4_K` / `Q6_K` in [`kquants`]' tiles, where this CPU runs them:
    /// every call on `f32` inputs.
    packed: Option<Packed>,
    /// Set while the weight runs from Candle's repacked copy with its file
    /// pages released: its source, and its read count then.
    released: Option<(Source, usize)>,
    /// A one-row input runs as two rows (see [`pads_single_rows`]).
    pad: bool,
}

/// Whether Candle multiplies one row of `dtype` with another kernel than
/// several rows. On x86 with AVX2, `Q6_K` has a one-row kernel on the
/// compact blocks and a tiled one on its repacked copy for more rows; the
/// two sum in different orders, so a row's result would depend on the batch
/// it runs in. Such a weight gets every one-row input as two rows (the row
/// twice): the tiled kernel costs the same for two rows as the compact one
/// for one, and the compact copy is then never read (its pages are
/// released). Every other format takes one kernel for 1 to 31 rows (AMX
/// starts at 32 rows, which only prompts reach), which the tests check.
pub(crate) fn pads_single_rows(dtype: GgmlDType) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        dtype == GgmlDType::Q6K
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = dtype;
        false
    }
}

impl Linear {
    /// `q` as a matmul weight, `source` where it is mapped. A mapped weight
    /// runs once on one row of zeros, so that Candle repacks it now if it
    /// ever will: then its pages are released, else it is copied to the heap.
    ///
    /// A weight in a format of [`kernels`] is multiplied by that kernel
    /// where it lies: in the mapping (read in place, as llama.cpp reads its
    /// mapped weights), or in a heap copy of this module's storage.
    ///
    /// A `Q4_K` or `Q6_K` weight that [`kquants`] takes is repacked into its
    /// tiles now, and a mapped one's pages are released (Candle reads them
    /// again only for an input the tiles do not take, not `f32` or not on
    /// the CPU, and they are released again after: [`Linear::settle`]).
    pub fn new(q: Arc<QTensor>, source: Option<Source>) -> Result<Self> {
        if kquants::takes(&q) {
            let packed = Packed::new(&q)?;
            let released = source.map(|s| {
                s.release();
                let reads = s.uses.reads();
                (s, reads)
            });
            return Ok(Self {
                matmul: QMatMul::from_arc(q)?,
                packed: Some(packed),
                released,
                pad: false,
            });
        }
        if kernels::takes(&q) {
            let q = match source {
                Some(_) => q,
                None => Arc::new(native_copy(&q)?),
            };
            return Ok(Self {
                matmul: QMatMul::from_arc(q)?,
                packed: None,
                released: None,
                pad: false,
            });
        }
        let matmul = QMatMul::from_arc(q.clone())?;
        let pad = matches!(matmul, QMatMul::QTensor(_)) && pads_single_rows(q.dtype());
        let Some(source) = source else {
            return Ok(Self {
                matmul,
                packed: None,
                released: None,
                pad,
            });
        };
        if !matches!(matmul, QMatMul::QTensor(_)) {
            // Dequantized into a plain tensor: the bytes are not used again.
            source.release();
            return Ok(Self {
                matmul,
                packed: None,
                released: None,
                pad,
            });
        }
        let (_, k) = q.shape().dims2()?;
        let warm = Self {
            matmul,
            packed: None,
            released: None,
            pad,
        };
        warm.forward(&Tensor::zeros((1, k), DType::F32, &Device::Cpu)?)?;
        let linear = match source.uses.direct() || source.uses.reads() == 0 {
            true => Self {
                matmul: QMatMul::from_qtensor(heap_copy(&q)?)?,
                packed: None,
                released: None,
                pad,
            },
            false => Self {
                released: Some((source.clone(), source.uses.reads())),
                ..warm
            },
        };
        source.release();
        Ok(linear)
    }

    /// Whether this crate's kernels multiply the weight ([`kquants`]' tiles
    /// or [`kernels`]' tiled loops), which compute a row the same way next
    /// to any number of other rows, one or hundreds (Candle's kernels take
    /// another path for 32 rows or more where the CPU has AMX).
    pub fn rows_independent(&self) -> bool {
        self.packed.is_some() || self.qtensor().is_some_and(|q| kernels::takes(&q))
    }

    /// `x` (`(…, rows, k)`) times the weight's transpose.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows: usize = x.dims().iter().rev().skip(1).product();
        if let Some(packed) = &self.packed {
            if x.dtype() == DType::F32 && x.device().is_cpu() {
                return x.contiguous()?.apply_op1_no_bwd(packed);
            }
        }
        if !(self.pad && rows == 1) {
            return self.matmul.forward(x);
        }
        let shape = x.dims().to_vec();
        let k = *shape.last().expect("a matmul input has a last dimension");
        let row = x.reshape((1, k))?;
        let two = Tensor::cat(&[&row, &row], 0)?;
        let y = self.matmul.forward(&two)?.narrow(0, 0, 1)?;
        let mut out = shape;
        *out.last_mut().expect("as above") = y.dim(1)?;
        y.reshape(out)
    }

    /// `x` times each weight's transpose, as [`Linear::forward`] of each:
    /// where every weight is in [`kquants`]' tiles and `x` is `f32` on the
    /// CPU, in one [`kquants::matmul_many`] (one quantization of `x`, one
    /// hand-out to the thread pool; the same bits).
    pub fn forward_many(ws: &[&Linear], x: &Tensor) -> Result<Vec<Tensor>> {
        let packed: Option<Vec<&Packed>> = ws.iter().map(|w| w.packed.as_ref()).collect();
        let Some(packed) = packed.filter(|p| {
            p.len() > 1
                && x.dtype() == DType::F32
                && x.device().is_cpu()
                && x.dims().last() == Some(&p[0].k())
                && p.iter().all(|w| w.k() == p[0].k())
        }) else {
            return ws.iter().map(|w| w.forward(x)).collect();
        };
        let x = x.contiguous()?;
        let dims = x.dims().to_vec();
        let k = packed[0].k();
        let m = x.elem_count() / k;
        let mut outs: Vec<Vec<f32>> = packed.iter().map(|p| vec![0f32; m * p.n()]).collect();
        {
            let (storage, layout) = x.storage_and_layout();
            let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(data)) = &*storage else {
                candle_core::bail!("a packed matmul takes f32 inputs on the CPU");
            };
            let start = layout.start_offset();
            let mut dsts: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            kquants::matmul_many(&packed, m, &data[start..start + m * k], &mut dsts)?;
        }
        outs.into_iter()
            .zip(&packed)
            .map(|(out, p)| {
                let mut shape = dims.clone();
                *shape.last_mut().expect("checked above") = p.n();
                Tensor::from_vec(out, shape, x.device())
            })
            .collect()
    }

    /// The quantized weight, where the matmul runs on one.
    pub fn qtensor(&self) -> Option<Arc<QTensor>> {
        match &self.matmul {
            QMatMul::QTensor(q) => Some(q.clone()),
            _ => None,
        }
    }

    /// After a forward pass: a released weight whose bytes were read again
    /// (repacked for another kernel) is released again; one that was read
    /// directly after all (a kernel the warm-up did not reach) moves to the
    /// heap, so that it is not read from released pages again and again.
    pub fn settle(&mut self) -> Result<()> {
        let Some((source, reads)) = &mut self.released else {
            return Ok(());
        };
        if source.uses.direct() {
            let source = source.clone();
            let q = self.qtensor().expect("a released weight is quantized");
            self.matmul = QMatMul::from_qtensor(heap_copy(&q)?)?;
            source.release();
            self.released = None;
        } else if source.uses.reads() != *reads {
            *reads = source.uses.reads();
            source.release();
        }
        Ok(())
    }

    /// Whether the weight runs from Candle's repacked copy alone.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn is_released(&self) -> bool {
        self.released.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::tests::values;
    use candle_core::quantized::gguf_file::{self, Value};

    const QUANTIZED: [GgmlDType; 10] = [
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
        GgmlDType::Q8_0,
        GgmlDType::Q2K,
        GgmlDType::Q3K,
        GgmlDType::Q4K,
        GgmlDType::Q5K,
        GgmlDType::Q6K,
    ];
    const ROWS: usize = 64;
    const WIDTH: usize = 512;

    fn bits(t: &Tensor) -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    /// One GGUF with a `ROWS × WIDTH` tensor of each quantization, and the
    /// tensors as Candle holds them on the heap.
    fn file(dir: &tempfile::TempDir) -> (std::path::PathBuf, Vec<(String, QTensor)>) {
        let t: Vec<(String, QTensor)> = QUANTIZED
            .iter()
            .enumerate()
            .map(|(i, &dtype)| {
                let x =
                    Tensor::from_vec(values(i as u64, ROWS * WIDTH), (ROWS, WIDTH), &Device::Cpu)
                        .unwrap();
                (format!("w{i}"), QTensor::quantize(&x, dtype).unwrap())
            })
            .collect();
        let refs: Vec<(&str, &QTensor)> = t.iter().map(|(n, q)| (n.as_str(), q)).collect();
        let md = Value::String("test".into());
        let path = dir.path().join("w.gguf");
        let mut f = File::create(&path).unwrap();
        gguf_file::write(&mut f, &[("general.name", &md)], &refs).unwrap();
        (path, t)
    }

    /// Mapped tensors dequantize, look up rows and multiply exactly as the
    /// heap ones, also after their pages were released and after a weight
    /// moved to the heap.
    #[test]
    fn mapped_tensors_compute_what_heap_tensors_compute() {
        let dir = tempfile::tempdir().unwrap();
        let (path, heap) = file(&dir);
        let mut reader = BufReader::new(File::open(&path).unwrap());
        let content = Content::read(&mut reader).unwrap();
        let mut ts = Tensors::new(&content, &mut reader, &Device::Cpu);
        let mapped = cfg!(all(target_os = "linux", target_pointer_width = "64"));
        assert_eq!(ts.map.is_some(), mapped);
        for (name, q) in &heap {
            let loaded = ts.get(name).unwrap();
            let dtype = q.dtype();
            assert_eq!(loaded.source.is_some(), ts.map.is_some(), "{dtype:?}");
            assert_eq!(
                bits(&loaded.tensor.dequantize(&Device::Cpu).unwrap()),
                bits(&q.dequantize(&Device::Cpu).unwrap()),
                "{dtype:?}: dequantized"
            );
            let ids = Tensor::new(&[3u32, 0, 63, 3], &Device::Cpu).unwrap();
            assert_eq!(
                bits(&loaded.tensor.embedding(&ids).unwrap()),
                bits(
                    &q.dequantize(&Device::Cpu)
                        .unwrap()
                        .index_select(&ids, 0)
                        .unwrap()
                ),
                "{dtype:?}: embedding rows"
            );
            let fresh = ts.get(name).unwrap();
            let mut mapped = Linear::new(Arc::new(fresh.tensor), fresh.source).unwrap();
            // The same weight on the heap (padded the same way).
            let reference = Linear::new(
                Arc::new(
                    QTensor::new(
                        QStorage::from_data(q.data().unwrap(), &Device::Cpu, dtype).unwrap(),
                        (ROWS, WIDTH),
                    )
                    .unwrap(),
                ),
                None,
            )
            .unwrap();
            // x86 with AVX2 repacks Q4_K for every row count: its pages go.
            #[cfg(target_arch = "x86_64")]
            if dtype == GgmlDType::Q4K
                && ts.map.is_some()
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                assert!(
                    mapped.is_released(),
                    "Q4_K is served from its repacked copy"
                );
            }
            for m in [1, 3, 40] {
                let x =
                    Tensor::from_vec(values(99 + m as u64, m * WIDTH), (m, WIDTH), &Device::Cpu)
                        .unwrap();
                let want = bits(&reference.forward(&x).unwrap());
                assert_eq!(
                    bits(&mapped.forward(&x).unwrap()),
                    want,
                    "{dtype:?}: {m} rows"
                );
                mapped.settle().unwrap();
                assert_eq!(
                    bits(&mapped.forward(&x).unwrap()),
                    want,
                    "{dtype:?}: {m} rows"
                );
            }
            // Read directly after all: the weight moves to the heap.
            if let (true, Some(q)) = (mapped.is_released(), mapped.qtensor()) {
                q.dequantize(&Device::Cpu).unwrap();
                mapped.settle().unwrap();
                assert!(!mapped.is_released(), "{dtype:?}");
                let x = Tensor::from_vec(values(5, 2 * WIDTH), (2, WIDTH), &Device::Cpu).unwrap();
                assert_eq!(
                    bits(&mapped.forward(&x).unwrap()),
                    bits(&reference.forward(&x).unwrap()),
                    "{dtype:?}: on the heap"
                );
            }
        }
    }

    /// Released pages read back the file's bytes.
    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes");
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let Some(map) = Mapping::new(&File::open(&path).unwrap()) else {
            return; // not mapped on this platform
        };
        assert_eq!(map.bytes(0..data.len()), &data[..]);
        map.release(0..data.len());
        map.release(10..70_000);
        assert_eq!(map.bytes(0..data.len()), &data[..]);
    }

    /// Each row of `xs` through `w` alone, and the first `n` rows together
    /// for each `n` of `counts`: every row of those the same bits as alone.
    /// Returns the rows alone.
    fn rows_alone_in(w: &Linear, xs: &Tensor, counts: &[usize], dtype: GgmlDType) -> Vec<Vec<u32>> {
        let m = xs.dim(0).unwrap();
        let alone: Vec<Vec<u32>> = (0..m)
            .map(|r| bits(&w.forward(&xs.narrow(0, r, 1).unwrap()).unwrap()))
            .collect();
        for &n in counts {
            let out = w.forward(&xs.narrow(0, 0, n).unwrap()).unwrap();
            for (r, want) in alone.iter().enumerate().take(n) {
                assert_eq!(
                    &bits(&out.narrow(0, r, 1).unwrap()),
                    want,
                    "{dtype:?}: row {r} of {n}"
                );
            }
        }
        alone
    }

    /// Every row of a matmul is computed the same way whatever the number
    /// of rows next to it (1 to 31): the batch invariance of decoding.
    #[test]
    fn matmul_rows_do_not_depend_on_the_batch() {
        for (i, &dtype) in QUANTIZED.iter().enumerate() {
            let x = Tensor::from_vec(values(i as u64, ROWS * WIDTH), (ROWS, WIDTH), &Device::Cpu)
                .unwrap();
            let q = QTensor::quantize(&x, dtype).unwrap();
            let w = Linear::new(Arc::new(q), None).unwrap();
            let m = 31;
            let xs = Tensor::from_vec(values(77 + i as u64, m * WIDTH), (m, WIDTH), &Device::Cpu)
                .unwrap();
            let alone = rows_alone_in(&w, &xs, &[2, 3, 4, 5, 8, 16, 31], dtype);
            // Three-dimensional inputs of one row too.
            let one = xs.narrow(0, 0, 1).unwrap().unsqueeze(0).unwrap();
            assert_eq!(bits(&w.forward(&one).unwrap()), alone[0], "{dtype:?}: 3-d");
        }
    }

    /// `Q4_K` and `Q6_K` rows are the same alone and in prompts of 32 to
    /// 100 rows too, which a prompt split at any point (a shared prefix)
    /// needs: where the CPU has AMX, Candle would multiply `Q4_K` prompts of
    /// 32 rows or more with its AMX kernel (other rounding, from a third
    /// copy of the weight); the tiles take them instead.
    #[test]
    fn prompt_rows_of_k_quants_do_not_depend_on_the_batch() {
        for (i, dtype) in [GgmlDType::Q4K, GgmlDType::Q6K].into_iter().enumerate() {
            let x = Tensor::from_vec(
                values(40 + i as u64, ROWS * WIDTH),
                (ROWS, WIDTH),
                &Device::Cpu,
            )
            .unwrap();
            let w = Linear::new(Arc::new(QTensor::quantize(&x, dtype).unwrap()), None).unwrap();
            let m = 100;
            let xs = Tensor::from_vec(values(60 + i as u64, m * WIDTH), (m, WIDTH), &Device::Cpu)
                .unwrap();
            rows_alone_in(&w, &xs, &[32, 33, 64, 100], dtype);
        }
    }

    /// The same for this crate's kernels at a width where Candle would not
    /// take `Q8_0` (640: Gemma 3 270M's), tiles of 1 to 4 rows and a
    /// column count that is not a multiple of 4 (the last quad is padded).
    #[test]
    fn kernel_rows_do_not_depend_on_the_batch() {
        let (n, k) = (42, 640);
        for (i, dtype) in [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q8_0]
            .into_iter()
            .enumerate()
        {
            let x = Tensor::from_vec(values(i as u64, n * k), (n, k), &Device::Cpu).unwrap();
            let w = Linear::new(Arc::new(QTensor::quantize(&x, dtype).unwrap()), None).unwrap();
            // Past one cache chunk of rows (64) as well.
            let m = 70;
            let xs = Tensor::from_vec(values(50 + i as u64, m * k), (m, k), &Device::Cpu).unwrap();
            let alone: Vec<Vec<u32>> = (0..m)
                .map(|r| bits(&w.forward(&xs.narrow(0, r, 1).unwrap()).unwrap()))
                .collect();
            for rows in [2, 3, 4, 5, 7, 8, 13, 65, 70] {
                for first in [0, 1.min(m - rows), m - rows] {
                    let out = w.forward(&xs.narrow(0, first, rows).unwrap()).unwrap();
                    for r in 0..rows {
                        assert_eq!(
                            bits(&out.narrow(0, r, 1).unwrap()),
                            alone[first + r],
                            "{dtype:?}: row {} among {rows} from {first}",
                            first + r
                        );
                    }
                }
            }
        }
    }
}
