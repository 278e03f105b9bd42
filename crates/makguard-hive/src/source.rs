//! Where hive bytes come from: a whole image in memory (after log replay,
//! or from [`crate::Hive::from_bytes`]) or an open file read on demand
//! through a small bounded page cache, so that opening a large hive costs a
//! few MiB instead of its whole size.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::HiveError;

/// Size of one cached page.
pub(crate) const PAGE_LEN: usize = 4096;
/// Most pages the cache holds at once (8 MiB).
pub(crate) const MAX_CACHED_PAGES: usize = 2048;

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

/// An open hive file read with positioned reads through a page cache.
pub(crate) struct FileSource {
    path: PathBuf,
    file: File,
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
    pub(crate) fn new(path: PathBuf, file: File, len: usize) -> FileSource {
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
            read_exact_at(&self.file, &mut buf, start as u64).map_err(|source| HiveError::Io {
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
pub(crate) fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, offset) {
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
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
