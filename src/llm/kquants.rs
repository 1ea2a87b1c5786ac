//! `Q4_K` and `Q6_K` weights repacked at load into tiles of 16 columns
//! that keep the file's byte count, multiplied with AVX-512 VNNI.
//!
//! Candle 0.11 repacks these formats on x86 too, into tiles whose scales are
//! unpacked to `f32` and whose `Q6_K` values take a byte each: 1.33× the
//! file's bytes for `Q4_K` and 1.52× for `Q6_K`. A decode step reads every
//! weight once per token, so those extra bytes are extra time wherever the
//! step waits on memory (one or two sequences), and extra resident memory
//! always. Here the tiles hold what the blocks hold, rearranged so that one
//! `vpdpbusd` still multiplies 16 columns by four values of a row:
//!
//! * `Q4_K`: the nibbles as Candle lays them out, the per-block `f16` scales
//!   and the 6-bit sub-block scales and mins as bytes (2368 bytes per tile
//!   of 16 × 256 values, against the file's 2304 and Candle's 3072);
//! * `Q6_K`: the low four bits of the values packed as nibbles, the two high
//!   bits four to a byte, the `i8` sub-block scales and the `f16` block
//!   scale (3360 bytes against the file's 3360 and Candle's 5120).
//!
//! The arithmetic is Candle's, operation for operation: the same `Q8_K`
//! activations (Candle's quantizer, bit for bit, in AVX-512), exact integer sums per sub-block,
//! and per sub-block the same `f32` multiply, fused multiply-add and
//! subtraction in the same order. A result is therefore bit for bit what
//! Candle's repacked kernel gives (tested), whatever the number of rows, so
//! decoding stays batch-invariant and outputs do not change. Prompts take
//! the tiles too, even where the CPU has AMX: Candle would multiply `Q4_K`
//! prompts of 32 rows or more with AMX, from a third copy of the weight
//! (unpacked to bytes: about 2.2× the file's size, built on the first long
//! prompt and kept), and round them otherwise. With up to eight rows per
//! work item, the tiles are as fast at those sizes (BENCHMARKS.md), and a
//! prompt then gives the same bits on every CPU with AVX-512 VNNI.
use candle_core::quantized::k_quants::{BlockQ8K, GgmlType};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use half::f16;

/// Values per super-block.
const QK_K: usize = 256;
/// Columns (weight rows) per tile: one 512-bit vector of `f32` results.
const TILE_N: usize = 16;
/// Activation rows per work item: a tile column's weights are unpacked once
/// for up to eight rows, whose accumulators stay in registers.
const MAX_MT: usize = 8;

/// A `Q4_K` block as in the file: `x = d · sc · q − dmin · m`, eight
/// sub-blocks of 32 values with 6-bit scales `sc` and mins `m`.
#[repr(C)]
struct BlockQ4K {
    d: f16,
    dmin: f16,
    scales: [u8; 12],
    qs: [u8; QK_K / 2],
}

/// A `Q6_K` block as in the file: `x = d · sc · (q − 32)`, sixteen
/// sub-blocks of 16 values with `i8` scales.
#[repr(C)]
struct BlockQ6K {
    ql: [u8; QK_K / 2],
    qh: [u8; QK_K / 4],
    scales: [i8; QK_K / 16],
    d: f16,
}

