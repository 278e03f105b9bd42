//! The image-source seam: everything the scan reads comes through an [`ImageSource`], so the
//! walk, the candidate decision, image discovery and the registry reader work the same over a
//! mounted tree ([`crate::fs_source::FsSource`]) and, later, over an image file read directly
//! (a WIM image, an ISO, a VHDX volume).
//!
//! A source lists a directory's entries with their name (lossless), type and size without
//! opening anything; streams a file; gives random access to a file (for the hive's page cache,
//! and for a container nested in an image); and says what it is. It never follows links and
//! never opens anything that is not a regular file: [`SourceError::NotRegular`] says so.
//!
//! A WIM image fits this shape: reparse points are [`EntryType::Link`] (never followed),
//! alternate data streams are extra entries named `name:stream`, hard links are plain files,
//! and a decode or SHA-1 failure is a [`SourceError::Corrupt`] for that path, which the walk
//! turns into an `MG9xx` finding.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read};

use makguard_core::FindingPath;
pub use makguard_hive::ReadAt;

/// What a directory entry is, as listed (links are never resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link, junction or other reparse point.
    Link,
    /// A FIFO, socket or device.
    Special,
}

impl EntryType {
    /// How the type is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            EntryType::File => "a regular file",
            EntryType::Dir => "a folder",
            EntryType::Link => "a symbolic link or reparse point",
            EntryType::Special => "a FIFO, socket or device",
        }
    }
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored: not necessarily valid UTF-8 or UTF-16.
    pub name: OsString,
    /// What the entry is, as listed (a link is [`EntryType::Link`], never its target's type).
    pub entry_type: EntryType,
    /// Size in bytes for files (0 for other types).
    pub size: u64,
}

/// A path inside a source: names from its root, never `.` or `..`. Empty is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourcePath(Vec<OsString>);

impl SourcePath {
    /// The source's root.
    pub fn root() -> SourcePath {
        SourcePath::default()
    }

    /// The path made of `names`, from the root; the caller keeps out `.` and `..`.
    pub fn from_names<I, S>(names: I) -> SourcePath
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        SourcePath(names.into_iter().map(Into::into).collect())
    }

    /// This path with `name` appended.
    pub fn join(&self, name: impl Into<OsString>) -> SourcePath {
        let mut names = self.0.clone();
        names.push(name.into());
        SourcePath(names)
    }

    /// The names from the root, outermost first; empty for the root.
    pub fn names(&self) -> &[OsString] {
        &self.0
    }

    /// Whether this is the source's root (no names).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last name; `None` for the root.
    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.last().map(OsString::as_os_str)
    }

    /// The path without its last name; `None` for the root.
    pub fn parent(&self) -> Option<SourcePath> {
        let (_, parent) = self.0.split_last()?;
        Some(SourcePath(parent.to_vec()))
    }

    /// The `/`-separated path for findings, keeping the raw bytes of names that are not UTF-8.
    pub fn finding_path(&self) -> FindingPath {
        let display = self.0.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/");
        let raw_bytes = self.0.iter().any(|c| c.to_str().is_none()).then(|| {
            self.0
                .iter()
                .map(|c| c.as_encoded_bytes())
                .collect::<Vec<_>>()
                .join(&b'/')
        });
        FindingPath { display, raw_bytes }
    }

    /// The display form (lossy), `/`-separated.
    pub fn display(&self) -> String {
        self.finding_path().display
    }
}

