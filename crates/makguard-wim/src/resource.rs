//! Resources: where a blob's bytes lie in the WIM and how to get them back chunk by chunk.
//! [`BlobReader`] streams a blob and checks its SHA-1; [`BlobRandomAccess`] decodes only the
//! chunks a read touches, through a small bounded cache.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use sha1::Digest;

use crate::codec::ChunkDecoder;
use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{Compression, ResourceHeader};
use crate::read_at::ReadAt;

/// Bytes an uncompressed resource is read in at a time.
const UNCOMPRESSED_UNIT: u64 = 64 * 1024;
/// Decoded bytes a random-access reader keeps cached.
const CACHE_BYTES: u64 = 1024 * 1024;

/// Where each chunk ("unit") of one resource lies, checked against the file once.
#[derive(Debug)]
pub(crate) struct Layout {
    header: ResourceHeader,
    compression: Compression,
    unit_size: u64,
    unit_count: u64,
    /// For compressed resources: the file offset where each chunk starts, then the end.
    chunk_bounds: Vec<u64>,
}

impl Layout {
    /// The layout of the empty stream (stored nowhere).
    pub(crate) fn empty() -> Layout {
        Layout {
            header: ResourceHeader {
                stored_size: 0,
                flags: 0,
                offset: 0,
                original_size: 0,
            },
            compression: Compression::None,
            unit_size: UNCOMPRESSED_UNIT,
            unit_count: 0,
            chunk_bounds: Vec::new(),
        }
    }

    /// Reads and checks the chunk table of `header`, a resource of a WIM compressed with
    /// `compression` in chunks of `chunk_size` inside a source of `file_len` bytes.
    pub(crate) fn new(
        source: &dyn ReadAt,
        header: ResourceHeader,
        compression: Compression,
        chunk_size: u32,
        file_len: u64,
    ) -> Result<Layout, WimError> {
        header.check_within(file_len, "a resource")?;
        if !header.is_compressed() {
            if header.stored_size != header.original_size {
                return Err(bad(
                    &header,
                    "an uncompressed resource whose stored and original sizes differ",
                ));
            }
            return Ok(Layout {
                header,
                compression: Compression::None,
                unit_size: UNCOMPRESSED_UNIT,
                unit_count: header.original_size.div_ceil(UNCOMPRESSED_UNIT),
                chunk_bounds: Vec::new(),
            });
        }
        if compression == Compression::None {
            return Err(bad(
                &header,
                "a compressed resource in a WIM without a compression type",
            ));
        }
        let unit_size = u64::from(chunk_size);
        let unit_count = header.original_size.div_ceil(unit_size);
        let chunk_bounds = read_chunk_table(source, &header, unit_count)?;
        Ok(Layout {
            header,
            compression,
            unit_size,
            unit_count,
            chunk_bounds,
        })
    }

    /// The decoded size.
    pub(crate) fn len(&self) -> u64 {
        self.header.original_size
    }

    fn unit_len(&self, unit: u64) -> usize {
        let start = unit * self.unit_size;
        // At most the chunk size (≤ 2 MiB) or the uncompressed unit, so it fits usize.
        (self.header.original_size - start).min(self.unit_size) as usize
    }

    /// Reads and, if need be, decompresses one unit.
    fn decode_unit(&self, source: &dyn ReadAt, decoder: &mut ChunkDecoder, unit: u64) -> Result<Vec<u8>, WimError> {
        let unit_len = self.unit_len(unit);
        if self.chunk_bounds.is_empty() {
            let mut out = vec![0; unit_len];
            source.read_exact_at(self.header.offset + unit * self.unit_size, &mut out)?;
            return Ok(out);
        }
        let (start, end) = (self.chunk_bounds[unit as usize], self.chunk_bounds[unit as usize + 1]);
        let stored_len = end - start;
        if stored_len > unit_len as u64 {
            return Err(bad(
                &self.header,
                &format!("chunk {unit} is stored in {stored_len} bytes, more than its {unit_len} bytes of data"),
            ));
        }
        let mut stored = vec![0; stored_len as usize];
        source.read_exact_at(start, &mut stored)?;
        if stored.len() == unit_len {
            return Ok(stored);
        }
        decoder
            .decompress(self.compression, &stored, unit_len, self.unit_size as usize)
            .map_err(|source| WimError::Decompress {
                offset: self.header.offset,
                chunk: unit,
                source,
            })
    }
}

