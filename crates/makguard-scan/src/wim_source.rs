//! One image of a WIM file as an [`ImageSource`], read directly through `makguard-wim`: no
//! mount, no rights, no tools. The walk, the candidate decision, the registry reader and every
//! scanner see it exactly as they see a mounted tree.
//!
//! How WIM things map onto the source: directories and files are themselves; a reparse point
//! (symbolic link, junction) is [`EntryType::Link`] and is never followed; an alternate data
//! stream is one more file in its folder, named `file:stream`, so it is searched like any file;
//! hard links are plain files. Every blob is checked against its SHA-1 as it is read: a
//! mismatch or a decoding error is [`SourceError::Corrupt`] for that path (an `MG9xx` finding),
//! never bytes passed on as good. Names the reader refused (`..`, names with `/`, duplicates)
//! come back as [`WimImageSource::problems`], which the scan reports as findings: what the
//! reader skipped was not scanned.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::sync::Arc;

use makguard_wim::{DirEntry, ImageInfo, ImageTree, Stream, TreeProblem, Wim, WimError};

use crate::source::{Entry, EntryType, ImageSource, OpenedFile, ReadAt, SourceError, SourcePath};

/// What a name in a folder of the image stands for.
#[derive(Debug, Clone, Copy)]
enum Node {
    /// A dentry (its index in the tree).
    Dentry(usize),
    /// An alternate data stream of a file.
    NamedStream { dentry: usize, stream: usize },
}

/// One image of an open WIM.
pub struct WimImageSource {
    wim: Arc<Wim>,
    tree: ImageTree,
    label: String,
    /// (folder dentry, name) → what the name is; built once so lookups cost no scan of large
    /// folders (`WinSxS` holds tens of thousands of entries).
    children: HashMap<(usize, OsString), Node>,
}

impl WimImageSource {
    /// Parses image `index` (1-based) of `wim`; `file` names the WIM in messages.
    ///
    /// # Errors
    ///
    /// As [`Wim::image_tree`]: no such image, or its metadata cannot be read, decompressed,
    /// verified or parsed.
    pub fn open(wim: Arc<Wim>, index: u32, file: &str) -> Result<WimImageSource, WimError> {
        let tree = wim.image_tree(index)?;
        let count = wim.images().len();
        let label = format!("{file}, image {index} of {count}");
        let children = index_children(&tree);
        Ok(WimImageSource {
            wim,
            tree,
            label,
            children,
        })
    }

    /// Entries the reader refused or could not resolve, with their paths in the image.
    pub fn problems(&self) -> &[TreeProblem] {
        &self.tree.problems
    }

    /// The image's data from the WIM's XML (name, edition, build).
    pub fn info(&self) -> Option<&ImageInfo> {
        self.wim.images().iter().find(|info| info.index == self.tree.image)
    }

    fn node(&self, path: &SourcePath) -> Option<Node> {
        let mut at = Node::Dentry(0);
        for name in path.names() {
            let Node::Dentry(dir) = at else {
                return None;
            };
            at = *self.children.get(&(dir, name.clone()))?;
        }
        Some(at)
    }

    fn entry_of(&self, node: Node, name: OsString) -> Entry {
        match node {
            Node::Dentry(index) => {
                let dentry = &self.tree.entries[index];
                let entry_type = dentry_type(dentry);
                let size = if entry_type == EntryType::File {
                    dentry.data.size
                } else {
                    0
                };
                Entry { name, entry_type, size }
            }
            Node::NamedStream { dentry, stream } => Entry {
                name,
                entry_type: EntryType::File,
                size: self.tree.entries[dentry].named_streams[stream].stream.size,
            },
        }
    }

    /// The stream a regular file's bytes are in.
    fn file_stream(&self, path: &SourcePath) -> Result<Stream, SourceError> {
        match self.node(path) {
            None => Err(SourceError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such file in {}", self.label),
            ))),
            Some(Node::NamedStream { dentry, stream }) => Ok(self.tree.entries[dentry].named_streams[stream].stream),
            Some(Node::Dentry(index)) => {
                let dentry = &self.tree.entries[index];
                match dentry_type(dentry) {
                    EntryType::File => Ok(dentry.data),
                    other => Err(SourceError::NotRegular(other)),
                }
            }
        }
    }
}

