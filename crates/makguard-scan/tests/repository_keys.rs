//! The repository itself carries no product key except the public GVLKs and the synthetic
//! stand-ins from `../shared/reference`: every key-shaped string in every file git tracks (or
//! would track) is checked, in whatever encoding the file uses. Placeholders made of one
//! repeated symbol are not keys and pass.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use makguard_scan::find_dashed_keys;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn allowed_keys(root: &Path) -> HashSet<String> {
    let reference = root.join("../shared/reference");
    let mut allowed = HashSet::new();
    for (file, column) in [("gvlk.tsv", 4), ("gvlk-unofficial.tsv", 4), ("synthetic-keys.tsv", 0)] {
        let text = std::fs::read_to_string(reference.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines().skip(1) {
            if let Some(key) = line.split('\t').nth(column) {
                allowed.insert(key.to_ascii_uppercase());
            }
        }
    }
    allowed
}

#[test]
fn no_foreign_product_key_in_the_repository() {
    let root = workspace_root();
    let allowed = allowed_keys(&root);
    assert!(allowed.len() > 190, "reference tables not found");
    let listing = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .expect("git runs");
    assert!(listing.status.success(), "git ls-files failed");
    let mut offenders = Vec::new();
    let mut checked = 0;
    for name in listing.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let relative = String::from_utf8_lossy(name).into_owned();
        let Ok(bytes) = std::fs::read(root.join(&relative)) else {
            continue;
        };
        checked += 1;
        let decoded = makguard_core::text::decode(&bytes);
        for token in find_dashed_keys(&decoded.text) {
            let text = token.key.reveal_unmasked();
            // One repeated symbol (`XXXXX-XXXXX-…`) is a placeholder, not a key.
            if !allowed.contains(text) && !makguard_core::classify::is_placeholder(text) {
                offenders.push(format!(
                    "{relative}: {} ({})",
                    token.key.masked(),
                    token.key.fingerprint()
                ));
            }
        }
    }
    assert!(checked > 10, "no files were checked");
    assert!(
        offenders.is_empty(),
        "keys that are neither GVLKs nor synthetic:\n{}",
        offenders.join("\n")
    );
}
