//! Reading a GGUF file's header and metadata with clear, file-naming errors.
use crate::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// An opened GGUF file: its parsed header plus a reader positioned anywhere.
pub(crate) struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    /// Open `path` and parse its header; a file that is not GGUF, is cut
    /// short, or whose tensor table does not fit the file gives
    /// [`Error::ModelFile`] naming the file (never a panic, never a read
    /// past the end later).
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |why: String| Error::model_file(path, why);
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = BufReader::new(file);
        // Candle's parser divides by `general.alignment`: look first.
        scan_alignment(&mut reader, len)
            .map_err(|e| bad(format!("not a readable GGUF file: {e}")))?;
        reader.rewind().map_err(|e| Error::io(path, e))?;
        let content = Content::read(&mut reader)
            .map_err(|e| bad(format!("not a readable GGUF file: {e}")))?;
        check_tensors(&content, len, path)?;
        Ok(Self { content, reader })
    }
}

/// The alignment candle's parser will use (`general.alignment` as candle
/// reads it, else 32).
const DEFAULT_ALIGNMENT: u64 = 32;

/// Walk the metadata of a GGUF header without allocating by its lengths,
/// and reject what candle's parser cannot survive (an alignment of 0). Other
/// malformations are left for candle to report.
fn scan_alignment<R: Read + Seek>(r: &mut R, len: u64) -> std::result::Result<(), String> {
    fn u32_of<R: Read>(r: &mut R) -> std::io::Result<u32> {
        let mut b = [0u8; 4];
        r.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn u64_of<R: Read>(r: &mut R) -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    struct Scan<'a, R> {
        r: &'a mut R,
        len: u64,
        v1: bool,
    }
    impl<R: Read + Seek> Scan<'_, R> {
        fn length(&mut self) -> std::io::Result<u64> {
            if self.v1 {
                u32_of(self.r).map(u64::from)
            } else {
                u64_of(self.r)
            }
        }
        fn skip(&mut self, n: u64) -> std::result::Result<(), String> {
            let pos = self.r.stream_position().map_err(|e| e.to_string())?;
            if n > self.len.saturating_sub(pos) {
                return Err(format!(
                    "truncated header: {n} bytes needed at offset {pos}, the file has {}",
                    self.len
                ));
            }
            self.r
                .seek(SeekFrom::Current(n as i64))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        fn string(&mut self) -> std::result::Result<Vec<u8>, String> {
            let n = self.length().map_err(|e| e.to_string())?;
            if n > 4096 {
                self.skip(n)?;
                return Ok(Vec::new());
            }
            let pos = self.r.stream_position().map_err(|e| e.to_string())?;
            if n > self.len.saturating_sub(pos) {
                return Err(format!(
                    "truncated header: string of {n} bytes at offset {pos}"
                ));
            }
            let mut v = vec![0u8; n as usize];
            self.r.read_exact(&mut v).map_err(|e| e.to_string())?;
            Ok(v)
        }
        /// Skip a value of `ty`, returning it when it is an integer.
        fn value(&mut self, ty: u32, depth: usize) -> std::result::Result<Option<i128>, String> {
            let io = |e: std::io::Error| e.to_string();
            let fixed = |ty: u32| match ty {
                0 | 1 | 7 => Some(1u64),
                2 | 3 => Some(2),
                4..=6 => Some(4),
                10..=12 => Some(8),
                _ => None,
            };
            match ty {
                0 | 7 => Ok(Some(self.fixed::<1>()?[0] as i128)),
                1 => Ok(Some(self.fixed::<1>()?[0] as i8 as i128)),
                2 => Ok(Some(u16::from_le_bytes(self.fixed()?) as i128)),
                3 => Ok(Some(i16::from_le_bytes(self.fixed()?) as i128)),
                4 => Ok(Some(u32::from_le_bytes(self.fixed()?) as i128)),
                5 => Ok(Some(i32::from_le_bytes(self.fixed()?) as i128)),
                10 => Ok(Some(u64::from_le_bytes(self.fixed()?) as i128)),
                11 => Ok(Some(i64::from_le_bytes(self.fixed()?) as i128)),
                6 | 12 => self.skip(fixed(ty).unwrap_or(0)).map(|()| None),
                8 => {
                    let n = self.length().map_err(io)?;
                    self.skip(n).map(|()| None)
                }
                9 => {
                    if depth > 8 {
                        return Err("arrays nested too deep".into());
                    }
                    let elem = u32_of(self.r).map_err(io)?;
                    let n = self.length().map_err(io)?;
                    if let Some(size) = fixed(elem) {
                        self.skip(n.saturating_mul(size))?;
                    } else {
                        let pos = self.r.stream_position().map_err(io)?;
                        if n > self.len.saturating_sub(pos) {
                            return Err(format!(
                                "array of {n} elements at offset {pos} cannot fit"
                            ));
                        }
                        for _ in 0..n {
                            self.value(elem, depth + 1)?;
                        }
                    }
                    Ok(None)
                }
                t => Err(format!("unknown metadata value type {t}")),
            }
        }
        fn fixed<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
            let mut b = [0u8; N];
            self.r.read_exact(&mut b).map_err(|e| e.to_string())?;
            Ok(b)
        }
    }

    let io = |e: std::io::Error| e.to_string();
    let magic = u32_of(r).map_err(io)?;
    if magic != 0x4655_4747 && magic != 0x4747_5546 {
        return Err(format!("unknown magic 0x{magic:08x}"));
    }
    let version = u32_of(r).map_err(io)?;
    let mut scan = Scan {
        r,
        len,
        v1: version == 1,
    };
    let _tensors = scan.length().map_err(io)?;
    let kvs = scan.length().map_err(io)?;
    for _ in 0..kvs {
        let key = scan.string()?;
        let ty = u32_of(scan.r).map_err(io)?;
        let value = scan.value(ty, 0)?;
        // Candle takes u8..u32 and non-negative i8..i32 as the alignment.
        if key == b"general.alignment" && matches!(ty, 0..=5) && value == Some(0) {
            return Err("general.alignment is 0".into());
        }
    }
    Ok(())
}

