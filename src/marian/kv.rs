//! Decoder self-attention KV cache on host memory, with its attention kernel.
//!
//! Keys and values are stored position by position: appending a step writes
//! one block of `rows × heads × head_dim` floats, and each row keeps a table
//! of which slot of each position's block holds its history. A beam reorder
//! (a row takes over its parent's history) or a row leaving the batch copies
//! those tables, `len` integers per row, never the floats: reordering the
//! floats themselves moved `rows × len × d_model` floats per layer and step,
//! about a tenth of a beam step on opus-mt-tc-big. Attention over the cache
//! (causal, any number of new positions) runs in plain Rust over rows in
//! parallel: at decode time the per-head products are far too small for a
//! GEMM call to pay off.
use rayon::prelude::*;

/// Lanes of the vectorizable dot product.
const LANES: usize = 16;

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// One decoder layer's self-attention keys and values.
#[derive(Debug, Clone)]
pub(crate) struct KvCache {
    /// Position blocks: position `p`'s block starts at `off[p]` and holds
    /// one `heads × hd` slot per row the batch had when `p` was appended.
    k: Vec<f32>,
    v: Vec<f32>,
    /// Start of each filled position's block in `k` / `v`.
    off: Vec<usize>,
    /// `slot[r * cap + p]`: the slot of position `p`'s block that holds row
    /// `r`'s history.
    slot: Vec<u32>,
    /// End of the newest block.
    end: usize,
    rows: usize,
    heads: usize,
    cap: usize,
    hd: usize,
    len: usize,
}

impl KvCache {
    pub fn new(rows: usize, heads: usize, cap: usize, hd: usize) -> Self {
        Self {
            k: vec![0.0; rows * heads * cap * hd],
            v: vec![0.0; rows * heads * cap * hd],
            off: Vec::with_capacity(cap),
            slot: vec![0; rows * cap],
            end: 0,
            rows,
            heads,
            cap,
            hd,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Index in `k` / `v` of row `row`'s head `head` at position `pos`.
    fn at(&self, row: usize, head: usize, pos: usize) -> usize {
        self.off[pos] + (self.slot[row * self.cap + pos] as usize * self.heads + head) * self.hd
    }

    /// Appends `t` positions; `k`, `v` are `(rows * t, heads * hd)` row-major.
    pub fn append(&mut self, k: &[f32], v: &[f32], t: usize) -> Result<(), String> {
        if self.len + t > self.cap {
            return Err(format!("decoder KV cache full ({} positions)", self.cap));
        }
        let d = self.heads * self.hd;
        assert!(
            k.len() == self.rows * t * d && v.len() == k.len(),
            "new keys/values size"
        );
        for i in 0..t {
            let pos = self.len + i;
            let base = self.end;
            // Rows only ever leave, so the blocks fit the preallocation.
            debug_assert!(base + self.rows * d <= self.k.len());
            self.off.push(base);
            self.end = base + self.rows * d;
            for r in 0..self.rows {
                let src = (r * t + i) * d;
                let dst = base + r * d;
                self.k[dst..dst + d].copy_from_slice(&k[src..src + d]);
                self.v[dst..dst + d].copy_from_slice(&v[src..src + d]);
                self.slot[r * self.cap + pos] = r as u32;
            }
        }
        self.len += t;
        Ok(())
    }

    /// Causal attention of the `t` newest positions: `q` is `(rows * t, heads * hd)`
    /// (already scaled); returns the same shape.
    pub fn attend(&self, q: &[f32], t: usize) -> Vec<f32> {
        let d = self.heads * self.hd;
        let mut out = vec![0f32; self.rows * t * d];
        #[cfg(target_arch = "x86_64")]
        let avx512 = super::int8::has_avx512();
        out.par_chunks_mut(t * d)
            .enumerate()
            .for_each(|(r, out_r)| {
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { self.attend_row_avx512(r, q, t, out_r) };
                }
                self.attend_row(r, q, t, out_r)
            });
        out
    }

    /// [`KvCache::attend_row`] compiled for 16-wide vectors; the same
    /// lane-wise sums (no fused multiply-adds are formed), so the same numbers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn attend_row_avx512(&self, r: usize, q: &[f32], t: usize, out_r: &mut [f32]) {
        self.attend_row(r, q, t, out_r)
    }

