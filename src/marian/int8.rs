//! Int8 GEMM for the linear layers on CPU: `y = x W^T + b`.
//!
//! Weights are quantized once, symmetrically per output channel, to int8 and
//! packed in blocks of 16 output channels × 4 inputs (the AVX-512 VNNI
//! layout: one 64-byte vector holds 4 consecutive inputs of 16 channels).
//! Activations are quantized per row at run time to `u8` with a +128 offset,
//! whose contribution is removed with precomputed column sums. On CPUs with
//! AVX-512 VNNI one `vpdpbusd` does 64 multiply-adds; elsewhere a portable
//! loop computes the same integers.
use rayon::prelude::*;

/// Output channels per packed block.
const BLOCK: usize = 16;
/// Rows of `x` per micro-tile.
const ROWS: usize = 8;
/// Output channels per parallel work item: two packed blocks, so that each
/// broadcast activation feeds two `vpdpbusd` (16 accumulators per tile); the
/// f32 GEMM's work items are as wide.
pub(crate) const PAIR: usize = 2 * BLOCK;

/// A quantized `(n, k)` weight matrix with its bias.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    n: usize,
    k: usize,
    /// `ceil(n/16)` blocks of `(k/4) × 16 × 4` int8.
    packed: Vec<i8>,
    /// Per output channel dequantization scale.
    scale: Vec<f32>,
    /// `128 * sum_k W[j, k]`: the activation offset's contribution.
    offset: Vec<i32>,
    bias: Vec<f32>,
}

impl Int8Matrix {
    /// Quantizes row-major `w` of shape `(n, k)`; `k` must be a multiple of 4.
    pub fn new(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Self {
        assert_eq!(w.len(), n * k, "weight size");
        assert_eq!(k % 4, 0, "int8 GEMM needs an input size multiple of 4");
        let blocks = n.div_ceil(BLOCK);
        let mut packed = vec![0i8; blocks * BLOCK * k];
        let mut scale = vec![1f32; n];
        let mut offset = vec![0i32; n];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let amax = row.iter().fold(0f32, |a, &x| a.max(x.abs()));
            let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            scale[j] = s;
            let (blk, c) = (j / BLOCK, j % BLOCK);
            let mut sum = 0i32;
            for (kk, &x) in row.iter().enumerate() {
                let q = (x / s).round().clamp(-127.0, 127.0) as i8;
                sum += q as i32;
                packed[blk * BLOCK * k + (kk / 4) * BLOCK * 4 + c * 4 + kk % 4] = q;
            }
            offset[j] = 128 * sum;
        }
        Self {
            n,
            k,
            packed,
            scale,
            offset,
            bias: bias.map_or_else(|| vec![0.0; n], <[f32]>::to_vec),
        }
    }

    /// Output channels.
    pub fn out_dim(&self) -> usize {
        self.n
    }

    /// Input channels.
    pub fn in_dim(&self) -> usize {
        self.k
    }

