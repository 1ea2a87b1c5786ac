//! SIMD matmul kernels for the GGUF formats Candle multiplies with scalar
//! code: `Q4_1` (SmolLM2's weights) and `Q5_0` (most of Gemma 3's).
//!
//! Candle 0.11 has AVX2 / VNNI kernels for `Q4_0`, `Q8_0` and the k-quants,
//! but its `Q4_1 · Q8_1` and `Q5_0 · Q8_0` dot products are the generic
//! loops: a prompt of Gemma 3 270M ran at 14 tokens/s against llama.cpp's
//! 290, and the Llama/Qwen2 path re-quantized such weights to `Q8_0` at load
//! (1.9× the bytes of `Q4_1`, and other arithmetic than llama.cpp's). Here
//! the blocks keep their file layout and are multiplied as llama.cpp does:
//! the activation row is quantized to 8 bits per block of 32 (`Q8_1` with
//! its block sums for `Q4_1`, `Q8_0` for `Q5_0`), each block's integer dot
//! product is exact, and the blocks are summed in `f32`.
//!
//! The block types have the same bytes as Candle's and implement its
//! [`GgmlType`] trait (the scalar reference the tests compare with); the
//! driver, [`matmul`], quantizes the activations once and hands work items
//! of up to four rows × four columns to Candle's thread pool. A row's result
//! depends only on that row and the column: every column is computed by the
//! same code whatever the number of rows next to it, so decoding stays
//! batch-invariant.
use candle_core::quantized::k_quants::{BlockQ4_1, BlockQ5_0, BlockQ8_0, GgmlType};
use candle_core::quantized::GgmlDType;
use candle_core::Result;
use half::f16;

const QK: usize = 32;

/// Whether [`matmul`] has a SIMD kernel for `dtype` weights `k` wide on
/// this CPU. `Q8_0` only where Candle does not tile it (its repacked x86
/// kernel needs widths that are multiples of 256; SmolLM2's 576 and Gemma 3
/// 270M's 640 are not, and there Candle's one-column loop converts each
/// scale with a function call).
pub(crate) fn supports(dtype: GgmlDType, k: usize) -> bool {
    let ours = match dtype {
        GgmlDType::Q4_1 | GgmlDType::Q5_0 => true,
        GgmlDType::Q8_0 => !k.is_multiple_of(256),
        _ => false,
    };
    ours && k.is_multiple_of(QK) && simd()
}

/// Whether the matmul weight `q` runs on [`matmul`]: on the CPU, in a
/// format and width that [`supports`] takes.
pub(crate) fn takes(q: &candle_core::quantized::QTensor) -> bool {
    let width = q.shape().dims().last().copied().unwrap_or(0);
    q.device().is_cpu() && supports(q.dtype(), width)
}

/// Rows of activations that share one unpacking of the weights.
const TILE_ROWS: usize = 4;

/// The weight formats with a row-tiled kernel.
trait Tiled: GgmlType {
    /// `out[r][c]` = column `c` of `xs` · row `r` of `ys`, `nb` blocks.
    ///
    /// # Safety
    /// AVX2, FMA and F16C are available, and every slice is at least `nb`
    /// blocks long.
    unsafe fn tile<const R: usize>(
        xs: [&[Self]; 4],
        ys: [&[Self::VecDotType]; R],
        nb: usize,
    ) -> [[f32; 4]; R];
}

