//! A decode step's logits reduced where the output projection makes them.
//!
//! Greedy and beam search need three numbers per row of the vocabulary-wide
//! logits: the row's max and `ln Σ exp(x - max)` (its log-softmax) and its
//! best few tokens once the logits processors have banned some. Written out,
//! those logits are rows × ~60k f32 per step (16 MB for 16 sentences × 4
//! beams of opus-mt-tc-big), stored and read back three times. Here the
//! vocabulary is cut into fixed chunks of [`CHUNK`] columns: the GEMM writes
//! one chunk's results for all rows into a cache-resident buffer, each row's
//! part is reduced at once to a [`Part`], and the parts merge per row in
//! vocabulary order.
//!
//! The chunk boundaries depend only on the vocabulary size, so a row's
//! numbers are the same in any batch, on any thread count, and whether its
//! logits came from a host GEMM or from a materialized matrix
//! ([`reduce_logits`], the path of other devices).
use rayon::prelude::*;

use super::int8::PAIR;

/// Vocabulary columns per chunk (a multiple of the GEMMs' column runs).
pub(crate) const CHUNK: usize = 1024;

const NEG_INF: f32 = f32::NEG_INFINITY;

/// What a decode step needs of one row of logits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowTop {
    /// The row's largest logit (banned tokens included).
    pub max: f32,
    /// `ln Σ exp(x - max)` over the whole row, banned tokens included: the
    /// log-softmax is taken before the processors, as transformers does.
    pub log_sum: f32,
    /// The best `k` `(logit, token)` pairs, best first, ties by lower token;
    /// a banned token counts as `-inf`.
    pub best: Vec<(f32, usize)>,
}

/// One row's reduction over one chunk.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    max: f32,
    /// `Σ exp(x - max)` over the chunk (0 when `max` is `-inf`).
    sum: f32,
    best: Vec<(f32, usize)>,
}

/// `exp(x)` for `x <= 0` as a branch-free polynomial the compiler vectorizes
/// (relative error ~1e-7, like SIMD `expf` implementations).
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    let x = x.max(-87.0);
    // x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite split of ln2); round to
    // nearest with the 1.5 * 2^23 trick.
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = (x - n * 0.693_359_4) - n * -2.121_944_4e-4;
    // e^r, Cephes' expf polynomial.
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    f32::from_bits(((n as i32 + 127) << 23) as u32) * e
}

/// Lanes of the vectorized row passes.
const L: usize = 16;

/// `(max, Σ exp(x - max))` of a row, in 16 lanes.
#[inline(always)]
fn max_and_sum(row: &[f32]) -> (f32, f32) {
    let mut m = [NEG_INF; L];
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
        }
    }
    let max = tail.iter().chain(m.iter()).copied().fold(NEG_INF, f32::max);
    if max == NEG_INF {
        return (max, 0.0);
    }
    let mut acc = [0f32; L];
    for c in row.chunks_exact(L) {
        for l in 0..L {
            acc[l] += exp_nonpositive(c[l] - max);
        }
    }
    let sum = acc.iter().sum::<f32>() + tail.iter().map(|&x| exp_nonpositive(x - max)).sum::<f32>();
    (max, sum)
}

/// Whether `(a, i)` ranks before `(b, j)`: higher score, ties by lower index.
#[inline]
fn better(a: &(f32, usize), b: &(f32, usize)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Inserts `c` into `best` (sorted best first, at most `k` long).
#[inline]
fn insert(best: &mut Vec<(f32, usize)>, c: (f32, usize), k: usize) {
    if best.len() == k && !better(&c, &best[k - 1]) {
        return;
    }
    let pos = best
        .iter()
        .position(|b| better(&c, b))
        .unwrap_or(best.len());
    best.insert(pos, c);
    best.truncate(k);
}

/// The `k` best `(score, index)` pairs, best first, ties by lower index.
pub(crate) fn top_k(scores: impl Iterator<Item = (f32, usize)>, k: usize) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    for c in scores {
        insert(&mut best, c, k);
    }
    best
}

