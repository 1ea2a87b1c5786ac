//! f32 GEMM for the linear layers on CPUs with AVX-512: `y = x W^T + b`.
//!
//! Candle's f32 matmul (the `gemm` crate) packs the transposed weight on
//! every call; a Marian decode step calls each linear layer with a handful of
//! rows, so that packing was about a third of the GEMM time (BENCHMARKS.md).
//! Here the weight is packed once at load time, in blocks of 16 output
//! channels (one 64-byte vector per input position), and a register tile of
//! up to 8 rows × 32 channels accumulates with `vfmadd` over the inputs, the
//! bias added in the epilogue. Column pairs of blocks run in parallel on
//! rayon's pool, each writing its own columns of the row-major output.
//!
//! Sums run over the inputs in order, one accumulator per output element
//! (for a single row: two, even and odd inputs, added at the end), so the
//! result differs from a differently ordered f32 sum only by rounding.
use super::int8::{by_column_pairs, PAIR};

/// Output channels per packed block (one AVX-512 vector of f32).
const BLOCK: usize = 16;
/// Rows of `x` per micro-tile.
const ROWS: usize = 8;

/// An f32 `(n, k)` weight matrix packed for [`F32Matrix::forward_into`], with its bias.
#[derive(Debug, Clone)]
pub struct F32Matrix {
    n: usize,
    k: usize,
    /// `ceil(n/16)` blocks of `k × 16` f32 (channels past `n` are zero).
    packed: Vec<f32>,
    bias: Vec<f32>,
}

impl F32Matrix {
    /// Whether this CPU runs the packed kernel (AVX-512F); elsewhere callers
    /// keep candle's matmul.
    pub fn available() -> bool {
        super::int8::has_avx512()
    }

