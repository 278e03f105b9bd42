//! Safe write-back: resolving a finding's path inside its root without following links,
//! writing a temporary file beside the original, syncing it and renaming it over the original,
//! and removing temporary files a killed run left behind.
//!
//! Temporary files are named `.<name>.makguard-tmp-<pid>-<n>` (a dot, the original file name,
//! `.makguard-tmp-`, the writing process's id and a counter). The name is the contract that
//! lets [`cleanup_stale_temp_files`] find them.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker in every temporary file's name.
pub const TEMP_MARKER: &str = ".makguard-tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary file name for `name` written by this process.
fn temp_name(name: &std::ffi::OsStr) -> std::ffi::OsString {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = std::ffi::OsString::from(".");
    out.push(name);
    out.push(format!("{TEMP_MARKER}{}-{n}", std::process::id()));
    out
}

/// True when `name` is a makguard temporary file name (`.<name>.makguard-tmp-<pid>-<n>`).
pub fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some(at) = rest.rfind(TEMP_MARKER) else {
        return false;
    };
    if at == 0 {
        return false;
    }
    let tail = &rest[at + TEMP_MARKER.len()..];
    let mut parts = tail.split('-');
    let (Some(pid), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(n)
}

/// The process id in a makguard temporary file name.
fn temp_pid(name: &str) -> Option<u32> {
    let tail = &name[name.rfind(TEMP_MARKER)? + TEMP_MARKER.len()..];
    tail.split('-').next()?.parse().ok()
}

/// True when process `pid` may still be running, so its temporary file may be in use. On
/// Linux `/proc` tells; where it cannot tell, a process is taken as gone (run no two fixes
/// on one tree at once there).
fn process_may_be_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_root = Path::new("/proc");
    proc_root.join("self").exists() && proc_root.join(pid.to_string()).exists()
}

/// Removes the temporary files an interrupted `makguard fix` left (they may hold the old
/// keys) wherever this run may write: under `root` (not following links), or beside it when
/// `root` is a single file. A temporary file whose process is still running is left alone.
/// Returns how many were removed.
pub fn cleanup_stale_temp_files(root: &Path) -> usize {
    let (walk_root, max_depth) = match fs::symlink_metadata(root) {
        Ok(meta) if meta.is_file() => (directory_of(root).unwrap_or(Path::new(".")).to_path_buf(), 1),
        _ => (root.to_path_buf(), usize::MAX),
    };
    let mut removed = 0;
    let entries = walkdir::WalkDir::new(&walk_root)
        .follow_links(false)
        .max_depth(max_depth)
        .into_iter()
        .flatten();
    for entry in entries {
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        let stale = is_temp_name(name) && temp_pid(name).is_some_and(|pid| !process_may_be_alive(pid));
        if stale && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Why a path may not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRefusal {
    /// Writing the path could leave the root or go through a link, with why.
    Unsafe(String),
}

/// Joins a finding's relative path to `root`, refusing absolute paths and `..`.
///
/// # Errors
///
/// [`PathRefusal::Unsafe`] when `relative` is absolute or has a `..` component.
pub fn join_relative(root: &Path, relative: &Path) -> Result<PathBuf, PathRefusal> {
    let mut out = root.to_path_buf();
    for component in relative.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(PathRefusal::Unsafe(
                    "the finding's path leaves its root (absolute or '..'); refusing to write".to_string(),
                ));
            }
        }
    }
    Ok(out)
}

/// The directory `path` lies in: `.` for a bare file name (whose parent is empty), `None`
/// for a path with no parent at all (`/`).
pub fn directory_of(path: &Path) -> Option<&Path> {
    match path.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Some(Path::new(".")),
        parent => parent,
    }
}