    /// Row `r`'s `t` new positions (`out_r`: `(t, heads * hd)`, zeroed).
    #[inline(always)]
    fn attend_row(&self, r: usize, q: &[f32], t: usize, out_r: &mut [f32]) {
        let (heads, hd, len) = (self.heads, self.hd, self.len);
        let d = heads * hd;
        let mut p = vec![0f32; len];
        for i in 0..t {
            // Position len - t + i sees positions 0..=len - t + i.
            let visible = len - t + i + 1;
            for h in 0..heads {
                let qv = &q[(r * t + i) * d + h * hd..][..hd];
                softmax_weighted(
                    visible,
                    |j| dot(qv, &self.k[self.at(r, h, j)..][..hd]),
                    |j| &self.v[self.at(r, h, j)..][..hd],
                    &mut p,
                    &mut out_r[i * d + h * hd..][..hd],
                );
            }
        }
    }

    /// Keeps only the rows `keep` (strictly increasing), in that order: row
    /// `i` becomes old row `keep[i]`. Moves the rows' slot tables forward in
    /// place (`keep[i] >= i`, so no source is overwritten before it is read).
    pub fn retain(&mut self, keep: &[usize]) {
        assert!(
            keep.windows(2).all(|w| w[0] < w[1]) && keep.last().is_none_or(|&r| r < self.rows),
            "rows to keep must be increasing and below {}",
            self.rows
        );
        let (cap, len) = (self.cap, self.len);
        for (i, &j) in keep.iter().enumerate() {
            if i != j {
                self.slot.copy_within(j * cap..j * cap + len, i * cap);
            }
        }
        self.rows = keep.len();
    }

    /// Row `i` becomes old row `idx[i]` (a beam takes over its parent's
    /// history): copies slot tables only.
    pub fn reorder(&mut self, idx: &[u32]) {
        assert_eq!(idx.len(), self.rows, "one parent per row");
        if self.len == 0 || idx.iter().enumerate().all(|(i, &j)| i == j as usize) {
            return;
        }
        let (cap, len) = (self.cap, self.len);
        let old: Vec<u32> = (0..self.rows)
            .flat_map(|r| self.slot[r * cap..r * cap + len].iter().copied())
            .collect();
        for (i, &j) in idx.iter().enumerate() {
            let j = j as usize;
            self.slot[i * cap..i * cap + len].copy_from_slice(&old[j * len..(j + 1) * len]);
        }
    }
}

/// The encoder states one decoder step attends to: keys and values
/// `(sentences, heads, s, hd)` row-major and the additive key mask
/// `(sentences, s)` (0 for tokens, `-inf` for padding).
pub(crate) struct CrossKv<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub mask: &'a [f32],
    pub heads: usize,
    pub s: usize,
    pub hd: usize,
}