    /// Packs row-major `w` of shape `(n, k)`.
    pub fn new(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Self {
        assert_eq!(w.len(), n * k, "weight size");
        let blocks = n.div_ceil(BLOCK);
        let mut packed = vec![0f32; blocks * BLOCK * k];
        for (j, row) in w.chunks_exact(k).enumerate() {
            let (blk, c) = (j / BLOCK, j % BLOCK);
            let dst = &mut packed[blk * BLOCK * k..(blk + 1) * BLOCK * k];
            for (kk, &x) in row.iter().enumerate() {
                dst[kk * BLOCK + c] = x;
            }
        }
        Self {
            n,
            k,
            packed,
            bias: bias.map_or_else(|| vec![0.0; n], <[f32]>::to_vec),
        }
    }

    /// Output channels.
    pub fn out_dim(&self) -> usize {
        self.n
    }

    /// `x`: row-major `(m, k)` → `out` (resized to `m * n`), row-major `(m, n)`.
    ///
    /// # Panics
    /// When the CPU lacks AVX-512F (see [`F32Matrix::available`]) or `x` has
    /// the wrong size.
    pub fn forward_into(&self, x: &[f32], m: usize, out: &mut Vec<f32>) {
        self.check(x, m);
        // SAFETY: `run` hands every row's whole run to `emit`.
        unsafe {
            by_column_pairs(
                out,
                m,
                self.n,
                || vec![0f32; ROWS * PAIR],
                |acc, cols, emit| self.run(x, m, acc, cols, emit),
            )
        };
    }

    /// The output projection of a decode step reduced per row as it is made
    /// (max, log-sum-exp and the best `k` tokens, `banned[i]` scoring `-inf`
    /// for row `i`): see [`super::logits`].
    ///
    /// # Panics
    /// Like [`F32Matrix::forward_into`].
    pub(crate) fn forward_top(
        &self,
        x: &[f32],
        m: usize,
        k: usize,
        banned: &[Vec<u32>],
    ) -> Vec<super::logits::RowTop> {
        self.check(x, m);
        super::logits::gemm_top(
            m,
            self.n,
            k,
            banned,
            || vec![0f32; ROWS * PAIR],
            |acc, cols, emit| self.run(x, m, acc, cols, emit),
        )
    }

    fn check(&self, x: &[f32], m: usize) {
        assert!(Self::available(), "the packed f32 GEMM needs AVX-512F");
        assert_eq!(x.len(), m * self.k, "input size");
    }

    /// One run of at most [`PAIR`] output columns for every row of `x`, bias
    /// added, handed row by row to `emit(row, values)`.
    fn run(
        &self,
        x: &[f32],
        m: usize,
        acc: &mut [f32],
        cols: std::ops::Range<usize>,
        emit: &mut dyn FnMut(usize, &[f32]),
    ) {
        let k = self.k;
        let w = &self.packed[cols.start * k..cols.end.next_multiple_of(BLOCK) * k];
        let b = &self.bias[cols.clone()];
        let mut i0 = 0;
        while i0 < m {
            let r = ROWS.min(m - i0);
            tile(x, k, w, acc, i0, r);
            for i in 0..r {
                let a = &mut acc[i * PAIR..i * PAIR + cols.len()];
                for (v, &b) in a.iter_mut().zip(b) {
                    *v += b;
                }
                emit(i0 + i, a);
            }
            i0 += r;
        }
    }

    /// Like [`F32Matrix::forward_into`], returning a new buffer.
    pub fn forward(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = Vec::new();
        self.forward_into(x, m, &mut out);
        out
    }
}

/// `acc[i*32 + c] = sum_k x[i0+i, k] * W[c, k]` for `r ≤ 8` rows and the
/// channels of one or two packed blocks `w`.
fn tile(x: &[f32], k: usize, w: &[f32], acc: &mut [f32], i0: usize, r: usize) {
    let nb = w.len() / (BLOCK * k);
    assert!((1..=2).contains(&nb) && (1..=ROWS).contains(&r));
    assert!(x.len() >= (i0 + r) * k && acc.len() >= r * PAIR);
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! go {
            ($($r:literal)*) => {
                match (r, nb) {
                    $(($r, 2) => avx512_tile::<$r, 2>(x, k, w, acc, i0),
                      ($r, _) => avx512_tile::<$r, 1>(x, k, w, acc, i0),)*
                    _ => unreachable!(),
                }
            };
        }
        // SAFETY: `forward_into` checked AVX-512F; the asserts above bound
        // every read of x and w and every write of acc.
        unsafe {
            if r == 1 {
                if nb == 2 {
                    avx512_row::<2>(x, k, w, acc, i0)
                } else {
                    avx512_row::<1>(x, k, w, acc, i0)
                }
            } else {
                go!(2 3 4 5 6 7 8)
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("F32Matrix::available is false off x86_64");
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_tile<const R: usize, const NB: usize>(
    x: &[f32],
    k: usize,
    w: &[f32],
    acc_out: &mut [f32],
    i0: usize,
) {
    use core::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); NB]; R];
    let xp = x.as_ptr().add(i0 * k);
    let wp = w.as_ptr();
    for kk in 0..k {
        let mut wv = [_mm512_setzero_ps(); NB];
        for (b, v) in wv.iter_mut().enumerate() {
            *v = _mm512_loadu_ps(wp.add(b * BLOCK * k + kk * BLOCK));
        }
        for (r, a) in acc.iter_mut().enumerate() {
            let xv = _mm512_set1_ps(*xp.add(r * k + kk));
            for (ab, v) in a.iter_mut().zip(&wv) {
                *ab = _mm512_fmadd_ps(xv, *v, *ab);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        for (b, v) in a.iter().enumerate() {
            _mm512_storeu_ps(acc_out.as_mut_ptr().add(r * PAIR + b * BLOCK), *v);
        }
    }
}

/// One row: a matrix-vector product bound by the weight stream; even and odd
/// inputs go to separate accumulators so that two FMA chains per block are in
/// flight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_row<const NB: usize>(
    x: &[f32],
    k: usize,
    w: &[f32],
    acc_out: &mut [f32],
    i0: usize,
) {
    use core::arch::x86_64::*;
    let mut even = [_mm512_setzero_ps(); NB];
    let mut odd = [_mm512_setzero_ps(); NB];
    let xp = x.as_ptr().add(i0 * k);
    let wp = w.as_ptr();
    let mut kk = 0;
    while kk + 1 < k {
        let x0 = _mm512_set1_ps(*xp.add(kk));
        let x1 = _mm512_set1_ps(*xp.add(kk + 1));
        for (b, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
            let base = wp.add(b * BLOCK * k + kk * BLOCK);
            *e = _mm512_fmadd_ps(x0, _mm512_loadu_ps(base), *e);
            *o = _mm512_fmadd_ps(x1, _mm512_loadu_ps(base.add(BLOCK)), *o);
        }
        kk += 2;
    }
    if kk < k {
        let x0 = _mm512_set1_ps(*xp.add(kk));
        for (b, e) in even.iter_mut().enumerate() {
            *e = _mm512_fmadd_ps(x0, _mm512_loadu_ps(wp.add(b * BLOCK * k + kk * BLOCK)), *e);
        }
    }
    for (b, (e, o)) in even.iter().zip(&odd).enumerate() {
        _mm512_storeu_ps(acc_out.as_mut_ptr().add(b * BLOCK), _mm512_add_ps(*e, *o));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marian::int8::tests::lcg;

    #[test]
    fn packed_gemm_matches_f64_reference_for_every_tile_shape() {
        if !F32Matrix::available() {
            eprintln!("no AVX-512F on this CPU: the packed f32 GEMM is not used here");
            return;
        }
        // n = 37: a full pair, then a single partial block; k odd for the row
        // kernel's tail; m = 1..=19 covers every tile height and remainder.
        let (n, k) = (37, 67);
        let mut seed = 7;
        let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
        let q = F32Matrix::new(&w, n, k, Some(&b));
        for m in 1..=19 {
            let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let y = q.forward(&x, m);
            assert_eq!(y.len(), m * n);
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|t| x[i * k + t] as f64 * w[j * k + t] as f64)
                        .sum::<f64>()
                        + b[j] as f64;
                    let err = (exact - y[i * n + j] as f64).abs();
                    assert!(err < 1e-5, "m={m} ({i},{j}): {} vs {exact}", y[i * n + j]);
                }
            }
        }
    }
}
