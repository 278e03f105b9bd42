//! An image's metadata resource: the security data (skipped over, bounds-checked) and the
//! dentry tree, read into an [`ImageTree`] with every defence a careful reader needs: names
//! `.`, `..`, with `/`, `\` or NUL, empty or duplicate are refused as [`TreeProblem`]s, the
//! depth is capped at [`MAX_DEPTH`], and an entry reached twice (a cycle) fails the image.

use std::collections::HashSet;

use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{le_u16, le_u32, le_u64};

/// The deepest directory nesting accepted (as wimlib caps it).
pub const MAX_DEPTH: usize = 16_384;

const DENTRY_FIXED: usize = 0x66;
const STREAM_FIXED: usize = 38;
const ATTRIBUTE_DIRECTORY: u32 = 0x10;
const ATTRIBUTE_REPARSE_POINT: u32 = 0x400;

/// A stream's content: its blob's hash and decoded size. The zero hash is the empty stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stream {
    /// The blob's SHA-1 (zero = empty, stored nowhere).
    pub hash: Sha1Hash,
    /// The blob's size per the blob table (0 when empty or missing from the table).
    pub size: u64,
}

/// An alternate data stream (`file:name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedStream {
    /// The stream's name.
    pub name: String,
    /// Its content.
    pub stream: Stream,
}

/// A reparse point (symlink, junction, …): flagged, never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reparse {
    /// The reparse tag (0xA000000C symlink, 0xA0000003 mount point/junction, …).
    pub tag: u32,
    /// The reparse data, without its 8-byte header.
    pub data: Stream,
}

/// One file or directory of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The long name (empty for the root).
    pub name: String,
    /// The DOS 8.3 name, if any.
    pub short_name: Option<String>,
    /// Windows file attributes (0x10 directory, 0x400 reparse point, …).
    pub attributes: u32,
    /// Index into the image's security descriptors, if any.
    pub security_id: Option<u32>,
    /// The parent's index in [`ImageTree::entries`] (`None` for the root).
    pub parent: Option<usize>,
    /// The children's indices in [`ImageTree::entries`], in stored order.
    pub children: Vec<usize>,
    /// The unnamed data stream (the file's content).
    pub data: Stream,
    /// The reparse point, when the reparse-point attribute is set.
    pub reparse: Option<Reparse>,
    /// Alternate data streams.
    pub named_streams: Vec<NamedStream>,
    /// Hard-link group: entries with the same id are one file (`None` when 0 or a reparse point).
    pub hard_link_group: Option<u64>,
    /// FILETIMEs (100 ns since 1601).
    pub creation_time: u64,
    /// FILETIME of the last access.
    pub last_access_time: u64,
    /// FILETIME of the last write.
    pub last_write_time: u64,
}

impl DirEntry {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.attributes & ATTRIBUTE_DIRECTORY != 0
    }

    /// Whether it is a reparse point (never followed).
    pub fn is_reparse(&self) -> bool {
        self.reparse.is_some()
    }

    /// Its content streams: the unnamed one (name `None`) unless it is empty, then each named one.
    pub fn streams(&self) -> impl Iterator<Item = (Option<&str>, Stream)> {
        let unnamed = (!self.data.hash.is_zero()).then_some((None, self.data));
        unnamed.into_iter().chain(
            self.named_streams
                .iter()
                .map(|named| (Some(named.name.as_str()), named.stream)),
        )
    }
}

/// Why an entry was refused or is incomplete. The scanner turns each into a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeProblemKind {
    /// The name is `.` or `..` (refused: the entry and its subtree are not in the tree).
    DotName,
    /// The name holds `/`, `\` or NUL (refused).
    ForbiddenCharacter,
    /// A non-root entry without a name (refused).
    EmptyName,
    /// A second entry with the same name in one directory (refused).
    DuplicateName,
    /// The name is not valid UTF-16 (kept, with U+FFFD in [`DirEntry::name`]).
    InvalidUtf16Name,
    /// A stream's blob is not in the blob table (kept; reading it fails).
    MissingBlob(Sha1Hash),
    /// A non-directory claims children (they are not read).
    ChildrenOfNonDirectory,
    /// More unnamed streams than the data (and reparse data) need (the extra ones are not read).
    ExtraUnnamedStream,
}

