//! Product keys in file and folder names (`MG242`): a name is content that ships with the
//! image, so a key in it leaks like a key in a file.
//!
//! Each entry's own name (the last component of its path) is judged, so a folder named after
//! a key is reported once, not once for every file below it. A name holds a key when it has a
//! dashed key anywhere or a checksum-valid 25-character key (the spellings the output masker
//! catches, minus bare runs that could be a digest); GVLKs and placeholders never count.

use makguard_core::classify::is_placeholder;
use makguard_core::key::{keys_in, mask_keys_in};
use makguard_core::rules::PATH_NAME_HOLDS_KEY;
use makguard_core::{Checksum, Finding, FindingPath, KeyInfo, classify_key};

/// The `MG242` findings for the entry at `rel_path` (root-relative, `/`-separated): one per
/// key in its last component.
pub(crate) fn keys_in_path(rel_path: &str) -> Vec<Finding> {
    let name = rel_path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    keys_in(name)
        .into_iter()
        .filter(|found| found.dashed || found.key.checksum() == Checksum::Valid)
        .filter(|found| !is_placeholder(found.key.reveal_unmasked()))
        .map(|found| {
            let classification = classify_key(&found.key, None);
            let message = format!(
                "The name `{}` holds {}, a {}; rename it",
                mask_keys_in(name),
                found.key.display_form(),
                classification.describe()
            );
            Finding::new(&PATH_NAME_HOLDS_KEY, FindingPath::new(rel_path), message)
                .with_key(KeyInfo::new(found.key, classification))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    #[test]
    fn every_spelling_in_the_last_component_is_found() {
        let bare = MAK.replace('-', "");
        for name in [
            MAK.to_string(),
            MAK.to_lowercase(),
            bare.clone(),
            bare.to_lowercase(),
            format!("{bare}_backup.xml"),
            format!("key-{MAK}.txt"),
            LEGACY.to_string(),
        ] {
            let found = keys_in_path(&format!("Deploy/{name}"));
            assert_eq!(found.len(), 1, "{name}");
            assert_eq!(found[0].rule.code, "MG242");
            assert_eq!(found[0].path().display, format!("Deploy/{name}"));
            assert!(
                !found[0].message.to_uppercase().contains(&bare[..20]),
                "{}",
                found[0].message
            );
            assert!(
                !found[0].message.to_uppercase().contains(&MAK[..11]),
                "{}",
                found[0].message
            );
        }
        // Only the entry's own name: a folder is reported once, for itself.
        assert!(keys_in_path(&format!("{MAK}/unattend.xml")).is_empty());
    }

    #[test]
    fn gvlks_and_digests_are_not_keys() {
        // Placeholders are dropped by `is_placeholder`, tested with core's classification; no
        // key-shaped placeholder is written here (the repository holds only GVLKs and synthetic keys).
        assert!(keys_in_path(&format!("a/{GVLK}.xml")).is_empty());
        let digest_like = "bcdf2346789".repeat(3)[..25].to_string();
        assert!(keys_in_path(&format!("a/{digest_like}.cache")).is_empty());
        assert!(keys_in_path(&format!("a/{}.bin", LEGACY.replace('-', ""))).is_empty());
    }
}
