//! Classification of what sits where a key belongs: a GVLK, a volume/retail/OEM/KMS-host key,
//! a key of unknown channel, a placeholder, a partial key, or something malformed.
//!
//! The built-in catalog says which keys are GVLKs. An image's own key configuration
//! (`pkeyconfig*.xrm-ms`, parsed elsewhere into a [`KeyConfigIndex`]) says, for any post-2009
//! key, which channel its group belongs to; without it a non-GVLK key stays `non-kms`.

use std::collections::HashMap;
use std::fmt;

use crate::catalog;
use crate::key::{Checksum, ProductKey};

/// The class of a key or key-shaped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyClass {
    /// A public KMS client setup key.
    Gvlk,
    /// Well-formed and not a GVLK; its channel is unknown (possibly a MAK).
    NonKms,
    /// A Multiple Activation Key, as the image's key configuration or registry names it.
    Mak,
    /// A retail key, as the image's key configuration or registry names it.
    Retail,
    /// An OEM key, as the image's key configuration or registry names it.
    Oem,
    /// A KMS host key.
    Csvlk,
    /// A stand-in such as `XXXXX-…`, all zeros or a template variable: no key at all.
    Placeholder,
    /// Four groups of five: a truncated key.
    Partial,
    /// Text in a key slot that is neither a key, a placeholder nor a partial key.
    Malformed,
}

impl KeyClass {
    /// The stable lower-case name used in reports, e.g. `non-kms`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyClass::Gvlk => "gvlk",
            KeyClass::NonKms => "non-kms",
            KeyClass::Mak => "mak",
            KeyClass::Retail => "retail",
            KeyClass::Oem => "oem",
            KeyClass::Csvlk => "csvlk",
            KeyClass::Placeholder => "placeholder",
            KeyClass::Partial => "partial",
            KeyClass::Malformed => "malformed",
        }
    }

    /// True for real keys that must not be embedded in an image.
    pub fn is_forbidden_key(self) -> bool {
        matches!(
            self,
            KeyClass::NonKms | KeyClass::Mak | KeyClass::Retail | KeyClass::Oem | KeyClass::Csvlk
        )
    }

    /// Maps a pkeyconfig / `DigitalProductId4` `ProductKeyType` to a class.
    pub fn from_product_key_type(key_type: &str) -> Option<KeyClass> {
        let key_type = key_type.trim();
        if key_type.eq_ignore_ascii_case("Volume:GVLK") {
            Some(KeyClass::Gvlk)
        } else if key_type.to_ascii_lowercase().starts_with("volume:mak") {
            Some(KeyClass::Mak)
        } else if key_type.eq_ignore_ascii_case("Volume:CSVLK") {
            Some(KeyClass::Csvlk)
        } else if key_type.to_ascii_lowercase().starts_with("retail") {
            Some(KeyClass::Retail)
        } else if key_type.to_ascii_lowercase().starts_with("oem") {
            Some(KeyClass::Oem)
        } else {
            None
        }
    }
}

impl fmt::Display for KeyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which source decided a key's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassSource {
    /// The GVLK catalog compiled into makguard.
    BuiltinCatalog,
    /// The image's own `pkeyconfig*.xrm-ms` key groups.
    ImageKeyConfiguration,
    /// The `ProductKeyType` in the offline registry's `DigitalProductId4`.
    RegistryKeyType,
    /// Decided from the text's shape alone (placeholder, partial, malformed, or a
    /// well-formed key no source knows).
    Shape,
}

impl ClassSource {
    /// The name used in messages, e.g. `built-in catalog`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassSource::BuiltinCatalog => "built-in catalog",
            ClassSource::ImageKeyConfiguration => "image key configuration",
            ClassSource::RegistryKeyType => "registry key type",
            ClassSource::Shape => "key shape",
        }
    }
}

/// One `Configuration` of a pkeyconfig file, keyed by its `RefGroupId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroupInfo {
    /// The `RefGroupId`: the group number a decoded key carries.
    pub group: u32,
    /// The `ActConfigId` GUID, as the file writes it.
    pub act_config_id: String,
    /// The `EditionId` the group activates, e.g. `Enterprise`.
    pub edition_id: String,
    /// The `ProductDescription`.
    pub description: String,
    /// The `ProductKeyType`, e.g. `Volume:MAK`; see [`KeyClass::from_product_key_type`].
    pub product_key_type: String,
    /// The file the group came from, relative to the image root or as given.
    pub source_file: String,
}

/// Key groups from one or more pkeyconfig files. The first file to define a group wins, so
/// load the image's current file before its downlevel and Office files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyConfigIndex {
    groups: HashMap<u32, KeyGroupInfo>,
}