/// A problem with one entry, at its path (`/dir/name`; refused names are escaped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeProblem {
    /// Where in the image.
    pub path: String,
    /// What is wrong.
    pub kind: TreeProblemKind,
}

/// One image's directory tree.
#[derive(Clone, Debug)]
pub struct ImageTree {
    /// The image (1-based).
    pub image: u32,
    /// Every accepted entry; `entries[0]` is the root.
    pub entries: Vec<DirEntry>,
    /// Entries refused or incomplete.
    pub problems: Vec<TreeProblem>,
    /// How many security descriptors the security data holds.
    pub security_descriptor_count: u32,
}

impl ImageTree {
    /// The root directory.
    pub fn root(&self) -> &DirEntry {
        &self.entries[0]
    }

    /// The path of entry `index`, `/` for the root, `/a/b` below it.
    pub fn path(&self, index: usize) -> String {
        let mut names = Vec::new();
        let mut at = index;
        while let Some(parent) = self.entries[at].parent {
            names.push(self.entries[at].name.as_str());
            at = parent;
        }
        if names.is_empty() {
            return "/".to_owned();
        }
        names.iter().rev().fold(String::new(), |path, name| path + "/" + name)
    }

    /// Every entry below the root with its path, depth first in stored order.
    pub fn walk(&self) -> Vec<(usize, String)> {
        let mut out = Vec::with_capacity(self.entries.len());
        let mut stack: Vec<(usize, String)> = vec![(0, String::new())];
        while let Some((index, path)) = stack.pop() {
            for &child in self.entries[index].children.iter().rev() {
                stack.push((child, format!("{path}/{}", self.entries[child].name)));
            }
            if index != 0 {
                out.push((index, path));
            }
        }
        out
    }

    /// Every content stream of every entry: (entry index, stream name, stream). A caller that
    /// wants each blob decoded once dedupes on [`Stream::hash`].
    pub fn stream_refs(&self) -> impl Iterator<Item = (usize, Option<&str>, Stream)> {
        self.entries
            .iter()
            .enumerate()
            .flat_map(|(index, entry)| entry.streams().map(move |(name, stream)| (index, name, stream)))
    }
}

/// A dentry as stored, before its name is checked.
struct RawDentry {
    next: usize,
    name: Vec<u16>,
    short_name: Vec<u16>,
    attributes: u32,
    security_id: u32,
    subdir: u64,
    times: [u64; 3],
    main_hash: Sha1Hash,
    reparse_tag: u32,
    link_group: u64,
    extra: Vec<(Vec<u16>, Sha1Hash)>,
}

struct Parser<'a, F: Fn(Sha1Hash) -> Option<u64>> {
    image: u32,
    data: &'a [u8],
    blob_size: F,
    visited: HashSet<usize>,
    entries: Vec<DirEntry>,
    problems: Vec<TreeProblem>,
}

/// Reads the tree of image `image` from its decoded metadata resource; `blob_size` gives a
/// blob's size from the blob table.
pub(crate) fn parse_tree(
    image: u32,
    data: &[u8],
    blob_size: impl Fn(Sha1Hash) -> Option<u64>,
) -> Result<ImageTree, WimError> {
    let (root_offset, security_descriptor_count) = security_data_end(image, data)?;
    let mut parser = Parser {
        image,
        data,
        blob_size,
        visited: HashSet::new(),
        entries: Vec::new(),
        problems: Vec::new(),
    };
    let root = parser
        .read_dentry(root_offset)?
        .ok_or_else(|| parser.bad("no root directory entry"))?;
    let root_subdir = root.subdir;
    let root_is_dir = root.attributes & ATTRIBUTE_DIRECTORY != 0;
    let entry = parser.entry(root, None, "/");
    parser.entries.push(entry);
    let mut pending: Vec<(usize, u64, usize)> = Vec::new();
    parser.queue_children(&mut pending, 0, root_subdir, root_is_dir, 1)?;
    while let Some((dir, offset, depth)) = pending.pop() {
        parser.read_directory(&mut pending, dir, offset, depth)?;
    }
    Ok(ImageTree {
        image,
        entries: parser.entries,
        problems: parser.problems,
        security_descriptor_count,
    })
}

