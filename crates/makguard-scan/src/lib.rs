//! makguard-scan: decides what each file is, searches it for product keys with the scanner
//! for its kind, reads the image's registry and licensing data, and walks trees safely.
//!
//! Each file kind has its own module; they all report through `key_finding` so
//! that every key is classified, masked and fingerprinted the same way. A failure on one file
//! becomes a finding (an `MG9xx` rule) and the scan goes on.
//!
//! The modules are private. The crate root re-exports what other crates use (the walk, file
//! kinds, key tokens, sources, key-configuration loading) and the types those items name; the
//! readers the integration tests check on their own sit in the hidden `testing` module, so
//! they do not become API.

#![warn(missing_docs)]

mod binary;
mod fs_source;
mod hive_search;
mod image;
mod ini;
mod keyconfig;
mod keyscan;
mod kind;
mod memory_source;
mod office;
mod path_keys;
mod registry;
mod run_keys;
mod script;
mod sniff;
mod source;
mod textfile;
mod unattend;
mod walk;
mod wim_source;
mod xmltext;

// What the CLI, the fixer, the policy crate and the benchmark use, and the types their
// signatures name (a returned error, a trait's argument and result types, a variant's field).
pub use fs_source::{open_regular, read_regular};
pub use keyconfig::{Base64Error, KeyConfigError, load_key_config_file};
pub use keyscan::{InstallCommand, KeyToken, find_bare_keys, find_dashed_keys, install_command_before};
pub use kind::{FileKind, candidate_by_name, detect_kind, scan_file_bytes};
pub use source::{Entry, EntryType, ImageSource, OpenedFile, ReadAt, SourceError, SourcePath};
pub use walk::{DEFAULT_SIZE_CAP, GlobHits, ScanOptions, ScanOptionsError, ScanProgress, scan_memory_file, scan_paths};
pub use wim_source::WimImageSource;
pub use xmltext::rewritable_value;

/// What the integration tests under `tests/` check directly: each reader's own contract
/// (the binary chunking, hive search, image model, key-configuration and registry decoders,
/// answer-file scanner and extension lists), below the walk that front ends go through.
///
/// Not a stable API: it follows the modules it exposes and may change with them. Front ends
/// use the items at the crate root.
#[doc(hidden)]
pub mod testing {
    pub use crate::binary::{
        CHUNK_SIZE as BINARY_CHUNK_SIZE, OVERLAP as BINARY_CHUNK_OVERLAP, scan_reader as scan_binary,
        scan_reader_in_chunks as scan_binary_in_chunks,
    };
    pub use crate::hive_search::{SearchContext, SearchOutcome, search_hive};
    pub use crate::image::{ImageScan, scan_image_root};
    pub use crate::keyconfig::{KeyConfigFile, decode_base64, find_key_config_files, parse_key_config};
    pub use crate::registry::{
        DigitalProductId4, DigitalProductIdError, HiveScope, ReportedValues, decode_digital_product_id,
        parse_digital_product_id4,
    };
    pub use crate::sniff::{ARCHIVE_EXTENSIONS, BINARY_EXTENSIONS, CONTAINER_EXTENSIONS};
    pub use crate::unattend::{UNATTEND_NAMESPACE, is_answer_file, scan as scan_answer_file};
}

use makguard_core::text::LineIndex;
use makguard_core::{Finding, FindingPath, KeyConfigIndex, KeyInfo, ProductKey, Rule, TextRange, classify_key};

/// What a per-kind scanner needs to know about the file it reads.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    /// The file as findings name it.
    pub path: &'a FindingPath,
    /// The image's key configuration (or `--pkeyconfig` files), for classifying post-2009 keys.
    pub key_config: Option<&'a KeyConfigIndex>,
}

/// A finding of `rule` for `key` at `range` of `text`, classified, with the masked key and
/// what it is in the message after `what` (e.g. `Shell-Setup ProductKey (specialize, amd64)`).
pub(crate) fn key_finding(
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
        .with_key(KeyInfo::new(key.clone(), classification))
}

/// An `MG901` finding: a file that may hold a key could not be read.
pub fn unreadable_finding(path: &FindingPath, error: &std::io::Error) -> Finding {
    Finding::new(
        &makguard_core::rules::FILE_UNREADABLE,
        path.clone(),
        format!("The file could not be read ({error}); it may hold a key"),
    )
}
