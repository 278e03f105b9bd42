//! Which policy file applies to a scanned path, as ruff finds its settings: `--config FILE`
//! wins, then the `MAKGUARD_CONFIG` environment variable, then the nearest `makguard.toml`
//! walking up from the path (a directory itself first, a file's own directory first), then
//! the working directory's `makguard.toml`. No file found means no policy.
//!
//! Walking up is what keeps a policy out of the image it judges: for a mounted image the walk
//! goes on from the mount point's parent, for a WIM file from the WIM's folder.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::PolicyError;
use crate::policy::POLICY_FILE_NAME;

/// The environment variable naming the policy file for every path (`--config` wins over it).
pub const CONFIG_ENV: &str = "MAKGUARD_CONFIG";

/// How a policy file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--config FILE`.
    CommandLine,
    /// `MAKGUARD_CONFIG`.
    Environment,
    /// Found walking up from the path, or in the working directory.
    Discovered,
}

impl Origin {
    /// How messages name the origin.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::CommandLine => "--config",
            Origin::Environment => CONFIG_ENV,
            Origin::Discovered => "discovery",
        }
    }
}

/// A policy file for a path: where it is, how messages name it, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLocation {
    /// The file to read: as given (`--config`, `MAKGUARD_CONFIG`), or absolute as found.
    pub file: PathBuf,
    /// As given, or as found: relative to the working directory when under it, else absolute.
    pub display: String,
    /// Why this file was chosen.
    pub origin: Origin,
}

impl PolicyLocation {
    /// The same file whatever path named it, to tell whether two roots share a policy.
    pub fn identity(&self) -> PathBuf {
        std::fs::canonicalize(&self.file).unwrap_or_else(|_| self.file.clone())
    }
}

/// The discovery settings of one run.
#[derive(Debug, Clone)]
pub struct Discovery {
    explicit: Option<PathBuf>,
    environment: Option<PathBuf>,
    cwd: PathBuf,
}

impl Discovery {
    /// `--config` (if given), `MAKGUARD_CONFIG` (if set and not empty) and the working directory.
    ///
    /// # Errors
    ///
    /// [`PolicyError::CurrentDir`] when the working directory cannot be read.
    pub fn new(explicit: Option<&Path>) -> Result<Discovery, PolicyError> {
        let cwd = std::env::current_dir().map_err(|err| PolicyError::CurrentDir(err.to_string()))?;
        Ok(Discovery::with(explicit, std::env::var_os(CONFIG_ENV), cwd))
    }

    /// Discovery with the environment and working directory given (tests, library callers).
    pub fn with(explicit: Option<&Path>, environment: Option<OsString>, cwd: PathBuf) -> Discovery {
        Discovery {
            explicit: explicit.map(Path::to_path_buf),
            environment: environment.filter(|v| !v.is_empty()).map(PathBuf::from),
            cwd: std::fs::canonicalize(&cwd).unwrap_or(cwd),
        }
    }

    /// The file `--config` or `MAKGUARD_CONFIG` names, which applies to every path.
    pub fn forced(&self) -> Option<PolicyLocation> {
        let given = |file: &PathBuf, origin| PolicyLocation {
            file: file.clone(),
            display: file.display().to_string(),
            origin,
        };
        if let Some(file) = &self.explicit {
            return Some(given(file, Origin::CommandLine));
        }
        self.environment.as_ref().map(|file| given(file, Origin::Environment))
    }

    /// The policy file for scanning `path`, if any.
    pub fn for_path(&self, path: &Path) -> Option<PolicyLocation> {
        if let Some(forced) = self.forced() {
            return Some(forced);
        }
        let absolute = lexically_absolute(&self.cwd, path);
        let start = if absolute.is_dir() {
            absolute.as_path()
        } else {
            absolute.parent().unwrap_or(&absolute)
        };
        let found = start
            .ancestors()
            .chain(std::iter::once(self.cwd.as_path()))
            .map(|dir| dir.join(POLICY_FILE_NAME))
            .find(|file| file.is_file())?;
        Some(self.found(found))
    }

    /// The file `makguard allow` for `path` edits: the one a scan of `path` reads, else a new
    /// `makguard.toml` in the working directory (which that scan then finds, and which is
    /// never inside an image mounted below it).
    pub fn allow_target(&self, path: &Path) -> PolicyLocation {
        self.for_path(path)
            .unwrap_or_else(|| self.found(self.cwd.join(POLICY_FILE_NAME)))
    }

