//! Parity of the Marian engine with HF transformers on tiny random-weight models
//! (fixtures written by `scripts/dev/marian_fixtures.py`). The models run on
//! `common::device()` (`UKDIGEST_TEST_DEVICE=cuda` for the GPU).
mod common;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use ukdigest::marian::{DecodeOptions, MarianModel, Quant};
use ukdigest::Error;

const CONFIGS: [&str; 3] = ["uk_en_like", "tc_big_like", "separate_vocab"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/marian")
        .join(name)
}

struct Expected {
    json: Value,
    tensors: std::collections::HashMap<String, Tensor>,
    eos: u32,
}

impl Expected {
    fn load(name: &str, eos: u32) -> Self {
        let dir = fixture(name);
        let json =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let tensors =
            candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
        Self { json, tensors, eos }
    }

    fn ids(v: &Value) -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    }

    fn inputs(&self) -> Vec<Vec<u32>> {
        self.json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Self::ids(&c["input"]))
            .collect()
    }

    /// HF output without the decoder start token, cut at the first EOS.
    fn strip(&self, v: &Value) -> Vec<u32> {
        let ids = Self::ids(v);
        let body = &ids[1..];
        let end = body
            .iter()
            .position(|&t| t == self.eos)
            .unwrap_or(body.len());
        body[..end].to_vec()
    }

    fn case_outputs(&self, key: &str) -> Vec<Vec<u32>> {
        self.json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| self.strip(&c[key]))
            .collect()
    }

    fn batch_outputs(&self, key: &str) -> Vec<Vec<u32>> {
        self.json["batch"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| self.strip(v))
            .collect()
    }

    fn batch_inputs(&self) -> Vec<Vec<u32>> {
        let all = self.inputs();
        self.json["batch"]["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| all[i.as_u64().unwrap() as usize].clone())
            .collect()
    }

    fn max_new_tokens(&self) -> usize {
        self.json["max_new_tokens"].as_u64().unwrap() as usize
    }
}