/// The best `k` of `row` (tokens `col0..`), a token in `banned` (sorted)
/// scoring `-inf`. Sixteen values at a time are compared with the current
/// k-th best, so most of the row is one vector compare.
#[inline(always)]
fn top_k_masked(row: &[f32], col0: usize, k: usize, banned: &[u32]) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    let is_banned = |t: usize| banned.binary_search(&(t as u32)).is_ok();
    let consider = |best: &mut Vec<(f32, usize)>, x: f32, t: usize| {
        // Scanning in token order, an equal score never beats the k-th best.
        if best.len() == k && x.partial_cmp(&best[k - 1].0) != Some(std::cmp::Ordering::Greater) {
            return;
        }
        let x = if is_banned(t) { NEG_INF } else { x };
        insert(best, (x, t), k);
    };
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    for (c, vals) in chunks.enumerate() {
        if best.len() == k {
            let thr = best[k - 1].0;
            if !vals.iter().fold(false, |a, &x| a | (x > thr)) {
                continue;
            }
        }
        for (l, &x) in vals.iter().enumerate() {
            consider(&mut best, x, col0 + c * L + l);
        }
    }
    let t0 = col0 + row.len() - tail.len();
    for (l, &x) in tail.iter().enumerate() {
        consider(&mut best, x, t0 + l);
    }
    best
}

/// Reduces the rows `row(0..m)` of one chunk starting at token `col0`;
/// `banned[i]` are row `i`'s banned tokens, sorted.
///
/// With AVX-512 the same lane-wise code runs on 16-wide vectors (no fused
/// multiply-adds are formed, so the numbers are identical to the portable
/// build's).
pub(crate) fn reduce_chunk<'a>(
    row: impl Fn(usize) -> &'a [f32],
    m: usize,
    col0: usize,
    k: usize,
    banned: &[Vec<u32>],
) -> Vec<Part> {
    #[cfg(target_arch = "x86_64")]
    if super::int8::has_avx512() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { reduce_chunk_avx512(row, m, col0, k, banned) };
    }
    reduce_chunk_portable(row, m, col0, k, banned)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn reduce_chunk_avx512<'a>(
    row: impl Fn(usize) -> &'a [f32],
    m: usize,
    col0: usize,
    k: usize,
    banned: &[Vec<u32>],
) -> Vec<Part> {
    reduce_chunk_portable(row, m, col0, k, banned)
}

#[inline(always)]
fn reduce_chunk_portable<'a>(
    row: impl Fn(usize) -> &'a [f32],
    m: usize,
    col0: usize,
    k: usize,
    banned: &[Vec<u32>],
) -> Vec<Part> {
    // A plain loop: a closure here would be compiled apart from the
    // AVX-512 caller, without its features.
    let mut parts = Vec::with_capacity(m);
    for (i, banned) in banned.iter().enumerate().take(m) {
        let r = row(i);
        let (max, sum) = max_and_sum(r);
        let best = top_k_masked(r, col0, k, banned);
        parts.push(Part { max, sum, best });
    }
    parts
}

/// Merges the chunks' parts (`parts[chunk][row]`, in vocabulary order) into
/// one [`RowTop`] per row.
pub(crate) fn merge(parts: Vec<Vec<Part>>, m: usize, k: usize) -> Vec<RowTop> {
    (0..m)
        .map(|i| {
            let max = parts.iter().map(|p| p[i].max).fold(NEG_INF, f32::max);
            let log_sum = if max == NEG_INF {
                0.0
            } else {
                parts
                    .iter()
                    .map(|p| &p[i])
                    .filter(|p| p.max != NEG_INF)
                    .map(|p| p.sum * exp_nonpositive(p.max - max))
                    .sum::<f32>()
                    .ln()
            };
            let best = top_k(parts.iter().flat_map(|p| p[i].best.iter().copied()), k);
            RowTop { max, log_sum, best }
        })
        .collect()
}

/// The reduction of materialized row-major `(m, n)` logits, chunk by chunk
/// exactly as the fused path does it.
pub(crate) fn reduce_logits(
    logits: &[f32],
    m: usize,
    n: usize,
    k: usize,
    banned: &[Vec<u32>],
) -> Vec<RowTop> {
    assert_eq!(logits.len(), m * n, "logits size");
    assert_eq!(banned.len(), m, "one banned list per row");
    let parts: Vec<Vec<Part>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (c0, w) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
            reduce_chunk(|i| &logits[i * n + c0..i * n + c0 + w], m, c0, k, banned)
        })
        .collect();
    merge(parts, m, k)
}

