//! Rewriting a WIM with a few files' contents replaced ([`write_replacements`]), everything
//! else kept byte for byte.
//!
//! The new file is the old one, unchanged, followed by what wimlib's append writes: the new
//! blobs (stored uncompressed, which any WIM may mix with compressed ones), one new metadata
//! resource per changed image (the old one decoded, with only the changed dentries' 20-byte
//! hashes patched, stored uncompressed), a new blob table, the XML data with its sizes moved,
//! and a new integrity table when the input had one; then the header, pointing at them. The
//! old blob table, XML and metadata become unused holes, as after a wimlib append.
//!
//! Crash safety: that file is built beside the target under a temporary name, synced and
//! renamed over the target, so a kill at any moment leaves either the untouched original or
//! the complete new WIM (and at worst a stray temporary file, removed by the next write).
//! Everything that can refuse the WIM (the reader's refusals, the integrity table, every
//! metadata resource, every blob's SHA-1, the replaced paths) runs before anything is written.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::blob_table::{BlobEntry, ENTRY_SIZE};
use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{HEADER_SIZE, RESOURCE_FREE, RESOURCE_METADATA, ResourceHeader};
use crate::integrity::{ChunkHasher, DEFAULT_CHUNK_SIZE, IntegrityTable};
use crate::metadata::ImageTree;
use crate::wim::Wim;
use crate::xml_patch::{self, ImageSizeDelta};

/// Header offsets of the resource headers a rewrite replaces.
const HEADER_BLOB_TABLE_AT: usize = 0x30;
const HEADER_XML_AT: usize = 0x48;
const HEADER_BOOT_METADATA_AT: usize = 0x60;
const HEADER_INTEGRITY_AT: usize = 0x7C;

/// New contents for one file: the unnamed data stream of `path` in image `image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// The image (1-based).
    pub image: u32,
    /// The file's path as [`ImageTree::path`] gives it (`/Windows/Panther/unattend.xml`),
    /// matched exactly (names are compared case-sensitively, as stored).
    pub path: String,
    /// Its new bytes.
    pub contents: Vec<u8>,
}

/// Where the rewritten WIM goes.
#[derive(Clone, Copy, Debug)]
pub enum WriteTarget<'a> {
    /// Over the input, atomically (a new file renamed over it).
    InPlace,
    /// To a new file (an existing one is replaced, atomically); the input is never opened for
    /// writing.
    NewFile(&'a Path),
}

/// What to check before writing.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// Check every blob's SHA-1, not only the replaced files' old blobs (the default: a WIM
    /// with a corrupt blob is not rewritten into one that looks freshly made). Costs one
    /// decompression pass over the WIM, as a scan does.
    pub verify_every_blob: bool,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            verify_every_blob: true,
        }
    }
}

/// One file whose content changed (every path of a hard-link group is listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// The image (1-based).
    pub image: u32,
    /// The path in the image.
    pub path: String,
    /// The SHA-1 of the old contents (zero = empty).
    pub old_hash: Sha1Hash,
    /// The SHA-1 of the new contents (zero = empty).
    pub new_hash: Sha1Hash,
}

/// What a rewrite did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    /// The file written (or, when nothing changed in place, left alone).
    pub output: PathBuf,
    /// Whether a file was written: `false` when every replacement equals the current contents
    /// and the target is the input.
    pub written: bool,
    /// Every dentry whose content changed.
    pub changed: Vec<ChangedFile>,
    /// The images given a new metadata resource.
    pub changed_images: Vec<u32>,
    /// How many new blobs were stored.
    pub new_blobs: usize,
    /// The input's size.
    pub original_len: u64,
    /// The output's size (new blobs, metadata, blob table, XML and integrity table appended).
    pub new_len: u64,
    /// Whether the output carries a (recomputed) integrity table.
    pub integrity_table: bool,
}