impl CrossKv<'_> {
    /// Cross-attention of `q` `(rows, heads * hd)` (already scaled), whose
    /// row `r` belongs to sentence `r / per`: `softmax(q k^T + mask) v` per
    /// row and head, the same arithmetic as the self-attention kernel.
    pub fn attend(&self, q: &[f32], per: usize) -> Vec<f32> {
        let d = self.heads * self.hd;
        assert!(per > 0 && q.len().is_multiple_of(d), "queries size");
        let rows = q.len() / d;
        let sentences = self.mask.len() / self.s.max(1);
        assert!(
            rows.div_ceil(per) <= sentences
                && self.k.len() == sentences * d * self.s
                && self.v.len() == self.k.len(),
            "cross-attention shapes"
        );
        let mut out = vec![0f32; rows * d];
        #[cfg(target_arch = "x86_64")]
        let avx512 = super::int8::has_avx512();
        out.par_chunks_mut(d)
            .zip(q.par_chunks(d))
            .enumerate()
            .for_each(|(r, (o, q))| {
                #[cfg(target_arch = "x86_64")]
                if avx512 {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { self.row_avx512(r / per, q, o) };
                }
                self.row(r / per, q, o)
            });
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn row_avx512(&self, b: usize, q: &[f32], o: &mut [f32]) {
        self.row(b, q, o)
    }

    /// One query row of sentence `b` (`o` zeroed).
    #[inline(always)]
    fn row(&self, b: usize, q: &[f32], o: &mut [f32]) {
        let (s, hd) = (self.s, self.hd);
        let mask = &self.mask[b * s..(b + 1) * s];
        let mut p = vec![0f32; s];
        for h in 0..self.heads {
            let base = (b * self.heads + h) * s * hd;
            let qv = &q[h * hd..(h + 1) * hd];
            softmax_weighted(
                s,
                |j| dot(qv, &self.k[base + j * hd..][..hd]) + mask[j],
                |j| &self.v[base + j * hd..][..hd],
                &mut p,
                &mut o[h * hd..(h + 1) * hd],
            );
        }
    }
}