    /// `x`: row-major `(m, k)` → row-major `(m, n)`.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = Vec::new();
        self.forward_into(x, m, &mut out);
        out
    }

    /// Like [`Int8Matrix::forward`], writing into `out` (resized to `m * n`), so
    /// that a caller looping over decode steps reuses one resident buffer.
    pub fn forward_into(&self, x: &[f32], m: usize, out: &mut Vec<f32>) {
        let (xq, xs) = self.quantize_rows(x, m);
        // SAFETY: `run` hands every row's whole run to `emit`.
        unsafe {
            by_column_pairs(
                out,
                m,
                self.n,
                || vec![0i32; PAIR * m],
                |acc, cols, emit| self.run(&xq, &xs, acc, cols, emit),
            )
        };
    }

    /// The output projection of a decode step reduced per row as it is made
    /// (max, log-sum-exp and the best `k` tokens, `banned[i]` scoring `-inf`
    /// for row `i`): see [`super::logits`].
    pub(crate) fn forward_top(
        &self,
        x: &[f32],
        m: usize,
        k: usize,
        banned: &[Vec<u32>],
    ) -> Vec<super::logits::RowTop> {
        let (xq, xs) = self.quantize_rows(x, m);
        super::logits::gemm_top(
            m,
            self.n,
            k,
            banned,
            || vec![0i32; PAIR * m],
            |acc, cols, emit| self.run(&xq, &xs, acc, cols, emit),
        )
    }

    /// Per-row dynamic quantization of `x` `(m, k)` to `u8` (int8 + 128) and
    /// the rows' scales.
    fn quantize_rows(&self, x: &[f32], m: usize) -> (Vec<u8>, Vec<f32>) {
        let k = self.k;
        assert_eq!(x.len(), m * k, "input size");
        let mut xq = vec![0u8; m * k];
        let mut xs = vec![0f32; m];
        let avx512 = has_avx512();
        xq.par_chunks_mut(k)
            .zip(xs.par_iter_mut())
            .zip(x.par_chunks(k))
            .for_each(|((q, s), row)| {
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: the CPU has AVX-512F.
                    *s = unsafe { quantize_row_avx512(row, q) };
                    return;
                }
                let _ = avx512;
                *s = quantize_row(row, q);
            });
        (xq, xs)
    }

    /// One run of at most [`PAIR`] output columns for every row of the
    /// quantized input, dequantized with the bias added, handed row by row to
    /// `emit(row, values)`.
    fn run(
        &self,
        xq: &[u8],
        xs: &[f32],
        acc: &mut [i32],
        cols: std::ops::Range<usize>,
        emit: &mut dyn FnMut(usize, &[f32]),
    ) {
        let (m, k) = (xs.len(), self.k);
        let w = &self.packed[cols.start * k..cols.end.next_multiple_of(BLOCK) * k];
        pair_kernel(xq, m, k, w, acc, has_vnni());
        let (sw, off, b) = (
            &self.scale[cols.clone()],
            &self.offset[cols.clone()],
            &self.bias[cols.clone()],
        );
        let mut row = [0f32; PAIR];
        for (i, &sx) in xs.iter().enumerate() {
            let a = &acc[i * PAIR..i * PAIR + cols.len()];
            for ((((v, &a), &o), &w), &b) in row.iter_mut().zip(a).zip(off).zip(sw).zip(b) {
                *v = (a - o) as f32 * (sx * w) + b;
            }
            emit(i, &row[..cols.len()]);
        }
    }
}

/// Runs `pair(scratch, columns, emit)` for the runs of `PAIR` columns of a
/// row-major `(m, n)` result in parallel (the host GEMMs' work items: int8
/// here, f32 in [`super::f32gemm`]); each run hands a row's values to
/// `emit(row, values)`, which writes them into `out` (resized to `m * n`).
///
/// # Safety
/// `pair` must call `emit` for every row `0..m` (`emit` checks the row and the
/// run's length; `out` is uninitialized where a row was left out).
pub(crate) unsafe fn by_column_pairs<S>(
    out: &mut Vec<f32>,
    m: usize,
    n: usize,
    init: impl Fn() -> S + Sync + Send,
    pair: impl Fn(&mut S, std::ops::Range<usize>, &mut dyn FnMut(usize, &[f32])) + Sync + Send,
) {
    out.clear();
    out.reserve(m * n);
    let dst = SharedOut(out.as_mut_ptr());
    (0..n.div_ceil(PAIR))
        .into_par_iter()
        .for_each_init(init, |scratch, p| {
            let j0 = p * PAIR;
            let cols = PAIR.min(n - j0);
            pair(scratch, j0..j0 + cols, &mut |i, v| {
                assert!(i < m && v.len() == cols, "column run out of range");
                // SAFETY: i < m and j0 + cols <= n, so the range is inside
                // `out`'s capacity; run p alone writes these columns, and
                // `out` outlives the parallel loop.
                unsafe { dst.write_run(i * n + j0, v) };
            });
        });
    // SAFETY: by the caller's contract every row of every run was written.
    out.set_len(m * n);
}

/// Output pointer shared by the column-run workers (disjoint columns).
struct SharedOut(*mut f32);

