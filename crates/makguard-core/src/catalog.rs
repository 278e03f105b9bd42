//! The catalog of public KMS client setup keys (GVLKs), compiled in from `data/gvlk.tsv`.
//!
//! The data file is Microsoft's published table (with source URLs) from the project's
//! reference notes, plus three columns of ours: the build range each product generation
//! covers (`min_build`, `max_build`) and whether Microsoft lists the key (`official`).
//! `edition_id` values for Windows come from third-party tables where Microsoft gives none;
//! each row's `note` says so.

use std::collections::HashMap;
use std::sync::OnceLock;

use thiserror::Error;

use crate::key::ProductKey;

const CATALOG_TSV: &str = include_str!("../data/gvlk.tsv");

/// Which product line a GVLK belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Windows client and server editions.
    Windows,
    /// Microsoft Office (Click-to-Run and MSI) products.
    Office,
}

/// One row of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GvlkEntry {
    /// The product line this key activates.
    pub family: Family,
    /// Product generation, e.g. `Windows Server 2022`.
    pub product: &'static str,
    /// Edition as Microsoft names it, e.g. `Windows Server 2022 Datacenter`.
    pub edition: &'static str,
    /// The image's `EditionID` (Windows) or the Click-to-Run product `ID` (Office); empty
    /// for MSI-only Office products.
    pub edition_id: &'static str,
    /// The public KMS client setup key itself.
    pub key: ProductKey,
    /// URL of the table that publishes this key.
    pub source: &'static str,
    /// Provenance notes: checksum result, `RefGroupId`, where else the key was seen.
    pub note: &'static str,
    /// The pkeyconfig `RefGroupId`, when the note records it.
    pub ref_group_id: Option<u32>,
    /// The first Windows build this product generation covers; `None` for Office rows, which
    /// match no build.
    pub min_build: Option<u32>,
    /// The last Windows build this generation covers (inclusive); `None` when open-ended.
    pub max_build: Option<u32>,
    /// False for keys that only third-party tables list.
    pub official: bool,
}

impl GvlkEntry {
    /// True when `build` lies in this product generation's range.
    pub fn covers_build(&self, build: u32) -> bool {
        self.min_build.is_some_and(|min| build >= min) && self.max_build.is_none_or(|max| build <= max)
    }

    /// True when the edition ID came from a third-party table rather than Microsoft.
    pub fn edition_id_is_third_party(&self) -> bool {
        self.note.contains("edition_id from third-party")
    }
}

/// Why no single GVLK answers a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GvlkLookupError {
    /// No official Windows GVLK has this `EditionID` (the field holds it).
    #[error("no KMS client key is published for edition '{0}'")]
    UnknownEdition(String),
    /// The edition has GVLKs, but none whose build range covers `build`.
    #[error("edition '{edition}' has no KMS client key for build {build}")]
    NoKeyForBuild {
        /// The `EditionID` looked up.
        edition: String,
        /// The image's build number.
        build: u32,
    },
    /// No build was given and the edition's releases have different keys.
    #[error("edition '{edition}' has KMS client keys for several releases ({products}); the image's build decides")]
    NeedsBuild {
        /// The `EditionID` looked up.
        edition: String,
        /// The candidate product generations, joined with `; `.
        products: String,
    },
}

struct Catalog {
    entries: Vec<GvlkEntry>,
    by_key: HashMap<ProductKey, usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let entries: Vec<GvlkEntry> = CATALOG_TSV
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(parse_row)
            .collect();
        let mut by_key = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_key.entry(entry.key.clone()).or_insert(index);
        }
        Catalog { entries, by_key }
    })
}

fn parse_row(line: &'static str) -> GvlkEntry {
    let cols: Vec<&'static str> = line.split('\t').collect();
    // The data file is part of the binary and checked by tests, so a bad row is a build bug.
    let col = |i: usize| cols.get(i).copied().unwrap_or("");
    let key = ProductKey::parse(col(4)).expect("catalog keys are well-formed");
    let ref_group_id = col(6)
        .split("RefGroupId=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok());
    GvlkEntry {
        family: if col(0) == "office" {
            Family::Office
        } else {
            Family::Windows
        },
        product: col(1),
        edition: col(2),
        edition_id: col(3),
        key,
        source: col(5),
        note: col(6),
        ref_group_id,
        min_build: col(7).parse().ok(),
        max_build: col(8).parse().ok(),
        official: col(9) != "no",
    }
}

/// Every catalog entry, in the data file's order.
pub fn entries() -> &'static [GvlkEntry] {
    &catalog().entries
}

/// The catalog entry for `key`, if it is a GVLK.
pub fn lookup_key(key: &ProductKey) -> Option<&'static GvlkEntry> {
    let catalog = catalog();
    catalog.by_key.get(key).map(|&i| &catalog.entries[i])
}