/// Runs a host GEMM chunk by chunk and reduces each chunk as it is made:
/// `pair(scratch, columns, emit)` computes one run of at most [`PAIR`]
/// columns for every row and hands row `i`'s values to `emit(i, values)`
/// (the contract of [`super::int8::by_column_pairs`]); `n` is the output
/// width.
pub(crate) fn gemm_top<S>(
    m: usize,
    n: usize,
    k: usize,
    banned: &[Vec<u32>],
    init: impl Fn() -> S + Sync + Send,
    pair: impl Fn(&mut S, std::ops::Range<usize>, &mut dyn FnMut(usize, &[f32])) + Sync + Send,
) -> Vec<RowTop> {
    const _: () = assert!(CHUNK.is_multiple_of(PAIR));
    assert_eq!(banned.len(), m, "one banned list per row");
    let parts: Vec<Vec<Part>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || (init(), Vec::<f32>::new()),
            |(scratch, buf), c| {
                let (c0, w) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
                // Every element is written below (the pair contract), so the
                // buffer is only resized, never cleared.
                buf.resize(m * w, 0.0);
                for j0 in (c0..c0 + w).step_by(PAIR) {
                    let j1 = (j0 + PAIR).min(c0 + w);
                    pair(scratch, j0..j1, &mut |i, v| {
                        assert!(i < m && v.len() == j1 - j0, "column run out of range");
                        buf[i * w + j0 - c0..i * w + j1 - c0].copy_from_slice(v);
                    });
                }
                let buf: &[f32] = buf;
                reduce_chunk(|i| &buf[i * w..(i + 1) * w], m, c0, k, banned)
            },
        )
        .collect();
    merge(parts, m, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random logits with ties and `-inf`s.
    fn logits(m: usize, n: usize) -> Vec<f32> {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        (0..m * n)
            .map(|i| {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                match i % 97 {
                    0 => NEG_INF,
                    1 => 3.0,
                    _ => ((s >> 40) as f32 / (1u64 << 24) as f32) * 20.0 - 12.0,
                }
            })
            .collect()
    }

    #[test]
    fn chunked_reduction_matches_whole_row_reference() {
        let (m, n, k) = (5, 3 * CHUNK + 77, 8);
        let x = logits(m, n);
        let banned: Vec<Vec<u32>> = (0..m as u32).map(|i| vec![1, 98 + i, 500]).collect();
        let tops = reduce_logits(&x, m, n, k, &banned);
        for (i, t) in tops.iter().enumerate() {
            let row = &x[i * n..(i + 1) * n];
            let mx = row
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, |a, v| a.max(v as f64));
            let ls = row.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln();
            assert_eq!(t.max as f64, mx);
            assert!(
                (t.log_sum as f64 - ls).abs() < 1e-5,
                "{} vs {ls}",
                t.log_sum
            );
            let masked = row.iter().enumerate().map(|(j, &v)| {
                let v = if banned[i].contains(&(j as u32)) {
                    NEG_INF
                } else {
                    v
                };
                (v, j)
            });
            assert_eq!(t.best, top_k(masked, k), "row {i}");
        }
        for x in [0.0f32, -1e-3, -0.5, -1.0, -10.0, -50.0, -86.0] {
            let rel = (exp_nonpositive(x) as f64 / (x as f64).exp() - 1.0).abs();
            assert!(rel < 1e-6, "exp({x}) rel err {rel}");
        }
    }

    #[test]
    fn fused_gemm_reduction_equals_materialized() {
        // A "GEMM" whose value at (i, j) is the logits matrix itself: the
        // fused driver must reduce exactly like the materialized path.
        let (m, n, k) = (3, 2 * CHUNK + 40, 4);
        let x = logits(m, n);
        let banned = vec![vec![], vec![7], vec![0, 1, 2]];
        let fused = gemm_top(
            m,
            n,
            k,
            &banned,
            || (),
            |_, cols, emit| {
                for i in 0..m {
                    emit(i, &x[i * n + cols.start..i * n + cols.end]);
                }
            },
        );
        assert_eq!(fused, reduce_logits(&x, m, n, k, &banned));
    }

    #[test]
    fn all_banned_or_negative_infinity_rows_rank_by_token() {
        let row = vec![NEG_INF; 40];
        let t = reduce_logits(&row, 1, 40, 3, &[vec![]]);
        assert_eq!(t[0].max, NEG_INF);
        assert_eq!(t[0].log_sum, 0.0);
        assert_eq!(t[0].best, vec![(NEG_INF, 0), (NEG_INF, 1), (NEG_INF, 2)]);
        let row: Vec<f32> = (0..40).map(|j| j as f32).collect();
        let all: Vec<u32> = (0..40).collect();
        let t = reduce_logits(&row, 1, 40, 2, &[all]);
        assert_eq!(t[0].max, 39.0);
        assert_eq!(t[0].best, vec![(NEG_INF, 0), (NEG_INF, 1)]);
    }

    #[test]
    fn top_k_orders_by_score_then_index() {
        let v = [(1.0, 0), (3.0, 1), (3.0, 2), (2.0, 3)];
        assert_eq!(
            top_k(v.iter().copied(), 3),
            vec![(3.0, 1), (3.0, 2), (2.0, 3)]
        );
    }
}
