//! Bounds-checked reads of a shared file (a segment, the control block),
//! copied out with `pread` instead of loads from a mapping.
//!
//! Why not a mapping: a file that shrinks under a mapping (`ftruncate` by
//! its owner, the same user as the reader) makes any load from the pages
//! past its new end raise SIGBUS, which would kill the launcher (or, for the
//! control block, the user's program). Checking the size first leaves a
//! window between the check and the loads; `pread` has none: a shrunk file
//! gives a short read, which is an error here, and the reader goes on.
//!
//! Cost: a sample copies the slots it reads in chunks of [`CHUNK`] bytes (one
//! system call each, a few µs), kept in a private buffer until the next
//! batch begins ([`Region::check_size`]); scalars are then decoded from the
//! buffer. Reads that must see the writer's latest value (a published
//! count, a sequence number: [`Region::read_acquire`], [`Region::read_fresh`])
//! and byte strings ([`Region::copy_bytes`]) always read the file.
//!
//! Ordering: every `pread` is a system call, so each one reads memory after
//! the previous one returned: a count read before the slots it publishes
//! is older than the slots (what the writer's `Release` store needs).
//! Within one `pread` the kernel copies with whole aligned machine words on
//! the 64-bit targets we run on (x86-64, aarch64), so an 8-byte counter is
//! not torn in practice; the control block is read under its sequence
//! number, which catches any tear.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::error::IpcError;

/// Bytes copied per cached read (one page: 64 function slots).
const CHUNK: u64 = 4 << 10;

/// One shared file read with `pread`, its length when opened (what readers
/// validated), and its path for errors. See the module docs.
#[derive(Debug)]
pub(crate) struct Region {
    len: u64,
    file: File,
    path: PathBuf,
    /// The chunk read last in this batch: (its offset, its bytes). A mutex
    /// only to keep readers `Sync`; one thread reads at a time.
    cache: Mutex<(u64, Vec<u8>)>,
}

/// Plain values that can be read with one copy.
pub(crate) trait Scalar: Copy + Default {
    fn from_ne(bytes: &[u8]) -> Option<Self>;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            fn from_ne(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_ne_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
scalar!(u8, u16, u32, u64);

impl Region {
    /// `len`: the file's size when it was opened and checked.
    pub(crate) fn new(len: u64, file: File, path: &Path) -> Self {
        Self {
            len,
            file,
            path: path.to_path_buf(),
            cache: Mutex::new((0, Vec::new())),
        }
    }

    fn cache(&self) -> MutexGuard<'_, (u64, Vec<u8>)> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks that the file still has its length (one `fstat`) and begins a
    /// new batch of reads: nothing read before is served again.
    pub(crate) fn check_size(&self) -> Result<(), IpcError> {
        self.cache().1.clear();
        let actual = self
            .file
            .metadata()
            .map_err(|e| IpcError::io("inspect segment", &self.path, e))?
            .len();
        if actual < self.len {
            return Err(IpcError::SizeMismatch {
                path: self.path.clone(),
                declared: self.len,
                actual,
            });
        }
        Ok(())
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn out_of_bounds(&self, offset: u64, len: u64) -> IpcError {
        IpcError::OutOfBounds {
            path: self.path.clone(),
            offset,
            len,
            mapped: self.len,
        }
    }

    /// Checks that `len` bytes at `offset` lie inside the file as opened and
    /// are aligned to `align`.
    fn check(&self, offset: u64, len: u64, align: u64) -> Result<(), IpcError> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len);
        let aligned = offset.checked_rem(align) == Some(0);
        if in_bounds && aligned {
            Ok(())
        } else {
            Err(self.out_of_bounds(offset, len))
        }
    }

    /// Fills `out` (its whole length) from the file at `offset`; a short
    /// read means the file shrank.
    fn pread_exact(&self, offset: u64, out: &mut [u8]) -> Result<(), IpcError> {
        let mut done = 0usize;
        while done < out.len() {
            let at = offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            let rest = out.get_mut(done..).unwrap_or_default();
            match rustix::io::pread(&self.file, rest, at) {
                Ok(0) => {
                    let actual = self.file.metadata().map_or(at, |m| m.len());
                    return Err(IpcError::SizeMismatch {
                        path: self.path.clone(),
                        declared: self.len,
                        actual,
                    });
                }
                Ok(n) => done = done.saturating_add(n),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(IpcError::io("read", &self.path, e.into())),
            }
        }
        Ok(())
    }

    /// Reads one scalar at `offset` from the file now (no cache).
    pub(crate) fn read_fresh<T: Scalar>(&self, offset: u64) -> Result<T, IpcError> {
        let size = u64::try_from(size_of::<T>()).unwrap_or(u64::MAX);
        self.check(offset, size, size)?;
        let mut bytes = [0u8; 8];
        let bytes = bytes.get_mut(..size_of::<T>()).unwrap_or_default();
        self.pread_exact(offset, bytes)?;
        T::from_ne(bytes).ok_or_else(|| self.out_of_bounds(offset, size))
    }

    /// Reads one scalar at `offset` (relaxed: no ordering with other reads;
    /// from this batch's copy of its chunk when there is one).
    pub(crate) fn read<T: Scalar>(&self, offset: u64) -> Result<T, IpcError> {
        let size = u64::try_from(size_of::<T>()).unwrap_or(u64::MAX);
        self.check(offset, size, size)?;
        let mut cache = self.cache();
        let (start, bytes) = &mut *cache;
        let cached = offset >= *start
            && offset.saturating_add(size)
                <= start.saturating_add(u64::try_from(bytes.len()).unwrap_or(0));
        if !cached {
            let chunk_start = offset.saturating_sub(offset.checked_rem(CHUNK).unwrap_or(0));
            let chunk_len = CHUNK.min(self.len.saturating_sub(chunk_start));
            bytes.clear();
            bytes.resize(usize::try_from(chunk_len).unwrap_or(0), 0);
            if let Err(e) = self.pread_exact(chunk_start, bytes) {
                bytes.clear();
                return Err(e);
            }
            *start = chunk_start;
        }
        let at = usize::try_from(offset.saturating_sub(*start)).unwrap_or(usize::MAX);
        bytes
            .get(at..at.saturating_add(size_of::<T>()))
            .and_then(T::from_ne)
            .ok_or_else(|| self.out_of_bounds(offset, size))
    }

    /// Reads one scalar at `offset` from the file now; later reads see
    /// everything the writer wrote before its `Release` store of this value.
    pub(crate) fn read_acquire<T: Scalar>(&self, offset: u64) -> Result<T, IpcError> {
        let value = self.read_fresh(offset)?;
        fence(Ordering::Acquire);
        Ok(value)
    }

    /// Copies `len` bytes at `offset` into `out` (cleared first), from the
    /// file now.
    pub(crate) fn copy_bytes(
        &self,
        offset: u64,
        len: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), IpcError> {
        self.check(offset, len, 1)?;
        let count = usize::try_from(len).map_err(|_| self.out_of_bounds(offset, len))?;
        out.clear();
        out.resize(count, 0);
        self.pread_exact(offset, out)
    }
}