#[cfg(target_arch = "x86_64")]
macro_rules! tiled_kernel {
    ($t:ty, $f:ident, $fv:ident) => {
        impl Tiled for $t {
            unsafe fn tile<const R: usize>(
                xs: [&[Self]; 4],
                ys: [&[Self::VecDotType]; R],
                nb: usize,
            ) -> [[f32; 4]; R] {
                if vnni() {
                    x86::$fv::<R>(xs, ys, nb)
                } else {
                    x86::$f::<R>(xs, ys, nb)
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q4_1, tile_q4_1, tile_q4_1_vnni);
#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q5_0, tile_q5_0, tile_q5_0_vnni);
#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q8_0, tile_q8_0, tile_q8_0_vnni);

#[cfg(not(target_arch = "x86_64"))]
impl<T: GgmlType> Tiled for T {
    unsafe fn tile<const R: usize>(
        _: [&[Self]; 4],
        _: [&[Self::VecDotType]; R],
        _: usize,
    ) -> [[f32; 4]; R] {
        unreachable!("`supports` is false without x86 SIMD")
    }
}

/// Rows whose quantized activations stay in cache while the columns pass
/// over them (64 rows of a 1536-wide layer are 110 KB of `Q8_1`).
const ROW_CHUNK: usize = 16 * TILE_ROWS;

/// `dst = lhs × wᵀ`: the activation rows quantized once, then work items of
/// (up to [`ROW_CHUNK`] rows, four columns) on Candle's thread pool, columns
/// innermost: each item unpacks its four weight columns once for all its
/// rows, so a batch of up to 64 rows reads the weights once, as a single row
/// does (a one-row decode step splits its columns over the workers).
fn tiled<W: Tiled>(
    (m, k, n): (usize, usize, usize),
    lhs: &[f32],
    w: &[W],
    dst: &mut [f32],
) -> Result<()> {
    let kb = k / QK;
    if !k.is_multiple_of(QK)
        || n == 0
        || lhs.len() != m * k
        || w.len() != n * kb
        || dst.len() < m * n
    {
        candle_core::bail!(
            "{:?} matmul of ({m}, {k}) × ({n}, {k}): {} inputs, {} blocks, {} outputs",
            W::DTYPE,
            lhs.len(),
            w.len(),
            dst.len()
        );
    }
    let mut act = vec![W::VecDotType::zeros(); m * kb];
    for (row, a) in lhs.chunks_exact(k).zip(act.chunks_exact_mut(kb)) {
        W::VecDotType::from_float(row, a);
    }
    // The last quad of a width not divisible by 4 repeats its last column
    // in the slots past the end (a slot's result does not depend on the
    // others) and keeps only the real ones.
    let quads = n.div_ceil(4);
    let items = m.div_ceil(ROW_CHUNK) * quads;
    let dst_ptr = dst.as_mut_ptr() as usize;
    let act = &act;
    candle_core::utils::barrier_pool().execute_chunked(items, |range| {
        for item in range {
            let (chunk, col) = ((item / quads) * ROW_CHUNK, (item % quads) * 4);
            let column = |c: usize| (col + c).min(n - 1);
            let xs: [&[W]; 4] = std::array::from_fn(|c| &w[column(c) * kb..(column(c) + 1) * kb]);
            let real = 4.min(n - col);
            let end = (chunk + ROW_CHUNK).min(m);
            let put = |row: usize, v: [f32; 4]| {
                // SAFETY: inside `dst` (m × n, checked above); each (row,
                // column) belongs to exactly one work item, so no two
                // workers write the same element.
                unsafe {
                    let at = (dst_ptr as *mut f32).add(row * n + col);
                    std::ptr::copy_nonoverlapping(v.as_ptr(), at, real);
                }
            };
            for first in (chunk..end).step_by(TILE_ROWS) {
                // SAFETY: `matmul` runs this only where `supports` found the
                // CPU features; every slice is `kb` blocks long.
                unsafe {
                    match TILE_ROWS.min(end - first) {
                        1 => tile_at::<W, 1>(xs, act, first, kb, &put),
                        2 => tile_at::<W, 2>(xs, act, first, kb, &put),
                        3 => tile_at::<W, 3>(xs, act, first, kb, &put),
                        _ => tile_at::<W, 4>(xs, act, first, kb, &put),
                    }
                }
            }
        }
    });
    Ok(())
}

/// The tile of rows `first..first + R` against the columns `xs`, each row's
/// four results handed to `put`.
///
/// # Safety
/// As [`Tiled::tile`]; `act` holds the rows' `kb` blocks each.
unsafe fn tile_at<W: Tiled, const R: usize>(
    xs: [&[W]; 4],
    act: &[W::VecDotType],
    first: usize,
    kb: usize,
    put: &impl Fn(usize, [f32; 4]),
) {
    let ys = std::array::from_fn(|r| &act[(first + r) * kb..(first + r + 1) * kb]);
    for (r, v) in W::tile::<R>(xs, ys, kb).into_iter().enumerate() {
        put(first + r, v);
    }
}

/// The CPU's features, detected once: (AVX2 + FMA + F16C, which every
/// kernel needs; AVX-512 VNNI on 256-bit vectors, `vpdpbusd`, which the
/// kernels use where present: the same integers as the AVX2 sequence).
#[cfg(target_arch = "x86_64")]
fn features() -> (bool, bool) {
    use std::sync::OnceLock;
    static HAS: OnceLock<(bool, bool)> = OnceLock::new();
    *HAS.get_or_init(|| {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        let vnni = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni");
        (avx2, avx2 && vnni)
    })
}

#[cfg(target_arch = "x86_64")]
fn simd() -> bool {
    features().0
}

#[cfg(not(target_arch = "x86_64"))]
fn simd() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn vnni() -> bool {
    features().1
}

/// `dst = lhs × blocksᵀ` for `blocks` of `T` (`mkn` = rows of `lhs`, width,
/// columns), with this module's kernel where it has one for `T`; `None`
/// where it has not (the caller runs Candle's).
pub(crate) fn matmul<T: GgmlType>(
    mkn: (usize, usize, usize),
    lhs: &[f32],
    blocks: &[T],
    dst: &mut [f32],
) -> Option<Result<()>> {
    if !supports(T::DTYPE, mkn.1) {
        return None;
    }
    Some(match T::DTYPE {
        GgmlDType::Q4_1 => tiled(mkn, lhs, cast::<T, Q4_1>(blocks), dst),
        GgmlDType::Q5_0 => tiled(mkn, lhs, cast::<T, Q5_0>(blocks), dst),
        GgmlDType::Q8_0 => tiled(mkn, lhs, cast::<T, Q8_0>(blocks), dst),
        _ => return None,
    })
}

/// `blocks` of Candle's block type as this module's type of the same bytes.
fn cast<T: GgmlType, U>(blocks: &[T]) -> &[U] {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<U>());
    assert!(std::mem::align_of::<T>() >= std::mem::align_of::<U>());
    // SAFETY: same size and compatible alignment (asserted), and both are
    // plain `repr(C)` blocks of integers and f16 scales: any bits are valid.
    unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len()) }
}

fn cast_mut<T, U>(blocks: &mut [T]) -> &mut [U] {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<U>());
    assert!(std::mem::align_of::<T>() >= std::mem::align_of::<U>());
    // SAFETY: as in `cast`.
    unsafe { std::slice::from_raw_parts_mut(blocks.as_mut_ptr().cast(), blocks.len()) }
}

