//! `makguard-wim`: a reader for Windows Imaging (WIM) files, written here so makguard can scan
//! `install.wim` directly, with no mount, no rights and no external tools; and a writer
//! ([`write_replacements`]) that gives a few files of a WIM new contents, leaving every other
//! byte as it was.
//!
//! It reads only the one source it is given, through positioned reads ([`ReadAt`]), so one
//! [`Wim`] can serve many threads, and a WIM nested in another (`Winre.wim`) can be opened over
//! a [`BlobRandomAccess`].
//!
//! # Supported
//! * The 208-byte header, with every field checked against the file's size; the blob table;
//!   the XML data per image ([`ImageInfo`]: name, edition, architecture, product name,
//!   installation type, version).
//! * Each image's metadata resource ([`Wim::image_tree`]): the security data (skipped,
//!   bounds-checked), the dentry tree with long and short names, attributes, alternate data
//!   streams, reparse points (flagged, never followed) and hard-link groups.
//! * Resources stored uncompressed, or XPRESS/LZX-compressed in chunks with 4- or 8-byte chunk
//!   tables, raw chunks included. [`Wim::open_blob`] streams a blob chunk by chunk (memory: about
//!   two chunks) and checks its SHA-1 before handing out the last chunk;
//!   [`Wim::blob_random_access`] decodes only the chunks a read needs (bounded cache, about
//!   1 MiB), after the caller checked the blob once with [`Wim::verify_blob`].
//!   [`ImageTree::stream_refs`] lists every stream with its hash, so a caller decodes each
//!   unique blob once however many paths or images share it.
//!
//! # Not supported: each fails with its own [`WimError`], saying what to do
//! * Solid resources, `.esd` and LZMS (version 0xE00, header flag 0x80000, blob flag 0x10):
//!   [`WimError::Solid`] ("convert with `DISM /Export-Image /Compress:max` or
//!   `wimlib-imagex export SRC INDEX DEST --compress=LZX`").
//! * Split WIMs (`.swm`, header flag 0x8 or more than one part): [`WimError::Split`]; a blob
//!   in another part: [`WimError::BlobInOtherPart`].
//! * Pipable WIMs (`WLPWM\0\0\0`): [`WimError::Pipable`].
//! * Encrypted ESDs (`<ESD><ENCRYPTED>` in the XML): [`WimError::EncryptedEsd`].
//! * A header flagged write-in-progress (0x40), a WIM that may be half-written:
//!   [`WimError::WriteInProgress`].
//! * The reader does not check the integrity table (every blob's SHA-1 is, which covers the same
//!   bytes); the writer checks it before rewriting a WIM that has one.
//!
//! # Writing
//! [`write_replacements`] appends to a copy of the WIM what wimlib's append writes (the new
//! blobs stored uncompressed, each changed image's metadata with only the changed hashes
//! patched, a blob table with moved reference counts, the XML with its sizes moved, an
//! integrity table when the input had one), writes the header last, syncs and renames the copy
//! over the target: a kill leaves the original or the fixed WIM. It refuses, before writing,
//! every WIM the reader refuses, a wrong integrity table, any corrupt blob or metadata, trees
//! with refused entries, and paths that are not regular files ([`WriteError`]).
//!
//! # Errors while reading a blob
//! [`BlobReader`] is an `io::Read`: a SHA-1 mismatch or a chunk that fails to decode comes back
//! as `io::ErrorKind::InvalidData` wrapping the [`WimError`] ([`WimError::from_io`] recovers
//! it), before the last chunk's bytes are handed out. [`Wim::read_blob`],
//! [`Wim::verify_blob`] and [`BlobRandomAccess::read_blob_at`] return [`WimError`] directly.
//!
//! # Defences
//! Names `.`, `..`, empty, holding `/`, `\` or NUL, and duplicates in one directory are refused
//! and listed in [`ImageTree::problems`] with their path and their streams (so a scanner can
//! still read what they hold; the rest of the image is read as usual);
//! depth is capped at [`MAX_DEPTH`]; an entry reached twice fails the image
//! ([`WimError::Cycle`]); every size and count is checked against the file's size before
//! anything is allocated; a metadata resource claiming more than 512 times the file's size is
//! refused; a chunk must decode to exactly its size; and every blob read is checked against
//! its SHA-1, a mismatch being [`WimError::HashMismatch`].

#![warn(missing_docs)]

mod blob_table;
mod codec;
mod codec_bits;
mod codec_error;
mod codec_huffman;
mod error;
mod hash;
mod header;
mod integrity;
pub mod lzx;
mod metadata;
mod read_at;
mod resource;
mod wim;
mod write;
mod xml;
mod xml_patch;
pub mod xpress;

pub use blob_table::BlobEntry;
pub use codec_error::CodecError;
pub use error::{CONVERT_ADVICE, WimError};
pub use hash::Sha1Hash;
pub use header::{Compression, Header, ResourceHeader};
pub use metadata::{DirEntry, ImageTree, MAX_DEPTH, NamedStream, Reparse, Stream, TreeProblem, TreeProblemKind};
pub use read_at::ReadAt;
pub use resource::{BlobRandomAccess, BlobReader};
pub use wim::Wim;
pub use write::{
    ChangedFile, Replacement, WriteError, WriteOptions, WriteSummary, WriteTarget, temporary_path, write_replacements,
    write_replacements_with,
};
pub use xml::ImageInfo;
