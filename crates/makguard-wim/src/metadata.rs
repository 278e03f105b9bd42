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
/// Where the unnamed stream's SHA-1 lies in a dentry, and a stream's in an extra stream entry.
const DENTRY_HASH_AT: usize = 0x40;
const STREAM_HASH_AT: usize = 16;
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
    /// For a refused entry, every non-empty stream it holds (data, named and reparse streams,
    /// not its subtree), so a scanner can still read what a refused name tried to hide.
    pub streams: Vec<Stream>,
}

impl TreeProblem {
    fn new(path: String, kind: TreeProblemKind) -> TreeProblem {
        TreeProblem {
            path,
            kind,
            streams: Vec::new(),
        }
    }
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
    /// For each entry, where in the decoded metadata resource the 20-byte SHA-1 of its unnamed
    /// data stream is stored (`None` when it has no slot, e.g. a reparse point without data),
    /// so a writer can patch a file's content hash without re-serializing the tree.
    pub(crate) data_hash_at: Vec<Option<usize>>,
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

    /// Every entry below the root with its path, depth first in stored order. Lazy: paths are
    /// built as the walk reaches them.
    pub fn walk(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        let mut stack: Vec<(usize, String)> = vec![(0, String::new())];
        std::iter::from_fn(move || {
            let (index, path) = stack.pop()?;
            for &child in self.entries[index].children.iter().rev() {
                stack.push((child, format!("{path}/{}", self.entries[child].name)));
            }
            Some((index, path))
        })
        .filter(|(index, _)| *index != 0)
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
    /// Offset of the main hash field, then of each extra entry's hash field.
    main_hash_at: usize,
    extra_hash_at: Vec<usize>,
}

struct Parser<'a, F: Fn(Sha1Hash) -> Option<u64>> {
    image: u32,
    data: &'a [u8],
    blob_size: F,
    visited: HashSet<usize>,
    entries: Vec<DirEntry>,
    problems: Vec<TreeProblem>,
    /// Parallel to `entries`: see [`ImageTree::data_hash_at`].
    data_hash_at: Vec<Option<usize>>,
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
        data_hash_at: Vec::new(),
    };
    let root = parser
        .read_dentry(root_offset)?
        .ok_or_else(|| parser.bad("no root directory entry"))?;
    let root_subdir = root.subdir;
    let root_is_dir = root.attributes & ATTRIBUTE_DIRECTORY != 0;
    let entry = parser.entry(&root, None);
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
        data_hash_at: parser.data_hash_at,
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
            self.problems
                .push(TreeProblem::new(path, TreeProblemKind::ChildrenOfNonDirectory));
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
        let mut names_seen: HashSet<Vec<u16>> = HashSet::new();
        let mut offset = usize::try_from(list_offset).map_err(|_| self.bad("a child offset is out of range"))?;
        while let Some(raw) = self.read_dentry(offset)? {
            offset = raw.next;
            let refused = refusal(&raw.name)
                .or_else(|| (!names_seen.insert(raw.name.clone())).then_some(TreeProblemKind::DuplicateName));
            if let Some(kind) = refused {
                let path = format!("{}/{}", self.path_of(dir), lossy(&raw.name).0.escape_debug());
                let hashes = std::iter::once(raw.main_hash).chain(raw.extra.iter().map(|(_, hash)| *hash));
                let streams = hashes
                    .filter(|hash| !hash.is_zero())
                    .map(|hash| Stream {
                        hash,
                        size: (self.blob_size)(hash).unwrap_or(0),
                    })
                    .collect();
                self.problems.push(TreeProblem { path, kind, streams });
                continue;
            }
            let (subdir, is_dir) = (raw.subdir, raw.attributes & ATTRIBUTE_DIRECTORY != 0);
            let entry = self.entry(&raw, Some(dir));
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
        let mut extra_hash_at = Vec::with_capacity(extra.capacity());
        for _ in 0..stream_count {
            let (stream, after) = self.read_stream_entry(next)?;
            extra.push(stream);
            extra_hash_at.push(next + STREAM_HASH_AT);
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
            main_hash: Sha1Hash::from_slice(&d[DENTRY_HASH_AT..DENTRY_HASH_AT + 20]),
            reparse_tag: if is_reparse { le_u32(d, 0x58) } else { 0 },
            link_group: if is_reparse { 0 } else { le_u64(d, 0x58) },
            extra,
            main_hash_at: offset + DENTRY_HASH_AT,
            extra_hash_at,
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
        let hash = Sha1Hash::from_slice(&data[offset + STREAM_HASH_AT..offset + STREAM_HASH_AT + 20]);
        let next = align8(end).ok_or_else(|| self.bad("offset overflow"))?;
        Ok(((name, hash), next))
    }

    /// The path an entry named `name` below `parent` will have (built only for problems).
    fn child_path(&self, parent: Option<usize>, name: &str) -> String {
        match parent {
            None => "/".to_owned(),
            Some(parent) => format!("{}/{name}", self.path_of(parent)),
        }
    }

    fn stream(&mut self, hash: Sha1Hash, parent: Option<usize>, name: &str, stream_name: Option<&str>) -> Stream {
        if hash.is_zero() {
            return Stream::default();
        }
        if let Some(size) = (self.blob_size)(hash) {
            Stream { hash, size }
        } else {
            let mut path = self.child_path(parent, name);
            if let Some(stream_name) = stream_name {
                path = format!("{path}:{stream_name}");
            }
            self.problems
                .push(TreeProblem::new(path, TreeProblemKind::MissingBlob(hash)));
            Stream { hash, size: 0 }
        }
    }

    /// Builds the entry, resolving its streams: unnamed ones are the reparse data first (for
    /// a reparse point), then the file data; a zero main hash yields to unnamed extra entries.
    fn entry(&mut self, raw: &RawDentry, parent: Option<usize>) -> DirEntry {
        let (name, invalid) = lossy(&raw.name);
        if invalid {
            let path = self.child_path(parent, &name);
            self.problems
                .push(TreeProblem::new(path, TreeProblemKind::InvalidUtf16Name));
        }
        let (unnamed, unnamed_at) = unnamed_streams(raw);
        let is_reparse = raw.attributes & ATTRIBUTE_REPARSE_POINT != 0;
        self.data_hash_at.push(unnamed_at.get(usize::from(is_reparse)).copied());
        let mut unnamed = unnamed.into_iter();
        let reparse = if is_reparse {
            let data = self.stream(unnamed.next().unwrap_or_default(), parent, &name, None);
            Some(Reparse {
                tag: raw.reparse_tag,
                data,
            })
        } else {
            None
        };
        let data = self.stream(unnamed.next().unwrap_or_default(), parent, &name, None);
        self.report_left_over_streams(unnamed, parent, &name);
        let named_streams = self.named_streams(raw, parent, &name);
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

    /// Unnamed streams past the reparse data and the file data have no place in the tree: a
    /// problem, so that their bytes are not silently left unscanned.
    fn report_left_over_streams(&mut self, rest: impl Iterator<Item = Sha1Hash>, parent: Option<usize>, name: &str) {
        let left_over: Vec<Stream> = rest
            .filter(|hash| !hash.is_zero())
            .map(|hash| Stream {
                hash,
                size: (self.blob_size)(hash).unwrap_or(0),
            })
            .collect();
        if !left_over.is_empty() {
            let path = self.child_path(parent, name);
            self.problems.push(TreeProblem {
                path,
                kind: TreeProblemKind::ExtraUnnamedStream,
                streams: left_over,
            });
        }
    }

    fn named_streams(&mut self, raw: &RawDentry, parent: Option<usize>, name: &str) -> Vec<NamedStream> {
        raw.extra
            .iter()
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, hash)| {
                let stream_name = lossy(n).0;
                let stream = self.stream(*hash, parent, name, Some(&stream_name));
                NamedStream {
                    name: stream_name,
                    stream,
                }
            })
            .collect()
    }
}