impl KeyConfigIndex {
    /// Adds a group unless one with the same `RefGroupId` is already known (the first wins).
    pub fn insert(&mut self, info: KeyGroupInfo) {
        self.groups.entry(info.group).or_insert(info);
    }

    /// Adds every group of `other` that this index does not define yet.
    pub fn extend(&mut self, other: KeyConfigIndex) {
        for (_, info) in other.groups {
            self.insert(info);
        }
    }

    /// The group with `RefGroupId` `group`, if any loaded file defines it.
    pub fn group(&self, group: u32) -> Option<&KeyGroupInfo> {
        self.groups.get(&group)
    }

    /// How many distinct groups the index holds.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when no file contributed a group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// The verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// What the key is.
    pub class: KeyClass,
    /// Which source decided `class`.
    pub source: ClassSource,
    /// The product (catalog generation or pkeyconfig description); `None` when no source
    /// names it.
    pub product: Option<String>,
    /// The edition as the deciding source names it; `None` when no source names it.
    pub edition: Option<String>,
    /// The `EditionID` the key belongs to; `None` when unknown (also for MSI-only Office
    /// GVLKs).
    pub edition_id: Option<String>,
    /// Whether the key's embedded checksum verifies.
    pub checksum: Checksum,
}

impl Classification {
    /// A short description for messages, e.g. `GVLK for Windows 11 Enterprise (built-in catalog)`.
    pub fn describe(&self) -> String {
        let what = match self.class {
            KeyClass::Gvlk => "KMS client key (GVLK)",
            KeyClass::NonKms => "key that is not a KMS client key (GVLK)",
            KeyClass::Mak => "Multiple Activation Key (MAK)",
            KeyClass::Retail => "retail key",
            KeyClass::Oem => "OEM key",
            KeyClass::Csvlk => "KMS host key (CSVLK)",
            KeyClass::Placeholder => "placeholder",
            KeyClass::Partial => "partial key",
            KeyClass::Malformed => "malformed key",
        };
        let mut out = what.to_string();
        if let Some(edition) = self.edition.as_deref().or(self.product.as_deref()) {
            out.push_str(" for ");
            out.push_str(edition);
        }
        if self.class == KeyClass::NonKms {
            // Nothing that was read names the key's channel: say what that means, not "shape".
            out.push_str(", of unknown channel (possibly a MAK)");
        } else if self.class.is_forbidden_key() || self.class == KeyClass::Gvlk {
            out.push_str(" (");
            out.push_str(self.source.as_str());
            out.push(')');
        }
        out
    }
}

/// Classifies a parsed key against the catalog and, for post-2009 keys, the image's key
/// configuration.
pub fn classify_key(key: &ProductKey, key_config: Option<&KeyConfigIndex>) -> Classification {
    let checksum = key.checksum();
    if let Some(entry) = catalog::lookup_key(key) {
        return Classification {
            class: KeyClass::Gvlk,
            source: ClassSource::BuiltinCatalog,
            product: Some(entry.product.to_string()),
            edition: Some(entry.edition.to_string()),
            edition_id: (!entry.edition_id.is_empty()).then(|| entry.edition_id.to_string()),
            checksum,
        };
    }
    let group = key.decode().filter(|_| checksum == Checksum::Valid).map(|d| d.group);
    if let (Some(group), Some(index)) = (group, key_config)
        && let Some(info) = index.group(group)
        && let Some(class) = KeyClass::from_product_key_type(&info.product_key_type)
    {
        return Classification {
            class,
            source: ClassSource::ImageKeyConfiguration,
            product: Some(info.description.clone()),
            edition: Some(format!("{} ({})", info.edition_id, info.description)),
            edition_id: Some(info.edition_id.clone()),
            checksum,
        };
    }
    Classification {
        class: KeyClass::NonKms,
        source: ClassSource::Shape,
        product: None,
        edition: None,
        edition_id: None,
        checksum,
    }
}

/// What the text in a key slot turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotValue {
    /// Nothing but whitespace.
    Empty,
    /// Text that parses as a product key.
    Key(ProductKey),
    /// A stand-in; see [`is_placeholder`].
    Placeholder,
    /// A truncated key; see [`is_partial`].
    Partial,
    /// Anything else.
    Malformed,
}

impl SlotValue {
    /// The class of a value that is not a key; `None` for an empty slot or a real key (classify
    /// that with [`classify_key`]).
    pub fn class(&self) -> Option<KeyClass> {
        match self {
            SlotValue::Empty | SlotValue::Key(_) => None,
            SlotValue::Placeholder => Some(KeyClass::Placeholder),
            SlotValue::Partial => Some(KeyClass::Partial),
            SlotValue::Malformed => Some(KeyClass::Malformed),
        }
    }
}

