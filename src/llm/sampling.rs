//! Choosing the next token from logits: greedy or seeded temperature / top-p,
//! with a repetition penalty over the last tokens.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How to generate: length, randomness and repetition control.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerationParams {
    /// Upper bound on generated tokens.
    pub max_new_tokens: usize,
    /// 0 (or below) means greedy decoding.
    pub temperature: f64,
    /// Nucleus sampling mass, used when `temperature > 0`.
    pub top_p: Option<f64>,
    /// Seed of the sampler's random generator.
    pub seed: u64,
    /// Penalty for tokens among the last `repeat_last_n` (1.0 = none).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    /// Keep generating past end-of-generation tokens (benchmarks).
    pub ignore_eos: bool,
}

impl GenerationParams {
    /// Deterministic greedy decoding of at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            temperature: 0.0,
            top_p: None,
            seed: 0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            ignore_eos: false,
        }
    }
}

/// Per-generation sampling state.
pub(crate) struct Sampler {
    temperature: f64,
    top_p: Option<f64>,
    repeat_penalty: f32,
    repeat_last_n: usize,
    rng: StdRng,
    scratch: Vec<(u32, f32)>,
}

impl Sampler {
    pub fn new(params: &GenerationParams) -> Self {
        Self {
            temperature: params.temperature,
            top_p: params.top_p,
            repeat_penalty: params.repeat_penalty,
            repeat_last_n: params.repeat_last_n,
            rng: StdRng::seed_from_u64(params.seed),
            scratch: Vec::new(),
        }
    }

    /// Penalize recent tokens in place (llama.cpp / candle convention:
    /// positive logits are divided, negative ones multiplied).
    pub fn apply_repeat_penalty(&self, logits: &mut [f32], history: &[u32]) {
        if self.repeat_penalty == 1.0 || self.repeat_last_n == 0 {
            return;
        }
        let start = history.len().saturating_sub(self.repeat_last_n);
        let mut seen = std::collections::HashSet::new();
        for &t in &history[start..] {
            if !seen.insert(t) {
                continue;
            }
            if let Some(l) = logits.get_mut(t as usize) {
                if *l >= 0.0 {
                    *l /= self.repeat_penalty;
                } else {
                    *l *= self.repeat_penalty;
                }
            }
        }
    }

    /// Pick a token; `None` if every logit is masked out.
    pub fn sample(&mut self, logits: &[f32]) -> Option<u32> {
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let inv_t = (1.0 / self.temperature) as f32;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if max == f32::NEG_INFINITY {
            return None;
        }
        self.scratch.clear();
        let mut total = 0f32;
        for (i, &l) in logits.iter().enumerate() {
            if l > f32::NEG_INFINITY {
                let p = ((l - max) * inv_t).exp();
                total += p;
                self.scratch.push((i as u32, p));
            }
        }
        let mut mass = total;
        if let Some(top_p) = self.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
            self.scratch.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
            let cut = top_p as f32 * total;
            let mut acc = 0f32;
            let mut keep = self.scratch.len();
            for (i, (_, p)) in self.scratch.iter().enumerate() {
                acc += p;
                if acc >= cut {
                    keep = i + 1;
                    break;
                }
            }
            self.scratch.truncate(keep);
            mass = acc.min(total);
        }
        let mut r = self.rng.random::<f32>() * mass;
        for &(id, p) in &self.scratch {
            if r < p {
                return Some(id);
            }
            r -= p;
        }
        self.scratch.last().map(|x| x.0)
    }
}

fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(u32, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l > f32::NEG_INFINITY && best.is_none_or(|(_, b)| l > b) {
            best = Some((i as u32, l));
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_unmasked_logit() {
        let mut s = Sampler::new(&GenerationParams::greedy(1));
        assert_eq!(s.sample(&[0.1, 3.0, f32::NEG_INFINITY, 2.0]), Some(1));
        assert_eq!(s.sample(&[f32::NEG_INFINITY; 3]), None);
    }

    #[test]
    fn seeded_sampling_is_reproducible_and_top_p_cuts_the_tail() {
        let params = GenerationParams {
            temperature: 1.0,
            top_p: Some(0.5),
            seed: 7,
            ..GenerationParams::greedy(1)
        };
        let logits = [5.0, 1.0, 0.0, -1.0];
        let mut a = Sampler::new(&params);
        let mut b = Sampler::new(&params);
        for _ in 0..50 {
            let x = a.sample(&logits);
            assert_eq!(x, b.sample(&logits));
            // Token 0 alone holds > 50% of the mass.
            assert_eq!(x, Some(0));
        }
        let mut c = Sampler::new(&GenerationParams {
            top_p: None,
            ..params
        });
        let seen: std::collections::HashSet<_> = (0..200)
            .map(|_| c.sample(&[0.0, 0.0, 0.0]).unwrap())
            .collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn repeat_penalty_lowers_recent_tokens() {
        let s = Sampler::new(&GenerationParams {
            repeat_penalty: 2.0,
            repeat_last_n: 2,
            ..GenerationParams::greedy(1)
        });
        let mut logits = [4.0, -1.0, 4.0, 4.0];
        s.apply_repeat_penalty(&mut logits, &[3, 0, 1, 1]);
        assert_eq!(logits, [4.0, -2.0, 4.0, 4.0]);
    }
}