fn dentry_type(dentry: &DirEntry) -> EntryType {
    if dentry.is_reparse() {
        EntryType::Link
    } else if dentry.is_dir() {
        EntryType::Dir
    } else {
        EntryType::File
    }
}

fn index_children(tree: &ImageTree) -> HashMap<(usize, OsString), Node> {
    let mut children = HashMap::with_capacity(tree.entries.len());
    for (index, dentry) in tree.entries.iter().enumerate() {
        for &child in &dentry.children {
            let child_entry = &tree.entries[child];
            children.insert((index, OsString::from(&child_entry.name)), Node::Dentry(child));
            for (stream, named) in child_entry.named_streams.iter().enumerate() {
                let name = OsString::from(format!("{}:{}", child_entry.name, named.name));
                children.insert((index, name), Node::NamedStream { dentry: child, stream });
            }
        }
    }
    children
}

fn corrupt(error: WimError) -> SourceError {
    match error {
        WimError::Io(error) => SourceError::Io(error),
        other => SourceError::Corrupt(other.to_string()),
    }
}

impl ImageSource for WimImageSource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn entry(&self, path: &SourcePath) -> Result<Entry, SourceError> {
        let node = self.node(path).ok_or_else(|| {
            SourceError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such entry in {}", self.label),
            ))
        })?;
        let name = path.file_name().map(OsString::from).unwrap_or_default();
        Ok(self.entry_of(node, name))
    }

    fn list(&self, dir: &SourcePath) -> Result<Vec<Entry>, SourceError> {
        let Some(Node::Dentry(index)) = self.node(dir) else {
            return Err(SourceError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such folder in {}", self.label),
            )));
        };
        let dentry = &self.tree.entries[index];
        if dentry_type(dentry) != EntryType::Dir {
            return Err(SourceError::NotRegular(dentry_type(dentry)));
        }
        let mut entries = Vec::with_capacity(dentry.children.len());
        for &child in &dentry.children {
            let child_entry = &self.tree.entries[child];
            entries.push(self.entry_of(Node::Dentry(child), OsString::from(&child_entry.name)));
            for (stream, named) in child_entry.named_streams.iter().enumerate() {
                let name = OsString::from(format!("{}:{}", child_entry.name, named.name));
                entries.push(self.entry_of(Node::NamedStream { dentry: child, stream }, name));
            }
        }
        Ok(entries)
    }

    fn open(&self, path: &SourcePath) -> Result<OpenedFile, SourceError> {
        let stream = self.file_stream(path)?;
        if stream.hash.is_zero() {
            return Ok(OpenedFile {
                reader: Box::new(io::empty()),
                len: 0,
            });
        }
        let reader = self.wim.open_blob(stream.hash).map_err(corrupt)?;
        let len = reader.len();
        Ok(OpenedFile {
            reader: Box::new(VerifiedBlob(reader)),
            len,
        })
    }

    fn open_random(&self, path: &SourcePath) -> Result<Box<dyn ReadAt>, SourceError> {
        let stream = self.file_stream(path)?;
        if stream.hash.is_zero() {
            return Ok(Box::new(BlobBytes(None)));
        }
        let blob = self.wim.blob_random_access(stream.hash).map_err(corrupt)?;
        // Random reads never see the whole blob: check its SHA-1 once, up front.
        blob.verify().map_err(corrupt)?;
        Ok(Box::new(BlobBytes(Some(blob))))
    }
}

/// A blob's stream; its last read fails if the SHA-1 does not match, so a corrupt blob is an
/// error, never bytes taken as good.
struct VerifiedBlob(makguard_wim::BlobReader);

impl Read for VerifiedBlob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// A verified blob read at random (`None`: the empty stream).
struct BlobBytes(Option<makguard_wim::BlobRandomAccess>);

impl ReadAt for BlobBytes {
    fn len(&self) -> u64 {
        self.0.as_ref().map_or(0, makguard_wim::BlobRandomAccess::len)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match &self.0 {
            None => Ok(0),
            Some(blob) => blob.read_blob_at(offset, buf).map_err(WimError::into_io),
        }
    }
}