/// Checks that `path` is a regular file, not a link, whose directory lies inside
/// `canonical_root`. Returns the file's metadata.
///
/// # Errors
///
/// [`PathRefusal::Unsafe`] when the path is a link (or reparse point), not a regular file,
/// unreadable, or its directory cannot be resolved or resolves outside `canonical_root`.
pub fn check_writable_target(path: &Path, canonical_root: &Path) -> Result<fs::Metadata, PathRefusal> {
    let meta =
        fs::symlink_metadata(path).map_err(|e| PathRefusal::Unsafe(format!("cannot read the file's metadata: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(PathRefusal::Unsafe(
            "the path is a symbolic link; makguard never writes through links".to_string(),
        ));
    }
    if !meta.is_file() {
        return Err(PathRefusal::Unsafe("the path is not a regular file".to_string()));
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(PathRefusal::Unsafe(
                "the path is a reparse point; makguard never writes through links".to_string(),
            ));
        }
    }
    let parent =
        directory_of(path).ok_or_else(|| PathRefusal::Unsafe("the file has no parent directory".to_string()))?;
    let canonical_parent = fs::canonicalize(parent)
        .map_err(|e| PathRefusal::Unsafe(format!("cannot resolve the file's directory: {e}")))?;
    if !canonical_parent.starts_with(canonical_root) {
        return Err(PathRefusal::Unsafe(
            "the file's directory resolves outside the root (through a link); refusing to write".to_string(),
        ));
    }
    Ok(meta)
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, the
/// original's permissions, fsync, rename over the original, fsync the directory. On any error
/// the original is untouched and the temporary file is removed.
///
/// Permissions (Unix mode bits, or the Windows read-only flag) are copied, and on Unix the
/// owner and group where the process may set them (as root, e.g. on a `wimlib-imagex mountrw
/// --unix-data` mount); other Windows attributes (hidden, system), ACLs and extended attributes
/// are not.
///
/// # Errors
///
/// Any I/O error of creating, writing, syncing or renaming the temporary file, of giving it the
/// original's permissions, or of syncing the directory; `InvalidInput` when `path` has no file
/// name.
pub fn atomic_write(path: &Path, contents: &[u8], permissions: Option<fs::Permissions>) -> io::Result<()> {
    let parent = directory_of(path).unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let temp = parent.join(temp_name(name));
    let result = write_and_rename(&temp, path, contents, permissions);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(parent)
}

fn write_and_rename(temp: &Path, path: &Path, contents: &[u8], permissions: Option<fs::Permissions>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    #[cfg(unix)]
    keep_owner(temp, path);
    // A read-only original must not make the temporary file unwritable before it is synced,
    // so the permissions go on last (also because a change of owner may clear set-id bits).
    if let Some(permissions) = permissions {
        keep_permissions(temp, &permissions)?;
    }
    #[cfg(windows)]
    {
        // Windows refuses to rename over a read-only file; the new file carries the flag.
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().readonly()
        {
            let mut writable = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            writable.set_readonly(false);
            fs::set_permissions(path, writable)?;
        }
    }
    fs::rename(temp, path)
}

/// Gives `temp` the original's owner and group when the process may. Best effort: without
/// the privilege the new file belongs to whoever runs the fix (documented in docs/fixing.md).
#[cfg(unix)]
fn keep_owner(temp: &Path, original: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::metadata(original) {
        let _ = std::os::unix::fs::chown(temp, Some(meta.uid()), Some(meta.gid()));
    }
}

/// Gives `temp` the original's permissions. File systems that cannot change permissions
/// (a wimlib mount without `--unix-data` shows every file as 0777 and refuses chmod) are
/// accepted when the new file already shows the same permissions as the original.
fn keep_permissions(temp: &Path, permissions: &fs::Permissions) -> io::Result<()> {
    if fs::metadata(temp)?.permissions() == *permissions {
        return Ok(());
    }
    match fs::set_permissions(temp, permissions.clone()) {
        Ok(()) => Ok(()),
        Err(_) if fs::metadata(temp).is_ok_and(|m| m.permissions() == *permissions) => Ok(()),
        Err(error) => Err(io::Error::new(
            error.kind(),
            format!("cannot give the new file the original's permissions: {error}"),
        )),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file to flush it; the rename is durable once
    // MoveFileEx returns for NTFS's journalled metadata.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        let name = temp_name(std::ffi::OsStr::new("unattend.xml"));
        assert!(is_temp_name(name.to_str().unwrap()));
        assert!(is_temp_name(".a.makguard-tmp-12-0"));
        assert!(!is_temp_name("unattend.xml"));
        assert!(!is_temp_name(".makguard-tmp-12-0"));
        assert!(!is_temp_name(".a.makguard-tmp-12"));
        assert!(!is_temp_name(".a.makguard-tmp-12-x"));
        assert!(!is_temp_name("a.makguard-tmp-12-0"));
        assert_eq!(temp_pid(".a.xml.makguard-orig.makguard-tmp-123-4"), Some(123));
        assert!(process_may_be_alive(std::process::id()));
    }

    #[test]
    fn a_bare_file_name_lies_in_the_current_directory() {
        assert_eq!(directory_of(Path::new("autounattend.xml")), Some(Path::new(".")));
        assert_eq!(directory_of(Path::new("a/b.xml")), Some(Path::new("a")));
        assert_eq!(directory_of(Path::new("/")), None);
    }

    #[test]
    fn relative_paths_cannot_escape() {
        let root = Path::new("/r");
        assert_eq!(join_relative(root, Path::new("a/b")).unwrap(), Path::new("/r/a/b"));
        assert!(join_relative(root, Path::new("../x")).is_err());
        assert!(join_relative(root, Path::new("/etc/passwd")).is_err());
    }
}