/// Candle's `BlockQ8K` (its fields are private to Candle): `x ≈ d · q`, and
/// the sums of each 16 `q`.
#[repr(C)]
struct Q8K {
    d: f32,
    qs: [i8; QK_K],
    bsums: [i16; QK_K / 16],
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
const _: () = assert!(std::mem::size_of::<Q8K>() == std::mem::size_of::<BlockQ8K>());
const _: () = assert!(std::mem::align_of::<Q8K>() == std::mem::align_of::<BlockQ8K>());

/// One super-block of 16 columns of `Q4_K`.
#[repr(C, align(64))]
struct TileQ4K {
    /// `[group of 8 values (32)][column (16)][4 bytes]`; byte `j` of group
    /// `g` holds value `8g + j` in its low nibble and `8g + j + 4` in its
    /// high one (Candle's layout).
    qs: [u8; QK_K / 8 * TILE_N * 4],
    d: [f16; TILE_N],
    dmin: [f16; TILE_N],
    /// `[sub-block][column]` 6-bit scales and mins.
    sc: [[u8; TILE_N]; 8],
    mn: [[u8; TILE_N]; 8],
}

/// One super-block of 16 columns of `Q6_K` (values `q` in 0..64).
#[repr(C, align(64))]
struct TileQ6K {
    /// The low four bits of `q`, as [`TileQ4K::qs`].
    ql: [u8; QK_K / 8 * TILE_N * 4],
    /// `[sub-block (16)][column (16)][4 bytes]`; bits `2i..2i + 2` of byte
    /// `j` are the high two bits of value `16 · sub + 4i + j`.
    qh: [u8; QK_K / 16 * TILE_N * 4],
    /// `[sub-block][column]`.
    sc: [[i8; TILE_N]; 16],
    d: [f16; TILE_N],
}

enum Tiles {
    Q4K(Vec<TileQ4K>),
    Q6K(Vec<TileQ6K>),
}

/// A `(n, k)` matmul weight in tiles: `n / 16` column tiles of `k / 256`
/// super-blocks each.
pub(crate) struct Packed {
    tiles: Tiles,
    n: usize,
    k: usize,
}

/// Whether this CPU runs the kernels (AVX-512 F, BW and VNNI).
#[cfg(target_arch = "x86_64")]
fn available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn available() -> bool {
    false
}

/// Whether [`Packed::new`] takes `q`: `Q4_K` or `Q6_K` on the CPU, a 2-D
/// weight whose width is whole super-blocks and whose columns are whole
/// tiles, on a CPU with the kernels. `UKDIGEST_CANDLE_KQUANTS=1` in the
/// environment leaves every weight to Candle (for side-by-side benchmarks).
pub(crate) fn takes(q: &QTensor) -> bool {
    if std::env::var_os("UKDIGEST_CANDLE_KQUANTS").is_some_and(|v| v == "1") {
        return false;
    }
    let Ok((n, k)) = q.shape().dims2() else {
        return false;
    };
    matches!(q.dtype(), GgmlDType::Q4K | GgmlDType::Q6K)
        && q.device().is_cpu()
        && n > 0
        && k > 0
        && n.is_multiple_of(TILE_N)
        && k.is_multiple_of(QK_K)
        && available()
}

/// `bytes` (a tensor's data, any alignment) as blocks of `T`.
fn blocks<T>(bytes: &[u8], count: usize) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if bytes.len() != count * size {
        candle_core::bail!("{} bytes for {count} blocks of {size}", bytes.len());
    }
    Ok(bytes
        .chunks_exact(size)
        // SAFETY: `size` bytes each; the blocks are plain data (integers and
        // f16 scales: any bits are a value).
        .map(|b| unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
        .collect())
}

/// The 6-bit scale and min of sub-block `j` of a `Q4_K` block (the
/// format's packing).
fn scale_min(j: usize, s: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// The 256 values of a `Q4_K` block, in order.
fn q4k_values(b: &BlockQ4K) -> [u8; QK_K] {
    let mut v = [0u8; QK_K];
    for c in 0..4 {
        for j in 0..32 {
            let byte = b.qs[c * 32 + j];
            v[c * 64 + j] = byte & 0x0F;
            v[c * 64 + 32 + j] = byte >> 4;
        }
    }
    v
}

/// The 256 values `q` (0..64) of a `Q6_K` block, in order.
fn q6k_values(b: &BlockQ6K) -> [u8; QK_K] {
    let mut v = [0u8; QK_K];
    for h in 0..2 {
        let (ql, qh) = (&b.ql[h * 64..], &b.qh[h * 32..]);
        let v = &mut v[h * 128..];
        for j in 0..32 {
            v[j] = (ql[j] & 0x0F) | ((qh[j] & 3) << 4);
            v[j + 32] = (ql[j + 32] & 0x0F) | (((qh[j] >> 2) & 3) << 4);
            v[j + 64] = (ql[j] >> 4) | (((qh[j] >> 4) & 3) << 4);
            v[j + 96] = (ql[j + 32] >> 4) | (((qh[j] >> 6) & 3) << 4);
        }
    }
    v
}

/// The low nibbles of `values` (one column's super-block) into `qs` at
/// column `r`: group `g`'s byte `j` = value `8g + j` | value `8g + j + 4` << 4.
fn pack_nibbles(values: &[u8; QK_K], qs: &mut [u8; QK_K / 8 * TILE_N * 4], r: usize) {
    for g in 0..QK_K / 8 {
        for j in 0..4 {
            qs[(g * TILE_N + r) * 4 + j] =
                (values[g * 8 + j] & 0x0F) | ((values[g * 8 + j + 4] & 0x0F) << 4);
        }
    }
}

impl Packed {
    /// The tiles of `q` (see [`takes`]); its blocks are read once.
    pub fn new(q: &QTensor) -> Result<Self> {
        if !takes(q) {
            candle_core::bail!("no packed kernel for {:?} {:?}", q.dtype(), q.shape());
        }
        let (n, k) = q.shape().dims2()?;
        let kb = k / QK_K;
        let data = q.data()?;
        let tiles = match q.dtype() {
            GgmlDType::Q4K => Tiles::Q4K(pack_q4k(&blocks(&data, n * kb)?, n, kb)),
            _ => Tiles::Q6K(pack_q6k(&blocks(&data, n * kb)?, n, kb)),
        };
        Ok(Self { tiles, n, k })
    }

    /// Bytes held.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn bytes(&self) -> usize {
        match &self.tiles {
            Tiles::Q4K(t) => std::mem::size_of_val(t.as_slice()),
            Tiles::Q6K(t) => std::mem::size_of_val(t.as_slice()),
        }
    }

    /// `dst = lhs × wᵀ` for `m` rows of `lhs`.
    fn matmul(&self, m: usize, lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        matmul_many(&[self], m, lhs, &mut [dst])
    }

    /// Output width (weight rows).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.k
    }

    fn is_q4k(&self) -> bool {
        matches!(self.tiles, Tiles::Q4K(_))
    }
}

/// `dsts[i] = lhs × parts[i]ᵀ` for `m` rows of `lhs`, every weight of the
/// same width: the rows are quantized once and the work items of all the
/// weights go to the thread pool in one hand-out, so a layer's queries,
/// keys and values (or its gate and up projections) cost one quantization
/// and one wait for the slowest thread instead of one per weight. A work
/// item computes what it computes for one weight alone, so each result is
/// bit for bit that weight's own product (tested).
pub(crate) fn matmul_many(
    parts: &[&Packed],
    m: usize,
    lhs: &[f32],
    dsts: &mut [&mut [f32]],
) -> Result<()> {
    let Some(k) = parts.first().map(|p| p.k) else {
        return Ok(());
    };
    if parts.len() != dsts.len() {
        candle_core::bail!("{} weights for {} outputs", parts.len(), dsts.len());
    }
    for (p, dst) in parts.iter().zip(dsts.iter()) {
        if p.k != k || lhs.len() != m * k || dst.len() != m * p.n {
            candle_core::bail!(
                "matmul of ({m}, {k}) × ({}, {}): {} inputs, {} outputs",
                p.n,
                p.k,
                lhs.len(),
                dst.len()
            );
        }
    }
    if m == 0 {
        return Ok(());
    }
    let kb = k / QK_K;
    let act = quantize(lhs, m, k);
    let act = cast_q8k(&act);
    let q4k_rows = parts
        .iter()
        .any(|p| p.is_q4k())
        .then(|| row_blocks(true, act));
    let q6k_rows = parts
        .iter()
        .any(|p| !p.is_q4k())
        .then(|| row_blocks(false, act));
    let m_units = m.div_ceil(MAX_MT);
    // Work item `u` belongs to the last weight whose first item is at or
    // before `u`.
    let mut firsts = Vec::with_capacity(parts.len());
    let mut units = 0;
    for p in parts {
        firsts.push(units);
        units += (p.n / TILE_N) * m_units;
    }
    let dst_ptrs: Vec<usize> = dsts.iter_mut().map(|d| d.as_mut_ptr() as usize).collect();
    candle_core::utils::barrier_pool().execute_chunked(units, |range| {
        for unit in range {
            let w = firsts.partition_point(|&f| f <= unit) - 1;
            let (p, local) = (parts[w], unit - firsts[w]);
            let (nt, m0) = (local / m_units, (local % m_units) * MAX_MT);
            let mt = (m - m0).min(MAX_MT);
            let rows = match p.is_q4k() {
                true => q4k_rows.as_deref(),
                false => q6k_rows.as_deref(),
            }
            .expect("computed for every kind of weight present");
            // SAFETY: `takes` found the CPU features; each weight's tiles
            // hold `n / 16 × kb` super-blocks, `act` and `rows` `m × kb`
            // (checked above); each (weight, row, tile) belongs to one
            // unit, so no two workers write the same output.
            unsafe {
                x86::unit(
                    &p.tiles,
                    act,
                    rows,
                    kb,
                    nt,
                    m0,
                    mt,
                    dst_ptrs[w] as *mut f32,
                    p.n,
                );
            }
        }
    });
    Ok(())
}