/// A `Q4_1` block as in the file: `x = d · q + m`, `q` in 0..16, element
/// `j < 16` in the low nibble of `qs[j]`, element `j + 16` in its high one.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Q4_1 {
    d: f16,
    m: f16,
    qs: [u8; QK / 2],
}

/// A `Q5_0` block: `x = d · (q − 16)`, `q` in 0..32; the low four bits as in
/// `Q4_1`, bit `j` of `qh` the fifth bit of element `j`.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Q5_0 {
    d: f16,
    qh: [u8; 4],
    qs: [u8; QK / 2],
}

/// An activation block for `Q4_1`: `x ≈ d · q`, and `s = d · Σ q`.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Q8_1 {
    d: f16,
    s: f16,
    qs: [i8; QK],
}

/// An activation block for `Q5_0`: `x ≈ d · q`.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Q8_0 {
    d: f16,
    qs: [i8; QK],
}

const _: () = assert!(std::mem::size_of::<Q4_1>() == std::mem::size_of::<BlockQ4_1>());
const _: () = assert!(std::mem::size_of::<Q5_0>() == std::mem::size_of::<BlockQ5_0>());
const _: () = assert!(std::mem::size_of::<Q8_1>() == 36);
const _: () = assert!(std::mem::size_of::<Q8_0>() == std::mem::size_of::<BlockQ8_0>());

/// One block of 32 floats to 8 bits (llama.cpp's `quantize_row_q8_0`):
/// the scale and the rounded values.
fn quantize_block(xs: &[f32], qs: &mut [i8; QK]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if simd() && xs.len() == QK {
        // SAFETY: the CPU features were detected; `xs` is one block.
        return unsafe { x86::quantize_block(xs, qs) };
    }
    quantize_block_scalar(xs, qs)
}

fn quantize_block_scalar(xs: &[f32], qs: &mut [i8; QK]) -> (f32, i32) {
    let amax = xs.iter().fold(0f32, |a, x| a.max(x.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (q, &x) in qs.iter_mut().zip(xs) {
        *q = (x * id).round() as i8;
        sum += *q as i32;
    }
    (d, sum)
}

impl GgmlType for Q8_1 {
    const DTYPE: GgmlDType = GgmlDType::Q8_1;
    const BLCK_SIZE: usize = QK;
    type VecDotType = Q8_1;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        for (b, ys) in xs.iter().zip(ys.chunks_exact_mut(QK)) {
            let d = b.d.to_f32();
            for (y, &q) in ys.iter_mut().zip(&b.qs) {
                *y = d * q as f32;
            }
        }
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        for (b, xs) in ys.iter_mut().zip(xs.chunks_exact(QK)) {
            let (d, sum) = quantize_block(xs, &mut b.qs);
            b.d = f16::from_f32(d);
            b.s = f16::from_f32(d * sum as f32);
        }
    }

    fn vec_dot(n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        Self::vec_dot_unopt(n, xs, ys)
    }

    fn vec_dot_unopt(n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        xs.iter()
            .zip(ys)
            .take(n / QK)
            .map(|(x, y)| {
                let i: i32 =
                    x.qs.iter()
                        .zip(&y.qs)
                        .map(|(&a, &b)| a as i32 * b as i32)
                        .sum();
                x.d.to_f32() * y.d.to_f32() * i as f32
            })
            .sum()
    }
}

/// The dot products of a weight format with a tiled kernel: `vec_dot` and
/// `vec_dot_4` through the tile, `vec_dot_unopt` through [`Block`].
macro_rules! weight_dots {
    () => {
        fn vec_dot(n: usize, xs: &[Self], ys: &[Self::VecDotType]) -> f32 {
            dot1(n, xs, ys)
        }

        fn vec_dot_4(
            n: usize,
            x0: &[Self],
            x1: &[Self],
            x2: &[Self],
            x3: &[Self],
            ys: &[Self::VecDotType],
        ) -> (f32, f32, f32, f32) {
            dot4(n, [x0, x1, x2, x3], ys)
        }

        fn vec_dot_unopt(n: usize, xs: &[Self], ys: &[Self::VecDotType]) -> f32 {
            let nb = n / QK;
            dot_scalar(&xs[..nb], &ys[..nb])
        }
    };
}

impl GgmlType for Q8_0 {
    const DTYPE: GgmlDType = GgmlDType::Q8_0;
    const BLCK_SIZE: usize = QK;
    type VecDotType = Q8_0;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        for (b, ys) in xs.iter().zip(ys.chunks_exact_mut(QK)) {
            let d = b.d.to_f32();
            for (y, &q) in ys.iter_mut().zip(&b.qs) {
                *y = d * q as f32;
            }
        }
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        for (b, xs) in ys.iter_mut().zip(xs.chunks_exact(QK)) {
            let (d, _) = quantize_block(xs, &mut b.qs);
            b.d = f16::from_f32(d);
        }
    }

    weight_dots!();
}