/// Sorts the (trimmed) text of an element or setting that should hold a key.
pub fn classify_slot(text: &str) -> SlotValue {
    let text = text.trim();
    if text.is_empty() {
        return SlotValue::Empty;
    }
    if is_placeholder(text) {
        return SlotValue::Placeholder;
    }
    if let Ok(key) = ProductKey::parse(text) {
        return SlotValue::Key(key);
    }
    if is_partial(text) {
        return SlotValue::Partial;
    }
    SlotValue::Malformed
}

/// Placeholders: `XXXXX-XXXXX-…`, all zeros, one repeated character, Setup's
/// `*SENSITIVE*DATA*DELETED*`, and template variables such as `%ProductKey%` or `{{key}}`.
pub fn is_placeholder(text: &str) -> bool {
    let text = text.trim();
    if text.eq_ignore_ascii_case("*SENSITIVE*DATA*DELETED*") {
        return true;
    }
    let symbols: Vec<char> = text.chars().filter(|&c| c != '-').collect();
    if let Some(&first) = symbols.first()
        && symbols.iter().all(|&c| c.eq_ignore_ascii_case(&first))
    {
        return true;
    }
    (text.starts_with('%') && text.ends_with('%') && text.len() > 2)
        || text.contains("{{")
        || text.contains("${")
        || (text.starts_with('@') && text.ends_with('@') && text.len() > 2)
        || (text.starts_with('<') && text.ends_with('>'))
        || (text.starts_with('[') && text.ends_with(']'))
        || text.starts_with("$(")
}

/// Four groups of five key symbols: a key with its last group cut off.
pub fn is_partial(text: &str) -> bool {
    let groups: Vec<&str> = text.trim().split('-').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|b| crate::key::is_key_char(b.to_ascii_uppercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_values() {
        assert_eq!(classify_slot("  "), SlotValue::Empty);
        // Built here rather than written out: the repository holds no key-shaped strings but keys.
        assert_eq!(classify_slot(&["XXXXX"; 5].join("-")), SlotValue::Placeholder);
        assert_eq!(classify_slot("00000-00000-00000-00000-00000"), SlotValue::Placeholder);
        assert_eq!(classify_slot("*SENSITIVE*DATA*DELETED*"), SlotValue::Placeholder);
        assert_eq!(classify_slot("%ProductKey%"), SlotValue::Placeholder);
        assert_eq!(classify_slot("2FMYP-QCY43-QR9VK-WTVCK"), SlotValue::Partial);
        assert_eq!(classify_slot("hello"), SlotValue::Malformed);
        assert!(matches!(
            classify_slot("W269N-WFGWX-YVC9B-4J6C9-T83GX"),
            SlotValue::Key(_)
        ));
    }

    #[test]
    fn catalog_keys_are_gvlks() {
        let key = ProductKey::parse("W269N-WFGWX-YVC9B-4J6C9-T83GX").unwrap();
        let c = classify_key(&key, None);
        assert_eq!(c.class, KeyClass::Gvlk);
        assert_eq!(c.edition_id.as_deref(), Some("Professional"));
    }

    #[test]
    fn key_configuration_refines_non_kms() {
        let key = ProductKey::parse("6QWQ4-8NRCW-KHGHV-CR226-3PPQC").unwrap();
        assert_eq!(classify_key(&key, None).class, KeyClass::NonKms);
        let mut index = KeyConfigIndex::default();
        index.insert(KeyGroupInfo {
            group: 990001,
            act_config_id: "{00000000-0000-0000-0000-000000000001}".into(),
            edition_id: "Enterprise".into(),
            description: "Synthetic Enterprise Volume:MAK".into(),
            product_key_type: "Volume:MAK".into(),
            source_file: "pkeyconfig.xrm-ms".into(),
        });
        let c = classify_key(&key, Some(&index));
        assert_eq!(c.class, KeyClass::Mak);
        assert_eq!(c.source, ClassSource::ImageKeyConfiguration);
        assert_eq!(c.edition_id.as_deref(), Some("Enterprise"));
    }

    #[test]
    fn product_key_types_map_to_classes() {
        assert_eq!(KeyClass::from_product_key_type("Volume:MAK"), Some(KeyClass::Mak));
        assert_eq!(KeyClass::from_product_key_type("OEM:NONSLP"), Some(KeyClass::Oem));
        assert_eq!(
            KeyClass::from_product_key_type("Retail:TB:Eval"),
            Some(KeyClass::Retail)
        );
        assert_eq!(KeyClass::from_product_key_type("Volume:CSVLK"), Some(KeyClass::Csvlk));
        assert_eq!(KeyClass::from_product_key_type("Volume:GVLK"), Some(KeyClass::Gvlk));
        assert_eq!(KeyClass::from_product_key_type("???"), None);
    }
}