/// Why a WIM was not rewritten. Every refusal happens before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The reader refuses the WIM or one of its parts (solid, split, corrupt, …).
    #[error("the WIM cannot be rewritten: {0}")]
    Unreadable(#[from] WimError),
    /// An image holds entries the reader refuses (`.`, `..`, duplicates, missing blobs, …).
    #[error(
        "image {image} holds {count} entries a careful reader refuses (first: {first}); a WIM with them is not rewritten"
    )]
    TreeProblems {
        /// The image (1-based).
        image: u32,
        /// How many problems its tree has.
        count: usize,
        /// The first, with its path.
        first: String,
    },
    /// No entry has the replacement's path.
    #[error("image {image} has no file {path}")]
    NoSuchFile {
        /// The image (1-based).
        image: u32,
        /// The path asked for.
        path: String,
    },
    /// The path names a directory or a reparse point.
    #[error("{path} in image {image} is {what}; only regular files' contents are replaced")]
    NotARegularFile {
        /// The image (1-based).
        image: u32,
        /// The path asked for.
        path: String,
        /// What it is instead.
        what: &'static str,
    },
    /// Two replacements name one file (directly or through a hard link) with different bytes.
    #[error("{path} in image {image} is given two different replacements (directly or through a hard link)")]
    ConflictingReplacements {
        /// The image (1-based).
        image: u32,
        /// A path of the file.
        path: String,
    },
    /// The input's integrity table does not match its bytes.
    #[error(
        "the WIM's integrity table does not match its contents (chunk {chunk} differs): the file is damaged and is not rewritten"
    )]
    IntegrityMismatch {
        /// The first chunk that differs.
        chunk: usize,
    },
    /// [`WriteTarget::NewFile`] names the input itself.
    #[error("the output {0} is the input WIM; write in place instead")]
    OutputIsInput(PathBuf),
    /// The input changed while it was being rewritten.
    #[error("the WIM changed while it was being rewritten ({0}); nothing was replaced")]
    InputChanged(String),
    /// Writing the new file failed (the target is unchanged).
    #[error("could not write {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The rewritten WIM failed the reader's check before it replaced anything.
    #[error("the rewritten WIM failed its own check, so it was not installed: {0}")]
    SelfCheck(WimError),
}

/// Rewrites `wim_path` into `target` with `replacements` applied, checking every blob first
/// (see [`WriteOptions`]).
///
/// # Errors
///
/// As [`write_replacements_with`].
pub fn write_replacements(
    wim_path: &Path,
    replacements: &[Replacement],
    target: WriteTarget,
) -> Result<WriteSummary, WriteError> {
    write_replacements_with(wim_path, replacements, target, WriteOptions::default())
}

/// [`write_replacements`] with explicit options.
///
/// # Errors
///
/// A [`WriteError`] saying why the WIM was not rewritten: the reader refuses it or an image's
/// tree, a replacement names no regular file or conflicts with another, the integrity table
/// does not match, the output is the input, the input changed, writing failed, or the result
/// failed its own check.
pub fn write_replacements_with(
    wim_path: &Path,
    replacements: &[Replacement],
    target: WriteTarget,
    options: WriteOptions,
) -> Result<WriteSummary, WriteError> {
    let output = match target {
        WriteTarget::InPlace => wim_path.to_path_buf(),
        WriteTarget::NewFile(path) if same_file(wim_path, path) => {
            return Err(WriteError::OutputIsInput(path.to_path_buf()));
        }
        WriteTarget::NewFile(path) => path.to_path_buf(),
    };
    let wim = Wim::open(File::open(wim_path).map_err(WimError::Io)?)?;
    check_integrity_table(&wim)?;
    let plan = plan(&wim, replacements, options)?;
    let original_len = wim.file_len();
    let mut summary = WriteSummary {
        output: output.clone(),
        written: false,
        changed: plan.changed_files(),
        changed_images: plan.images.iter().map(|image| image.image).collect(),
        new_blobs: plan.new_blobs.len(),
        original_len,
        new_len: original_len,
        integrity_table: wim.header().integrity_table.stored_size != 0,
    };
    if plan.images.is_empty() {
        drop(wim);
        if let WriteTarget::NewFile(_) = target {
            install(wim_path, &output, original_len, &[], None, |_| Ok(()))?;
            summary.written = true;
        }
        return Ok(summary);
    }
    let appended = Appended::build(&wim, &plan)?;
    // Closed before the rename: Windows cannot replace a file this process holds open.
    drop(wim);
    install(
        wim_path,
        &output,
        original_len,
        &appended.bytes,
        Some(&appended.header),
        |written| self_check(written, &plan),
    )?;
    summary.written = true;
    summary.new_len = original_len + appended.bytes.len() as u64;
    Ok(summary)
}