impl Block for Q8_0 {
    fn dot_scalar(&self, y: &Q8_0) -> f32 {
        let i: i32 = self
            .qs
            .iter()
            .zip(&y.qs)
            .map(|(&a, &b)| a as i32 * b as i32)
            .sum();
        self.d.to_f32() * y.d.to_f32() * i as f32
    }
}

/// The integer dot product of one weight block with an activation block,
/// and the weight scale (plus, for `Q4_1`, the offset term `m · s`).
trait Block: GgmlType {
    fn dot_scalar(&self, y: &Self::VecDotType) -> f32;
}

fn dot_scalar<B: Block>(xs: &[B], ys: &[B::VecDotType]) -> f32 {
    xs.iter().zip(ys).map(|(x, y)| x.dot_scalar(y)).sum()
}

/// `vec_dot` of a weight format: the SIMD tile with one row, else scalar.
fn dot1<W: Block + Tiled>(n: usize, xs: &[W], ys: &[W::VecDotType]) -> f32 {
    let nb = n / QK;
    if simd() {
        assert!(xs.len() >= nb && ys.len() >= nb);
        // SAFETY: the CPU features were detected; the slices are `nb`
        // blocks long or longer (asserted).
        return unsafe { W::tile::<1>([xs; 4], [ys], nb)[0][0] };
    }
    dot_scalar(&xs[..nb], &ys[..nb])
}

/// `vec_dot_4` of a weight format: four columns of one tile.
fn dot4<W: Block + Tiled>(n: usize, x: [&[W]; 4], ys: &[W::VecDotType]) -> (f32, f32, f32, f32) {
    let nb = n / QK;
    if simd() {
        assert!(x.iter().all(|x| x.len() >= nb) && ys.len() >= nb);
        // SAFETY: as in `dot1`.
        let [[a, b, c, d]] = unsafe { W::tile::<1>(x, [ys], nb) };
        return (a, b, c, d);
    }
    let [a, b, c, d] = x.map(|x| dot_scalar(&x[..nb], &ys[..nb]));
    (a, b, c, d)
}

impl Block for Q4_1 {
    fn dot_scalar(&self, y: &Q8_1) -> f32 {
        let mut i = 0i32;
        for j in 0..QK / 2 {
            i += (self.qs[j] & 0x0F) as i32 * y.qs[j] as i32;
            i += (self.qs[j] >> 4) as i32 * y.qs[j + QK / 2] as i32;
        }
        self.d.to_f32() * y.d.to_f32() * i as f32 + self.m.to_f32() * y.s.to_f32()
    }
}

impl Block for Q5_0 {
    fn dot_scalar(&self, y: &Q8_0) -> f32 {
        let qh = u32::from_le_bytes(self.qh);
        let mut i = 0i32;
        for j in 0..QK / 2 {
            let lo = (self.qs[j] & 0x0F) as i32 | (((qh >> j) & 1) << 4) as i32;
            let hi = (self.qs[j] >> 4) as i32 | (((qh >> (j + 16)) & 1) << 4) as i32;
            i += (lo - 16) * y.qs[j] as i32 + (hi - 16) * y.qs[j + QK / 2] as i32;
        }
        self.d.to_f32() * y.d.to_f32() * i as f32
    }
}

impl GgmlType for Q4_1 {
    const DTYPE: GgmlDType = GgmlDType::Q4_1;
    const BLCK_SIZE: usize = QK;
    type VecDotType = Q8_1;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        BlockQ4_1::to_float(cast::<Q4_1, BlockQ4_1>(xs), ys)
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        BlockQ4_1::from_float(xs, cast_mut::<Q4_1, BlockQ4_1>(ys))
    }

    weight_dots!();
}

impl GgmlType for Q5_0 {
    const DTYPE: GgmlDType = GgmlDType::Q5_0;
    const BLCK_SIZE: usize = QK;
    type VecDotType = Q8_0;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        BlockQ5_0::to_float(cast::<Q5_0, BlockQ5_0>(xs), ys)
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        BlockQ5_0::from_float(xs, cast_mut::<Q5_0, BlockQ5_0>(ys))
    }

    weight_dots!();
}

