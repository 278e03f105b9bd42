//! [`Wim`]: an opened WIM file, its images and its blobs.

use std::io::Read;
use std::sync::Arc;

use crate::blob_table::{BlobEntry, BlobTable};
use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{HEADER_SIZE, Header};
use crate::integrity::{ChunkHasher, IntegrityTable};
use crate::metadata::{ImageTree, parse_tree};
use crate::read_at::ReadAt;
use crate::resource::{BlobRandomAccess, BlobReader, Layout};
use crate::xml::{self, ImageInfo};

/// A metadata resource may decode to at most this many times the WIM's size (wimlib's cap).
const METADATA_EXPANSION_CAP: u64 = 512;
/// The XML data is read whole; real ones are a few KiB per image.
const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;

/// An opened WIM. Cheap to share between threads (`Send + Sync`): every read is positioned.
pub struct Wim {
    source: Arc<dyn ReadAt>,
    file_len: u64,
    header: Header,
    blobs: BlobTable,
    images: Vec<ImageInfo>,
}

impl std::fmt::Debug for Wim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wim")
            .field("file_len", &self.file_len)
            .field("header", &self.header)
            .field("images", &self.images)
            .finish_non_exhaustive()
    }
}

impl Wim {
    /// Opens the WIM in `file`.
    ///
    /// # Errors
    ///
    /// As [`Wim::from_shared`].
    pub fn open(file: std::fs::File) -> Result<Wim, WimError> {
        Wim::from_reader(file)
    }

    /// Opens a WIM over any positioned reader, e.g. a [`BlobRandomAccess`] of a WIM stored
    /// inside another WIM.
    ///
    /// # Errors
    ///
    /// As [`Wim::from_shared`].
    pub fn from_reader(source: impl ReadAt + 'static) -> Result<Wim, WimError> {
        Wim::from_shared(Arc::new(source))
    }

