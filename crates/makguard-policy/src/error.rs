//! What can go wrong with a policy: a file that does not parse or validate (with file, line and
//! column), a file that was named but is not there, and command-line values that contradict it.
//! Every one is a configuration error (exit 2).

use thiserror::Error;

/// A policy file that does not parse or validate: where it is and what is wrong.
///
/// `line` and `column` are 1-based; both are 0 when the file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The policy file as messages name it.
    pub file: String,
    /// The 1-based line of the problem.
    pub line: u32,
    /// The 1-based column of the problem.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// Why the policies for a scan could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// A policy file does not parse or validate.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `--config FILE` or `MAKGUARD_CONFIG` names a file that is not there.
    #[error("the policy file {path} does not exist (named by {origin})")]
    Missing {
        /// The file as given.
        path: String,
        /// What named it: `--config` or `MAKGUARD_CONFIG`.
        origin: &'static str,
    },
    /// A key-configuration file (`--pkeyconfig` or a policy's `pkeyconfig`) does not exist.
    #[error("the key-configuration file {0} does not exist")]
    KeyConfigMissing(String),
    /// A key-configuration file exists but is not a regular file.
    #[error("the key-configuration file {0} is not a regular file (a FIFO, device or folder); it was not read")]
    KeyConfigNotAFile(String),
    /// The working directory, where discovery starts, cannot be read (why).
    #[error("cannot tell the current directory: {0}")]
    CurrentDir(String),
}