/// The Windows GVLK for an image's `EditionID` and build.
///
/// `EnterpriseS` shows why the build matters: LTSB 2015 (10240), LTSB 2016 (14393) and
/// LTSC 2019 and later (17763+) share the edition ID but not the key. Without a build, an
/// edition whose releases all share one key still answers; otherwise the caller must ask.
///
/// # Errors
///
/// [`GvlkLookupError::UnknownEdition`] when no official Windows GVLK has `edition_id`;
/// [`GvlkLookupError::NoKeyForBuild`] when none covers `build`;
/// [`GvlkLookupError::NeedsBuild`] when `build` is `None` and the edition's releases differ
/// in key.
pub fn windows_gvlk_for(edition_id: &str, build: Option<u32>) -> Result<&'static GvlkEntry, GvlkLookupError> {
    let candidates: Vec<&GvlkEntry> = entries()
        .iter()
        .filter(|e| e.family == Family::Windows && e.official && e.edition_id.eq_ignore_ascii_case(edition_id))
        .collect();
    if candidates.is_empty() {
        return Err(GvlkLookupError::UnknownEdition(edition_id.to_string()));
    }
    if let Some(build) = build {
        candidates
            .iter()
            .filter(|e| e.covers_build(build))
            // The most specific generation wins, e.g. LTSB 2016's 14393..=14393 over nothing.
            .max_by_key(|e| e.min_build)
            .copied()
            .ok_or_else(|| GvlkLookupError::NoKeyForBuild {
                edition: edition_id.to_string(),
                build,
            })
    } else {
        let first = candidates[0];
        if candidates.iter().all(|e| e.key == first.key) {
            Ok(first)
        } else {
            let mut products: Vec<&str> = candidates.iter().map(|e| e.product).collect();
            products.dedup();
            Err(GvlkLookupError::NeedsBuild {
                edition: edition_id.to_string(),
                products: products.join("; "),
            })
        }
    }
}

/// The Office GVLK for a Click-to-Run product `ID` such as `ProPlus2021Volume`.
pub fn office_gvlk_for_product_id(product_id: &str) -> Option<&'static GvlkEntry> {
    entries().iter().find(|e| {
        e.family == Family::Office && !e.edition_id.is_empty() && e.edition_id.eq_ignore_ascii_case(product_id)
    })
}

/// The Office GVLK for an MSI product named as Microsoft's table names it, e.g.
/// `Office Professional Plus 2016`.
pub fn office_gvlk_for_edition_name(edition: &str) -> Option<&'static GvlkEntry> {
    entries()
        .iter()
        .find(|e| e.family == Family::Office && e.edition.eq_ignore_ascii_case(edition))
}

/// The GVLK whose pkeyconfig group is `group`, if the catalog records it.
pub fn lookup_group(group: u32) -> Option<&'static GvlkEntry> {
    entries().iter().find(|e| e.ref_group_id == Some(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_holds_every_reference_row() {
        let official = entries().iter().filter(|e| e.official).count();
        assert_eq!(official, 170);
        assert_eq!(entries().len(), 172);
        assert!(entries().iter().all(|e| e.source.starts_with("https://")));
    }

    #[test]
    fn every_windows_entry_has_a_build_range() {
        for entry in entries().iter().filter(|e| e.family == Family::Windows) {
            assert!(entry.min_build.is_some(), "{} has no build range", entry.edition);
        }
    }

    #[test]
    fn enterprise_s_is_disambiguated_by_build() {
        let key = |build| {
            windows_gvlk_for("EnterpriseS", Some(build))
                .unwrap()
                .key
                .reveal_unmasked()
                .to_string()
        };
        assert_eq!(key(10240), "WNMTR-4C88C-JK8YV-HQ7T2-76DF9");
        assert_eq!(key(14393), "DCPHK-NFMTC-H88MJ-PFHPY-QJ4BJ");
        assert_eq!(key(17763), "M7XTQ-FN8P6-TTKYV-9D4CC-J462D");
        assert_eq!(key(26100), "M7XTQ-FN8P6-TTKYV-9D4CC-J462D");
        assert!(matches!(
            windows_gvlk_for("EnterpriseS", None),
            Err(GvlkLookupError::NeedsBuild { .. })
        ));
        assert!(matches!(
            windows_gvlk_for("EnterpriseS", Some(9600)),
            Err(GvlkLookupError::NoKeyForBuild { .. })
        ));
    }

    #[test]
    fn server_editions_follow_the_build() {
        let key = |build| windows_gvlk_for("ServerDatacenter", Some(build)).unwrap().product;
        assert_eq!(key(20348), "Windows Server 2022");
        assert_eq!(key(26100), "Windows Server 2025");
        assert_eq!(key(17763), "Windows Server 2019");
        assert_eq!(key(14393), "Windows Server 2016");
    }

    #[test]
    fn client_editions_resolve_with_or_without_ambiguity() {
        assert_eq!(
            windows_gvlk_for("professional", Some(22631))
                .unwrap()
                .key
                .reveal_unmasked(),
            "W269N-WFGWX-YVC9B-4J6C9-T83GX"
        );
        assert!(windows_gvlk_for("Professional", None).is_err());
        assert!(matches!(
            windows_gvlk_for("Core", Some(22631)),
            Err(GvlkLookupError::NoKeyForBuild { .. })
        ));
        assert!(matches!(
            windows_gvlk_for("Nonsense", None),
            Err(GvlkLookupError::UnknownEdition(_))
        ));
    }

    #[test]
    fn office_product_ids_resolve() {
        let entry = office_gvlk_for_product_id("ProPlus2021Volume").unwrap();
        assert_eq!(entry.edition, "Office LTSC Professional Plus 2021");
        assert!(office_gvlk_for_edition_name("Office Professional Plus 2016").is_some());
    }

    #[test]
    fn groups_map_back_to_entries() {
        assert_eq!(lookup_group(3290).unwrap().edition_id, "Enterprise");
    }
}