// SAFETY: workers write disjoint elements (see `by_column_pairs`).
unsafe impl Sync for SharedOut {}
unsafe impl Send for SharedOut {}

impl SharedOut {
    /// Copies `v` to elements `idx..idx + v.len()`.
    ///
    /// # Safety
    /// The range must be in bounds and not written concurrently by another worker.
    unsafe fn write_run(&self, idx: usize, v: &[f32]) {
        std::ptr::copy_nonoverlapping(v.as_ptr(), self.0.add(idx), v.len());
    }
}

/// One activation row to `u8` (int8 + 128); returns its scale.
#[inline(always)]
fn quantize_row(row: &[f32], q: &mut [u8]) -> f32 {
    let mut m = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..16 {
            m[l] = m[l].max(c[l].abs());
        }
    }
    // max is order-free, so the lanes give the sequential fold's value.
    let amax = tail.iter().chain(&m).fold(0f32, |a, &v| a.max(v.abs()));
    let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
    let inv = 1.0 / s;
    for (d, &v) in q.iter_mut().zip(row) {
        // Round half to even via the 1.5 * 2^23 trick (|v * inv| <= 127):
        // the sum's low mantissa byte is the rounded integer n mod 256, and
        // flipping its top bit gives n + 128.
        *d = ((v * inv + 12_582_912.0).to_bits() as u8) ^ 0x80;
    }
    s
}

/// [`quantize_row`] on 16-wide vectors (the same operations, the same bytes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quantize_row_avx512(row: &[f32], q: &mut [u8]) -> f32 {
    quantize_row(row, q)
}

/// Whether the CPU has AVX-512F (the packed f32 GEMM, and the AVX-512 builds
/// of the row passes here and in [`super::kv`] and [`super::logits`]).
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `acc[i*32 + c] = sum_k xq[i, k] * W[c, k]` for the channels of one or two
/// packed blocks `w`.
fn pair_kernel(xq: &[u8], m: usize, k: usize, w: &[i8], acc: &mut [i32], vnni: bool) {
    let nblk = w.len() / (BLOCK * k);
    debug_assert!((1..=2).contains(&nblk) && acc.len() >= m * PAIR);
    #[cfg(target_arch = "x86_64")]
    if vnni {
        let full = m / ROWS * ROWS;
        // SAFETY (all calls): the CPU has the features (checked by `has_vnni`);
        // a tile reads rows i0..i0+R of xq (< m) and `nblk` blocks of w, and
        // writes rows i0..i0+R of acc, all in bounds.
        unsafe {
            if nblk == 2 {
                for i0 in (0..full).step_by(ROWS) {
                    vnni_tile::<ROWS, 2>(xq, k, w, acc, i0);
                }
                for i0 in full..m {
                    vnni_tile::<1, 2>(xq, k, w, acc, i0);
                }
            } else {
                for i0 in (0..full).step_by(ROWS) {
                    vnni_tile::<ROWS, 1>(xq, k, w, acc, i0);
                }
                for i0 in full..m {
                    vnni_tile::<1, 1>(xq, k, w, acc, i0);
                }
            }
        }
        return;
    }
    let _ = vnni;
    portable_kernel(xq, m, k, w, acc);
}