/// The rows of `lhs` as Candle's `Q8_K` blocks (bit for bit its
/// quantizer's, see [`quantize_row`]), the rows spread over the thread pool
/// where there are several.
fn quantize(lhs: &[f32], m: usize, k: usize) -> Vec<BlockQ8K> {
    let kb = k / QK_K;
    let mut out = vec![BlockQ8K::zeros(); m * kb];
    if m == 1 {
        quantize_row(lhs, &mut out);
        return out;
    }
    let out_ptr = out.as_mut_ptr() as usize;
    candle_core::utils::barrier_pool().execute_chunked(m, |range| {
        for r in range {
            // SAFETY: row `r`'s `kb` blocks of `out`; each row belongs to
            // one worker.
            let dst = unsafe {
                std::slice::from_raw_parts_mut((out_ptr as *mut BlockQ8K).add(r * kb), kb)
            };
            quantize_row(&lhs[r * k..(r + 1) * k], dst);
        }
    });
    out
}

/// One row as `Q8_K` blocks: Candle's `BlockQ8K::from_float`, whose scalar
/// loop (a `roundf` call per value) was a tenth of a prompt's time, here in
/// AVX-512 with the same operations, so the same bits (tested).
fn quantize_row(xs: &[f32], ys: &mut [BlockQ8K]) {
    if !available() || xs.len() != ys.len() * QK_K {
        return BlockQ8K::from_float(xs, ys);
    }
    // SAFETY: the same layout as Candle's struct (see `cast_q8k`).
    let ys: &mut [Q8K] =
        unsafe { std::slice::from_raw_parts_mut(ys.as_mut_ptr().cast(), ys.len()) };
    for (y, xs) in ys.iter_mut().zip(xs.chunks_exact(QK_K)) {
        // SAFETY: the CPU features were detected; `xs` is one block.
        unsafe { x86::quantize_q8k(xs, y) };
    }
}

/// What the kernels broadcast of one row's block, computed once per call
/// rather than once per tile column: the block's scale `d`, and per
/// sub-block `d · (sum of its 32 values)` for `Q4_K`'s mins or `32 · (sum of
/// its 16 values)` for `Q6_K`'s offset (the same `f32` operations as
/// Candle's kernels, so the same bits).
pub(crate) struct RowBlock {
    d: f32,
    offset: [f32; 16],
}

/// The [`RowBlock`]s of `act` for `Q4_K` weights (`q4k`) or `Q6_K` ones.
fn row_blocks(q4k: bool, act: &[Q8K]) -> Vec<RowBlock> {
    act.iter()
        .map(|a| RowBlock {
            d: a.d,
            offset: std::array::from_fn(|sub| match q4k {
                true if sub < 8 => {
                    let bsum = (a.bsums[sub * 2] as i32 + a.bsums[sub * 2 + 1] as i32) as f32;
                    a.d * bsum
                }
                true => 0.0,
                false => 32.0 * a.bsums[sub] as f32,
            }),
        })
        .collect()
}

fn cast_q8k(blocks: &[BlockQ8K]) -> &[Q8K] {
    // SAFETY: the same size and alignment (asserted above) and the same
    // `repr(C)` fields: Candle's struct is `d: f32, qs: [i8; 256], bsums:
    // [i16; 16]`.
    unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len()) }
}

fn pack_q4k(blocks: &[BlockQ4K], n: usize, kb: usize) -> Vec<TileQ4K> {
    let mut out = Vec::with_capacity(n / TILE_N * kb);
    for t in 0..n / TILE_N {
        for b in 0..kb {
            let mut tile = TileQ4K {
                qs: [0; QK_K / 8 * TILE_N * 4],
                d: [f16::ZERO; TILE_N],
                dmin: [f16::ZERO; TILE_N],
                sc: [[0; TILE_N]; 8],
                mn: [[0; TILE_N]; 8],
            };
            for r in 0..TILE_N {
                let blk = &blocks[(t * TILE_N + r) * kb + b];
                tile.d[r] = blk.d;
                tile.dmin[r] = blk.dmin;
                for sub in 0..8 {
                    (tile.sc[sub][r], tile.mn[sub][r]) = scale_min(sub, &blk.scales);
                }
                pack_nibbles(&q4k_values(blk), &mut tile.qs, r);
            }
            out.push(tile);
        }
    }
    out
}

