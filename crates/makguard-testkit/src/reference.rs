//! The workspace's location and the reference tables in `../shared/reference` (public GVLKs and
//! synthetic keys), read at run time by path, never copied into the repository.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The workspace root: this crate lives at `<root>/crates/makguard-testkit`.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest.join("../.."), Path::to_path_buf)
}

/// `../shared`, beside the workspace root (reference tables and the real-world corpus).
/// Panics with what to do when it is missing: every test that reads it would fail otherwise
/// with a bare "No such file".
///
/// # Panics
///
/// When `../shared/reference` is not a folder.
pub fn shared_dir() -> PathBuf {
    let shared = workspace_root().join("../shared");
    assert!(
        shared.join("reference").is_dir(),
        "the tests need the project's shared folder (reference tables and real-world corpus) \
         beside this checkout, at {}; clone or copy it there",
        shared.display()
    );
    shared
}

/// A file in `../shared/reference`, e.g. `reference_path("gvlk.tsv")`.
pub fn reference_path(name: &str) -> PathBuf {
    shared_dir().join("reference").join(name)
}

/// Rows of a reference TSV (blank lines ignored) as maps keyed by the header's column names.
/// Panics naming the file when it cannot be read.
///
/// # Panics
///
/// When `../shared` is missing, or the file cannot be read or is empty (no header).
pub fn read_tsv(name: &str) -> Vec<HashMap<String, String>> {
    let path = reference_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().expect("header").split('\t').map(str::to_string).collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Every key in `synthetic-keys.tsv` (none of them is a GVLK), in file order.
pub fn synthetic_keys() -> Vec<String> {
    read_tsv("synthetic-keys.tsv")
        .into_iter()
        .filter_map(|mut row| row.remove("key"))
        .collect()
}

/// Fails if any synthetic key shows in full in `text`, with or without dashes, in any letter
/// case. The message names only the key's last group, so a failure never reveals a key.
///
/// # Panics
///
/// When `text` holds a synthetic key, or `synthetic-keys.tsv` cannot be read.
pub fn assert_no_synthetic_key(text: &str, what: &str) {
    let upper = text.to_ascii_uppercase();
    for key in synthetic_keys() {
        let key = key.to_ascii_uppercase();
        let bare = key.replace('-', "");
        assert!(
            !upper.contains(&key) && !upper.contains(&bare),
            "{what} reveals the synthetic key ending {}",
            &key[key.len().saturating_sub(5)..]
        );
    }
}