/// The entry's unnamed stream hashes in order, and where in the metadata each hash sits: the
/// main hash first unless it is zero and extra entries carry unnamed streams instead.
fn unnamed_streams(raw: &RawDentry) -> (Vec<Sha1Hash>, Vec<usize>) {
    let unnamed_extra = raw
        .extra
        .iter()
        .zip(&raw.extra_hash_at)
        .filter(|((n, _), _)| n.is_empty());
    let mut unnamed = Vec::new();
    let mut unnamed_at = Vec::new();
    if !raw.main_hash.is_zero() || unnamed_extra.clone().next().is_none() {
        unnamed.push(raw.main_hash);
        unnamed_at.push(raw.main_hash_at);
    }
    for ((_, hash), &at) in unnamed_extra {
        unnamed.push(*hash);
        unnamed_at.push(at);
    }
    (unnamed, unnamed_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(name: &str) -> Vec<u16> {
        name.encode_utf16().collect()
    }

    fn pad8(bytes: &mut Vec<u8>) {
        while !bytes.len().is_multiple_of(8) {
            bytes.push(0);
        }
    }

    /// One dentry (padded to 8) with its extra stream entries.
    fn dentry(name: &[u16], attributes: u32, subdir: u64, hash: u8, streams: &[(&str, u8)]) -> Vec<u8> {
        let mut d = vec![0u8; DENTRY_FIXED];
        d[0x08..0x0C].copy_from_slice(&attributes.to_le_bytes());
        d[0x0C..0x10].copy_from_slice(&u32::MAX.to_le_bytes());
        d[0x10..0x18].copy_from_slice(&subdir.to_le_bytes());
        d[0x40..0x54].copy_from_slice(&[hash; 20]);
        d[0x60..0x62].copy_from_slice(&(streams.len() as u16).to_le_bytes());
        d[0x64..0x66].copy_from_slice(&((name.len() * 2) as u16).to_le_bytes());
        d.extend(name.iter().flat_map(|u| u.to_le_bytes()));
        if !name.is_empty() {
            d.extend_from_slice(&[0, 0]);
        }
        let length = d.len() as u64;
        d[0..8].copy_from_slice(&length.to_le_bytes());
        pad8(&mut d);
        for (stream_name, stream_hash) in streams {
            let mut s = vec![0u8; STREAM_FIXED];
            s[16..36].copy_from_slice(&[*stream_hash; 20]);
            let name = units(stream_name);
            s[36..38].copy_from_slice(&((name.len() * 2) as u16).to_le_bytes());
            s.extend(name.iter().flat_map(|u| u.to_le_bytes()));
            if !name.is_empty() {
                s.extend_from_slice(&[0, 0]);
            }
            let length = s.len() as u64;
            s[0..8].copy_from_slice(&length.to_le_bytes());
            pad8(&mut s);
            d.extend(s);
        }
        d
    }

    const SECURITY: [u8; 8] = [8, 0, 0, 0, 0, 0, 0, 0];
    const END: [u8; 8] = [0; 8];

    /// Security data, a root directory, and one list of children built by `children(offset)`
    /// (given the list's offset, so directories can point further on).
    fn image(children: impl Fn(u64) -> Vec<u8>) -> Vec<u8> {
        let mut data = SECURITY.to_vec();
        let root_len = dentry(&[], ATTRIBUTE_DIRECTORY, 0, 0, &[]).len() as u64;
        let list = 8 + root_len + 8;
        data.extend(dentry(&[], ATTRIBUTE_DIRECTORY, list, 0, &[]));
        data.extend_from_slice(&END);
        data.extend(children(list));
        data.extend_from_slice(&END);
        data
    }

    fn sizes(hash: Sha1Hash) -> Option<u64> {
        (hash.0[0] != 0xEE).then_some(u64::from(hash.0[0]))
    }

    #[test]
    fn bad_names_are_refused_and_listed_and_the_rest_is_read() {
        let mut bad_utf16 = units("bad");
        bad_utf16.push(0xD800);
        let data = image(|_| {
            [
                dentry(&units("ok.txt"), 0x20, 0, 1, &[]),
                dentry(&units("a/b"), 0x20, 0, 2, &[]),
                dentry(&units("a\\b"), 0x20, 0, 2, &[]),
                dentry(&[0x61, 0, 0x62], 0x20, 0, 2, &[]),
                dentry(&units("."), ATTRIBUTE_DIRECTORY, 0, 0, &[]),
                dentry(&units("ok.txt"), 0x20, 0, 3, &[]),
                dentry(&bad_utf16, 0x20, 0, 4, &[]),
                dentry(&units("missing"), 0x20, 0, 0xEE, &[]),
            ]
            .concat()
        });
        let tree = parse_tree(1, &data, sizes).unwrap();
        let paths: Vec<String> = tree.walk().map(|(_, p)| p).collect();
        assert_eq!(paths, ["/ok.txt", "/bad\u{FFFD}", "/missing"]);
        let kinds: Vec<(&str, &TreeProblemKind)> = tree.problems.iter().map(|p| (p.path.as_str(), &p.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("/a/b", &TreeProblemKind::ForbiddenCharacter),
                ("/a\\\\b", &TreeProblemKind::ForbiddenCharacter),
                ("/a\\0b", &TreeProblemKind::ForbiddenCharacter),
                ("/.", &TreeProblemKind::DotName),
                ("/ok.txt", &TreeProblemKind::DuplicateName),
                ("/bad\u{FFFD}", &TreeProblemKind::InvalidUtf16Name),
                ("/missing", &TreeProblemKind::MissingBlob(Sha1Hash([0xEE; 20]))),
            ]
        );
        assert_eq!(tree.entries[tree.root().children[0]].data.size, 1);
        let duplicate = tree
            .problems
            .iter()
            .find(|p| p.kind == TreeProblemKind::DuplicateName)
            .unwrap();
        assert_eq!(
            duplicate.streams,
            [Stream {
                hash: Sha1Hash([3; 20]),
                size: 3
            }]
        );
        assert!(
            tree.problems
                .iter()
                .find(|p| p.kind == TreeProblemKind::DotName)
                .unwrap()
                .streams
                .is_empty()
        );
    }

    #[test]
    fn short_names_security_ids_times_and_link_groups_are_read() {
        let data = image(|_| {
            let mut d = dentry(&units("Program Files"), ATTRIBUTE_DIRECTORY, 0, 0, &[]);
            let short: Vec<u8> = units("PROGRA~1").iter().flat_map(|u| u.to_le_bytes()).collect();
            let fixed_and_name = DENTRY_FIXED + 2 * "Program Files".len() + 2;
            d.truncate(fixed_and_name);
            d.extend_from_slice(&short);
            d.extend_from_slice(&[0, 0]);
            d[0x62..0x64].copy_from_slice(&(short.len() as u16).to_le_bytes());
            d[0x0C..0x10].copy_from_slice(&7u32.to_le_bytes());
            d[0x28..0x30].copy_from_slice(&11u64.to_le_bytes());
            d[0x38..0x40].copy_from_slice(&33u64.to_le_bytes());
            d[0x58..0x60].copy_from_slice(&0x1234u64.to_le_bytes());
            let length = d.len() as u64;
            d[0..8].copy_from_slice(&length.to_le_bytes());
            pad8(&mut d);
            d
        });
        let tree = parse_tree(1, &data, sizes).unwrap();
        let entry = &tree.entries[1];
        assert_eq!(entry.name, "Program Files");
        assert_eq!(entry.short_name.as_deref(), Some("PROGRA~1"));
        assert_eq!(entry.security_id, Some(7));
        assert_eq!((entry.creation_time, entry.last_write_time), (11, 33));
        assert_eq!(entry.hard_link_group, Some(0x1234));
        assert_eq!(tree.root().security_id, None);
        assert_eq!(tree.path(1), "/Program Files");
        assert_eq!(tree.path(0), "/");
    }

    #[test]
    fn empty_names_below_the_root_are_refused() {
        let data = image(|_| dentry(&[], 0x20, 0, 1, &[]));
        let tree = parse_tree(1, &data, sizes).unwrap();
        assert_eq!(tree.entries.len(), 1);
        assert_eq!(tree.problems[0].kind, TreeProblemKind::EmptyName);
    }

    #[test]
    fn streams_resolve_named_unnamed_and_reparse_data() {
        let data = image(|_| {
            [
                // Named streams beside the main hash.
                dentry(&units("ads"), 0x20, 0, 1, &[("hidden", 2), ("", 0)]),
                // A zero main hash yields to an unnamed extra entry.
                dentry(&units("new"), 0x20, 0, 0, &[("", 3), ("s", 4)]),
                // A reparse point: the first unnamed stream is the reparse data.
                dentry(&units("link"), 0x20 | ATTRIBUTE_REPARSE_POINT, 0, 5, &[]),
                dentry(
                    &units("link2"),
                    0x20 | ATTRIBUTE_REPARSE_POINT,
                    0,
                    0,
                    &[("", 6), ("", 7)],
                ),
                dentry(&units("extra"), 0x20, 0, 8, &[("", 9)]),
            ]
            .concat()
        });
        let tree = parse_tree(1, &data, sizes).unwrap();
        let get = |name: &str| tree.entries.iter().find(|e| e.name == name).unwrap();
        let h = |b: u8| Sha1Hash([b; 20]);
        let ads = get("ads");
        assert_eq!(ads.data.hash, h(1));
        assert_eq!(
            ads.named_streams,
            [NamedStream {
                name: "hidden".into(),
                stream: Stream { hash: h(2), size: 2 }
            }]
        );
        assert_eq!(get("new").data.hash, h(3));
        assert_eq!(get("new").named_streams[0].stream.hash, h(4));
        let link = get("link");
        assert_eq!(link.reparse.unwrap().data.hash, h(5));
        assert!(link.data.hash.is_zero());
        let link2 = get("link2");
        assert_eq!((link2.reparse.unwrap().data.hash, link2.data.hash), (h(6), h(7)));
        assert_eq!(get("extra").data.hash, h(8));
        assert_eq!(
            tree.problems,
            [TreeProblem {
                path: "/extra".into(),
                kind: TreeProblemKind::ExtraUnnamedStream,
                streams: vec![Stream { hash: h(9), size: 9 }],
            }]
        );
        let data_slot = |name: &str| {
            let index = tree.entries.iter().position(|e| e.name == name).unwrap();
            tree.data_hash_at[index].map(|at| data[at..at + 20].to_vec())
        };
        assert_eq!(data_slot("ads"), Some(vec![1; 20]), "the main hash field");
        assert_eq!(data_slot("new"), Some(vec![3; 20]), "the unnamed extra entry");
        assert_eq!(data_slot("link2"), Some(vec![7; 20]), "the second unnamed entry");
        assert_eq!(data_slot("link"), None, "a reparse point with no data slot");
        let refs: Vec<_> = tree
            .stream_refs()
            .map(|(_, name, s)| (name.map(str::to_owned), s.hash))
            .collect();
        assert!(refs.contains(&(Some("hidden".into()), h(2))));
        assert!(
            !refs.iter().any(|(_, hash)| *hash == h(5)),
            "reparse data is not a content stream"
        );
    }

    #[test]
    fn children_of_a_file_are_a_problem() {
        let data = image(|list| dentry(&units("file"), 0x20, list, 1, &[]));
        let tree = parse_tree(1, &data, sizes).unwrap();
        assert_eq!(tree.problems[0].kind, TreeProblemKind::ChildrenOfNonDirectory);
    }

    #[test]
    fn a_directory_listing_itself_is_a_cycle() {
        let data = image(|list| dentry(&units("loop"), ATTRIBUTE_DIRECTORY, list, 0, &[]));
        assert!(matches!(
            parse_tree(1, &data, sizes),
            Err(WimError::Cycle { image: 1, .. })
        ));
    }

    #[test]
    fn nesting_deeper_than_the_cap_fails_and_at_the_cap_reads() {
        let chain = |levels: usize| {
            image(|list| {
                let level_len = dentry(&units("d"), ATTRIBUTE_DIRECTORY, 0, 0, &[]).len() as u64 + 8;
                let mut out = Vec::new();
                for level in 0..levels as u64 {
                    let child_list = if level + 1 < levels as u64 {
                        list + (level + 1) * level_len
                    } else {
                        0
                    };
                    out.extend(dentry(&units("d"), ATTRIBUTE_DIRECTORY, child_list, 0, &[]));
                    if level + 1 < levels as u64 {
                        out.extend_from_slice(&END);
                    }
                }
                out
            })
        };
        let tree = parse_tree(1, &chain(MAX_DEPTH), sizes).unwrap();
        assert_eq!(tree.entries.len(), MAX_DEPTH + 1);
        assert!(matches!(
            parse_tree(1, &chain(MAX_DEPTH + 1), sizes),
            Err(WimError::TooDeep { image: 1 })
        ));
    }

    #[test]
    fn truncated_and_oversized_fields_are_errors() {
        assert!(parse_tree(1, &[0u8; 4], sizes).is_err());
        let mut security = vec![0u8; 16];
        security[0] = 16;
        security[4] = 5; // five descriptor sizes cannot fit in 16 bytes
        assert!(matches!(
            parse_tree(1, &security, sizes),
            Err(WimError::BadMetadata { .. })
        ));
        let mut data = image(|_| dentry(&units("x"), 0x20, 0, 1, &[]));
        let at = data.len() - 8 - 0x70;
        data[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(parse_tree(1, &data, sizes), Err(WimError::BadMetadata { .. })));
    }
}
