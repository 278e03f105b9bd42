//! makguard-scan: decides what each file is, searches it for product keys with the scanner
//! for its kind, reads the image's registry and licensing data, and walks trees safely.
//!
//! Each file kind has its own module; they all report through [`key_finding`] so that every
//! key is classified, masked and fingerprinted the same way. A failure on one file becomes a
//! finding (an `MG9xx` rule) and the scan goes on.

pub mod binary;
pub mod fs_source;
pub mod hive_search;
pub mod image;
pub mod ini;
pub mod keyconfig;
pub mod keyscan;
pub mod kind;
pub mod memory_source;
pub mod office;
pub mod path_keys;
pub mod registry;
pub mod run_keys;
pub mod script;
pub mod sniff;
pub mod source;
pub mod textfile;
pub mod unattend;
pub mod walk;
pub mod wim_source;
pub mod xmltext;

pub use fs_source::{FsSource, open_regular, read_regular};
pub use kind::{FileKind, candidate_by_name, detect_kind, scan_file_bytes};
pub use sniff::{ContainerKind, detect_container};
pub use source::{Entry, EntryType, ImageSource, OpenedFile, ReadAt, SourceError, SourcePath};
pub use walk::{GlobHits, ScanOptions, ScanProgress, scan_memory_file, scan_paths};

use makguard_core::text::LineIndex;
use makguard_core::{Finding, FindingPath, KeyConfigIndex, KeyInfo, ProductKey, Rule, TextRange, classify_key};

/// What a per-kind scanner needs to know about the file it reads.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    pub path: &'a FindingPath,
    /// The image's key configuration (or `--pkeyconfig` files), for classifying post-2009 keys.
    pub key_config: Option<&'a KeyConfigIndex>,
}

/// A finding of `rule` for `key` at `range` of `text`, classified, with the masked key and
/// what it is in the message after `what` (e.g. `Shell-Setup ProductKey (specialize, amd64)`).
pub fn key_finding(
    rule: &'static Rule,
    ctx: &FileContext<'_>,
    text: &str,
    index: &LineIndex,
    range: TextRange,
    key: &ProductKey,
    what: &str,
) -> Finding {
    let classification = classify_key(key, ctx.key_config);
    let message = format!("{what} holds {}, a {}", key.display_form(), classification.describe());
    Finding::new(rule, ctx.path.clone(), message)
        .at(text, index, range)
        .with_key(KeyInfo {
            key: key.clone(),
            classification,
        })
}

/// An `MG901` finding: a file that may hold a key could not be read.
pub fn unreadable_finding(path: &FindingPath, error: &std::io::Error) -> Finding {
    Finding::new(
        &makguard_core::rules::FILE_UNREADABLE,
        path.clone(),
        format!("The file could not be read ({error}); it may hold a key"),
    )
}