    /// Opens a WIM over a shared positioned reader.
    ///
    /// # Errors
    ///
    /// [`WimError::Io`] when the source cannot be read; a format error
    /// ([`WimError::NotAWim`], [`WimError::BadHeader`], [`WimError::Truncated`], …) when the
    /// header, blob table or XML is malformed; [`WimError::Solid`], [`WimError::Split`],
    /// [`WimError::Pipable`] and the like for WIM variants this reader does not support.
    pub fn from_shared(source: Arc<dyn ReadAt>) -> Result<Wim, WimError> {
        let file_len = source.size()?;
        let mut raw_header = vec![0u8; HEADER_SIZE.min(file_len as usize)];
        source.read_exact_at(0, &mut raw_header)?;
        let header = Header::parse(&raw_header, file_len)?;
        let blobs = BlobTable::parse(&read_whole(
            &*source,
            header.blob_table.offset,
            header.blob_table.stored_size,
        )?)?;
        if blobs.metadata.len() != header.image_count as usize {
            return Err(WimError::BadBlobTable(format!(
                "{} metadata resources for {} images",
                blobs.metadata.len(),
                header.image_count
            )));
        }
        if header.xml_data.stored_size > MAX_XML_BYTES {
            return Err(WimError::BadXml(format!(
                "{} bytes is too large",
                header.xml_data.stored_size
            )));
        }
        let xml = xml::parse(&read_whole(
            &*source,
            header.xml_data.offset,
            header.xml_data.stored_size,
        )?)?;
        if xml.encrypted_esd {
            return Err(WimError::EncryptedEsd);
        }
        let images = (1..=header.image_count)
            .map(|index| {
                xml.images
                    .iter()
                    .find(|info| info.index == index)
                    .cloned()
                    .unwrap_or(ImageInfo {
                        index,
                        ..ImageInfo::default()
                    })
            })
            .collect();
        Ok(Wim {
            source,
            file_len,
            header,
            blobs,
            images,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// One entry per image, in index order (`images()[0].index == 1`).
    pub fn images(&self) -> &[ImageInfo] {
        &self.images
    }

    /// The blob table entry of a (non-metadata) blob.
    pub fn blob(&self, hash: Sha1Hash) -> Option<&BlobEntry> {
        self.blobs.blobs.get(&hash)
    }

    /// The blob table entry of image `index`'s (1-based) metadata resource.
    pub fn metadata_resource(&self, index: u32) -> Option<&BlobEntry> {
        self.blobs.metadata.get(index.checked_sub(1)? as usize)
    }

    /// How many distinct (non-metadata) blobs the blob table holds.
    pub fn blob_count(&self) -> usize {
        self.blobs.blobs.len()
    }

    /// Reads image `index`'s (1-based) metadata resource, checking its SHA-1, into a tree.
    ///
    /// # Errors
    ///
    /// [`WimError::NoSuchImage`] when there is no image `index`; otherwise any error reading,
    /// decompressing or checking the metadata resource or building its tree
    /// ([`WimError::BadMetadata`], [`WimError::HashMismatch`], [`WimError::Cycle`], …).
    pub fn image_tree(&self, index: u32) -> Result<ImageTree, WimError> {
        self.image_metadata(index).map(|(_, tree)| tree)
    }

    /// Image `index`'s decoded metadata resource (SHA-1 checked) and the tree parsed from it.
    pub(crate) fn image_metadata(&self, index: u32) -> Result<(Vec<u8>, ImageTree), WimError> {
        let count = self.header.image_count;
        let entry = index
            .checked_sub(1)
            .and_then(|i| self.blobs.metadata.get(i as usize))
            .ok_or(WimError::NoSuchImage { index, count })?;
        if entry.in_other_part() {
            return Err(WimError::BlobInOtherPart {
                hash: entry.hash,
                part: entry.part,
            });
        }
        let size = entry.resource.original_size;
        if size > self.file_len.saturating_mul(METADATA_EXPANSION_CAP) {
            return Err(WimError::MetadataTooLarge { image: index, size });
        }
        let layout = Arc::new(self.layout(&entry.resource)?);
        let mut reader = BlobReader::new(Arc::clone(&self.source), layout, Some(entry.hash));
        let mut data = Vec::with_capacity(size.min(self.file_len) as usize);
        reader.read_to_end(&mut data).map_err(io_to_wim)?;
        let tree = parse_tree(index, &data, |hash| {
            self.blob(hash).map(|blob| blob.resource.original_size)
        })?;
        Ok((data, tree))
    }

    /// Every (non-metadata) blob's hash, in no particular order.
    pub(crate) fn blob_hashes(&self) -> impl Iterator<Item = Sha1Hash> + '_ {
        self.blobs.blobs.keys().copied()
    }

    /// The size of the WIM's source in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The integrity table of the source's bytes from the end of the header to `end`.
    pub(crate) fn compute_integrity(&self, end: u64, chunk_size: u32) -> Result<IntegrityTable, WimError> {
        IntegrityTable::compute(&*self.source, end, chunk_size)
    }

    /// Feeds the source's bytes from `start` to `end` to `hasher`.
    pub(crate) fn hash_into(&self, hasher: &mut ChunkHasher, start: u64, end: u64) -> Result<(), WimError> {
        hasher.update_from(&*self.source, start, end)
    }

    /// `len` bytes of the source at `offset` (the caller checked they lie inside it).
    pub(crate) fn read_raw(&self, offset: u64, len: u64) -> Result<Vec<u8>, WimError> {
        read_whole(&*self.source, offset, len)
    }

    /// A stream of the blob's bytes, checked against its SHA-1 (see [`BlobReader`]). The zero
    /// hash gives an empty stream.
    ///
    /// # Errors
    ///
    /// [`WimError::BlobNotFound`] when no blob has `hash`; [`WimError::BlobInOtherPart`] when
    /// it is stored in another part of a split WIM; [`WimError::Io`] or
    /// [`WimError::BadResource`] when its chunk table cannot be read or is malformed. The
    /// blob's bytes are read and checked later, by the stream.
    pub fn open_blob(&self, hash: Sha1Hash) -> Result<BlobReader, WimError> {
        let (layout, expected) = self.blob_layout(hash)?;
        Ok(BlobReader::new(Arc::clone(&self.source), layout, expected))
    }

    /// Random access to the blob's bytes through a bounded chunk cache. Not verified: call
    /// [`Wim::verify_blob`] first.
    ///
    /// # Errors
    ///
    /// As [`Wim::open_blob`].
    pub fn blob_random_access(&self, hash: Sha1Hash) -> Result<BlobRandomAccess, WimError> {
        let (layout, expected) = self.blob_layout(hash)?;
        Ok(BlobRandomAccess::new(Arc::clone(&self.source), layout, expected))
    }

    /// Streams the blob once and checks its SHA-1.
    ///
    /// # Errors
    ///
    /// As [`Wim::open_blob`], then any error reading or decompressing the blob, and
    /// [`WimError::HashMismatch`] when its bytes do not hash to `hash`.
    pub fn verify_blob(&self, hash: Sha1Hash) -> Result<(), WimError> {
        self.open_blob(hash)?.verify()
    }

    /// The whole blob, checked (for small blobs; prefer [`Wim::open_blob`] for large ones).
    ///
    /// # Errors
    ///
    /// As [`Wim::verify_blob`].
    pub fn read_blob(&self, hash: Sha1Hash) -> Result<Vec<u8>, WimError> {
        let mut reader = self.open_blob(hash)?;
        let mut out = Vec::with_capacity(reader.len().min(self.file_len) as usize);
        reader.read_to_end(&mut out).map_err(io_to_wim)?;
        Ok(out)
    }

    fn blob_layout(&self, hash: Sha1Hash) -> Result<(Arc<Layout>, Option<Sha1Hash>), WimError> {
        if hash.is_zero() {
            return Ok((Arc::new(Layout::empty()), None));
        }
        let entry = self.blob(hash).ok_or(WimError::BlobNotFound(hash))?;
        if entry.in_other_part() {
            return Err(WimError::BlobInOtherPart { hash, part: entry.part });
        }
        Ok((Arc::new(self.layout(&entry.resource)?), Some(hash)))
    }

    fn layout(&self, resource: &crate::ResourceHeader) -> Result<Layout, WimError> {
        Layout::new(
            &*self.source,
            *resource,
            self.header.compression,
            self.header.chunk_size,
            self.file_len,
        )
    }
}

/// The typed error inside an `io::Error` from a [`BlobReader`], or the I/O error itself.
fn io_to_wim(error: std::io::Error) -> WimError {
    if error
        .get_ref()
        .is_some_and(<dyn std::error::Error + std::marker::Send + std::marker::Sync + 'static>::is::<WimError>)
    {
        let inner = error.into_inner().expect("checked above");
        return *inner.downcast::<WimError>().expect("checked above");
    }
    WimError::Io(error)
}

/// Reads `len` bytes at `offset` (already checked to lie inside the file).
fn read_whole(source: &dyn ReadAt, offset: u64, len: u64) -> Result<Vec<u8>, WimError> {
    let mut out = vec![0u8; len as usize];
    source.read_exact_at(offset, &mut out)?;
    Ok(out)
}
