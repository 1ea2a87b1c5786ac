//! Checkpoint tensors read one at a time, so that loading never holds the
//! whole f32 model.
//!
//! `model.safetensors` is memory-mapped (Candle's [`MmapedSafetensors`]: the
//! header is validated up front, as `candle_core::safetensors::load` does).
//! Each tensor asked for is copied out of the mapping and its pages are then
//! handed back to the kernel: pages of a mapped file that have been read
//! count in the process's resident set until unmapped, so without this the
//! peak RSS would still include the whole checkpoint. The model builder
//! turns each tensor into its final form (int8, fused projection) and drops
//! the f32 copy before asking for the next one.
//!
//! `pytorch_model.bin` goes through Candle's [`PthTensors`], which also reads
//! one tensor at a time (from its zip member); nothing is mapped there.
use std::path::Path;

use candle_core::pickle::PthTensors;
use candle_core::safetensors::{Load, MmapedSafetensors};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

/// A memory-mapped safetensors file whose tensors are copied out on demand,
/// the mapped pages released after each copy.
struct Mapped {
    st: MmapedSafetensors,
    page: usize,
}

impl Mapped {
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let view = self.st.get(name)?;
        let t = view.load(dev)?;
        crate::pages::release(view.data(), self.page);
        t.to_dtype(dtype)
    }
}

impl SimpleBackend for Mapped {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.load(name, dtype, dev)?;
        if t.shape() != &s {
            Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: t.shape().clone(),
            }
            .bt())?
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.load(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.st.get(name).is_ok()
    }
}

/// A `VarBuilder` over `model.safetensors` (memory-mapped) or
/// `pytorch_model.bin` at `path` that reads each tensor when it is asked for.
/// Every `get` reads the file again: ask for each tensor once.
pub(crate) fn lazy_var_builder(
    path: &Path,
    device: &Device,
) -> candle_core::Result<VarBuilder<'static>> {
    let is_pth = path.extension().is_some_and(|e| e == "bin");
    let backend: Box<dyn SimpleBackend> = if is_pth {
        Box::new(PthTensors::new(path, None)?)
    } else {
        // SAFETY: the mapping is read-only; like every memory-mapped model
        // loader this expects the file not to be truncated or rewritten in
        // place during the load (the model cache replaces files by renaming),
        // and the mapping is gone once the model is built.
        let st = unsafe { MmapedSafetensors::new(path)? };
        Box::new(Mapped {
            st,
            page: crate::pages::page_size(),
        })
    };
    Ok(VarBuilder::from_backend(
        backend,
        DType::F32,
        device.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of a tensor read through the mapping leave the resident set.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    #[test]
    fn reading_a_tensor_releases_its_mapped_pages() {
        fn rss_file_kib() -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            let l = s.lines().find(|l| l.starts_with("RssFile:")).unwrap();
            l.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        // 64 MiB of f32: far above any noise in RssFile.
        let n = 16 << 20;
        let big = Tensor::from_vec(vec![1.5f32; n], n, &Device::Cpu).unwrap();
        let small = Tensor::from_vec(vec![2.0f32; 8], 8, &Device::Cpu).unwrap();
        candle_core::safetensors::save(
            &std::collections::HashMap::from([("big", big), ("small", small)]),
            &path,
        )
        .unwrap();
        let vb = lazy_var_builder(&path, &Device::Cpu).unwrap();
        let before = rss_file_kib();
        let t = vb.get(n, "big").unwrap();
        let after = rss_file_kib();
        assert_eq!(t.min(0).unwrap().to_scalar::<f32>().unwrap(), 1.5);
        assert_eq!(t.max(0).unwrap().to_scalar::<f32>().unwrap(), 1.5);
        assert!(
            after < before + 8 * 1024,
            "RssFile grew from {before} to {after} KiB reading a 64 MiB tensor"
        );
        assert!(vb.contains_tensor("small"));
        assert!(!vb.contains_tensor("missing"));
        assert!(vb.get(4, "small").is_err(), "wrong shape is refused");
    }
}
