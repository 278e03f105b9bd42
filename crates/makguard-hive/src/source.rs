//! Where hive bytes come from: a whole image in memory (after log replay,
//! or from [`crate::Hive::from_bytes`]) or a random-access reader ([`ReadAt`]:
//! an open file, or a file inside an image container) read on demand through
//! a small bounded page cache, so that opening a large hive costs a few MiB
//! instead of its whole size.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::HiveError;

/// Size of one cached page.
pub(crate) const PAGE_LEN: usize = 4096;
/// Most pages the cache holds at once (8 MiB).
pub(crate) const MAX_CACHED_PAGES: usize = 2048;

/// Random access to the bytes of one file, wherever they live (a file on disk, a blob in a
/// WIM). Positioned reads take `&self`, so one reader serves many threads.
pub trait ReadAt: Send + Sync {
    /// Length of the file in bytes.
    fn len(&self) -> u64;
    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads up to `buf.len()` bytes at `offset`; `Ok(0)` at or past the end.
    ///
    /// # Errors
    ///
    /// Whatever I/O error the underlying file or container reports.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadAt for File {
    fn len(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        read_file_at(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.as_slice().len());
        let n = buf.len().min(self.as_slice().len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// Reads the whole of `reader` into memory.
///
/// # Errors
///
/// An error when the file is too large to fit in memory, ends before its
/// stated length, or cannot be read.
pub fn read_all(reader: &dyn ReadAt) -> io::Result<Vec<u8>> {
    let len = usize::try_from(reader.len()).map_err(|_| io::Error::other("file does not fit in memory"))?;
    let mut data = vec![0u8; len];
    read_exact_at(reader, &mut data, 0)?;
    Ok(data)
}

/// The bytes of a hive image.
pub(crate) enum Source {
    Memory(Vec<u8>),
    File(FileSource),
}

impl Source {
    /// Length of the whole image (base block included).
    pub(crate) fn len(&self) -> usize {
        match self {
            Source::Memory(data) => data.len(),
            Source::File(f) => f.len,
        }
    }

    /// Bytes `start..end`, or `Ok(None)` when the range is not inside the
    /// image. Borrowed when the image is in memory.
    pub(crate) fn range(&self, start: usize, end: usize) -> Result<Option<Cow<'_, [u8]>>, HiveError> {
        match self {
            Source::Memory(data) => Ok(data.get(start..end).map(Cow::Borrowed)),
            Source::File(f) => f.range(start, end).map(|r| r.map(Cow::Owned)),
        }
    }

    /// Bytes of hive data held in memory right now.
    pub(crate) fn cached_bytes(&self) -> usize {
        match self {
            Source::Memory(data) => data.len(),
            Source::File(f) => f.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).bytes,
        }
    }
}

/// A hive file read with positioned reads through a page cache.
pub(crate) struct FileSource {
    path: PathBuf,
    file: Box<dyn ReadAt>,
    len: usize,
    cache: Mutex<PageCache>,
}

/// First-in, first-out page cache: the scanner's lookups touch few pages
/// and a full walk is mostly sequential, so anything smarter buys little.
#[derive(Default)]
struct PageCache {
    pages: HashMap<usize, Box<[u8]>>,
    order: VecDeque<usize>,
    bytes: usize,
}

impl FileSource {
    pub(crate) fn new(path: PathBuf, file: Box<dyn ReadAt>, len: usize) -> FileSource {
        FileSource {
            path,
            file,
            len,
            cache: Mutex::new(PageCache::default()),
        }
    }

    fn range(&self, start: usize, end: usize) -> Result<Option<Vec<u8>>, HiveError> {
        if start > end || end > self.len {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(end - start);
        // A poisoned lock only means another thread panicked mid-copy; the
        // cache holds whole pages or nothing, so it is still consistent.
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut pos = start;
        while pos < end {
            let page = pos / PAGE_LEN;
            let page_start = page * PAGE_LEN;
            let bytes = self.page(&mut cache, page)?;
            let from = pos - page_start;
            let to = (end - page_start).min(bytes.len());
            let chunk = bytes
                .get(from..to)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| HiveError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "hive file shrank while open"),
                })?;
            out.extend_from_slice(chunk);
            pos = page_start + from + chunk.len();
        }
        Ok(Some(out))
    }

    fn page<'c>(&self, cache: &'c mut PageCache, page: usize) -> Result<&'c [u8], HiveError> {
        if !cache.pages.contains_key(&page) {
            let start = page * PAGE_LEN;
            let len = self.len.saturating_sub(start).min(PAGE_LEN);
            let mut buf = vec![0u8; len].into_boxed_slice();
            read_exact_at(self.file.as_ref(), &mut buf, start as u64).map_err(|source| HiveError::Io {
                path: self.path.clone(),
                source,
            })?;
            while cache.pages.len() >= MAX_CACHED_PAGES {
                let Some(old) = cache.order.pop_front() else { break };
                if let Some(evicted) = cache.pages.remove(&old) {
                    cache.bytes -= evicted.len();
                }
            }
            cache.bytes += buf.len();
            cache.order.push_back(page);
            cache.pages.insert(page, buf);
        }
        cache.pages.get(&page).map(|b| &b[..]).ok_or_else(|| HiveError::Io {
            path: self.path.clone(),
            source: std::io::Error::other("page cache lost a page"),
        })
    }
}

/// Fills `buf` from `offset` without moving any shared file position.
pub(crate) fn read_exact_at(file: &dyn ReadAt, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(offset, buf) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "hive file ended before the expected data",
                ));
            }
            Ok(n) => {
                buf = &mut std::mem::take(&mut buf)[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn read_file_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_file_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