fn load(name: &str, quant: Quant) -> (MarianModel, Expected) {
    let model = MarianModel::load(&fixture(name), &common::device(), quant).unwrap();
    let eos = model.token_rules().eos_token_id;
    (model, Expected::load(name, eos))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    let a = a.to_device(b.device()).unwrap();
    (&a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The fixture's generation settings with greedy search (what HF ran with `num_beams=1`).
fn greedy_options(name: &str, exp: &Expected) -> DecodeOptions {
    let mut opts = DecodeOptions::from_generation_config(&fixture(name)).unwrap();
    opts.num_beams = 1;
    opts.max_new_tokens = exp.max_new_tokens();
    opts
}

fn beam_options(name: &str, exp: &Expected) -> DecodeOptions {
    let mut opts = DecodeOptions::from_generation_config(&fixture(name)).unwrap();
    opts.max_new_tokens = exp.max_new_tokens();
    opts
}

#[test]
fn encoder_states_of_a_padded_batch_match_hf() {
    for name in CONFIGS {
        let (model, exp) = load(name, Quant::F32);
        let inputs = exp.inputs();
        // All inputs in one right-padded batch: padding must not leak into real positions.
        let enc = model.encode(&inputs).unwrap();
        for (i, src) in inputs.iter().enumerate() {
            let ours = enc.get(i).unwrap().narrow(0, 0, src.len()).unwrap();
            let theirs = &exp.tensors[&format!("encoder_{i}")];
            let d = max_abs_diff(&ours, theirs);
            assert!(d < 1e-4, "{name} input {i}: encoder max abs diff {d}");
        }
    }
}

#[test]
fn forced_prefix_logits_match_hf() {
    for name in CONFIGS {
        let (model, exp) = load(name, Quant::F32);
        let inputs = exp.inputs();
        for (k, p) in exp.json["prefixes"].as_array().unwrap().iter().enumerate() {
            let src = &inputs[p["input"].as_u64().unwrap() as usize];
            let dec = Expected::ids(&p["decoder_input"]);
            let logits = model.forced_logits(src, &dec).unwrap();
            let d = max_abs_diff(&logits, &exp.tensors[&format!("logits_{k}")]);
            assert!(d < 1e-4, "{name} prefix {k}: logits max abs diff {d}");
        }
    }
}

#[test]
fn greedy_ids_match_hf() {
    for name in CONFIGS {
        let (mut model, exp) = load(name, Quant::F32);
        let opts = greedy_options(name, &exp);
        let want = exp.case_outputs("greedy");
        for (i, src) in exp.inputs().iter().enumerate() {
            let got = model
                .translate_ids(std::slice::from_ref(src), &opts)
                .unwrap();
            assert_eq!(got[0], want[i], "{name} greedy case {i}");
        }
    }
}

#[test]
fn beam_ids_match_hf() {
    for name in CONFIGS {
        let (mut model, exp) = load(name, Quant::F32);
        let opts = beam_options(name, &exp);
        assert_eq!(
            opts.num_beams,
            exp.json["num_beams"].as_u64().unwrap() as usize
        );
        let want = exp.case_outputs("beam");
        for (i, src) in exp.inputs().iter().enumerate() {
            let got = model
                .translate_ids(std::slice::from_ref(src), &opts)
                .unwrap();
            assert_eq!(got[0], want[i], "{name} beam case {i}");
        }
    }
}

#[test]
fn padded_batch_matches_hf_batch_and_sentences_alone() {
    for name in CONFIGS {
        let (mut model, exp) = load(name, Quant::F32);
        let batch = exp.batch_inputs();
        let idx: Vec<usize> = exp.json["batch"]["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as usize)
            .collect();
        let greedy = greedy_options(name, &exp);
        let beam = beam_options(name, &exp);
        for (key, opts) in [("greedy", &greedy), ("beam", &beam)] {
            let got = model.translate_ids(&batch, opts).unwrap();
            assert_eq!(
                got,
                exp.batch_outputs(key),
                "{name} {key} batch vs HF batch"
            );
            let alone = exp.case_outputs(key);
            for (j, &i) in idx.iter().enumerate() {
                assert_eq!(got[j], alone[i], "{name} {key}: batch row {j} vs alone");
            }
        }
    }
}

/// All inputs in one batch, in the fixture's order and reversed: the outputs
/// end at very different steps (HF's own lengths, checked below), so
/// sentences leave the batch one after another from any position. Every row
/// must still be HF's translation of the sentence alone (and ours alone), and
/// the decoder must actually have run fewer rows than `steps × batch`.
#[test]
fn sentences_leaving_the_batch_early_keep_the_alone_outputs() {
    for name in CONFIGS {
        let (mut model, exp) = load(name, Quant::F32);
        let inputs = exp.inputs();
        let greedy = greedy_options(name, &exp);
        let beam = beam_options(name, &exp);
        for (key, opts) in [("greedy", &greedy), ("beam", &beam)] {
            let hf_alone = exp.case_outputs(key);
            let ours_alone: Vec<Vec<u32>> = inputs
                .iter()
                .map(|src| {
                    model
                        .translate_ids(std::slice::from_ref(src), opts)
                        .unwrap()
                        .remove(0)
                })
                .collect();
            assert_eq!(ours_alone, hf_alone, "{name} {key}: alone vs HF");
            let lens: Vec<usize> = hf_alone.iter().map(Vec::len).collect();
            let (short, long) = (*lens.iter().min().unwrap(), *lens.iter().max().unwrap());
            let mut orders: Vec<Vec<usize>> = vec![(0..inputs.len()).collect()];
            orders.push(orders[0].iter().rev().copied().collect());
            for order in orders {
                let batch: Vec<Vec<u32>> = order.iter().map(|&i| inputs[i].clone()).collect();
                let (got, stats) = model.translate_ids_with_stats(&batch, opts).unwrap();
                for (row, &i) in order.iter().enumerate() {
                    assert_eq!(
                        got[row], hf_alone[i],
                        "{name} {key}: row {row} (case {i}) vs HF alone"
                    );
                }
                let rows = batch.len() * opts.num_beams;
                eprintln!(
                    "{name} {key}: lengths {short}..{long}, {} steps, {} of {} row-steps",
                    stats.steps,
                    stats.row_steps,
                    stats.steps * rows
                );
                assert!(stats.steps > 0 && stats.row_steps <= stats.steps * rows);
                // Greedy: a sentence whose output is final after EOS; beam
                // search: one whose finished set can no longer change. Where the
                // lengths spread this far, some sentence left before the end.
                if long >= short + 10 {
                    assert!(
                        stats.row_steps < stats.steps * rows,
                        "{name} {key}: lengths {short}..{long} but every row decoded all {} steps",
                        stats.steps
                    );
                }
            }
        }
    }
}

#[test]
fn pytorch_bin_checkpoint_gives_the_same_translations() {
    let mut model =
        MarianModel::load(&fixture("uk_en_like_pth"), &common::device(), Quant::F32).unwrap();
    let exp = Expected::load("uk_en_like", model.token_rules().eos_token_id);
    let inputs = exp.inputs();
    let enc = model.encode(&inputs[..1]).unwrap();
    assert!(max_abs_diff(&enc.get(0).unwrap(), &exp.tensors["encoder_0"]) < 1e-4);
    let want = exp.case_outputs("greedy");
    let got = model
        .translate_ids(&inputs, &greedy_options("uk_en_like", &exp))
        .unwrap();
    assert_eq!(got, want);
}

/// Both checkpoint readers (memory-mapped safetensors, zip-member PyTorch)
/// hand the model builder the same tensors, so q8 weights quantized tensor by
/// tensor come out identical.
#[test]
fn q8_from_pytorch_bin_equals_q8_from_safetensors() {
    let (st, exp) = load("uk_en_like", Quant::Q8);
    let pth = MarianModel::load(&fixture("uk_en_like_pth"), &common::device(), Quant::Q8).unwrap();
    let inputs = exp.inputs();
    for p in exp.json["prefixes"].as_array().unwrap() {
        let src = &inputs[p["input"].as_u64().unwrap() as usize];
        let dec = Expected::ids(&p["decoder_input"]);
        let a = st.forced_logits(src, &dec).unwrap();
        let b = pth.forced_logits(src, &dec).unwrap();
        assert_eq!(
            max_abs_diff(&a, &b),
            0.0,
            "q8 logits differ by checkpoint format"
        );
    }
}

/// Q8_0 linear layers: logits stay close to f32 and greedy output mostly agrees.
#[test]
fn q8_weights_stay_close_to_f32() {
    for name in CONFIGS {
        let (f32_model, exp) = load(name, Quant::F32);
        let (mut q8_model, _) = load(name, Quant::Q8);
        let inputs = exp.inputs();
        for p in exp.json["prefixes"].as_array().unwrap() {
            let src = &inputs[p["input"].as_u64().unwrap() as usize];
            let dec = Expected::ids(&p["decoder_input"]);
            let a = f32_model
                .forced_logits(src, &dec)
                .unwrap()
                .flatten_all()
                .unwrap();
            let b = q8_model
                .forced_logits(src, &dec)
                .unwrap()
                .flatten_all()
                .unwrap();
            let dot = (&a * &b)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            let na = a
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                .sqrt();
            let nb = b
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                .sqrt();
            let cos = dot / (na * nb);
            eprintln!("{name}: q8 logit cosine {cos:.5}");
            // Random weights with std 0.6 make these nets far more sensitive than real ones.
            assert!(cos > 0.97, "{name}: q8 logit cosine {cos}");
            assert!(
                max_abs_diff(&a, &b) > 0.0,
                "{name}: q8 must actually quantize"
            );
        }
        // Teacher-forced on the f32 greedy output: does q8 pick the same next token?
        let start = f32_model.token_rules().decoder_start_token_id;
        let (mut same, mut total) = (0usize, 0usize);
        for (src, out) in inputs.iter().zip(exp.case_outputs("greedy")) {
            let dec: Vec<u32> = std::iter::once(start).chain(out).collect();
            let a = f32_model
                .forced_logits(src, &dec)
                .unwrap()
                .argmax(1)
                .unwrap();
            let b = q8_model
                .forced_logits(src, &dec)
                .unwrap()
                .argmax(1)
                .unwrap();
            let (a, b) = (a.to_vec1::<u32>().unwrap(), b.to_vec1::<u32>().unwrap());
            same += a.iter().zip(&b).filter(|(x, y)| x == y).count();
            total += a.len();
        }
        let agreement = same as f64 / total as f64;
        // Free-running greedy: whole outputs identical.
        let got = q8_model
            .translate_ids(&inputs, &greedy_options(name, &exp))
            .unwrap();
        let identical = got
            .iter()
            .zip(exp.case_outputs("greedy"))
            .filter(|(g, w)| **g == *w)
            .count();
        eprintln!(
            "{name}: q8 teacher-forced argmax agreement {agreement:.3}, identical greedy outputs {identical}/{}",
            inputs.len()
        );
        assert!(agreement > 0.8, "{name}: q8 argmax agreement {agreement}");
    }
}

fn copy_model(dst: &Path, with_weights: bool) {
    let src = fixture("uk_en_like");
    for f in ["config.json", "generation_config.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    if with_weights {
        std::fs::copy(src.join("model.safetensors"), dst.join("model.safetensors")).unwrap();
    }
}

fn model_file_error(dir: &Path) -> (PathBuf, String) {
    match MarianModel::load(dir, &Device::Cpu, Quant::F32) {
        Err(Error::ModelFile { path, reason }) => (path, reason),
        Err(e) => panic!("expected a ModelFile error, got {e}"),
        Ok(_) => panic!("expected a ModelFile error, the model loaded"),
    }
}

#[test]
fn missing_weights_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path(), false);
    let (path, reason) = model_file_error(tmp.path());
    assert_eq!(path, tmp.path().join("model.safetensors"));
    assert!(reason.contains("pytorch_model.bin"), "{reason}");
}

#[test]
fn truncated_safetensors_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path(), true);
    let st = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let (path, _) = model_file_error(tmp.path());
    assert_eq!(path, st);
}