/// Whether `a` and `b` name one file (or `b` does not exist yet and they are the same path).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses a WIM whose integrity table (when it has one) does not match its bytes.
fn check_integrity_table(wim: &Wim) -> Result<(), WriteError> {
    let header = wim.header();
    let stored = header.integrity_table;
    if stored.stored_size == 0 {
        return Ok(());
    }
    stored.check_within(wim.file_len(), "the integrity table")?;
    let table = IntegrityTable::parse(&wim.read_raw(stored.offset, stored.stored_size)?)?;
    let covered_end = header.blob_table.offset + header.blob_table.stored_size;
    let actual = wim.compute_integrity(covered_end, table.chunk_size)?;
    match table.first_difference(&actual) {
        None => Ok(()),
        Some(chunk) => Err(WriteError::IntegrityMismatch { chunk }),
    }
}

/// One dentry to patch.
struct PatchedEntry {
    path: String,
    hash_at: usize,
    old_hash: Sha1Hash,
    old_len: u64,
    new_hash: Sha1Hash,
    new_len: u64,
    /// A second or later link of a hard-link group (counted in `<HARDLINKBYTES>`).
    extra_link: bool,
}

/// One changed image: its decoded metadata and the dentries to patch in it.
struct ImagePlan {
    image: u32,
    metadata: Vec<u8>,
    patched: Vec<PatchedEntry>,
}

/// Everything a rewrite changes, decided and checked before anything is written.
struct Plan<'r> {
    images: Vec<ImagePlan>,
    /// New blobs to store, in first-use order.
    new_blobs: Vec<(Sha1Hash, &'r [u8])>,
    /// How many stream references each blob gains (+) or loses (−).
    reference_delta: HashMap<Sha1Hash, i64>,
    /// How many stream references each blob has after the rewrite, over every image.
    references_after: HashMap<Sha1Hash, u64>,
}

impl Plan<'_> {
    fn changed_files(&self) -> Vec<ChangedFile> {
        self.images
            .iter()
            .flat_map(|image| {
                image.patched.iter().map(|patched| ChangedFile {
                    image: image.image,
                    path: patched.path.clone(),
                    old_hash: patched.old_hash,
                    new_hash: patched.new_hash,
                })
            })
            .collect()
    }
}

