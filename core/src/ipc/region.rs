//! Bounds-checked reads from a read-only shared mapping.
//!
//! Readers never form Rust references into a segment: another process
//! writes it concurrently, and a damaged segment may hold any bytes. Every
//! read goes through [`Region`], which checks the range against the mapping
//! and the natural alignment, then copies the value out with a volatile read
//! (one aligned machine load, so 8-byte counters never tear on the 64-bit
//! targets we run on).
//!
//! Ordering: memory shared between processes is outside the Rust memory
//! model, so the "acquire" loads here follow the Linux kernel's
//! `READ_ONCE()` + `smp_rmb()` pattern: a volatile load followed by an
//! `Acquire` fence, which pairs with the writer's `Release` stores. (Atomic
//! loads through `AtomicU64::from_ptr` would need the memory to be writable,
//! and the reader's mapping is `PROT_READ`.)

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};

use memmap2::MmapRaw;

use super::error::IpcError;

/// A read-only mapping of one segment file, plus the file (to check its
/// size) and its path for errors.
///
/// A file that shrinks under a mapping (`ftruncate` by its owner) makes any
/// read of the pages past its new end raise SIGBUS, which would kill the
/// launcher. Readers call [`Region::check_size`] before each batch of reads
/// (a sample, a header read): a shrunk file is then an error, the segment
/// is reported as damaged, and the launcher goes on. A shrink in the few
/// microseconds between the check and the reads is not caught.
#[derive(Debug)]
pub(crate) struct Region {
    map: MmapRaw,
    file: File,
    path: PathBuf,
}

/// Plain values that can be read from a mapping with one load.
pub(crate) trait Scalar: Copy {}
impl Scalar for u8 {}
impl Scalar for u16 {}
impl Scalar for u32 {}
impl Scalar for u64 {}

impl Region {
    pub(crate) fn new(map: MmapRaw, file: File, path: &Path) -> Self {
        Self {
            map,
            file,
            path: path.to_path_buf(),
        }
    }

    /// Checks that the file still covers the whole mapping (one `fstat`).
    pub(crate) fn check_size(&self) -> Result<(), IpcError> {
        let actual = self
            .file
            .metadata()
            .map_err(|e| IpcError::io("inspect segment", &self.path, e))?
            .len();
        if actual < self.len() {
            return Err(IpcError::SizeMismatch {
                path: self.path.clone(),
                declared: self.len(),
                actual,
            });
        }
        Ok(())
    }

    /// Mapped length in bytes.
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.map.len()).unwrap_or(0)
    }

    /// The segment file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Pointer to `len` bytes at `offset`, checked to lie inside the mapping
    /// and to be aligned to `align`.
    fn ptr(&self, offset: u64, len: u64, align: u64) -> Result<*const u8, IpcError> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len());
        let aligned = offset.checked_rem(align) == Some(0);
        match usize::try_from(offset) {
            Ok(start) if in_bounds && aligned => Ok(self.map.as_ptr().wrapping_add(start)),
            _ => Err(IpcError::OutOfBounds {
                path: self.path.clone(),
                offset,
                len,
                mapped: self.len(),
            }),
        }
    }

    /// Reads one scalar at `offset` (relaxed: no ordering with other reads).
    pub(crate) fn read<T: Scalar>(&self, offset: u64) -> Result<T, IpcError> {
        let size = u64::try_from(size_of::<T>()).unwrap_or(u64::MAX);
        let ptr = self.ptr(offset, size, size)?.cast::<T>();
        // SAFETY: `ptr` points inside the live mapping (checked above), is
        // aligned for T (mapping is page-aligned, offset is a multiple of
        // size_of::<T>() which equals align_of::<T>() for these scalars), and
        // every bit pattern is a valid T.
        Ok(unsafe { ptr.read_volatile() })
    }

    /// Reads one scalar at `offset`; later reads see everything the writer
    /// wrote before its `Release` store of this value.
    pub(crate) fn read_acquire<T: Scalar>(&self, offset: u64) -> Result<T, IpcError> {
        let value = self.read(offset)?;
        fence(Ordering::Acquire);
        Ok(value)
    }

    /// Copies `len` bytes at `offset` into `out` (cleared first).
    pub(crate) fn copy_bytes(
        &self,
        offset: u64,
        len: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), IpcError> {
        let ptr = self.ptr(offset, len, 1)?;
        let count = usize::try_from(len).map_err(|_| IpcError::OutOfBounds {
            path: self.path.clone(),
            offset,
            len,
            mapped: self.len(),
        })?;
        out.clear();
        out.reserve(count);
        for i in 0..count {
            // SAFETY: offset..offset+len is inside the mapping (checked above)
            // and u8 has no alignment or validity requirements.
            out.push(unsafe { ptr.wrapping_add(i).read_volatile() });
        }
        Ok(())
    }
}