    fn found(&self, file: PathBuf) -> PolicyLocation {
        let display = match file.strip_prefix(&self.cwd) {
            Ok(relative) => relative.display().to_string(),
            Err(_) => file.display().to_string(),
        };
        PolicyLocation {
            file,
            display,
            origin: Origin::Discovered,
        }
    }
}

/// `path` made absolute against `cwd`, with `.` and `..` folded by name: the folders a user
/// sees above the path they typed, even where a link in it points elsewhere.
fn lexically_absolute(cwd: &Path, path: &Path) -> PathBuf {
    let mut absolute = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                absolute.pop();
            }
            other => absolute.push(other),
        }
    }
    absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn the_nearest_file_walking_up_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("makguard.toml"));
        touch(&root.join("deploy/makguard.toml"));
        touch(&root.join("deploy/sources/unattend.xml"));
        touch(&root.join("other/unattend.xml"));
        let discovery = Discovery::with(None, None, root.to_path_buf());
        let found = |path: &str| discovery.for_path(Path::new(path)).map(|l| l.display);
        let found_in = |dir: &str| Some(format!("{dir}makguard.toml"));
        assert_eq!(found("deploy/sources/unattend.xml"), found_in("deploy/"));
        assert_eq!(found("deploy/sources"), found_in("deploy/"));
        assert_eq!(found("deploy"), found_in("deploy/"));
        assert_eq!(found("other/unattend.xml"), found_in(""));
        let location = discovery.for_path(Path::new("deploy")).unwrap();
        assert!(location.file.is_absolute() && location.file.is_file(), "{location:?}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_dot_dot_are_followed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("build/makguard.toml"));
        touch(&root.join("store/image/Windows/x"));
        std::os::unix::fs::symlink(root.join("store/image"), root.join("build/mnt")).unwrap();
        let discovery = Discovery::with(None, None, root.to_path_buf());
        for path in ["build/mnt", "store/../build/./mnt"] {
            let found = discovery.for_path(Path::new(path)).map(|l| l.display);
            assert_eq!(
                found.as_deref(),
                Some("build/makguard.toml"),
                "{path}: the link's folder, not its target's"
            );
        }
        assert_eq!(
            lexically_absolute(Path::new("/a/b"), Path::new("../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn the_working_directory_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().join("work");
        let elsewhere = dir.path().join("elsewhere");
        touch(&cwd.join("makguard.toml"));
        touch(&elsewhere.join("unattend.xml"));
        let discovery = Discovery::with(None, None, cwd.clone());
        let found = discovery.for_path(&elsewhere.join("unattend.xml")).unwrap();
        assert_eq!(found.display, "makguard.toml");
        assert_eq!(found.file, std::fs::canonicalize(&cwd).unwrap().join("makguard.toml"));
        assert_eq!(found.origin, Origin::Discovered);
    }

    #[test]
    fn config_beats_the_environment_which_beats_discovery() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("makguard.toml"));
        let cwd = dir.path().to_path_buf();
        let env = Some(OsString::from("env.toml"));
        let both = Discovery::with(Some(Path::new("flag.toml")), env.clone(), cwd.clone());
        assert_eq!(both.for_path(Path::new(".")).unwrap().file, PathBuf::from("flag.toml"));
        assert_eq!(both.for_path(Path::new(".")).unwrap().origin, Origin::CommandLine);
        let env_only = Discovery::with(None, env, cwd.clone());
        assert_eq!(env_only.for_path(Path::new(".")).unwrap().origin, Origin::Environment);
        let empty_env = Discovery::with(None, Some(OsString::new()), cwd);
        assert_eq!(empty_env.for_path(Path::new(".")).unwrap().origin, Origin::Discovered);
    }

    #[test]
    fn nothing_found_means_no_policy_and_allow_writes_in_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("mnt/Windows/x"));
        let discovery = Discovery::with(None, None, dir.path().to_path_buf());
        if discovery.for_path(Path::new("mnt")).is_some() {
            // A makguard.toml above the temporary directory: nothing to learn here.
            return;
        }
        assert_eq!(discovery.allow_target(Path::new("mnt")).display, "makguard.toml");
    }
}