fn plan<'r>(wim: &Wim, replacements: &'r [Replacement], options: WriteOptions) -> Result<Plan<'r>, WriteError> {
    let count = wim.header().image_count;
    if let Some(bad) = replacements.iter().find(|r| r.image == 0 || r.image > count) {
        return Err(WimError::NoSuchImage {
            index: bad.image,
            count,
        }
        .into());
    }
    let mut plan = Plan {
        images: Vec::new(),
        new_blobs: Vec::new(),
        reference_delta: HashMap::new(),
        references_after: HashMap::new(),
    };
    let mut new_blob_seen = HashSet::new();
    for image in 1..=count {
        let (metadata, tree) = wim.image_metadata(image)?;
        if let Some(first) = tree.problems.first() {
            return Err(WriteError::TreeProblems {
                image,
                count: tree.problems.len(),
                first: format!("{} ({:?})", first.path, first.kind),
            });
        }
        let wanted: Vec<&Replacement> = replacements.iter().filter(|r| r.image == image).collect();
        let patched = resolve(image, &tree, &wanted)?;
        count_references(&tree, &patched, &mut plan.references_after);
        for entry in &patched {
            if !entry.old_hash.is_zero() {
                wim.verify_blob(entry.old_hash)?;
                *plan.reference_delta.entry(entry.old_hash).or_default() -= 1;
            }
            if !entry.new_hash.is_zero() {
                *plan.reference_delta.entry(entry.new_hash).or_default() += 1;
            }
        }
        if !patched.is_empty() {
            plan.images.push(ImagePlan {
                image,
                metadata,
                patched,
            });
        }
    }
    for replacement in replacements {
        let hash = content_hash(&replacement.contents);
        let used = plan.reference_delta.get(&hash).is_some_and(|&delta| delta > 0);
        if used && wim.blob(hash).is_none() && !hash.is_zero() && new_blob_seen.insert(hash) {
            plan.new_blobs.push((hash, replacement.contents.as_slice()));
        }
    }
    if options.verify_every_blob {
        for hash in wim.blob_hashes() {
            wim.verify_blob(hash)?;
        }
    }
    Ok(plan)
}

fn content_hash(contents: &[u8]) -> Sha1Hash {
    if contents.is_empty() {
        Sha1Hash::ZERO
    } else {
        Sha1Hash::of(contents)
    }
}

/// The dentries `wanted` changes in one image: each named file and every other link of its
/// hard-link group, except those whose content already is the new one.
fn resolve(image: u32, tree: &ImageTree, wanted: &[&Replacement]) -> Result<Vec<PatchedEntry>, WriteError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let link_groups = link_groups(tree);
    let mut chosen: HashMap<usize, &Replacement> = HashMap::new();
    for &replacement in wanted {
        let index = find_file(image, tree, &replacement.path)?;
        let links = match tree.entries[index].hard_link_group {
            Some(group) => link_groups[&group].clone(),
            None => vec![index],
        };
        for link in links {
            if let Some(earlier) = chosen.insert(link, replacement)
                && earlier.contents != replacement.contents
            {
                return Err(WriteError::ConflictingReplacements {
                    image,
                    path: replacement.path.clone(),
                });
            }
        }
    }
    let mut indices: Vec<usize> = chosen.keys().copied().collect();
    indices.sort_unstable();
    let mut groups_seen = HashSet::new();
    let mut patched = Vec::new();
    for index in indices {
        let entry = &tree.entries[index];
        let contents = &chosen[&index].contents;
        let new_hash = content_hash(contents);
        let extra_link = entry.hard_link_group.is_some_and(|group| !groups_seen.insert(group));
        if new_hash == entry.data.hash {
            continue;
        }
        let hash_at = tree.data_hash_at[index].ok_or_else(|| WriteError::NotARegularFile {
            image,
            path: tree.path(index),
            what: "an entry without a data stream",
        })?;
        patched.push(PatchedEntry {
            path: tree.path(index),
            hash_at,
            old_hash: entry.data.hash,
            old_len: entry.data.size,
            new_hash,
            new_len: contents.len() as u64,
            extra_link,
        });
    }
    Ok(patched)
}

fn link_groups(tree: &ImageTree) -> HashMap<u64, Vec<usize>> {
    let mut groups: HashMap<u64, Vec<usize>> = HashMap::new();
    for (index, entry) in tree.entries.iter().enumerate() {
        if let (Some(group), false) = (entry.hard_link_group, entry.is_dir()) {
            groups.entry(group).or_default().push(index);
        }
    }
    groups
}

