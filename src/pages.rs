//! Page-level memory calls shared by the two memory-mapped weight loaders
//! (`llm::mapped` for GGUF, `marian::weights` for safetensors): the C
//! library's `mmap` family, the page size, and dropping the resident pages
//! of a read-only file mapping once their bytes have been copied out.
//! Off 64-bit Linux nothing is mapped and nothing is released.

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub(crate) mod sys {
    //! The system calls used, as declared by the C library (which the
    //! standard library links on Linux). Constants: Linux's, the same on
    //! every architecture Rust supports there.
    use std::ffi::{c_int, c_long, c_void};
    pub const PROT_READ: c_int = 1;
    pub const MAP_PRIVATE: c_int = 2;
    pub const MADV_DONTNEED: c_int = 4;
    pub const SC_PAGESIZE: c_int = 30;
    extern "C" {
        pub fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: c_int,
            flags: c_int,
            fd: c_int,
            offset: i64,
        ) -> *mut c_void;
        pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
        pub fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
        pub fn sysconf(name: c_int) -> c_long;
    }
}

/// The page size, or 0 where it is unknown (nothing is released then).
pub(crate) fn page_size() -> usize {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        // SAFETY: a plain query.
        let p = unsafe { sys::sysconf(sys::SC_PAGESIZE) };
        usize::try_from(p).unwrap_or(0)
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        0
    }
}

/// Drops this process's resident pages lying wholly inside `bytes`, a slice
/// of a read-only file mapping whose pages are `page` bytes. Nothing is
/// lost: the mapping is never written, so a later read faults the same bytes
/// back in from the file.
pub(crate) fn release(bytes: &[u8], page: usize) {
    if page == 0 {
        return;
    }
    let start = (bytes.as_ptr() as usize).next_multiple_of(page);
    let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
    if start < end {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        // SAFETY: a page-aligned range inside the read-only file mapping that
        // `bytes` borrows from. MADV_DONTNEED there drops only clean file
        // pages (a private mapping's written pages would be discarded, but
        // these mappings are never written); the mapping stays valid.
        unsafe {
            sys::madvise(start as *mut _, end - start, sys::MADV_DONTNEED);
        }
    }
}
