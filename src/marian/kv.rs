//! Decoder self-attention KV cache on host memory, with its attention kernel.
//!
//! Layout `[row][head][position][head_dim]`, preallocated to the maximum
//! target length, so appending a step writes `rows × heads × head_dim` floats
//! and a beam reorder copies only the rows whose parent changed, and only the
//! filled positions. Attention over the cache (causal, any number of new
//! positions) runs in plain Rust over rows in parallel: at decode time the
//! per-head products are far too small for a GEMM call to pay off.
use rayon::prelude::*;

/// Lanes of the vectorizable dot product.
const LANES: usize = 16;

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
    k: Vec<f32>,
    v: Vec<f32>,
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

    fn at(&self, row: usize, head: usize, pos: usize) -> usize {
        ((row * self.heads + head) * self.cap + pos) * self.hd
    }

    /// Appends `t` positions; `k`, `v` are `(rows * t, heads * hd)` row-major.
    pub fn append(&mut self, k: &[f32], v: &[f32], t: usize) -> Result<(), String> {
        if self.len + t > self.cap {
            return Err(format!("decoder KV cache full ({} positions)", self.cap));
        }
        let d = self.heads * self.hd;
        for r in 0..self.rows {
            for i in 0..t {
                let src = (r * t + i) * d;
                for h in 0..self.heads {
                    let dst = self.at(r, h, self.len + i);
                    let s = src + h * self.hd;
                    self.k[dst..dst + self.hd].copy_from_slice(&k[s..s + self.hd]);
                    self.v[dst..dst + self.hd].copy_from_slice(&v[s..s + self.hd]);
                }
            }
        }
        self.len += t;
        Ok(())
    }

    /// Causal attention of the `t` newest positions: `q` is `(rows * t, heads * hd)`
    /// (already scaled); returns the same shape.
    pub fn attend(&self, q: &[f32], t: usize) -> Vec<f32> {
        let (heads, hd, len) = (self.heads, self.hd, self.len);
        let d = heads * hd;
        let mut out = vec![0f32; self.rows * t * d];
        out.par_chunks_mut(t * d)
            .enumerate()
            .for_each(|(r, out_r)| {
                let mut p = vec![0f32; len];
                for i in 0..t {
                    // Position len - t + i sees positions 0..=len - t + i.
                    let visible = len - t + i + 1;
                    for h in 0..heads {
                        let qv = &q[(r * t + i) * d + h * hd..][..hd];
                        let base = self.at(r, h, 0);
                        let mut max = f32::NEG_INFINITY;
                        for (j, pj) in p[..visible].iter_mut().enumerate() {
                            *pj = dot(qv, &self.k[base + j * hd..][..hd]);
                            max = max.max(*pj);
                        }
                        let mut sum = 0f32;
                        for pj in &mut p[..visible] {
                            *pj = (*pj - max).exp();
                            sum += *pj;
                        }
                        let o = &mut out_r[i * d + h * hd..][..hd];
                        for (j, &pj) in p[..visible].iter().enumerate() {
                            let w = pj / sum;
                            for (oc, &vc) in o.iter_mut().zip(&self.v[base + j * hd..][..hd]) {
                                *oc += w * vc;
                            }
                        }
                    }
                }
            });
        out
    }

    /// Keeps only the rows `keep` (strictly increasing), in that order: row
    /// `i` becomes old row `keep[i]`. Copies filled positions only, forward
    /// in place (`keep[i] >= i`, so no source is overwritten before it is read).
    pub fn retain(&mut self, keep: &[usize]) {
        assert!(
            keep.windows(2).all(|w| w[0] < w[1]) && keep.last().is_none_or(|&r| r < self.rows),
            "rows to keep must be increasing and below {}",
            self.rows
        );
        let span = self.heads * self.cap * self.hd;
        let (filled, stride) = (self.len * self.hd, self.cap * self.hd);
        for (i, &j) in keep.iter().enumerate() {
            if i == j {
                continue;
            }
            for buf in [&mut self.k, &mut self.v] {
                for h in 0..self.heads {
                    let src = j * span + h * stride;
                    buf.copy_within(src..src + filled, i * span + h * stride);
                }
            }
        }
        self.rows = keep.len();
        self.k.truncate(self.rows * span);
        self.v.truncate(self.rows * span);
    }

    /// Row `i` becomes old row `idx[i]`; copies only changed rows' filled positions.
    pub fn reorder(&mut self, idx: &[u32]) {
        let span = self.heads * self.cap * self.hd;
        let moved: Vec<(usize, usize)> = idx
            .iter()
            .enumerate()
            .filter(|(i, &j)| *i != j as usize)
            .map(|(i, &j)| (i, j as usize))
            .collect();
        if moved.is_empty() || self.len == 0 {
            return;
        }
        let (len, hd, cap, heads) = (self.len, self.hd, self.cap, self.heads);
        for buf in [&mut self.k, &mut self.v] {
            // Snapshot the source rows first: a source may itself be overwritten.
            let mut sources: Vec<usize> = moved.iter().map(|&(_, j)| j).collect();
            sources.sort_unstable();
            sources.dedup();
            let snap: Vec<Vec<f32>> = sources
                .iter()
                .map(|&j| {
                    let mut s = Vec::with_capacity(heads * len * hd);
                    for h in 0..heads {
                        let b = j * span + h * cap * hd;
                        s.extend_from_slice(&buf[b..b + len * hd]);
                    }
                    s
                })
                .collect();
            for &(i, j) in &moved {
                let s = &snap[sources.binary_search(&j).expect("snapshotted")];
                for h in 0..heads {
                    let b = i * span + h * cap * hd;
                    buf[b..b + len * hd].copy_from_slice(&s[h * len * hd..(h + 1) * len * hd]);
                }
            }
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
}