/// The entry at `path`, which must be a regular file.
fn find_file(image: u32, tree: &ImageTree, path: &str) -> Result<usize, WriteError> {
    let missing = || WriteError::NoSuchFile {
        image,
        path: path.to_owned(),
    };
    let relative = path.strip_prefix('/').ok_or_else(missing)?;
    let mut at = 0;
    if !relative.is_empty() {
        for name in relative.split('/') {
            at = *tree.entries[at]
                .children
                .iter()
                .find(|&&child| tree.entries[child].name == name)
                .ok_or_else(missing)?;
        }
    }
    let entry = &tree.entries[at];
    let what = if entry.is_reparse() {
        Some("a reparse point (symbolic link or junction)")
    } else if entry.is_dir() {
        Some("a directory")
    } else {
        None
    };
    match what {
        Some(what) => Err(WriteError::NotARegularFile {
            image,
            path: path.to_owned(),
            what,
        }),
        None => Ok(at),
    }
}

/// Adds one image's stream references after the rewrite (per dentry, as wimlib counts).
fn count_references(tree: &ImageTree, patched: &[PatchedEntry], counts: &mut HashMap<Sha1Hash, u64>) {
    let mut add = |hash: Sha1Hash, by: i64| {
        if !hash.is_zero() {
            let count = counts.entry(hash).or_default();
            *count = count.saturating_add_signed(by);
        }
    };
    for entry in &tree.entries {
        add(entry.data.hash, 1);
        if let Some(reparse) = entry.reparse {
            add(reparse.data.hash, 1);
        }
        for named in &entry.named_streams {
            add(named.stream.hash, 1);
        }
    }
    for entry in patched {
        add(entry.old_hash, -1);
        add(entry.new_hash, 1);
    }
}

/// The bytes appended to the old file, and the new header.
struct Appended {
    bytes: Vec<u8>,
    header: [u8; HEADER_SIZE],
}

impl Appended {
    fn build(wim: &Wim, plan: &Plan) -> Result<Appended, WriteError> {
        let start = wim.file_len();
        let mut bytes = Vec::new();
        let new_blob_entries = append_new_blobs(&mut bytes, start, plan);
        let new_metadata = append_patched_metadata(&mut bytes, start, plan);
        let old = wim.header();
        let blob_table = rebuild_blob_table(
            &wim.read_raw(old.blob_table.offset, old.blob_table.stored_size)?,
            plan,
            &new_metadata,
            &new_blob_entries,
        );
        let blob_table_resource = append(&mut bytes, start, &blob_table, old.blob_table.flags);
        // The integrity table covers everything up to the end of the blob table.
        let covered_len = bytes.len();
        let deltas: Vec<(u32, ImageSizeDelta)> = plan.images.iter().map(size_delta).collect();
        let xml = xml_patch::patch(
            &wim.read_raw(old.xml_data.offset, old.xml_data.stored_size)?,
            &deltas,
            start + bytes.len() as u64,
        )?;
        let xml_resource = append(&mut bytes, start, &xml, old.xml_data.flags);

        let mut header: [u8; HEADER_SIZE] = wim.read_raw(0, HEADER_SIZE as u64)?.try_into().expect("header size");
        header[HEADER_BLOB_TABLE_AT..HEADER_BLOB_TABLE_AT + 24].copy_from_slice(&blob_table_resource.to_bytes());
        header[HEADER_XML_AT..HEADER_XML_AT + 24].copy_from_slice(&xml_resource.to_bytes());
        if let Some(boot) = new_metadata.get(&old.boot_index) {
            header[HEADER_BOOT_METADATA_AT..HEADER_BOOT_METADATA_AT + 24].copy_from_slice(&boot.resource.to_bytes());
        }
        if old.integrity_table.stored_size != 0 {
            let table = integrity_table(wim, start, &bytes[..covered_len])?;
            let resource = append(&mut bytes, start, &table, old.integrity_table.flags);
            header[HEADER_INTEGRITY_AT..HEADER_INTEGRITY_AT + 24].copy_from_slice(&resource.to_bytes());
        }
        Ok(Appended { bytes, header })
    }
}