fn bad(header: &ResourceHeader, message: &str) -> WimError {
    WimError::BadResource {
        offset: header.offset,
        message: message.to_owned(),
    }
}

/// Reads the chunk table (entries of 4 bytes, or 8 when the resource is over 4 GiB) and turns
/// it into absolute chunk bounds, refusing any table that does not fit the stored bytes.
fn read_chunk_table(source: &dyn ReadAt, header: &ResourceHeader, unit_count: u64) -> Result<Vec<u64>, WimError> {
    if unit_count == 0 {
        return Ok(Vec::new());
    }
    let entry_size: u64 = if header.original_size > u64::from(u32::MAX) {
        8
    } else {
        4
    };
    let table_len = (unit_count - 1)
        .checked_mul(entry_size)
        .filter(|&len| len <= header.stored_size)
        .ok_or_else(|| bad(header, "the chunk table is larger than the resource"))?;
    let mut table = vec![0u8; table_len as usize];
    source.read_exact_at(header.offset, &mut table)?;
    let data_start = header.offset + table_len;
    let data_len = header.stored_size - table_len;
    let mut bounds = Vec::with_capacity(unit_count as usize + 1);
    bounds.push(data_start);
    for entry in table.chunks_exact(entry_size as usize) {
        let relative = match entry_size {
            8 => u64::from_le_bytes(entry.try_into().expect("8 bytes")),
            _ => u64::from(u32::from_le_bytes(entry.try_into().expect("4 bytes"))),
        };
        let previous = *bounds.last().expect("bounds start non-empty") - data_start;
        if relative < previous || relative > data_len {
            return Err(bad(
                header,
                "the chunk table's offsets are out of order or out of range",
            ));
        }
        bounds.push(data_start + relative);
    }
    bounds.push(header.offset + header.stored_size);
    Ok(bounds)
}

/// A blob's bytes as a stream, decoded one chunk at a time. The SHA-1 is checked as the last
/// chunk is decoded, before its bytes are handed out: a corrupt blob fails its final `read`
/// with `io::ErrorKind::InvalidData` wrapping [`WimError::HashMismatch`] (or
/// [`WimError::Decompress`] if a chunk fails to decode), so `read_to_end` never returns
/// unverified bytes as a success. Use [`WimError::from_io`] to get the typed error back.
pub struct BlobReader {
    source: Arc<dyn ReadAt>,
    layout: Arc<Layout>,
    expected: Option<Sha1Hash>,
    hasher: sha1::Sha1,
    decoder: ChunkDecoder,
    next_unit: u64,
    buffer: Vec<u8>,
    position: usize,
    verified: bool,
    failure: Option<String>,
}

impl BlobReader {
    pub(crate) fn new(source: Arc<dyn ReadAt>, layout: Arc<Layout>, expected: Option<Sha1Hash>) -> BlobReader {
        BlobReader {
            source,
            layout,
            expected,
            hasher: sha1::Sha1::new(),
            decoder: ChunkDecoder::default(),
            next_unit: 0,
            buffer: Vec::new(),
            position: 0,
            verified: false,
            failure: None,
        }
    }