fn pack_q6k(blocks: &[BlockQ6K], n: usize, kb: usize) -> Vec<TileQ6K> {
    let mut out = Vec::with_capacity(n / TILE_N * kb);
    for t in 0..n / TILE_N {
        for b in 0..kb {
            let mut tile = TileQ6K {
                ql: [0; QK_K / 8 * TILE_N * 4],
                qh: [0; QK_K / 16 * TILE_N * 4],
                sc: [[0; TILE_N]; 16],
                d: [f16::ZERO; TILE_N],
            };
            for r in 0..TILE_N {
                let blk = &blocks[(t * TILE_N + r) * kb + b];
                tile.d[r] = blk.d;
                for sub in 0..16 {
                    tile.sc[sub][r] = blk.scales[sub];
                }
                let v = q6k_values(blk);
                pack_nibbles(&v, &mut tile.ql, r);
                for sub in 0..16 {
                    for j in 0..4 {
                        let mut byte = 0u8;
                        for i in 0..4 {
                            byte |= (v[sub * 16 + 4 * i + j] >> 4) << (2 * i);
                        }
                        tile.qh[(sub * TILE_N + r) * 4 + j] = byte;
                    }
                }
            }
            out.push(tile);
        }
    }
    out
}

impl CustomOp1 for Packed {
    fn name(&self) -> &'static str {
        "ukdigest-packed-kquant-matmul"
    }

    /// `x` (`(…, k)`, f32) times the weight's transpose: `(…, n)`.
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(xs) = storage else {
            candle_core::bail!("a packed matmul takes f32 inputs");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("a packed matmul takes a contiguous input");
        };
        let mut dims = layout.dims().to_vec();
        if dims.last() != Some(&self.k) {
            candle_core::bail!("input {dims:?} for a weight of width {}", self.k);
        }
        let m = (end - start) / self.k;
        *dims.last_mut().expect("checked above") = self.n;
        let mut dst = vec![0f32; m * self.n];
        self.matmul(m, &xs[start..end], &mut dst)?;
        Ok((CpuStorage::F32(dst), Shape::from(dims)))
    }
}