/// Appends `data` to the bytes written after the old file's end (`start`); returns the
/// resource header that locates it.
fn append(bytes: &mut Vec<u8>, start: u64, data: &[u8], flags: u8) -> ResourceHeader {
    let resource = ResourceHeader::uncompressed(start + bytes.len() as u64, data.len() as u64, flags);
    bytes.extend_from_slice(data);
    resource
}

/// Appends each new blob uncompressed; returns their blob-table entries.
fn append_new_blobs(bytes: &mut Vec<u8>, start: u64, plan: &Plan) -> Vec<BlobEntry> {
    let mut entries = Vec::new();
    for &(hash, contents) in &plan.new_blobs {
        let resource = append(bytes, start, contents, 0);
        let references = plan.reference_delta.get(&hash).copied().unwrap_or(1).max(1);
        entries.push(BlobEntry {
            resource,
            part: 1,
            reference_count: u32::try_from(references).unwrap_or(u32::MAX),
            hash,
        });
    }
    entries
}

/// Appends each changed image's patched metadata; returns its blob-table entry by image.
fn append_patched_metadata(bytes: &mut Vec<u8>, start: u64, plan: &Plan) -> HashMap<u32, BlobEntry> {
    let mut entries = HashMap::new();
    for image in &plan.images {
        let patched = patch_metadata(image);
        let resource = append(bytes, start, &patched, RESOURCE_METADATA);
        entries.insert(
            image.image,
            BlobEntry {
                resource,
                part: 1,
                reference_count: 1,
                hash: Sha1Hash::of(&patched),
            },
        );
    }
    entries
}

/// The new integrity table, in the old table's chunk size: the old file's chunks after the
/// header, then `appended` (the new bytes up to the end of the blob table).
fn integrity_table(wim: &Wim, start: u64, appended: &[u8]) -> Result<Vec<u8>, WriteError> {
    let old = wim.header();
    let old_table = IntegrityTable::parse(&wim.read_raw(old.integrity_table.offset, old.integrity_table.stored_size)?)?;
    let chunk_size = if old_table.chunk_size == 0 {
        DEFAULT_CHUNK_SIZE
    } else {
        old_table.chunk_size
    };
    let mut hasher = ChunkHasher::new(chunk_size);
    wim.hash_into(&mut hasher, HEADER_SIZE as u64, start)?;
    hasher.update(appended);
    Ok(hasher.finish().to_bytes())
}

/// The image's metadata with each changed dentry's hash replaced; every other byte is kept.
fn patch_metadata(image: &ImagePlan) -> Vec<u8> {
    let mut patched = image.metadata.clone();
    for entry in &image.patched {
        patched[entry.hash_at..entry.hash_at + 20].copy_from_slice(&entry.new_hash.0);
    }
    patched
}

fn size_delta(image: &ImagePlan) -> (u32, ImageSizeDelta) {
    let mut delta = ImageSizeDelta::default();
    for entry in &image.patched {
        let change = i128::from(entry.new_len) - i128::from(entry.old_len);
        delta.total_bytes += change;
        if entry.extra_link {
            delta.hard_link_bytes += change;
        }
    }
    (image.image, delta)
}