    /// The blob's decoded size.
    pub fn len(&self) -> u64 {
        self.layout.len()
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the rest of the blob, checking it, and discards it.
    ///
    /// # Errors
    ///
    /// Any error reading or decompressing the blob ([`WimError::Io`], [`WimError::Decompress`],
    /// [`WimError::BadResource`], …); [`WimError::HashMismatch`] when its bytes do not hash to the
    /// expected SHA-1.
    pub fn verify(mut self) -> Result<(), WimError> {
        while self.position < self.buffer.len() || !self.verified {
            self.position = self.buffer.len();
            self.fill()?;
        }
        Ok(())
    }

    /// Decodes the next unit into the buffer; checks the hash once all units are decoded.
    fn fill(&mut self) -> Result<(), WimError> {
        if self.next_unit < self.layout.unit_count {
            let unit = self
                .layout
                .decode_unit(&*self.source, &mut self.decoder, self.next_unit)?;
            self.hasher.update(&unit);
            self.next_unit += 1;
            self.buffer = unit;
            self.position = 0;
        }
        if self.next_unit == self.layout.unit_count && !self.verified {
            self.check_hash()?;
            self.verified = true;
        }
        Ok(())
    }

    fn check_hash(&mut self) -> Result<(), WimError> {
        let Some(expected) = self.expected else {
            return Ok(());
        };
        let actual = Sha1Hash(std::mem::take(&mut self.hasher).finalize().into());
        if actual == expected {
            Ok(())
        } else {
            self.buffer.clear();
            Err(WimError::HashMismatch { expected, actual })
        }
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(failure) = &self.failure {
            return Err(io::Error::new(io::ErrorKind::InvalidData, failure.clone()));
        }
        let drained = self.position == self.buffer.len();
        if drained
            && !(self.verified && self.next_unit == self.layout.unit_count)
            && let Err(error) = self.fill()
        {
            self.failure = Some(error.to_string());
            return Err(error.into_io());
        }
        let available = &self.buffer[self.position..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.position += n;
        Ok(n)
    }
}

/// Random access to a blob's decoded bytes, decoding only the chunks a read needs and
/// keeping about 1 MiB of them cached. It does not check the SHA-1 (it never sees the whole
/// blob): call [`crate::Wim::verify_blob`] or [`BlobRandomAccess::verify`] first.
/// Implements [`ReadAt`], so a WIM stored in a WIM can be opened over it.
pub struct BlobRandomAccess {
    source: Arc<dyn ReadAt>,
    layout: Arc<Layout>,
    expected: Option<Sha1Hash>,
    cache: Mutex<ChunkCache>,
}

struct ChunkCache {
    decoder: ChunkDecoder,
    capacity: usize,
    chunks: VecDeque<(u64, Arc<Vec<u8>>)>,
}

impl BlobRandomAccess {
    pub(crate) fn new(source: Arc<dyn ReadAt>, layout: Arc<Layout>, expected: Option<Sha1Hash>) -> BlobRandomAccess {
        let capacity = (CACHE_BYTES / layout.unit_size).max(2) as usize;
        BlobRandomAccess {
            source,
            layout,
            expected,
            cache: Mutex::new(ChunkCache {
                decoder: ChunkDecoder::default(),
                capacity,
                chunks: VecDeque::with_capacity(capacity),
            }),
        }
    }

    /// The blob's decoded size.
    pub fn len(&self) -> u64 {
        self.layout.len()
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Streams the whole blob once and checks its SHA-1.
    ///
    /// # Errors
    ///
    /// As [`BlobReader::verify`].
    pub fn verify(&self) -> Result<(), WimError> {
        BlobReader::new(Arc::clone(&self.source), Arc::clone(&self.layout), self.expected).verify()
    }

    /// Copies the blob's bytes at `offset` into `buf`; returns how many (fewer only at the end).
    ///
    /// # Errors
    ///
    /// Any error reading or decompressing the chunks holding the range ([`WimError::Io`],
    /// [`WimError::Decompress`], [`WimError::BadResource`], …). The bytes are not checked against
    /// the SHA-1.
    pub fn read_blob_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, WimError> {
        let len = self.layout.len();
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let wanted = buf.len().min((len - offset).try_into().unwrap_or(usize::MAX));
        if self.layout.chunk_bounds.is_empty() {
            self.source
                .read_exact_at(self.layout.header.offset + offset, &mut buf[..wanted])?;
            return Ok(wanted);
        }
        let mut done = 0;
        while done < wanted {
            let at = offset + done as u64;
            let unit = at / self.layout.unit_size;
            let chunk = self.chunk(unit)?;
            let within = (at - unit * self.layout.unit_size) as usize;
            let n = (chunk.len() - within).min(wanted - done);
            buf[done..done + n].copy_from_slice(&chunk[within..within + n]);
            done += n;
        }
        Ok(wanted)
    }

    fn chunk(&self, unit: u64) -> Result<Arc<Vec<u8>>, WimError> {
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(place) = cache.chunks.iter().position(|(cached, _)| *cached == unit) {
            let entry = cache.chunks.remove(place).expect("position is in range");
            let chunk = Arc::clone(&entry.1);
            cache.chunks.push_front(entry);
            return Ok(chunk);
        }
        let chunk = Arc::new(self.layout.decode_unit(&*self.source, &mut cache.decoder, unit)?);
        if cache.chunks.len() == cache.capacity {
            cache.chunks.pop_back();
        }
        cache.chunks.push_front((unit, Arc::clone(&chunk)));
        Ok(chunk)
    }
}

impl ReadAt for BlobRandomAccess {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.read_blob_at(offset, buf).map_err(WimError::into_io)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource over 4 GiB uses 8-byte chunk table entries: build one whose chunks are all
    /// empty but the last (5 raw bytes), and read those bytes back past the 4 GiB mark.
    #[test]
    fn resources_over_4_gib_use_8_byte_chunk_tables() {
        let chunk_size = 32_768u32;
        let original_size = (1u64 << 32) + 5;
        let chunks = original_size.div_ceil(u64::from(chunk_size));
        let mut file = vec![0u8; ((chunks - 1) * 8) as usize];
        file.extend_from_slice(b"HELLO");
        let header = ResourceHeader {
            stored_size: file.len() as u64,
            flags: crate::header::RESOURCE_COMPRESSED,
            offset: 0,
            original_size,
        };
        let file_len = file.len() as u64;
        let source: Arc<dyn ReadAt> = Arc::new(file);
        let layout = Layout::new(&*source, header, Compression::Lzx, chunk_size, file_len).unwrap();
        assert_eq!(layout.chunk_bounds.len() as u64, chunks + 1);
        let random = BlobRandomAccess::new(Arc::clone(&source), Arc::new(layout), None);
        let mut buf = [0u8; 16];
        assert_eq!(random.read_blob_at(1 << 32, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"HELLO");
        // The empty first chunk cannot decode to 32 KiB: an error, not a panic or zeros.
        assert!(matches!(
            random.read_blob_at(0, &mut buf),
            Err(WimError::Decompress { chunk: 0, .. })
        ));
    }

    #[test]
    fn chunk_tables_larger_than_the_resource_are_refused_before_allocating() {
        let header = ResourceHeader {
            stored_size: 100,
            flags: crate::header::RESOURCE_COMPRESSED,
            offset: 0,
            original_size: u64::MAX / 2,
        };
        let source: Arc<dyn ReadAt> = Arc::new(vec![0u8; 100]);
        let error = Layout::new(&*source, header, Compression::Xpress, 32_768, 100).unwrap_err();
        assert!(matches!(error, WimError::BadResource { .. }), "{error:?}");
    }

    #[test]
    fn out_of_order_chunk_offsets_are_refused() {
        let mut file = Vec::new();
        for offset in [10u32, 5] {
            file.extend_from_slice(&offset.to_le_bytes());
        }
        file.extend_from_slice(&[0u8; 40]);
        let header = ResourceHeader {
            stored_size: file.len() as u64,
            flags: crate::header::RESOURCE_COMPRESSED,
            offset: 0,
            original_size: 3 * 4096,
        };
        let len = file.len() as u64;
        let source: Arc<dyn ReadAt> = Arc::new(file);
        let error = Layout::new(&*source, header, Compression::Xpress, 4096, len).unwrap_err();
        assert!(matches!(error, WimError::BadResource { .. }), "{error:?}");
    }
}