/// Every tensor must lie inside the file, aligned, not overlapping another,
/// with a shape whose size can be computed.
fn check_tensors(content: &Content, len: u64, path: &Path) -> Result<()> {
    let bad = |why: String| Error::model_file(path, why);
    let alignment = match content.metadata.get("general.alignment") {
        Some(Value::U8(v)) => *v as u64,
        Some(Value::U16(v)) => *v as u64,
        Some(Value::U32(v)) => *v as u64,
        Some(Value::I8(v)) if *v > 0 => *v as u64,
        Some(Value::I16(v)) if *v > 0 => *v as u64,
        Some(Value::I32(v)) if *v > 0 => *v as u64,
        _ => DEFAULT_ALIGNMENT,
    }
    .max(1);
    let mut spans = Vec::with_capacity(content.tensor_infos.len());
    for (name, t) in &content.tensor_infos {
        let dims = t.shape.dims();
        let elems = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .filter(|&n| n <= usize::MAX as u64)
            .ok_or_else(|| bad(format!("tensor `{name}` has an impossible shape {dims:?}")))?;
        let block = t.ggml_dtype.block_size() as u64;
        if elems % block != 0 {
            return Err(bad(format!(
                "tensor `{name}`: {elems} elements are not a whole number of {:?} blocks of {block}",
                t.ggml_dtype
            )));
        }
        let bytes = (elems / block)
            .checked_mul(t.ggml_dtype.type_size() as u64)
            .ok_or_else(|| bad(format!("tensor `{name}` has an impossible shape {dims:?}")))?;
        if t.offset % alignment != 0 {
            return Err(bad(format!(
                "corrupt tensor table: tensor `{name}` at offset {} is not aligned to {alignment} bytes",
                t.offset
            )));
        }
        let start = content.tensor_data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(bytes));
        match end {
            Some(end) if end <= len => spans.push((t.offset, t.offset + bytes, name)),
            _ => {
                return Err(bad(format!(
                    "truncated or corrupt: tensor `{name}` ({bytes} bytes at data offset {}) \
                     ends past the end of the file ({len} bytes)",
                    t.offset
                )))
            }
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        let ((_, end, a), (start, _, b)) = (&w[0], &w[1]);
        if start < end {
            return Err(bad(format!(
                "corrupt tensor table: tensors `{a}` and `{b}` overlap"
            )));
        }
    }
    Ok(())
}

/// Typed access to the metadata of one file, with errors naming the file.
pub(crate) struct Metadata<'a> {
    pub path: &'a Path,
    pub content: &'a Content,
}

impl<'a> Metadata<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.content.metadata.get(key)
    }

    pub fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key)
            .ok_or_else(|| Error::model_file(self.path, format!("missing metadata `{key}`")))
    }

    pub fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.bad_type(key, "string", v)),
        }
    }

    pub fn required_string(&self, key: &str) -> Result<&'a str> {
        self.string(key)?
            .ok_or_else(|| Error::model_file(self.path, format!("missing metadata `{key}`")))
    }

    pub fn uint(&self, key: &str) -> Result<Option<u64>> {
        let v = match self.get(key) {
            None => return Ok(None),
            Some(v) => v,
        };
        let n = match v {
            Value::U8(x) => *x as u64,
            Value::U16(x) => *x as u64,
            Value::U32(x) => *x as u64,
            Value::U64(x) => *x,
            Value::I8(x) if *x >= 0 => *x as u64,
            Value::I16(x) if *x >= 0 => *x as u64,
            Value::I32(x) if *x >= 0 => *x as u64,
            Value::I64(x) if *x >= 0 => *x as u64,
            v => return Err(self.bad_type(key, "unsigned integer", v)),
        };
        Ok(Some(n))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.bad_type(key, "bool", v)),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<String>> {
        match self.required(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(self.bad_type(key, "string array", v)),
                })
                .collect(),
            v => Err(self.bad_type(key, "array", v)),
        }
    }

    pub fn f32_array(&self, key: &str) -> Result<Option<Vec<f32>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::F32(x) => Ok(*x),
                    Value::F64(x) => Ok(*x as f32),
                    v => Err(self.bad_type(key, "f32 array", v)),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.bad_type(key, "array", v)),
        }
    }

    pub fn int_array(&self, key: &str) -> Result<Option<Vec<i64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::I32(x) => Ok(*x as i64),
                    Value::U32(x) => Ok(*x as i64),
                    Value::I8(x) => Ok(*x as i64),
                    Value::U8(x) => Ok(*x as i64),
                    Value::I64(x) => Ok(*x),
                    v => Err(self.bad_type(key, "integer array", v)),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.bad_type(key, "array", v)),
        }
    }

    fn bad_type(&self, key: &str, want: &str, got: &Value) -> Error {
        Error::model_file(
            self.path,
            format!(
                "metadata `{key}` should be {want}, found {:?}",
                got.value_type()
            ),
        )
    }
}