fn portable_kernel(xq: &[u8], m: usize, k: usize, w: &[i8], acc: &mut [i32]) {
    let nblk = w.len() / (BLOCK * k);
    for i in 0..m {
        let x = &xq[i * k..(i + 1) * k];
        for blk in 0..nblk {
            let wb = &w[blk * BLOCK * k..(blk + 1) * BLOCK * k];
            for c in 0..BLOCK {
                let mut s = 0i32;
                for k4 in 0..k / 4 {
                    for b in 0..4 {
                        s += x[k4 * 4 + b] as i32 * wb[k4 * BLOCK * 4 + c * 4 + b] as i32;
                    }
                }
                acc[i * PAIR + blk * BLOCK + c] = s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni_tile<const R: usize, const NB: usize>(
    xq: &[u8],
    k: usize,
    w: &[i8],
    acc_out: &mut [i32],
    i0: usize,
) {
    use core::arch::x86_64::*;
    debug_assert!(xq.len() >= (i0 + R) * k && w.len() >= NB * k * BLOCK);
    debug_assert!(acc_out.len() >= (i0 + R) * PAIR);
    let mut acc = [[_mm512_setzero_si512(); NB]; R];
    let x = xq.as_ptr().add(i0 * k);
    let wp = w.as_ptr();
    for k4 in 0..k / 4 {
        let mut wv = [_mm512_setzero_si512(); NB];
        for (b, v) in wv.iter_mut().enumerate() {
            *v = _mm512_loadu_si512(wp.add(b * BLOCK * k + k4 * BLOCK * 4) as *const __m512i);
        }
        for (r, a) in acc.iter_mut().enumerate() {
            let xv =
                _mm512_set1_epi32(std::ptr::read_unaligned(x.add(r * k + k4 * 4) as *const i32));
            for (ab, v) in a.iter_mut().zip(&wv) {
                *ab = _mm512_dpbusd_epi32(*ab, xv, *v);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        for (b, v) in a.iter().enumerate() {
            _mm512_storeu_si512(
                acc_out.as_mut_ptr().add((i0 + r) * PAIR + b * BLOCK) as *mut __m512i,
                *v,
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic values in [-0.5, 0.5) for the GEMM tests.
    pub(crate) fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    #[test]
    fn int8_gemm_is_close_to_f32_and_kernels_agree() {
        let (m, n, k) = (11, 37, 64);
        let mut seed = 1;
        let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
        let q = Int8Matrix::new(&w, n, k, Some(&b));
        let y = q.forward(&x, m);
        let mut max_err = 0f32;
        for i in 0..m {
            for j in 0..n {
                let exact: f32 = (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum::<f32>() + b[j];
                max_err = max_err.max((exact - y[i * n + j]).abs());
            }
        }
        assert!(max_err < 0.02, "int8 GEMM error {max_err}");
        // The SIMD kernel (when present) and the portable one give the same
        // integers, for a pair of blocks and for a single trailing block.
        let xq: Vec<u8> = (0..m * k).map(|i| (i * 37 % 256) as u8).collect();
        for w in [&q.packed[..2 * BLOCK * k], &q.packed[2 * BLOCK * k..]] {
            let mut a = vec![0i32; PAIR * m];
            let mut p = vec![0i32; PAIR * m];
            pair_kernel(&xq, m, k, w, &mut a, has_vnni());
            portable_kernel(&xq, m, k, w, &mut p);
            assert_eq!(a, p);
        }
    }

    #[test]
    fn activation_bytes_are_the_rounded_integers_plus_128() {
        let mut seed = 7;
        // Random rows, a row with its max at both signs, exact halves and zeros.
        let mut rows: Vec<Vec<f32>> = (0..5)
            .map(|_| (0..53).map(|_| lcg(&mut seed) * 9.0).collect())
            .collect();
        rows.push(vec![-127.0, 127.0, 0.5, -0.5, 1.5, -2.5, 0.0, -0.0, 126.5]);
        rows.push(vec![0.0; 20]);
        for row in &rows {
            let mut q = vec![0u8; row.len()];
            let s = quantize_row(row, &mut q);
            let amax = row.iter().fold(0f32, |a, &v| a.max(v.abs()));
            assert_eq!(s, if amax > 0.0 { amax / 127.0 } else { 1.0 });
            let inv = 1.0 / s;
            for (&b, &v) in q.iter().zip(row) {
                let n = (v * inv).round_ties_even() as i32;
                assert!((-127..=127).contains(&n));
                assert_eq!(b as i32, n + 128, "{v} at scale {s}");
            }
            #[cfg(target_arch = "x86_64")]
            if has_avx512() {
                let mut q2 = vec![0u8; row.len()];
                // SAFETY: the CPU has AVX-512F.
                assert_eq!(unsafe { quantize_row_avx512(row, &mut q2) }, s);
                assert_eq!(q2, q);
            }
        }
    }
}