/// One query head's attention over `n` keys: `o += Σ_j softmax(score)_j ·
/// value(j)` (`o` zeroed; `p` scratch of at least `n`), shared by the
/// self- and cross-attention kernels. A key whose weight underflows to 0
/// (a padding key) adds nothing and is skipped.
#[inline(always)]
fn softmax_weighted<'a>(
    n: usize,
    score: impl Fn(usize) -> f32,
    value: impl Fn(usize) -> &'a [f32],
    p: &mut [f32],
    o: &mut [f32],
) {
    let p = &mut p[..n];
    let mut max = f32::NEG_INFINITY;
    for (j, pj) in p.iter_mut().enumerate() {
        *pj = score(j);
        max = max.max(*pj);
    }
    let mut sum = 0f32;
    for pj in p.iter_mut() {
        *pj = (*pj - max).exp();
        sum += *pj;
    }
    for (j, &pj) in p.iter().enumerate() {
        if pj == 0.0 {
            continue;
        }
        let w = pj / sum;
        for (oc, &vc) in o.iter_mut().zip(value(j)) {
            *oc += w * vc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_copies_parent_rows() {
        let mut c = KvCache::new(3, 1, 4, 2);
        // Row r, position 0 holds [r, r].
        let k: Vec<f32> = (0..3).flat_map(|r| [r as f32, r as f32]).collect();
        c.append(&k, &k, 1).unwrap();
        c.reorder(&[2, 0, 0]);
        let q = vec![1.0f32; 6];
        c.append(&q, &q, 1).unwrap();
        assert_eq!(&c.k[c.at(0, 0, 0)..][..2], &[2.0, 2.0]);
        assert_eq!(&c.k[c.at(0, 0, 1)..][..2], &[1.0, 1.0]);
        assert_eq!(&c.k[c.at(1, 0, 0)..][..2], &[0.0, 0.0]);
        assert_eq!(&c.k[c.at(2, 0, 0)..][..2], &[0.0, 0.0]);
        // One position visible for the first step, uniform weights → mean of values.
        let out = c.attend(&[0.0; 6], 1);
        assert_eq!(&out[0..2], &[1.5, 1.5]);
    }

    #[test]
    fn retain_keeps_the_chosen_rows_and_their_attention() {
        let (rows, heads, cap, hd) = (5, 2, 6, 3);
        let d = heads * hd;
        let mut full = KvCache::new(rows, heads, cap, hd);
        let val = |r: usize, p: usize, c: usize| ((r * 31 + p * 7 + c) % 13) as f32 / 5.0 - 1.0;
        for p in 0..3 {
            let k: Vec<f32> = (0..rows * d).map(|x| val(x / d, p, x % d)).collect();
            let v: Vec<f32> = (0..rows * d).map(|x| val(x / d + 1, p, x % d)).collect();
            full.append(&k, &v, 1).unwrap();
        }
        let keep = [1, 3, 4];
        let mut kept = full.clone();
        kept.retain(&keep);
        assert_eq!((kept.rows, kept.len()), (3, 3));
        // One more position for the kept rows: the same attention output as
        // those rows of the full cache given the same new keys and values.
        let new: Vec<f32> = (0..rows * d).map(|x| val(x / d + 2, 3, x % d)).collect();
        let pick = |x: &[f32]| -> Vec<f32> {
            keep.iter()
                .flat_map(|&r| x[r * d..(r + 1) * d].to_vec())
                .collect()
        };
        full.append(&new, &new, 1).unwrap();
        kept.append(&pick(&new), &pick(&new), 1).unwrap();
        let q: Vec<f32> = (0..rows * d).map(|x| val(x / d + 3, 4, x % d)).collect();
        assert_eq!(kept.attend(&pick(&q), 1), pick(&full.attend(&q, 1)));
        kept.retain(&[]);
        assert_eq!(kept.rows, 0);
    }

    /// Appends, beam reorders and rows leaving, in a mixed sequence: every
    /// row attends exactly as over its own explicit history.
    #[test]
    fn slot_tables_follow_each_rows_history() {
        let (rows, heads, cap, hd) = (6, 2, 8, 5);
        let d = heads * hd;
        let mut c = KvCache::new(rows, heads, cap, hd);
        // hist[r][p] = (key, value) of row r's history at position p.
        let mut hist: Vec<Vec<(Vec<f32>, Vec<f32>)>> = vec![Vec::new(); rows];
        let val = |s: usize| ((s * 2_654_435_761) % 1000) as f32 / 250.0 - 2.0;
        let mut seed = 1usize;
        for step in 0..cap {
            let n = hist.len();
            let k: Vec<f32> = (0..n * d).map(|x| val(seed + x)).collect();
            let v: Vec<f32> = (0..n * d).map(|x| val(seed + 7 * x + 3)).collect();
            seed += 977;
            c.append(&k, &v, 1).unwrap();
            for (r, h) in hist.iter_mut().enumerate() {
                h.push((
                    k[r * d..(r + 1) * d].to_vec(),
                    v[r * d..(r + 1) * d].to_vec(),
                ));
            }
            let q: Vec<f32> = (0..n * d).map(|x| val(seed + 3 * x)).collect();
            let got = c.attend(&q, 1);
            for (r, h) in hist.iter().enumerate() {
                for hh in 0..heads {
                    let qv = &q[r * d + hh * hd..][..hd];
                    let s: Vec<f32> = h
                        .iter()
                        .map(|(k, _)| dot(qv, &k[hh * hd..][..hd]))
                        .collect();
                    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let e: Vec<f32> = s.iter().map(|&x| (x - max).exp()).collect();
                    let sum: f32 = e.iter().sum();
                    let mut o = vec![0f32; hd];
                    for (w, (_, v)) in e.iter().zip(h) {
                        for (oc, &vc) in o.iter_mut().zip(&v[hh * hd..][..hd]) {
                            *oc += (w / sum) * vc;
                        }
                    }
                    assert_eq!(&got[r * d + hh * hd..][..hd], &o[..], "step {step} row {r}");
                }
            }
            // Beam reorder: parents chosen with repeats; every third step a row leaves.
            let n = hist.len();
            let idx: Vec<u32> = (0..n)
                .map(|i| ((i * 5 + step) % n) as u32 / 2 * 2)
                .collect();
            c.reorder(&idx);
            hist = idx.iter().map(|&j| hist[j as usize].clone()).collect();
            if step % 3 == 2 && n > 1 {
                let keep: Vec<usize> = (0..n).filter(|&r| r != step % n).collect();
                c.retain(&keep);
                hist = keep.iter().map(|&r| hist[r].clone()).collect();
            }
        }
    }
}
