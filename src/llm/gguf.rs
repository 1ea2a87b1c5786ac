//! Reading a GGUF file's header and metadata with clear, file-naming errors.
use crate::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// An opened GGUF file: its parsed header plus a reader positioned anywhere.
pub(crate) struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    /// Open `path` and parse its header; a file that is not GGUF or is cut
    /// short gives [`Error::ModelFile`] naming the file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader)
            .map_err(|e| Error::model_file(path, format!("not a readable GGUF file: {e}")))?;
        // The header can be intact while the tensor data is cut off.
        let end = content
            .tensor_infos
            .values()
            .map(|t| {
                let elems = t.shape.elem_count() as u64;
                let block = t.ggml_dtype.block_size() as u64;
                content.tensor_data_offset
                    + t.offset
                    + elems / block * t.ggml_dtype.type_size() as u64
            })
            .max()
            .unwrap_or(content.tensor_data_offset);
        if end > len {
            return Err(Error::model_file(
                path,
                format!("truncated: tensor data needs {end} bytes, file has {len}"),
            ));
        }
        Ok(Self { content, reader })
    }
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