/// Checks the security data and returns where the root dentry starts and how many
/// descriptors there are.
fn security_data_end(image: u32, data: &[u8]) -> Result<(usize, u32), WimError> {
    let bad = |message: &str| WimError::BadMetadata {
        image,
        message: message.to_owned(),
    };
    if data.len() < 8 {
        return Err(bad("shorter than its security data header"));
    }
    let total = match le_u32(data, 0) {
        0 => 8,
        n => n as usize,
    };
    let count = le_u32(data, 4);
    let sizes_end = (count as usize)
        .checked_mul(8)
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= total && total <= data.len())
        .ok_or_else(|| bad("the security data runs past its stated length or the resource"))?;
    let mut descriptors: u64 = 0;
    for i in 0..count as usize {
        descriptors = descriptors.saturating_add(le_u64(data, 8 + i * 8));
    }
    if descriptors > (total - sizes_end) as u64 {
        return Err(bad("the security descriptors are larger than the security data"));
    }
    let root = align8(total).ok_or_else(|| bad("the security data length overflows"))?;
    Ok((root, count))
}

fn align8(n: usize) -> Option<usize> {
    n.checked_add(7).map(|n| n & !7)
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

fn lossy(units: &[u16]) -> (String, bool) {
    let mut invalid = false;
    let text = char::decode_utf16(units.iter().copied())
        .map(|unit| {
            unit.unwrap_or_else(|_| {
                invalid = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    (text, invalid)
}

fn refusal(name: &[u16]) -> Option<TreeProblemKind> {
    const DOT: u16 = b'.' as u16;
    match name {
        [] => Some(TreeProblemKind::EmptyName),
        [DOT] | [DOT, DOT] => Some(TreeProblemKind::DotName),
        _ if name
            .iter()
            .any(|&unit| unit == 0 || unit == u16::from(b'/') || unit == u16::from(b'\\')) =>
        {
            Some(TreeProblemKind::ForbiddenCharacter)
        }
        _ => None,
    }
}

impl<F: Fn(Sha1Hash) -> Option<u64>> Parser<'_, F> {
    fn bad(&self, message: &str) -> WimError {
        WimError::BadMetadata {
            image: self.image,
            message: message.to_owned(),
        }
    }

    fn queue_children(
        &mut self,
        pending: &mut Vec<(usize, u64, usize)>,
        dir: usize,
        subdir: u64,
        is_dir: bool,
        depth: usize,
    ) -> Result<(), WimError> {
        if subdir == 0 {
            return Ok(());
        }
        if !is_dir {
            let path = self.path_of(dir);
            self.problems.push(TreeProblem {
                path,
                kind: TreeProblemKind::ChildrenOfNonDirectory,
            });
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(WimError::TooDeep { image: self.image });
        }
        pending.push((dir, subdir, depth));
        Ok(())
    }

    fn path_of(&self, index: usize) -> String {
        let mut names = Vec::new();
        let mut at = index;
        while let Some(parent) = self.entries[at].parent {
            names.push(self.entries[at].name.as_str());
            at = parent;
        }
        names.iter().rev().fold(String::new(), |path, name| path + "/" + name)
    }

    fn read_directory(
        &mut self,
        pending: &mut Vec<(usize, u64, usize)>,
        dir: usize,
        list_offset: u64,
        depth: usize,
    ) -> Result<(), WimError> {
        let dir_path = self.path_of(dir);
        let mut names_seen: HashSet<Vec<u16>> = HashSet::new();
        let mut offset = usize::try_from(list_offset).map_err(|_| self.bad("a child offset is out of range"))?;
        while let Some(raw) = self.read_dentry(offset)? {
            offset = raw.next;
            let (display, _) = lossy(&raw.name);
            let problem_path = format!("{dir_path}/{}", display.escape_debug());
            if let Some(kind) = refusal(&raw.name) {
                self.problems.push(TreeProblem {
                    path: problem_path,
                    kind,
                });
                continue;
            }
            if !names_seen.insert(raw.name.clone()) {
                self.problems.push(TreeProblem {
                    path: problem_path,
                    kind: TreeProblemKind::DuplicateName,
                });
                continue;
            }
            let (subdir, is_dir) = (raw.subdir, raw.attributes & ATTRIBUTE_DIRECTORY != 0);
            let path = format!("{dir_path}/{display}");
            let entry = self.entry(raw, Some(dir), &path);
            let index = self.entries.len();
            self.entries.push(entry);
            self.entries[dir].children.push(index);
            self.queue_children(pending, index, subdir, is_dir, depth + 1)?;
        }
        Ok(())
    }

    /// Reads the dentry at `offset`; `None` at a list's end marker.
    fn read_dentry(&mut self, offset: usize) -> Result<Option<RawDentry>, WimError> {
        let data = self.data;
        let length_end = offset.checked_add(8).filter(|&end| end <= data.len());
        let Some(_) = length_end else {
            return Err(self.bad("a directory entry lies past the end of the metadata"));
        };
        let length = le_u64(data, offset);
        if length == 0 {
            return Ok(None);
        }
        if !self.visited.insert(offset) {
            return Err(WimError::Cycle {
                image: self.image,
                offset: offset as u64,
            });
        }
        let end = usize::try_from(length)
            .ok()
            .filter(|&len| len >= DENTRY_FIXED)
            .and_then(|len| offset.checked_add(len))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| self.bad("a directory entry's length is out of range"))?;
        let d = &data[offset..end];
        let attributes = le_u32(d, 0x08);
        let stream_count = le_u16(d, 0x60) as usize;
        let short_len = le_u16(d, 0x62) as usize;
        let name_len = le_u16(d, 0x64) as usize;
        if !name_len.is_multiple_of(2) || !short_len.is_multiple_of(2) {
            return Err(self.bad("a name length is odd"));
        }
        let name_end = DENTRY_FIXED + name_len + if name_len > 0 { 2 } else { 0 };
        let short_end = name_end + short_len + if short_len > 0 { 2 } else { 0 };
        if short_end > d.len() {
            return Err(self.bad("a directory entry's names run past its length"));
        }
        let is_reparse = attributes & ATTRIBUTE_REPARSE_POINT != 0;
        let mut next = align8(end).ok_or_else(|| self.bad("offset overflow"))?;
        let mut extra = Vec::with_capacity(stream_count.min(data.len() / STREAM_FIXED));
        for _ in 0..stream_count {
            let (stream, after) = self.read_stream_entry(next)?;
            extra.push(stream);
            next = after;
        }
        Ok(Some(RawDentry {
            next,
            name: utf16_units(&d[DENTRY_FIXED..DENTRY_FIXED + name_len]),
            short_name: utf16_units(&d[name_end..name_end + short_len]),
            attributes,
            security_id: le_u32(d, 0x0C),
            subdir: le_u64(d, 0x10),
            times: [le_u64(d, 0x28), le_u64(d, 0x30), le_u64(d, 0x38)],
            main_hash: Sha1Hash::from_slice(&d[0x40..0x54]),
            reparse_tag: if is_reparse { le_u32(d, 0x58) } else { 0 },
            link_group: if is_reparse { 0 } else { le_u64(d, 0x58) },
            extra,
        }))
    }

    /// Reads an extra stream entry at `offset`; returns it and where the next one starts.
    fn read_stream_entry(&self, offset: usize) -> Result<((Vec<u16>, Sha1Hash), usize), WimError> {
        let data = self.data;
        if offset.checked_add(STREAM_FIXED).is_none_or(|end| end > data.len()) {
            return Err(self.bad("a stream entry lies past the end of the metadata"));
        }
        let end = usize::try_from(le_u64(data, offset))
            .ok()
            .filter(|&len| len >= STREAM_FIXED)
            .and_then(|len| offset.checked_add(len))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| self.bad("a stream entry's length is out of range"))?;
        let name_len = le_u16(data, offset + 36) as usize;
        if !name_len.is_multiple_of(2) || offset + STREAM_FIXED + name_len > end {
            return Err(self.bad("a stream name runs past its entry"));
        }
        let name = utf16_units(&data[offset + STREAM_FIXED..offset + STREAM_FIXED + name_len]);
        let hash = Sha1Hash::from_slice(&data[offset + 16..offset + 36]);
        let next = align8(end).ok_or_else(|| self.bad("offset overflow"))?;
        Ok(((name, hash), next))
    }

    fn stream(&mut self, hash: Sha1Hash, path: &str) -> Stream {
        if hash.is_zero() {
            return Stream::default();
        }
        match (self.blob_size)(hash) {
            Some(size) => Stream { hash, size },
            None => {
                self.problems.push(TreeProblem {
                    path: path.to_owned(),
                    kind: TreeProblemKind::MissingBlob(hash),
                });
                Stream { hash, size: 0 }
            }
        }
    }

    /// Builds the entry, resolving its streams: unnamed ones are the reparse data first (for
    /// a reparse point), then the file data; a zero main hash yields to unnamed extra entries.
    fn entry(&mut self, raw: RawDentry, parent: Option<usize>, path: &str) -> DirEntry {
        let (name, invalid) = lossy(&raw.name);
        if invalid {
            self.problems.push(TreeProblem {
                path: path.to_owned(),
                kind: TreeProblemKind::InvalidUtf16Name,
            });
        }
        let unnamed_extra: Vec<Sha1Hash> = raw
            .extra
            .iter()
            .filter(|(n, _)| n.is_empty())
            .map(|(_, h)| *h)
            .collect();
        let mut unnamed = Vec::new();
        if !raw.main_hash.is_zero() || unnamed_extra.is_empty() {
            unnamed.push(raw.main_hash);
        }
        unnamed.extend(unnamed_extra);
        let is_reparse = raw.attributes & ATTRIBUTE_REPARSE_POINT != 0;
        let mut unnamed = unnamed.into_iter();
        let reparse = if is_reparse {
            let data = self.stream(unnamed.next().unwrap_or_default(), path);
            Some(Reparse {
                tag: raw.reparse_tag,
                data,
            })
        } else {
            None
        };
        let data = self.stream(unnamed.next().unwrap_or_default(), path);
        if unnamed.any(|hash| !hash.is_zero()) {
            self.problems.push(TreeProblem {
                path: path.to_owned(),
                kind: TreeProblemKind::ExtraUnnamedStream,
            });
        }
        let named_streams = raw
            .extra
            .iter()
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, hash)| NamedStream {
                name: lossy(n).0,
                stream: self.stream(*hash, &format!("{path}:{}", lossy(n).0)),
            })
            .collect();
        let short_name = (!raw.short_name.is_empty()).then(|| lossy(&raw.short_name).0);
        DirEntry {
            name,
            short_name,
            attributes: raw.attributes,
            security_id: (raw.security_id != u32::MAX).then_some(raw.security_id),
            parent,
            children: Vec::new(),
            data,
            reparse,
            named_streams,
            hard_link_group: (raw.link_group != 0).then_some(raw.link_group),
            creation_time: raw.times[0],
            last_access_time: raw.times[1],
            last_write_time: raw.times[2],
        }
    }
}