/// Why a source could not list or read something.
#[derive(Debug)]
pub enum SourceError {
    /// The path is a link or special file: never opened, never followed.
    NotRegular(EntryType),
    /// The source's data could not be decoded or verified (a WIM blob whose SHA-1 is wrong).
    Corrupt(String),
    /// Listing or reading failed (what the operating system or container said).
    Io(io::Error),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::NotRegular(kind) => {
                write!(f, "it is {}, not a regular file, so it was not opened", kind.describe())
            }
            SourceError::Corrupt(reason) => write!(f, "its data could not be decoded or verified: {reason}"),
            SourceError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SourceError {}

impl From<io::Error> for SourceError {
    fn from(error: io::Error) -> SourceError {
        SourceError::Io(error)
    }
}

impl SourceError {
    /// As an I/O error, for readers that speak `io::Result`.
    pub fn into_io(self) -> io::Error {
        match self {
            SourceError::Io(error) => error,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// A regular file opened for streaming.
pub struct OpenedFile {
    /// The file's bytes, from the start.
    pub reader: Box<dyn Read + Send>,
    /// The size of the file as opened (from the open file, not the listing).
    pub len: u64,
}

/// Where the scan reads an image from. Object-safe, shared by the walk's worker threads.
pub trait ImageSource: Send + Sync {
    /// What the source is, for messages: `/mnt/img`, later `install.wim, image 3 of 6`.
    fn describe(&self) -> String;

    /// The entry at `path` itself (a link is reported as a link, not followed).
    ///
    /// # Errors
    ///
    /// [`SourceError::Io`] when `path` does not exist or cannot be looked at.
    fn entry(&self, path: &SourcePath) -> Result<Entry, SourceError>;

    /// The entries of the folder at `path`, in no particular order.
    ///
    /// # Errors
    ///
    /// [`SourceError::Io`] when `dir` does not exist or cannot be listed; an error
    /// ([`SourceError::NotRegular`] or [`SourceError::Io`], by source) when it is not a folder.
    fn list(&self, dir: &SourcePath) -> Result<Vec<Entry>, SourceError>;

    /// Streams the regular file at `path`.
    ///
    /// # Errors
    ///
    /// [`SourceError::NotRegular`] when `path` is a link, special file or folder, never
    /// opened; [`SourceError::Corrupt`] when its data cannot be located or decoded;
    /// [`SourceError::Io`] when it does not exist or cannot be opened. Errors while streaming
    /// come from the reader.
    fn open(&self, path: &SourcePath) -> Result<OpenedFile, SourceError>;

    /// Random access to the regular file at `path`.
    ///
    /// # Errors
    ///
    /// As [`ImageSource::open`]; a source that checks its data (a WIM blob's SHA-1) does so
    /// here, before any read, and reports a mismatch as [`SourceError::Corrupt`].
    fn open_random(&self, path: &SourcePath) -> Result<Box<dyn ReadAt>, SourceError>;

    /// For a link at `path` that points outside the source, where it points (for the `MG261`
    /// note); `None` when it stays inside or the source cannot tell.
    fn link_leaves_source(&self, _path: &SourcePath) -> Option<String> {
        None
    }

    /// Reads the whole regular file at `path` (for small files such as key configurations).
    ///
    /// # Errors
    ///
    /// As [`ImageSource::open`], and [`SourceError::Io`] when reading fails (for a WIM blob,
    /// also when its bytes fail their SHA-1 check).
    fn read_all(&self, path: &SourcePath) -> Result<Vec<u8>, SourceError> {
        let mut opened = self.open(path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(opened.len).unwrap_or(0));
        opened.reader.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// What resolving a path case-insensitively found.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// Every name exists; the path as spelled in the source.
    Found(SourcePath),
    /// Some name does not exist.
    Missing,
    /// A name on the way (or the last one) is a link or special file, or a file where a folder
    /// was expected: the path makguard must read is not a plain path in the tree.
    Blocked { at: SourcePath, entry_type: EntryType },
    /// A folder on the way could not be listed.
    Unreadable { at: SourcePath, error: SourceError },
}

/// Resolves `names` under `base` one by one, ignoring ASCII letter case as Windows would. The
/// last name may be a file or a folder; every earlier one must be a folder. Links are never
/// followed: a link where a name resolves is [`Resolved::Blocked`].
pub(crate) fn resolve_case_insensitive(source: &dyn ImageSource, base: &SourcePath, names: &[&str]) -> Resolved {
    let mut path = base.clone();
    for (i, wanted) in names.iter().enumerate() {
        let entries = match source.list(&path) {
            Ok(entries) => entries,
            Err(error) => return Resolved::Unreadable { at: path, error },
        };
        let mut matches: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.name.to_str().is_some_and(|n| n.eq_ignore_ascii_case(wanted)))
            .collect();
        // The exact spelling wins over another case of the same name.
        matches.sort_by_key(|e| e.name.to_str() != Some(wanted));
        let Some(entry) = matches.first() else {
            return Resolved::Missing;
        };
        path = path.join(entry.name.clone());
        let last = i + 1 == names.len();
        match entry.entry_type {
            EntryType::Dir => {}
            EntryType::File if last => {}
            other => {
                return Resolved::Blocked {
                    at: path,
                    entry_type: other,
                };
            }
        }
    }
    Resolved::Found(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_paths_keep_raw_bytes() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let path = SourcePath::from_names([OsString::from("img"), OsString::from_vec(b"a\xff.xml".to_vec())]);
            let found = path.finding_path();
            assert_eq!(found.display, "img/a\u{FFFD}.xml");
            assert_eq!(found.raw_bytes.as_deref(), Some(b"img/a\xff.xml".as_slice()));
        }
        let plain = SourcePath::from_names(["Windows", "Panther"]).finding_path();
        assert_eq!((plain.display.as_str(), plain.raw_bytes), ("Windows/Panther", None));
    }
}
