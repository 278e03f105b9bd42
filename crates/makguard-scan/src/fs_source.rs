//! The mounted-tree source ([`FsSource`]) and [`open_regular`], the one function through which
//! makguard opens any file it reads from the file system: the walk, a single file given on the
//! command line, `--pkeyconfig` files, registry hives and their logs, and the fixer's reads.
//!
//! A FIFO opened for reading blocks until a writer appears, and opening a device can have side
//! effects, so [`open_regular`] checks the path is a regular file before opening it, opens it
//! non-blocking (a path swapped for a FIFO between the check and the open cannot hang the
//! scan), and checks the open file again (`fstat`) before reading a byte.

use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};

use crate::source::{Entry, EntryType, ImageSource, OpenedFile, ReadAt, SourceError, SourcePath};

/// `O_NONBLOCK` for this platform (no libc dependency for one constant). On Linux it is 0o4000
/// on every architecture Rust supports except alpha, MIPS and SPARC, which we do not build for.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
const O_NONBLOCK: Option<i32> = Some(0o4000);
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
const O_NONBLOCK: Option<i32> = Some(0x0004);
#[cfg(all(
    unix,
    not(any(
        all(
            target_os = "linux",
            any(
                target_arch = "x86_64",
                target_arch = "x86",
                target_arch = "aarch64",
                target_arch = "arm",
                target_arch = "riscv64",
                target_arch = "powerpc64",
                target_arch = "s390x",
                target_arch = "loongarch64"
            )
        ),
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))
))]
const O_NONBLOCK: Option<i32> = None;

fn entry_type_of(file_type: fs::FileType) -> EntryType {
    if file_type.is_symlink() {
        EntryType::Link
    } else if file_type.is_dir() {
        EntryType::Dir
    } else if file_type.is_file() {
        EntryType::File
    } else {
        EntryType::Special
    }
}

/// Opens `path` for reading only if it is a regular file, and returns it with its size.
/// A link given here is resolved (the walk never passes one: it checks entry types first);
/// anything that resolves to a FIFO, socket, device or folder is refused unopened.
///
/// # Errors
///
/// [`SourceError::NotRegular`] when `path` is not a regular file (checked before opening and
/// again on the open file); [`SourceError::Io`] when it cannot be looked at or opened.
pub fn open_regular(path: &Path) -> Result<(File, u64), SourceError> {
    let before = fs::metadata(path)?;
    if !before.is_file() {
        return Err(SourceError::NotRegular(entry_type_of(before.file_type())));
    }
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    if let Some(flag) = O_NONBLOCK {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(flag);
    }
    let file = options.open(path)?;
    let after = file.metadata()?;
    if !after.is_file() {
        return Err(SourceError::NotRegular(entry_type_of(after.file_type())));
    }
    Ok((file, after.len()))
}

/// Reads a whole regular file through [`open_regular`].
///
/// # Errors
///
/// As [`open_regular`], and [`SourceError::Io`] when reading fails.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, SourceError> {
    use std::io::Read;
    let (mut file, len) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A directory tree on the local file system (a mounted image), or a single file when the
/// root is a file and every path is [`SourcePath::root`].
#[derive(Debug, Clone)]
pub(crate) struct FsSource {
    root: PathBuf,
}

impl FsSource {
    /// The tree under `root` (a folder, or a single file); nothing is opened yet.
    pub(crate) fn new(root: impl Into<PathBuf>) -> FsSource {
        FsSource { root: root.into() }
    }

    /// The file-system path of a source path.
    pub(crate) fn path_of(&self, path: &SourcePath) -> PathBuf {
        let mut full = self.root.clone();
        for name in path.names() {
            full.push(name);
        }
        full
    }
}

impl ImageSource for FsSource {
    fn describe(&self) -> String {
        self.root.to_string_lossy().into_owned()
    }

    fn entry(&self, path: &SourcePath) -> Result<Entry, SourceError> {
        let full = self.path_of(path);
        let meta = fs::symlink_metadata(&full)?;
        let entry_type = entry_type_of(meta.file_type());
        Ok(Entry {
            name: path.file_name().map(ToOwned::to_owned).unwrap_or_default(),
            entry_type,
            size: if entry_type == EntryType::File { meta.len() } else { 0 },
        })
    }

    fn list(&self, dir: &SourcePath) -> Result<Vec<Entry>, SourceError> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(self.path_of(dir))? {
            let entry = entry?;
            let entry_type = entry_type_of(entry.file_type()?);
            // Only files need a size, and only files cost the extra lstat.
            let size = if entry_type == EntryType::File {
                entry.metadata().map_or(0, |m| m.len())
            } else {
                0
            };
            entries.push(Entry {
                name: entry.file_name(),
                entry_type,
                size,
            });
        }
        Ok(entries)
    }

    fn open(&self, path: &SourcePath) -> Result<OpenedFile, SourceError> {
        let (file, len) = open_regular(&self.path_of(path))?;
        Ok(OpenedFile {
            reader: Box::new(file),
            len,
        })
    }

    fn open_random(&self, path: &SourcePath) -> Result<Box<dyn ReadAt>, SourceError> {
        let (file, _) = open_regular(&self.path_of(path))?;
        Ok(Box::new(file))
    }

    fn link_leaves_source(&self, path: &SourcePath) -> Option<String> {
        let link = self.path_of(path);
        let target = fs::read_link(&link).ok()?;
        let resolved = if target.is_absolute() {
            target.clone()
        } else {
            std::path::absolute(link.parent().unwrap_or(Path::new("")).join(&target)).ok()?
        };
        let root = std::path::absolute(&self.root).map_or_else(|_| self.root.clone(), |p| lexical_normalize(&p));
        (!lexical_normalize(&resolved).starts_with(&root)).then(|| target.to_string_lossy().into_owned())
    }
}

/// Resolves `.` and `..` without touching the file system (links are never followed).
fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn lexical_normalize_resolves_parents() {
        assert_eq!(lexical_normalize(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(lexical_normalize(Path::new("/a/../../x")), PathBuf::from("/x"));
    }

    fn mkfifo(path: &Path) -> bool {
        std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success())
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        if !mkfifo(&fifo) {
            return;
        }
        assert!(matches!(
            open_regular(&fifo),
            Err(SourceError::NotRegular(EntryType::Special))
        ));
        assert!(matches!(
            open_regular(Path::new("/dev/null")),
            Err(SourceError::NotRegular(EntryType::Special))
        ));
        assert!(matches!(
            open_regular(dir.path()),
            Err(SourceError::NotRegular(EntryType::Dir))
        ));
        let file = dir.path().join("f");
        fs::write(&file, b"abc").unwrap();
        assert_eq!(open_regular(&file).unwrap().1, 3);
    }

    #[test]
    fn listing_reports_links_and_fifos_without_following() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
        let has_fifo = mkfifo(&dir.path().join("p"));
        let source = FsSource::new(dir.path());
        let mut entries = source.list(&SourcePath::root()).unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let types: Vec<(String, EntryType, u64)> = entries
            .iter()
            .map(|e| (e.name.to_string_lossy().into_owned(), e.entry_type, e.size))
            .collect();
        assert_eq!(types[0], ("f".to_string(), EntryType::File, 5));
        assert_eq!(types[1], ("l".to_string(), EntryType::Link, 0));
        if has_fifo {
            assert_eq!(types[2], ("p".to_string(), EntryType::Special, 0));
            assert!(source.open(&SourcePath::from_names(["p"])).is_err());
        }
    }
}