/// AVX2 dot products of four weight columns with 1 to 4 activation rows:
/// each weight block is unpacked once for all the rows. Every (row, column)
/// is summed by the same instructions in the same order whatever the other
/// rows and columns of the call (they only share the unpacked weights and
/// the activation loads), so a result never depends on how many rows run
/// together or which columns share the call.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Q4_1, Q5_0, Q8_0, Q8_1, QK};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn f16_to_f32(h: half::f16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h.to_bits() as i32)))
    }

    /// 32 nibbles: element `j < 16` from the low half of byte `j`, element
    /// `j + 16` from its high half.
    #[inline(always)]
    unsafe fn nibbles(qs: &[u8; QK / 2]) -> __m256i {
        let q = _mm_loadu_si128(qs.as_ptr().cast());
        let low = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(q, low);
        let hi = _mm_and_si128(_mm_srli_epi16(q, 4), low);
        _mm256_set_m128i(hi, lo)
    }

    /// Byte `j` = 0xFF where bit `j` of `bits` is set, else 0.
    #[inline(always)]
    unsafe fn bytes_from_bits(bits: u32) -> __m256i {
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(bits as i32),
            _mm256_set_epi64x(
                0x0303_0303_0303_0303,
                0x0202_0202_0202_0202,
                0x0101_0101_0101_0101,
                0,
            ),
        );
        let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
        _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1))
    }

    /// Σ x·y over 32 bytes (x unsigned, y signed) in 8 lanes of i32, exact:
    /// one `vpdpbusd` with VNNI, else `maddubs` (a pair stays inside its
    /// i16: the callers keep x·y pairs under 32 768) and `madd`. Both give
    /// the same integers, so the results do not depend on the CPU.
    #[inline(always)]
    unsafe fn dot_u8_i8<const VNNI: bool>(x: __m256i, y: __m256i) -> __m256i {
        if VNNI {
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y)
        } else {
            _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
        }
    }

    /// Lane `c` = the sum of the 8 lanes of `p[c]` (exact: a block's sum is
    /// at most 32 · 128 · 127 in magnitude).
    #[inline(always)]
    unsafe fn sum4(p: &[__m256i; 4]) -> __m128i {
        let h = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
        _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1))
    }

    /// The four columns' f16 scales of one block as f32 lanes 0..4.
    #[inline(always)]
    unsafe fn scales4(d: [half::f16; 4]) -> __m128 {
        let bits = |i: usize| d[i].to_bits() as i16;
        _mm_cvtph_ps(_mm_setr_epi16(
            bits(0),
            bits(1),
            bits(2),
            bits(3),
            0,
            0,
            0,
            0,
        ))
    }

    /// Columns ahead of the ones at hand whose blocks [`at`] asks the cache
    /// for: two work items on. A column is a few hundred bytes (576 wide:
    /// 18 blocks), so a look-ahead inside the column reached only blocks
    /// already on their way; the next items' columns are the bytes the
    /// worker reads next (a worker's items are consecutive). Prefetching
    /// them took SmolLM2's one-row decode from 66 to 125 tok/s on one
    /// thread (BENCHMARKS.md, 2026-12-07).
    const AHEAD: usize = 8;

    /// Block `b` of the four columns (no `array::map` in the loops: its
    /// closure would not be inlined into the SIMD code), and a prefetch of
    /// block `b` of the columns [`AHEAD`] on (`nb` blocks each; past the
    /// weight's end the address is not read: a prefetch never faults).
    #[inline(always)]
    unsafe fn at<T>(xs: [&[T]; 4], b: usize, nb: usize) -> [&T; 4] {
        for x in xs {
            _mm_prefetch::<_MM_HINT_T0>(x.as_ptr().wrapping_add(b + AHEAD * nb).cast());
        }
        [
            xs[0].get_unchecked(b),
            xs[1].get_unchecked(b),
            xs[2].get_unchecked(b),
            xs[3].get_unchecked(b),
        ]
    }

    /// Block `b` of each activation row.
    #[inline(always)]
    unsafe fn row_blocks<const R: usize>(ys: [&[Q8_0]; R], b: usize) -> [&Q8_0; R] {
        let mut y = [ys[0].get_unchecked(b); R];
        for r in 1..R {
            y[r] = ys[r].get_unchecked(b);
        }
        y
    }

    /// `out[r][c]` = column `c` of `xs` · row `r` of `ys` (all `nb` blocks
    /// long: the caller checks). Per block and row, the four columns'
    /// integer sums are reduced together and scaled in one `f32` lane each,
    /// so a column's arithmetic never touches another column's or row's.
    #[inline(always)]
    unsafe fn q4_1<const R: usize, const VNNI: bool>(
        xs: [&[Q4_1]; 4],
        ys: [&[Q8_1]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [_mm_setzero_ps(); R];
        for b in 0..nb {
            let x = at(xs, b, nb);
            let w = [
                nibbles(&x[0].qs),
                nibbles(&x[1].qs),
                nibbles(&x[2].qs),
                nibbles(&x[3].qs),
            ];
            let dw = scales4([x[0].d, x[1].d, x[2].d, x[3].d]);
            let mw = scales4([x[0].m, x[1].m, x[2].m, x[3].m]);
            for r in 0..R {
                let y = ys[r].get_unchecked(b);
                let yq = _mm256_loadu_si256(y.qs.as_ptr().cast());
                let p = [
                    dot_u8_i8::<VNNI>(w[0], yq),
                    dot_u8_i8::<VNNI>(w[1], yq),
                    dot_u8_i8::<VNNI>(w[2], yq),
                    dot_u8_i8::<VNNI>(w[3], yq),
                ];
                let s = _mm_cvtepi32_ps(sum4(&p));
                let ds = _mm_mul_ps(dw, _mm_set1_ps(f16_to_f32(y.d)));
                acc[r] = _mm_fmadd_ps(ds, s, acc[r]);
                acc[r] = _mm_fmadd_ps(mw, _mm_set1_ps(f16_to_f32(y.s)), acc[r]);
            }
        }
        store(acc)
    }

    #[inline(always)]
    unsafe fn store<const R: usize>(acc: [__m128; R]) -> [[f32; 4]; R] {
        let mut out = [[0f32; 4]; R];
        for r in 0..R {
            _mm_storeu_ps(out[r].as_mut_ptr(), acc[r]);
        }
        out
    }

    /// Signed weights × signed activations, the weights given as |q| and
    /// their signs (`maddubs` and `vpdpbusd` multiply unsigned by signed
    /// bytes).
    #[inline(always)]
    unsafe fn tile_signed<const R: usize, const VNNI: bool>(
        w: [__m256i; 4],
        dw: __m128,
        ys: [&Q8_0; R],
        acc: &mut [__m128; R],
    ) {
        let abs = [
            _mm256_sign_epi8(w[0], w[0]),
            _mm256_sign_epi8(w[1], w[1]),
            _mm256_sign_epi8(w[2], w[2]),
            _mm256_sign_epi8(w[3], w[3]),
        ];
        for r in 0..R {
            let yq = _mm256_loadu_si256(ys[r].qs.as_ptr().cast());
            // |q| ≤ 128 and |y| ≤ 127: a pair sums to at most 32 512,
            // inside the i16 of `maddubs`.
            let p = [
                dot_u8_i8::<VNNI>(abs[0], _mm256_sign_epi8(yq, w[0])),
                dot_u8_i8::<VNNI>(abs[1], _mm256_sign_epi8(yq, w[1])),
                dot_u8_i8::<VNNI>(abs[2], _mm256_sign_epi8(yq, w[2])),
                dot_u8_i8::<VNNI>(abs[3], _mm256_sign_epi8(yq, w[3])),
            ];
            let s = _mm_cvtepi32_ps(sum4(&p));
            let ds = _mm_mul_ps(dw, _mm_set1_ps(f16_to_f32(ys[r].d)));
            acc[r] = _mm_fmadd_ps(ds, s, acc[r]);
        }
    }

    /// As [`q4_1`], for `Q5_0` weights.
    #[inline(always)]
    unsafe fn q5_0<const R: usize, const VNNI: bool>(
        xs: [&[Q5_0]; 4],
        ys: [&[Q8_0]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [_mm_setzero_ps(); R];
        let high = _mm256_set1_epi8(0xF0u8 as i8);
        for b in 0..nb {
            let x = at(xs, b, nb);
            // q − 16 in −16..16: the nibble with 0xF0 or-ed in where the
            // fifth bit is clear.
            let five = |x: &Q5_0| {
                let clear = _mm256_andnot_si256(bytes_from_bits(u32::from_le_bytes(x.qh)), high);
                _mm256_or_si256(nibbles(&x.qs), clear)
            };
            let w = [five(x[0]), five(x[1]), five(x[2]), five(x[3])];
            let dw = scales4([x[0].d, x[1].d, x[2].d, x[3].d]);
            let y = row_blocks(ys, b);
            tile_signed::<R, VNNI>(w, dw, y, &mut acc);
        }
        store(acc)
    }

    /// As [`q4_1`], for `Q8_0` weights.
    #[inline(always)]
    unsafe fn q8_0<const R: usize, const VNNI: bool>(
        xs: [&[Q8_0]; 4],
        ys: [&[Q8_0]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [_mm_setzero_ps(); R];
        for b in 0..nb {
            let x = at(xs, b, nb);
            let load = |x: &Q8_0| _mm256_loadu_si256(x.qs.as_ptr().cast());
            let w = [load(x[0]), load(x[1]), load(x[2]), load(x[3])];
            let dw = scales4([x[0].d, x[1].d, x[2].d, x[3].d]);
            let y = row_blocks(ys, b);
            tile_signed::<R, VNNI>(w, dw, y, &mut acc);
        }
        store(acc)
    }

    /// [`super::quantize_block_scalar`] on AVX2, bit for bit: the same
    /// maximum (a NaN input is skipped, as by `f32::max`), the same scale
    /// and products, rounding half away from zero as `f32::round` does
    /// (`x − trunc(x)` is exact), and the saturating `as i8` (NaN → 0).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn quantize_block(xs: &[f32], qs: &mut [i8; QK]) -> (f32, i32) {
        let sign = _mm256_set1_ps(-0.0);
        let p = xs.as_ptr();
        let x = [
            _mm256_loadu_ps(p),
            _mm256_loadu_ps(p.add(8)),
            _mm256_loadu_ps(p.add(16)),
            _mm256_loadu_ps(p.add(24)),
        ];
        let mut m = _mm256_setzero_ps();
        for v in x {
            // `maxps` returns its second operand when the first is NaN.
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v), m);
        }
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
        let d = amax / 127.0;
        let id = _mm256_set1_ps(if d != 0.0 { 1.0 / d } else { 0.0 });
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        let mut q = [_mm256_setzero_si256(); 4];
        for (q, v) in q.iter_mut().zip(x) {
            let v = _mm256_mul_ps(v, id);
            let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
            let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
            let away = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(frac, half), one);
            let r = _mm256_add_ps(t, _mm256_or_ps(away, _mm256_and_ps(v, sign)));
            let r = _mm256_and_ps(r, _mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
            let r = _mm256_min_ps(
                _mm256_max_ps(r, _mm256_set1_ps(-128.0)),
                _mm256_set1_ps(127.0),
            );
            *q = _mm256_cvtps_epi32(r);
        }
        let sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        let sum = _mm_add_epi32(
            _mm256_castsi256_si128(sum),
            _mm256_extracti128_si256(sum, 1),
        );
        let sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
        let sum = _mm_cvtsi128_si32(_mm_add_epi32(sum, _mm_shuffle_epi32::<1>(sum)));
        // Packing works within 128-bit halves: put the 32 bytes back in order.
        let bytes = _mm256_packs_epi16(
            _mm256_packs_epi32(q[0], q[1]),
            _mm256_packs_epi32(q[2], q[3]),
        );
        let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(qs.as_mut_ptr().cast(), bytes);
        (d, sum)
    }

    /// Each kernel compiled twice: for AVX2 and for AVX-512 VNNI (the same
    /// integers, so the same results).
    macro_rules! entry {
        ($body:ident, $w:ty, $a:ty, $avx2:ident, $vnni:ident) => {
            #[target_feature(enable = "avx2,fma,f16c")]
            pub(super) unsafe fn $avx2<const R: usize>(
                xs: [&[$w]; 4],
                ys: [&[$a]; R],
                nb: usize,
            ) -> [[f32; 4]; R] {
                $body::<R, false>(xs, ys, nb)
            }

            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
            pub(super) unsafe fn $vnni<const R: usize>(
                xs: [&[$w]; 4],
                ys: [&[$a]; R],
                nb: usize,
            ) -> [[f32; 4]; R] {
                $body::<R, true>(xs, ys, nb)
            }
        };
    }
    entry!(q4_1, Q4_1, Q8_1, tile_q4_1, tile_q4_1_vnni);
    entry!(q5_0, Q5_0, Q8_0, tile_q5_0, tile_q5_0_vnni);
    entry!(q8_0, Q8_0, Q8_0, tile_q8_0, tile_q8_0_vnni);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::llm::mapped::read_blocks;
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    /// Deterministic values in −1..1.
    pub(crate) fn values(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// The weight format `W` of `w`'s values, as blocks.
    fn quantized<W: GgmlType>(w: &Tensor) -> Vec<W> {
        let q = QTensor::quantize(w, W::DTYPE).unwrap();
        read_blocks(&q.data().unwrap()).unwrap()
    }

    /// The kernels compute what llama.cpp's formula gives: the exact sum of
    /// (dequantized weight × dequantized 8-bit activation), up to f32
    /// rounding of the block sums; and they agree with the scalar code.
    #[test]
    fn kernels_compute_the_quantized_dot_product() {
        fn check<W: Tiled + Block>() {
            let (m, k, n) = (5, 320, 12);
            let w = Tensor::from_vec(values(1, n * k), (n, k), &Device::Cpu).unwrap();
            let wq: Vec<f32> = QTensor::quantize(&w, W::DTYPE)
                .unwrap()
                .dequantize(&Device::Cpu)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let blocks = quantized::<W>(&w);
            let lhs = values(2, m * k);
            let mut dst = vec![0f32; m * n];
            let mut scalar = vec![0f32; m * n];
            tiled((m, k, n), &lhs, &blocks, &mut dst).unwrap();
            scalar_matmul((m, k, n), &lhs, &blocks, &mut scalar);
            let dtype = W::DTYPE;
            for r in 0..m {
                // The activation row as the kernel sees it: 8 bits a block.
                let mut act = vec![0f32; k];
                for (xs, ys) in lhs[r * k..(r + 1) * k]
                    .chunks_exact(QK)
                    .zip(act.chunks_exact_mut(QK))
                {
                    let mut qs = [0i8; QK];
                    let (d, _) = quantize_block(xs, &mut qs);
                    let d = f16::from_f32(d).to_f32();
                    for (y, q) in ys.iter_mut().zip(qs) {
                        *y = d * q as f32;
                    }
                }
                for c in 0..n {
                    let exact: f64 = (0..k).map(|j| wq[c * k + j] as f64 * act[j] as f64).sum();
                    let got = dst[r * n + c] as f64;
                    // Q8_1's block sum `s` is an f16: Σ m·s is off by up to
                    // its rounding (2⁻¹¹ relative) per block.
                    assert!(
                        (got - exact).abs() < 5e-2,
                        "{dtype:?} ({r}, {c}): {got} vs {exact}"
                    );
                    assert!(
                        (got - scalar[r * n + c] as f64).abs() < 1e-4,
                        "{dtype:?} ({r}, {c}): simd {got} vs scalar {}",
                        scalar[r * n + c]
                    );
                }
            }
        }
        check::<Q4_1>();
        check::<Q5_0>();
        check::<Q8_0>();
    }

    fn scalar_matmul<T: GgmlType>(
        (m, k, n): (usize, usize, usize),
        lhs: &[f32],
        blocks: &[T],
        dst: &mut [f32],
    ) {
        let kb = k / QK;
        for r in 0..m {
            let mut act = vec![T::VecDotType::zeros(); kb];
            T::VecDotType::from_float(&lhs[r * k..(r + 1) * k], &mut act);
            for c in 0..n {
                dst[r * n + c] = T::vec_dot_unopt(k, &blocks[c * kb..(c + 1) * kb], &act);
            }
        }
    }

    /// A column's result is the same alone (`vec_dot`) as in a call of four.
    #[test]
    fn a_column_sums_the_same_alone_and_in_fours() {
        fn check<W: GgmlType>() {
            let k = 576;
            let w = Tensor::from_vec(values(3, 4 * k), (4, k), &Device::Cpu).unwrap();
            let b = quantized::<W>(&w);
            let kb = k / QK;
            let mut y = vec![W::VecDotType::zeros(); kb];
            W::VecDotType::from_float(&values(4, k), &mut y);
            let col = |c: usize| &b[c * kb..(c + 1) * kb];
            let (a, b1, c1, d) = W::vec_dot_4(k, col(0), col(1), col(2), col(3), &y);
            for (c, q) in [a, b1, c1, d].into_iter().enumerate() {
                let alone = W::vec_dot(k, col(c), &y);
                assert_eq!(alone.to_bits(), q.to_bits(), "{:?} column {c}", W::DTYPE);
            }
        }
        check::<Q4_1>();
        check::<Q5_0>();
        check::<Q8_0>();
    }

    /// The SIMD activation quantization is the scalar one bit for bit: on
    /// random blocks, on blocks whose values land exactly on halves (the
    /// rounding ties), and on blocks with zeros, NaN and infinities.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_quantization_is_the_scalar_one() {
        if !simd() {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let mut blocks: Vec<Vec<f32>> = (0..200).map(|s| values(100 + s, QK)).collect();
        // amax 127 makes the scale 1: every x.5 is a tie.
        blocks.push(
            (0..QK)
                .map(|j| j as f32 - 15.5)
                .chain([127.0])
                .skip(1)
                .collect(),
        );
        blocks.push(
            (0..QK)
                .map(|j| -(j as f32) * 0.5)
                .chain([-127.0])
                .skip(1)
                .collect(),
        );
        blocks.push(vec![0.0; QK]);
        let mut odd = values(9, QK);
        odd[3] = f32::NAN;
        blocks.push(odd.clone());
        odd[5] = f32::INFINITY;
        blocks.push(odd.clone());
        odd[7] = f32::NEG_INFINITY;
        blocks.push(odd);
        blocks.push(vec![1e-40; QK]);
        for (i, b) in blocks.iter().enumerate() {
            let (mut a, mut s) = ([0i8; QK], [0i8; QK]);
            // SAFETY: AVX2 was detected; the block is 32 values.
            let (da, sa) = unsafe { x86::quantize_block(b, &mut a) };
            let (ds, ss) = quantize_block_scalar(b, &mut s);
            assert_eq!(
                (da.to_bits(), sa, a),
                (ds.to_bits(), ss, s),
                "block {i}: {b:?}"
            );
        }
    }

    /// The VNNI and the AVX2 builds of each kernel give the same bits (the
    /// same integers, the same float steps), so a machine's results do not
    /// depend on which one it runs.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vnni_and_avx2_kernels_agree_bit_for_bit() {
        if !(simd() && vnni()) {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        type Kernel<W> =
            unsafe fn([&[W]; 4], [&[<W as GgmlType>::VecDotType]; 3], usize) -> [[f32; 4]; 3];
        fn agree<W: GgmlType>(avx2: Kernel<W>, vnni: Kernel<W>) {
            let (k, n) = (640, 4);
            let kb = k / QK;
            let w = Tensor::from_vec(values(7, n * k), (n, k), &Device::Cpu).unwrap();
            let b = quantized::<W>(&w);
            let mut y = vec![W::VecDotType::zeros(); 3 * kb];
            W::VecDotType::from_float(&values(8, 3 * k), &mut y);
            let xs = std::array::from_fn(|c| &b[c * kb..(c + 1) * kb]);
            let ys = std::array::from_fn(|r| &y[r * kb..(r + 1) * kb]);
            let bits = |t: [[f32; 4]; 3]| t.map(|r| r.map(f32::to_bits));
            // SAFETY: both CPU features were detected; every slice is `kb`
            // blocks long.
            let (a, v) = unsafe { (avx2(xs, ys, kb), vnni(xs, ys, kb)) };
            assert_eq!(bits(a), bits(v), "{:?}", W::DTYPE);
        }
        agree::<Q4_1>(x86::tile_q4_1::<3>, x86::tile_q4_1_vnni::<3>);
        agree::<Q5_0>(x86::tile_q5_0::<3>, x86::tile_q5_0_vnni::<3>);
        agree::<Q8_0>(x86::tile_q8_0::<3>, x86::tile_q8_0_vnni::<3>);
    }
}