/// The old blob table with the changed images' metadata entries replaced, reference counts
/// moved, blobs no stream refers to any more dropped (their bytes stay, as an unused hole),
/// and the new blobs added at the end.
fn rebuild_blob_table(
    old: &[u8],
    plan: &Plan,
    new_metadata: &HashMap<u32, BlobEntry>,
    new_blobs: &[BlobEntry],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(old.len() + ENTRY_SIZE * new_blobs.len());
    let mut metadata_index = 0u32;
    let mut seen = HashSet::new();
    for raw in old.chunks_exact(ENTRY_SIZE) {
        let mut entry = BlobEntry::parse(raw);
        let flags = entry.resource.flags;
        if flags & RESOURCE_FREE != 0 {
            continue;
        }
        if flags & RESOURCE_METADATA != 0 {
            metadata_index += 1;
            let entry = new_metadata.get(&metadata_index).copied().unwrap_or(entry);
            out.extend_from_slice(&entry.to_bytes());
            continue;
        }
        let first_of_hash = !entry.hash.is_zero() && seen.insert(entry.hash);
        match plan.reference_delta.get(&entry.hash).filter(|_| first_of_hash) {
            None => out.extend_from_slice(raw),
            Some(&delta) => {
                let after = plan.references_after.get(&entry.hash).copied().unwrap_or(0);
                if after == 0 {
                    continue;
                }
                let moved = i64::from(entry.reference_count) + delta;
                let count = if moved > 0 { moved as u64 } else { after };
                entry.reference_count = u32::try_from(count).unwrap_or(u32::MAX);
                out.extend_from_slice(&entry.to_bytes());
            }
        }
    }
    for entry in new_blobs {
        out.extend_from_slice(&entry.to_bytes());
    }
    out
}

/// Opens the written WIM with the reader and checks each changed image and each changed
/// file's new bytes, before the file is installed.
fn self_check(written: &Path, plan: &Plan) -> Result<(), WriteError> {
    let check = || -> Result<(), WimError> {
        let wim = Wim::open(File::open(written)?)?;
        for image in &plan.images {
            let tree = wim.image_tree(image.image)?;
            if let Some(problem) = tree.problems.first() {
                return Err(WimError::BadMetadata {
                    image: image.image,
                    message: format!("{} ({:?})", problem.path, problem.kind),
                });
            }
            for entry in &image.patched {
                wim.verify_blob(entry.new_hash)?;
            }
        }
        Ok(())
    };
    check().map_err(WriteError::SelfCheck)
}

/// The temporary file a write to `output` is built in (beside it, so the rename is atomic).
pub fn temporary_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.makguard-tmp"))
}

/// Copies `input` beside `output`, appends `appended` at `original_len`, writes `header` at 0,
/// syncs, runs `check` on the result and renames it over `output`. The temporary file is
/// removed on any failure; `output` is untouched until the rename.
fn install(
    input: &Path,
    output: &Path,
    original_len: u64,
    appended: &[u8],
    header: Option<&[u8; HEADER_SIZE]>,
    check: impl FnOnce(&Path) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    let temp = temporary_path(output);
    let result = build_temporary(input, &temp, original_len, appended, header)
        .and_then(|()| check(&temp))
        .and_then(|()| rename_durably(&temp, output));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn build_temporary(
    input: &Path,
    temp: &Path,
    original_len: u64,
    appended: &[u8],
    header: Option<&[u8; HEADER_SIZE]>,
) -> Result<(), WriteError> {
    let write_error = |source: io::Error| WriteError::Write {
        path: temp.to_path_buf(),
        source,
    };
    match std::fs::remove_file(temp) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(write_error(error)),
        _ => {}
    }
    let copied = std::fs::copy(input, temp).map_err(write_error)?;
    if copied != original_len {
        return Err(WriteError::InputChanged(format!(
            "it was {original_len} bytes when read and {copied} when copied"
        )));
    }
    let mut file = OpenOptions::new().write(true).open(temp).map_err(write_error)?;
    let mut write = || -> io::Result<()> {
        file.seek(SeekFrom::Start(original_len))?;
        file.write_all(appended)?;
        if let Some(header) = header {
            // The header goes last: until it is written the copy still describes the old WIM.
            file.seek(SeekFrom::Start(0))?;
            file.write_all(header)?;
        }
        file.sync_all()
    };
    write().map_err(write_error)
}

fn rename_durably(temp: &Path, output: &Path) -> Result<(), WriteError> {
    std::fs::rename(temp, output).map_err(|source| WriteError::Write {
        path: output.to_path_buf(),
        source,
    })?;
    sync_directory(output);
    Ok(())
}

/// Makes the rename itself durable. Best effort: not every platform can open a directory.
fn sync_directory(path: &Path) {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}
