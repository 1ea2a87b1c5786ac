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
    ($t:ty, $f:ident) => {
        impl Tiled for $t {
            unsafe fn tile<const R: usize>(
                xs: [&[Self]; 4],
                ys: [&[Self::VecDotType]; R],
                nb: usize,
            ) -> [[f32; 4]; R] {
                x86::$f::<R>(xs, ys, nb)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q4_1, tile_q4_1);
#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q5_0, tile_q5_0);
#[cfg(target_arch = "x86_64")]
tiled_kernel!(Q8_0, tile_q8_0);

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

/// `dst = lhs × wᵀ`: the activation rows quantized once, then work items of
/// (up to [`TILE_ROWS`] rows, four columns) on Candle's thread pool, row
/// groups outermost (a one-row decode step splits its columns over the
/// workers).
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
    let items = m.div_ceil(TILE_ROWS) * quads;
    let dst_ptr = dst.as_mut_ptr() as usize;
    let act = &act;
    candle_core::utils::barrier_pool().execute_chunked(items, |range| {
        for item in range {
            let (first, col) = ((item / quads) * TILE_ROWS, (item % quads) * 4);
            let column = |c: usize| (col + c).min(n - 1);
            let xs: [&[W]; 4] = std::array::from_fn(|c| &w[column(c) * kb..(column(c) + 1) * kb]);
            let real = 4.min(n - col);
            let y = |r: usize| &act[(first + r) * kb..(first + r + 1) * kb];
            let put = |r: usize, v: [f32; 4]| {
                // SAFETY: inside `dst` (m × n, checked above); each (row,
                // column) belongs to exactly one work item, so no two workers
                // write the same element.
                unsafe {
                    let at = (dst_ptr as *mut f32).add((first + r) * n + col);
                    std::ptr::copy_nonoverlapping(v.as_ptr(), at, real);
                }
            };
            // SAFETY: `matmul` runs this only where `supports` found the
            // CPU features; every slice is `kb` blocks long.
            unsafe {
                match TILE_ROWS.min(m - first) {
                    1 => W::tile::<1>(xs, [y(0)], kb)
                        .into_iter()
                        .enumerate()
                        .for_each(|(r, v)| put(r, v)),
                    2 => W::tile::<2>(xs, [y(0), y(1)], kb)
                        .into_iter()
                        .enumerate()
                        .for_each(|(r, v)| put(r, v)),
                    3 => W::tile::<3>(xs, [y(0), y(1), y(2)], kb)
                        .into_iter()
                        .enumerate()
                        .for_each(|(r, v)| put(r, v)),
                    _ => W::tile::<4>(xs, [y(0), y(1), y(2), y(3)], kb)
                        .into_iter()
                        .enumerate()
                        .for_each(|(r, v)| put(r, v)),
                }
            }
        }
    });
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn simd() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn simd() -> bool {
    false
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

    fn vec_dot(n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        dot1(n, xs, ys)
    }

    fn vec_dot_4(
        n: usize,
        x0: &[Self],
        x1: &[Self],
        x2: &[Self],
        x3: &[Self],
        ys: &[Self],
    ) -> (f32, f32, f32, f32) {
        dot4(n, [x0, x1, x2, x3], ys)
    }

    fn vec_dot_unopt(n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        let nb = n / QK;
        dot_scalar(&xs[..nb], &ys[..nb])
    }
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

    fn vec_dot(n: usize, xs: &[Self], ys: &[Q8_1]) -> f32 {
        dot1(n, xs, ys)
    }

    fn vec_dot_4(
        n: usize,
        x0: &[Self],
        x1: &[Self],
        x2: &[Self],
        x3: &[Self],
        ys: &[Q8_1],
    ) -> (f32, f32, f32, f32) {
        dot4(n, [x0, x1, x2, x3], ys)
    }

    fn vec_dot_unopt(n: usize, xs: &[Self], ys: &[Q8_1]) -> f32 {
        let nb = n / QK;
        dot_scalar(&xs[..nb], &ys[..nb])
    }
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

    fn vec_dot(n: usize, xs: &[Self], ys: &[Q8_0]) -> f32 {
        dot1(n, xs, ys)
    }

    fn vec_dot_4(
        n: usize,
        x0: &[Self],
        x1: &[Self],
        x2: &[Self],
        x3: &[Self],
        ys: &[Q8_0],
    ) -> (f32, f32, f32, f32) {
        dot4(n, [x0, x1, x2, x3], ys)
    }

    fn vec_dot_unopt(n: usize, xs: &[Self], ys: &[Q8_0]) -> f32 {
        let nb = n / QK;
        dot_scalar(&xs[..nb], &ys[..nb])
    }
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

    /// Σ x·y over 32 bytes (x unsigned, y signed) as 8 lanes of i32 in f32.
    #[inline(always)]
    unsafe fn dot_u8_i8(x: __m256i, y: __m256i) -> __m256 {
        let pairs = _mm256_maddubs_epi16(x, y);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// The four columns' f16 scales of one block as f32 lanes 0..4.
    #[inline(always)]
    unsafe fn scales4(d: [half::f16; 4]) -> __m256 {
        let bits = |i: usize| d[i].to_bits() as i16;
        let h = _mm_setr_epi16(bits(0), bits(1), bits(2), bits(3), 0, 0, 0, 0);
        _mm256_castps128_ps256(_mm_cvtph_ps(h))
    }

    /// Lane `c` of `v` in every lane.
    #[inline(always)]
    unsafe fn lane(v: __m256, c: i32) -> __m256 {
        _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(c))
    }

    /// `out[r][c]` = column `c` of `xs` · row `r` of `ys` (all `nb` blocks
    /// long: the caller checks).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn tile_q4_1<const R: usize>(
        xs: [&[Q4_1]; 4],
        ys: [&[Q8_1]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [[_mm256_setzero_ps(); 4]; R];
        // Lane c: column c's Σ m·s over the blocks so far.
        let mut offset = [_mm256_setzero_ps(); R];
        for b in 0..nb {
            let x = xs.map(|x| x.get_unchecked(b));
            let w = x.map(|x| nibbles(&x.qs));
            let dw = scales4(x.map(|x| x.d));
            let mw = scales4(x.map(|x| x.m));
            for r in 0..R {
                let y = ys[r].get_unchecked(b);
                let yq = _mm256_loadu_si256(y.qs.as_ptr().cast());
                let ds = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)));
                let ms = _mm256_mul_ps(mw, _mm256_set1_ps(f16_to_f32(y.s)));
                offset[r] = _mm256_add_ps(offset[r], ms);
                for c in 0..4 {
                    let p = dot_u8_i8(w[c], yq);
                    acc[r][c] = _mm256_fmadd_ps(lane(ds, c as i32), p, acc[r][c]);
                }
            }
        }
        let mut out = [[0f32; 4]; R];
        for r in 0..R {
            let mut off = [0f32; 8];
            _mm256_storeu_ps(off.as_mut_ptr(), offset[r]);
            for c in 0..4 {
                out[r][c] = hsum(acc[r][c]) + off[c];
            }
        }
        out
    }

    /// Signed weights × signed activations, the weights given as |q| and
    /// their signs (`maddubs` multiplies unsigned by signed bytes).
    #[inline(always)]
    unsafe fn tile_signed<const R: usize>(
        w: [__m256i; 4],
        dw: __m256,
        ys: [&Q8_0; R],
        acc: &mut [[__m256; 4]; R],
    ) {
        let abs = w.map(|q| _mm256_sign_epi8(q, q));
        for r in 0..R {
            let yq = _mm256_loadu_si256(ys[r].qs.as_ptr().cast());
            let ds = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(ys[r].d)));
            for c in 0..4 {
                // |q| ≤ 128 and |y| ≤ 127: a pair sums to at most 32 512,
                // inside the i16 of `maddubs`.
                let p = dot_u8_i8(abs[c], _mm256_sign_epi8(yq, w[c]));
                acc[r][c] = _mm256_fmadd_ps(lane(ds, c as i32), p, acc[r][c]);
            }
        }
    }

    #[inline(always)]
    unsafe fn sums<const R: usize>(acc: [[__m256; 4]; R]) -> [[f32; 4]; R] {
        acc.map(|row| row.map(|a| hsum(a)))
    }

    /// As [`tile_q4_1`], for `Q5_0` weights.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn tile_q5_0<const R: usize>(
        xs: [&[Q5_0]; 4],
        ys: [&[Q8_0]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [[_mm256_setzero_ps(); 4]; R];
        let high = _mm256_set1_epi8(0xF0u8 as i8);
        for b in 0..nb {
            let x = xs.map(|x| x.get_unchecked(b));
            // q − 16 in −16..16: the nibble with 0xF0 or-ed in where the
            // fifth bit is clear.
            let w = x.map(|x| {
                let clear = _mm256_andnot_si256(bytes_from_bits(u32::from_le_bytes(x.qh)), high);
                _mm256_or_si256(nibbles(&x.qs), clear)
            });
            let dw = scales4(x.map(|x| x.d));
            tile_signed(w, dw, ys.map(|y| y.get_unchecked(b)), &mut acc);
        }
        sums(acc)
    }

    /// As [`tile_q4_1`], for `Q8_0` weights.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn tile_q8_0<const R: usize>(
        xs: [&[Q8_0]; 4],
        ys: [&[Q8_0]; R],
        nb: usize,
    ) -> [[f32; 4]; R] {
        let mut acc = [[_mm256_setzero_ps(); 4]; R];
        for b in 0..nb {
            let x = xs.map(|x| x.get_unchecked(b));
            let w = x.map(|x| _mm256_loadu_si256(x.qs.as_ptr().cast()));
            let dw = scales4(x.map(|x| x.d));
            tile_signed(w, dw, ys.map(|y| y.get_unchecked(b)), &mut acc);
        }
        sums(acc)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
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

    /// The kernels compute what llama.cpp's formula gives: the exact sum of
    /// (dequantized weight × dequantized 8-bit activation), up to f32
    /// rounding of the block sums; and they agree with the scalar code.
    #[test]
    fn kernels_compute_the_quantized_dot_product() {
        let (m, k, n) = (5, 320, 12);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q8_0] {
            let w = Tensor::from_vec(values(1, n * k), (n, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, dtype).unwrap();
            let wq: Vec<f32> = q
                .dequantize(&Device::Cpu)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let data = q.data().unwrap();
            let lhs = values(2, m * k);
            let mut dst = vec![0f32; m * n];
            let mut scalar = vec![0f32; m * n];
            match dtype {
                GgmlDType::Q4_1 => {
                    let blocks: Vec<Q4_1> = read(&data);
                    tiled((m, k, n), &lhs, &blocks, &mut dst).unwrap();
                    scalar_matmul((m, k, n), &lhs, &blocks, &mut scalar);
                }
                GgmlDType::Q5_0 => {
                    let blocks: Vec<Q5_0> = read(&data);
                    tiled((m, k, n), &lhs, &blocks, &mut dst).unwrap();
                    scalar_matmul((m, k, n), &lhs, &blocks, &mut scalar);
                }
                _ => {
                    let blocks: Vec<Q8_0> = read(&data);
                    tiled((m, k, n), &lhs, &blocks, &mut dst).unwrap();
                    scalar_matmul((m, k, n), &lhs, &blocks, &mut scalar);
                }
            }
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
    }

    fn read<T: Clone>(bytes: &[u8]) -> Vec<T> {
        let size = std::mem::size_of::<T>();
        assert_eq!(bytes.len() % size, 0);
        bytes
            .chunks_exact(size)
            // SAFETY: the blocks are plain data of `size` bytes.
            .map(|b| unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
            .collect()
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
        let k = 576;
        let w = Tensor::from_vec(values(3, 4 * k), (4, k), &Device::Cpu).unwrap();
        let lhs = values(4, k);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q8_0] {
            let data = QTensor::quantize(&w, dtype)
                .unwrap()
                .data()
                .unwrap()
                .to_vec();
            let kb = k / QK;
            let four = |alone: &dyn Fn(usize) -> f32, quad: [f32; 4]| {
                for (c, &q) in quad.iter().enumerate() {
                    assert_eq!(alone(c).to_bits(), q.to_bits(), "{dtype:?} column {c}");
                }
            };
            match dtype {
                GgmlDType::Q4_1 => {
                    let b: Vec<Q4_1> = read(&data);
                    let mut y = vec![Q8_1::zeros(); kb];
                    Q8_1::from_float(&lhs, &mut y);
                    let col = |c: usize| &b[c * kb..(c + 1) * kb];
                    let (a, b1, c1, d) = Q4_1::vec_dot_4(k, col(0), col(1), col(2), col(3), &y);
                    four(&|c| Q4_1::vec_dot(k, col(c), &y), [a, b1, c1, d]);
                }
                GgmlDType::Q5_0 => {
                    let b: Vec<Q5_0> = read(&data);
                    let mut y = vec![Q8_0::zeros(); kb];
                    Q8_0::from_float(&lhs, &mut y);
                    let col = |c: usize| &b[c * kb..(c + 1) * kb];
                    let (a, b1, c1, d) = Q5_0::vec_dot_4(k, col(0), col(1), col(2), col(3), &y);
                    four(&|c| Q5_0::vec_dot(k, col(c), &y), [a, b1, c1, d]);
                }
                _ => {
                    let b: Vec<Q8_0> = read(&data);
                    let mut y = vec![Q8_0::zeros(); kb];
                    Q8_0::from_float(&lhs, &mut y);
                    let col = |c: usize| &b[c * kb..(c + 1) * kb];
                    let (a, b1, c1, d) = Q8_0::vec_dot_4(k, col(0), col(1), col(2), col(3), &y);
                    four(&|c| Q8_0::vec_dot(k, col(c), &y), [a, b1, c1, d]);
                }
            }
        }
    }
}