/// The tile kernels: Candle's arithmetic on this module's tiles.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{RowBlock, TileQ4K, TileQ6K, Tiles, MAX_MT, Q8K, TILE_N};
    use std::arch::x86_64::*;

    /// Bytes `off..off + 4` of an activation block in every 32-bit lane.
    #[inline(always)]
    unsafe fn bcast4(a: &Q8K, off: usize) -> __m512i {
        _mm512_set1_epi32(std::ptr::read_unaligned(
            a.qs.as_ptr().add(off).cast::<i32>(),
        ))
    }

    /// Sixteen `f16` as `f32`.
    #[inline(always)]
    unsafe fn halfs(h: &[half::f16; TILE_N]) -> __m512 {
        _mm512_cvtph_ps(_mm256_loadu_si256(h.as_ptr().cast()))
    }

    /// Sixteen bytes as `f32` (`SIGNED`: as `i8`, else as `u8`).
    #[inline(always)]
    unsafe fn bytes<const SIGNED: bool>(b: *const u8) -> __m512 {
        let v = _mm_loadu_si128(b.cast());
        _mm512_cvtepi32_ps(match SIGNED {
            true => _mm512_cvtepi8_epi32(v),
            false => _mm512_cvtepu8_epi32(v),
        })
    }

    /// Candle's `BlockQ8K::from_float` of one block: the first value of
    /// the largest magnitude sets `iscale = -127 / max` (NaN never does;
    /// none but zeros gives a zero block), each value is `iscale · x`
    /// rounded half away from zero as `f32::round` does (`x − trunc(x)` is
    /// exact), clamped and cast as `as i8` casts (NaN → 0), each 16 summed,
    /// and `d = 1 / iscale`.
    ///
    /// # Safety
    /// AVX-512 F/BW are available; `xs` holds 256 values.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize_q8k(xs: &[f32], y: &mut Q8K) {
        debug_assert_eq!(xs.len(), super::QK_K);
        let p = xs.as_ptr();
        let x: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(p.add(16 * i)));
        let mut m = _mm512_setzero_ps();
        for &v in &x {
            // `maxps` returns its second operand when the first is NaN.
            m = _mm512_max_ps(_mm512_abs_ps(v), m);
        }
        let amax = _mm512_reduce_max_ps(m);
        if amax == 0.0 {
            y.d = 0.0;
            y.qs.fill(0);
            y.bsums.fill(0);
            return;
        }
        let at = _mm512_set1_ps(amax);
        let first = x
            .iter()
            .enumerate()
            .find_map(|(i, &v)| {
                let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(v), at);
                (hit != 0).then(|| 16 * i + hit.trailing_zeros() as usize)
            })
            .expect("amax is one of the magnitudes");
        let iscale = -127f32 / xs[first];
        let scale = _mm512_set1_ps(iscale);
        let sign = _mm512_set1_ps(-0.0);
        let (half, one) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0));
        let (lo, hi) = (_mm512_set1_ps(-128.0), _mm512_set1_ps(127.0));
        for (i, &v) in x.iter().enumerate() {
            let v = _mm512_mul_ps(scale, v);
            let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
            let frac = _mm512_andnot_ps(sign, _mm512_sub_ps(v, t));
            let away = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, half), one);
            let r = _mm512_add_ps(t, _mm512_or_ps(away, _mm512_and_ps(v, sign)));
            let r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v), r);
            let q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(r, lo), hi));
            _mm_storeu_si128(
                y.qs.as_mut_ptr().add(16 * i).cast(),
                _mm512_cvtepi32_epi8(q),
            );
            y.bsums[i] = _mm512_reduce_add_epi32(q) as i16;
        }
        y.d = 1.0 / iscale;
    }

    /// One work item: tile column `nt` against rows `m0..m0 + mt` over all
    /// `kb` super-blocks, the results stored at `dst[(row, 16 nt..)]`.
    ///
    /// # Safety
    /// AVX-512 F/BW/VNNI are available; `tiles` holds tile column `nt`'s
    /// `kb` tiles, `act` and `rows` the rows' `kb` blocks each, `dst`
    /// `m0 + mt` rows of `n`; `1 <= mt <= MAX_MT`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn unit(
        tiles: &Tiles,
        act: &[Q8K],
        rows: &[RowBlock],
        kb: usize,
        nt: usize,
        m0: usize,
        mt: usize,
        dst: *mut f32,
        n: usize,
    ) {
        let args = (tiles, act, rows, kb, nt, m0, dst, n);
        match mt {
            1 => unit_of::<1>(args),
            2 => unit_of::<2>(args),
            3 => unit_of::<3>(args),
            4 => unit_of::<4>(args),
            5 => unit_of::<5>(args),
            6 => unit_of::<6>(args),
            7 => unit_of::<7>(args),
            _ => unit_of::<MAX_MT>(args),
        }
    }

    type Args<'a> = (
        &'a Tiles,
        &'a [Q8K],
        &'a [RowBlock],
        usize,
        usize,
        usize,
        *mut f32,
        usize,
    );

    /// [`unit`] for `MT` rows: the rows' accumulators stay in registers.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn unit_of<const MT: usize>((tiles, act, rows, kb, nt, m0, dst, n): Args<'_>) {
        let mut acc = [_mm512_setzero_ps(); MT];
        let at = |b: usize| -> ([&Q8K; MT], [&RowBlock; MT]) {
            (
                std::array::from_fn(|i| act.get_unchecked((m0 + i) * kb + b)),
                std::array::from_fn(|i| rows.get_unchecked((m0 + i) * kb + b)),
            )
        };
        // Only the column's first rows stream its tiles from memory: the
        // items of its further rows (prompts) follow on the same thread and
        // find them in cache, where a prefetch is an instruction for nothing.
        let stream = m0 == 0;
        match tiles {
            Tiles::Q4K(t) => {
                for b in 0..kb {
                    let (a, r) = at(b);
                    let next = ahead(t, nt * kb + b, stream);
                    q4k(t.get_unchecked(nt * kb + b), next, &a, &r, &mut acc);
                }
            }
            Tiles::Q6K(t) => {
                for b in 0..kb {
                    let (a, r) = at(b);
                    let next = ahead(t, nt * kb + b, stream);
                    q6k(t.get_unchecked(nt * kb + b), next, &a, &r, &mut acc);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(dst.add((m0 + i) * n + nt * TILE_N), *a);
        }
    }

    /// Tiles ahead of the one at hand whose lines the kernels ask the cache
    /// for ([`prefetch_part`]). A decode step streams every weight from
    /// memory once; without the prefetch each tile's loads wait on memory
    /// and the arithmetic waits on them (1.4× at one row, 1.6× at eight:
    /// BENCHMARKS.md).
    const AHEAD: usize = 2;

    /// The tile [`AHEAD`] of tile `i` of `tiles`, to prefetch while tile `i`
    /// is multiplied (it may lie past the end: only prefetched, never
    /// read), or null where the tiles are not streamed (`stream` false).
    #[inline(always)]
    fn ahead<T>(tiles: &[T], i: usize, stream: bool) -> *const T {
        match stream {
            true => tiles.as_ptr().wrapping_add(i + AHEAD),
            false => std::ptr::null(),
        }
    }

    /// Asks the cache for part `part` of `parts` of the lines of the tile at
    /// `t` (a prefetch never faults, so `t` may be past the weight's end).
    /// The kernels ask for one part per sub-block, not for the whole tile
    /// at once: with a burst of 37 (`Q4_K`) or 53 (`Q6_K`) prefetches per
    /// tile, eight rows streamed from memory took 1.3–2.6× their time in
    /// cache, as if the arithmetic and the memory traffic took turns; spread
    /// out, 1.07–1.13× (`kquants::tests::speed_streaming`, BENCHMARKS.md,
    /// 2026-12-07). The likely cause, a burst outrunning the core's miss
    /// buffers and holding up the loads behind it, could not be confirmed:
    /// the VM it was measured on exposes no hardware counters.
    #[inline(always)]
    unsafe fn prefetch_part<T>(t: *const T, part: usize, parts: usize) {
        let p = t.cast::<i8>();
        let lines = std::mem::size_of::<T>().div_ceil(64);
        let per = lines.div_ceil(parts);
        for line in part * per..((part + 1) * per).min(lines) {
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line * 64));
        }
    }

    /// One `Q4_K` super-block: per sub-block the integer sums, then `acc +=
    /// f · (scale · d_row)` and `acc −= min · (d_row · bsum)`, as Candle's
    /// kernel does; per sub-block, part of the tile at `next` is prefetched
    /// (none where `next` is null).
    #[inline(always)]
    unsafe fn q4k<const MT: usize>(
        tile: &TileQ4K,
        next: *const TileQ4K,
        a: &[&Q8K; MT],
        r: &[&RowBlock; MT],
        acc: &mut [__m512; MT],
    ) {
        let mask = _mm512_set1_epi8(0x0F);
        let d = halfs(&tile.d);
        let dmin = halfs(&tile.dmin);
        for sub in 0..8 {
            if !next.is_null() {
                prefetch_part(next, sub, 8);
            }
            // Below four rows, two independent sums per row (the low and the
            // high nibbles) halve the dependency chain; from four rows the
            // rows' chains are enough to hide it, and one sum per row saves
            // an addition and eight registers. Exact integers either way:
            // the same bits.
            let mut isum = [_mm512_setzero_si512(); MT];
            let mut isum_hi = [_mm512_setzero_si512(); MT];
            for g4 in 0..4 {
                let g = sub * 4 + g4;
                let w = _mm512_load_si512(tile.qs.as_ptr().add(g * TILE_N * 4).cast());
                let lo = _mm512_and_si512(w, mask);
                let hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), mask);
                for m in 0..MT {
                    isum[m] = _mm512_dpbusd_epi32(isum[m], lo, bcast4(a[m], g * 8));
                    if MT < 4 {
                        isum_hi[m] = _mm512_dpbusd_epi32(isum_hi[m], hi, bcast4(a[m], g * 8 + 4));
                    } else {
                        isum[m] = _mm512_dpbusd_epi32(isum[m], hi, bcast4(a[m], g * 8 + 4));
                    }
                }
            }
            if MT < 4 {
                for m in 0..MT {
                    isum[m] = _mm512_add_epi32(isum[m], isum_hi[m]);
                }
            }
            let scale = _mm512_mul_ps(d, bytes::<false>(tile.sc[sub].as_ptr()));
            let min = _mm512_mul_ps(dmin, bytes::<false>(tile.mn[sub].as_ptr()));
            for m in 0..MT {
                let f = _mm512_cvtepi32_ps(isum[m]);
                acc[m] = _mm512_fmadd_ps(f, _mm512_mul_ps(scale, _mm512_set1_ps(r[m].d)), acc[m]);
                acc[m] = _mm512_fnmadd_ps(min, _mm512_set1_ps(r[m].offset[sub]), acc[m]);
            }
        }
    }

    /// One `Q6_K` super-block: per sub-block the integer sum of `q · y`
    /// (`q` rebuilt from its nibble and its two high bits), then `acc +=
    /// (f − 32 · bsum) · (scale · d_row)`, as Candle's kernel does; part of
    /// the tile at `next` prefetched per sub-block, as in [`q4k`].
    #[inline(always)]
    unsafe fn q6k<const MT: usize>(
        tile: &TileQ6K,
        next: *const TileQ6K,
        a: &[&Q8K; MT],
        r: &[&RowBlock; MT],
        acc: &mut [__m512; MT],
    ) {
        let low = _mm512_set1_epi8(0x0F);
        let high = _mm512_set1_epi8(0x30);
        let d = halfs(&tile.d);
        for sub in 0..16 {
            if !next.is_null() {
                prefetch_part(next, sub, 16);
            }
            let ql0 = _mm512_load_si512(tile.ql.as_ptr().add(2 * sub * TILE_N * 4).cast());
            let ql1 = _mm512_load_si512(tile.ql.as_ptr().add((2 * sub + 1) * TILE_N * 4).cast());
            let qh = _mm512_loadu_si512(tile.qh.as_ptr().add(sub * TILE_N * 4).cast());
            // A | (B & C): the nibble with the two high bits moved to 4..6.
            let w = [
                _mm512_ternarylogic_epi32::<0xF8>(
                    _mm512_and_si512(ql0, low),
                    _mm512_slli_epi16(qh, 4),
                    high,
                ),
                _mm512_ternarylogic_epi32::<0xF8>(
                    _mm512_and_si512(_mm512_srli_epi16(ql0, 4), low),
                    _mm512_slli_epi16(qh, 2),
                    high,
                ),
                _mm512_ternarylogic_epi32::<0xF8>(_mm512_and_si512(ql1, low), qh, high),
                _mm512_ternarylogic_epi32::<0xF8>(
                    _mm512_and_si512(_mm512_srli_epi16(ql1, 4), low),
                    _mm512_srli_epi16(qh, 2),
                    high,
                ),
            ];
            let mut isum = [_mm512_setzero_si512(); MT];
            for (g4, w) in w.iter().enumerate() {
                for m in 0..MT {
                    isum[m] = _mm512_dpbusd_epi32(isum[m], *w, bcast4(a[m], sub * 16 + g4 * 4));
                }
            }
            let scale = _mm512_mul_ps(d, bytes::<true>(tile.sc[sub].as_ptr().cast()));
            for m in 0..MT {
                let f = _mm512_sub_ps(
                    _mm512_cvtepi32_ps(isum[m]),
                    _mm512_set1_ps(r[m].offset[sub]),
                );
                acc[m] = _mm512_fmadd_ps(f, _mm512_mul_ps(scale, _mm512_set1_ps(r[m].d)), acc[m]);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{RowBlock, Tiles, Q8K};

    pub(super) unsafe fn quantize_q8k(_: &[f32], _: &mut Q8K) {
        unreachable!("`available` is false without x86 AVX-512")
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn unit(
        _: &Tiles,
        _: &[Q8K],
        _: &[RowBlock],
        _: usize,
        _: usize,
        _: usize,
        _: usize,
        _: *mut f32,
        _: usize,
    ) {
        unreachable!("`takes` is false without x86 AVX-512")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::kernels::tests::values;
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module, Tensor};

    fn bits(t: &Tensor) -> Vec<u32> {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    fn weight(dtype: GgmlDType, n: usize, k: usize, seed: u64) -> QTensor {
        let w = Tensor::from_vec(values(seed, n * k), (n, k), &Device::Cpu).unwrap();
        QTensor::quantize(&w, dtype).unwrap()
    }

    fn input(m: usize, k: usize, seed: u64) -> Tensor {
        Tensor::from_vec(values(seed, m * k), (m, k), &Device::Cpu).unwrap()
    }

    /// Whether this CPU lacks the kernels (said on stderr): the test then
    /// checks nothing.
    fn skipped() -> bool {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI, the packed kernels do not run");
        }
        !available()
    }

    /// The AVX-512 `Q8_K` quantizer is Candle's bit for bit: random blocks
    /// at several scales, values on the rounding ties, the largest magnitude
    /// twice with both signs, zeros, NaN, infinities and subnormals.
    #[test]
    fn activation_blocks_are_candles_bit_for_bit() {
        if skipped() {
            return;
        }
        let mut blocks: Vec<Vec<f32>> = (0..60)
            .map(|s| {
                let scale = [1e-3, 1.0, 37.0, 1e5][s as usize % 4];
                values(300 + s, QK_K).iter().map(|v| v * scale).collect()
            })
            .collect();
        // max = -127 makes iscale 1: every x.5 is a tie.
        blocks.push(
            (0..QK_K)
                .map(|j| {
                    if j == 9 {
                        -127.0
                    } else {
                        (j % 200) as f32 * 0.5 - 50.25 + 0.25
                    }
                })
                .collect(),
        );
        let mut twice = values(5, QK_K);
        (twice[3], twice[200]) = (4.0, -4.0);
        blocks.push(twice.clone());
        (twice[3], twice[200]) = (-4.0, 4.0);
        blocks.push(twice);
        blocks.push(vec![0.0; QK_K]);
        blocks.push(vec![-0.0; QK_K]);
        blocks.push(vec![1e-41; QK_K]);
        let mut odd = values(11, QK_K);
        odd[17] = f32::NAN;
        blocks.push(odd.clone());
        odd[0] = f32::NAN;
        odd[250] = f32::INFINITY;
        blocks.push(odd.clone());
        odd[100] = f32::NEG_INFINITY;
        blocks.push(odd);
        let mut nan = vec![f32::NAN; QK_K];
        blocks.push(nan.clone());
        nan[40] = -2.5;
        blocks.push(nan);
        let row: Vec<f32> = blocks.concat();
        let kb = row.len() / QK_K;
        let (mut ours, mut candle) = (vec![BlockQ8K::zeros(); kb], vec![BlockQ8K::zeros(); kb]);
        quantize_row(&row, &mut ours);
        BlockQ8K::from_float(&row, &mut candle);
        for (i, (a, b)) in cast_q8k(&ours).iter().zip(cast_q8k(&candle)).enumerate() {
            assert_eq!(a.d.to_bits(), b.d.to_bits(), "block {i}: d");
            assert_eq!(a.qs, b.qs, "block {i}: values");
            assert_eq!(a.bsums, b.bsums, "block {i}: sums");
        }
    }

    /// The packed product is Candle's repacked product bit for bit, at every
    /// row count Candle runs its tiles for (it multiplies one row of `Q6_K`
    /// with another kernel, so that row is compared inside two rows).
    #[test]
    fn packed_products_are_candles_bit_for_bit() {
        if skipped() {
            return;
        }
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (n, k) = (48, 768);
            let q = weight(dtype, n, k, 7);
            let packed = Packed::new(&q).unwrap();
            let candle = QMatMul::from_qtensor(weight(dtype, n, k, 7)).unwrap();
            for m in [1, 2, 3, 4, 5, 8, 13, 31] {
                let x = input(m.max(2), k, 100 + m as u64);
                let ours = x.apply_op1_no_bwd(&packed).unwrap();
                let theirs = candle.forward(&x).unwrap();
                assert_eq!(bits(&ours), bits(&theirs), "{dtype:?} at {m} rows");
                if m == 1 {
                    let one = x.narrow(0, 0, 1).unwrap();
                    let ours = one.apply_op1_no_bwd(&packed).unwrap();
                    let theirs = theirs.narrow(0, 0, 1).unwrap();
                    assert_eq!(bits(&ours), bits(&theirs), "{dtype:?}, one row");
                }
            }
        }
    }

    /// A row's result does not depend on the rows beside it (1 to 40 rows,
    /// across the eight-row work items), and is near the float product.
    #[test]
    fn packed_rows_do_not_depend_on_the_batch() {
        if skipped() {
            return;
        }
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (n, k) = (32, 512);
            let q = weight(dtype, n, k, 11);
            let packed = Packed::new(&q).unwrap();
            let x = input(40, k, 12);
            let alone = bits(
                &x.narrow(0, 0, 1)
                    .unwrap()
                    .apply_op1_no_bwd(&packed)
                    .unwrap(),
            );
            for m in 1..=40 {
                let y = x
                    .narrow(0, 0, m)
                    .unwrap()
                    .apply_op1_no_bwd(&packed)
                    .unwrap();
                assert_eq!(
                    bits(&y.narrow(0, 0, 1).unwrap()),
                    alone,
                    "{dtype:?} at {m} rows"
                );
            }
            let exact = x
                .matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap())
                .unwrap();
            let ours = x.apply_op1_no_bwd(&packed).unwrap();
            let err = (ours - &exact).unwrap().abs().unwrap().max_all().unwrap();
            let scale = exact.abs().unwrap().max_all().unwrap();
            let (err, scale) = (
                err.to_scalar::<f32>().unwrap(),
                scale.to_scalar::<f32>().unwrap(),
            );
            assert!(err <= 0.02 * scale, "{dtype:?}: {err} against {scale}");
        }
    }

    /// The tiles hold the file's bytes, give or take the `Q4_K` scales as
    /// bytes: 1.03× for `Q4_K`, 1.0× for `Q6_K` (Candle's: 1.33× and 1.52×).
    #[test]
    fn tiles_keep_the_files_size() {
        if skipped() {
            return;
        }
        for (dtype, most) in [(GgmlDType::Q4K, 1.03), (GgmlDType::Q6K, 1.01)] {
            let q = weight(dtype, 64, 1024, 3);
            let ratio = Packed::new(&q).unwrap().bytes() as f64 / q.storage_size_in_bytes() as f64;
            assert!(ratio <= most, "{dtype:?}: {ratio}");
        }
    }

    /// Milliseconds per call (the fastest of 30), packed against Candle, on Qwen2.5-1.5B's
    /// Weights multiplied together (`Q4_K` and `Q6_K` of several heights,
    /// as a layer's queries, keys and values) give each weight's own
    /// product, bit for bit, at every row count; a width that differs is
    /// refused.
    #[test]
    fn weights_multiplied_together_give_their_own_products() {
        if skipped() {
            return;
        }
        let k = 512;
        let weights = [
            weight(GgmlDType::Q4K, 64, k, 21),
            weight(GgmlDType::Q4K, 32, k, 22),
            weight(GgmlDType::Q6K, 48, k, 23),
        ];
        let packed: Vec<Packed> = weights.iter().map(|w| Packed::new(w).unwrap()).collect();
        let parts: Vec<&Packed> = packed.iter().collect();
        for m in [1, 2, 7, 8, 9, 17, 40] {
            let x = input(m, k, 300 + m as u64);
            let lhs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
            let mut outs: Vec<Vec<f32>> = packed.iter().map(|p| vec![0f32; m * p.n]).collect();
            let mut dsts: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            matmul_many(&parts, m, &lhs, &mut dsts).unwrap();
            for (p, out) in packed.iter().zip(&outs) {
                let alone = bits(&x.apply_op1_no_bwd(p).unwrap());
                let together: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                assert_eq!(together, alone, "{} × {} at {m} rows", p.n, p.k);
            }
        }
        let narrow = Packed::new(&weight(GgmlDType::Q4K, 16, 256, 24)).unwrap();
        let lhs = vec![0f32; k];
        let (mut a, mut b) = (vec![0f32; 64], vec![0f32; 16]);
        let err = matmul_many(&[&packed[0], &narrow], 1, &lhs, &mut [&mut a, &mut b]);
        assert!(err.is_err());
    }

    /// The fastest of `runs` calls of `f` after a first one, in ms: on a
    /// shared VM the mean mostly measures the neighbours.
    fn fastest_ms(runs: usize, f: &dyn Fn()) -> f64 {
        f();
        (0..runs)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// `ffn_gate` (Q4_K, 8960 × 1536) and `ffn_down` (Q6_K, 1536 × 8960):
    /// `cargo test --release --lib kquants::tests::speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check: run by hand"]
    fn speed() {
        if skipped() {
            return;
        }
        let time = |f: &dyn Fn()| fastest_ms(30, f);
        for (dtype, n, k) in [(GgmlDType::Q4K, 8960, 1536), (GgmlDType::Q6K, 1536, 8960)] {
            let q = weight(dtype, n, k, 5);
            let packed = Packed::new(&q).unwrap();
            let candle = QMatMul::from_qtensor(weight(dtype, n, k, 5)).unwrap();
            for m in [1, 2, 4, 8, 16, 32, 64, 128] {
                let x = input(m, k, 9);
                let ours = time(&|| drop(x.apply_op1_no_bwd(&packed).unwrap()));
                let theirs = time(&|| drop(candle.forward(&x).unwrap()));
                eprintln!(
                    "{dtype:?} {n}x{k} rows {m:>3}: packed {ours:8.3} ms, candle {theirs:8.3} ms, {:.2}x",
                    theirs / ours
                );
            }
        }
    }

    /// The weights streamed from memory, as in a decode step: 24 copies of
    /// `ffn_gate` (185 MB, far past the caches) multiplied one after the
    /// other, the GB/s of weights read and the same work on one copy that
    /// stays in cache:
    /// `cargo test --release --lib kquants::tests::speed_streaming -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check: run by hand"]
    fn speed_streaming() {
        if skipped() {
            return;
        }
        let (n, k, copies) = (8960, 1536, 24);
        let one = Packed::new(&weight(GgmlDType::Q4K, n, k, 5)).unwrap();
        let packed: Vec<Packed> = (0..copies)
            .map(|i| Packed::new(&weight(GgmlDType::Q4K, n, k, 50 + i as u64)).unwrap())
            .collect();
        let bytes = (n * k / 256 * std::mem::size_of::<BlockQ4K>()) as f64;
        for m in [1, 2, 4, 8, 16] {
            let x = input(m, k, 9);
            let streamed = fastest_ms(5, &|| {
                for p in &packed {
                    drop(x.apply_op1_no_bwd(p).unwrap());
                }
            }) / copies as f64;
            let cached = fastest_ms(5, &|| {
                for _ in 0..copies {
                    drop(x.apply_op1_no_bwd(&one).unwrap());
                }
            }) / copies as f64;
            eprintln!(
                "Q4K {n}x{k} rows {m:>2}: streamed {streamed:.3} ms ({:.1} GB/s), in cache {cached:.3} ms, {:.2}x",
                bytes / streamed / 1e6,
                streamed / cached
            );
        }
    }

    /// A layer's queries, keys and values and its gate and up projections
    /// (Qwen2.5-1.5B's shapes) one weight at a time and together:
    /// `cargo test --release --lib kquants::tests::speed_together -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check: run by hand"]
    fn speed_together() {
        if skipped() {
            return;
        }
        let time = |f: &dyn Fn()| fastest_ms(50, f);
        let k = 1536;
        let groups: [&[(GgmlDType, usize)]; 2] = [
            &[
                (GgmlDType::Q4K, 1536),
                (GgmlDType::Q4K, 256),
                (GgmlDType::Q6K, 256),
            ],
            &[(GgmlDType::Q4K, 8960), (GgmlDType::Q4K, 8960)],
        ];
        for group in groups {
            let packed: Vec<Packed> = group
                .iter()
                .enumerate()
                .map(|(i, &(d, n))| Packed::new(&weight(d, n, k, 40 + i as u64)).unwrap())
                .collect();
            let parts: Vec<&Packed> = packed.iter().collect();
            for m in [1, 4, 8, 16, 64] {
                let x = input(m, k, 9);
                let lhs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
                let alone = time(&|| {
                    for p in &packed {
                        drop(x.apply_op1_no_bwd(p).unwrap());
                    }
                });
                let together = time(&|| {
                    let mut outs: Vec<Vec<f32>> =
                        packed.iter().map(|p| vec![0f32; m * p.n]).collect();
                    let mut dsts: Vec<&mut [f32]> =
                        outs.iter_mut().map(Vec::as_mut_slice).collect();
                    matmul_many(&parts, m, &lhs, &mut dsts).unwrap();
                });
                eprintln!(
                    "{} weights, rows {m:>3}: one at a time {alone:7.3} ms, together {together:7.3} ms, {:.2}x",
                    packed.len(),
                    alone / together
                );
            }
        }
    }

    #[test]
    fn other_shapes_and_formats_are_not_taken() {
        assert!(!takes(&weight(GgmlDType::Q4K, 24, 512, 1)));
        assert!(!takes(&weight(GgmlDType::Q8_0, 32, 512, 1)));
        assert!(Packed::new(&weight(GgmlDType::Q5K, 32, 512, 1)).is_err());
    }
}