#[test]
fn bad_config_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path(), true);
    std::fs::write(tmp.path().join("config.json"), "{\"d_model\": \"wide\"").unwrap();
    let (path, reason) = model_file_error(tmp.path());
    assert_eq!(path, tmp.path().join("config.json"));
    assert!(reason.contains("JSON"), "{reason}");
}

#[test]
fn checkpoint_not_fitting_the_config_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    copy_model(tmp.path(), true);
    let cfg = std::fs::read_to_string(tmp.path().join("config.json"))
        .unwrap()
        .replace("\"encoder_layers\": 2", "\"encoder_layers\": 3");
    std::fs::write(tmp.path().join("config.json"), cfg).unwrap();
    let (path, reason) = model_file_error(tmp.path());
    assert_eq!(path, tmp.path().join("model.safetensors"));
    assert!(reason.contains("layers.2"), "{reason}");
}

#[test]
fn generation_defaults_come_from_generation_config() {
    let opts = DecodeOptions::from_generation_config(&fixture("tc_big_like")).unwrap();
    assert_eq!(opts.num_beams, 4);
    assert_eq!(opts.max_new_tokens, 511);
    assert_eq!(opts.no_repeat_ngram_size, 3);
    assert_eq!(opts.length_penalty, 0.6);
    assert_eq!(opts.early_stopping, ukdigest::marian::EarlyStopping::Always);
    let sep = DecodeOptions::from_generation_config(&fixture("separate_vocab")).unwrap();
    assert_eq!(sep.early_stopping, ukdigest::marian::EarlyStopping::Never);
    assert_eq!(sep.min_new_tokens, 4);
}
