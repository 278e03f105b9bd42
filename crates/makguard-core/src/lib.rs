//! makguard-core: the product-key model, the GVLK catalog, key classification, findings,
//! fixes and the rule registry. Pure data and logic; no I/O.
//!
//! Every other makguard crate builds on these types. A [`ProductKey`] never prints in full
//! unless it is a public GVLK.

#![warn(missing_docs)]

pub mod catalog;
pub mod classify;
pub mod finding;
pub mod hex;
pub mod key;
pub mod model;
pub mod rules;
pub mod text;

pub use classify::{
    ClassSource, Classification, KeyClass, KeyConfigIndex, KeyGroupInfo, SlotValue, classify_key, classify_slot,
};
pub use finding::{
    Applicability, ByteRange, Detail, Edit, Finding, FindingPath, Fix, KeyInfo, KeySpelling, LineColumn, Location,
    Severity, Span, Suppression, TextRange, XmlContext,
};
pub use key::{Checksum, DecodedKey, KeyForm, KeyParseError, ProductKey};
pub use model::{ContainerImage, ExitStatus, ImageInfo, RootReport, ScanReport, ScanSummary};
pub use rules::Rule;

/// The JSON report format version (the `version` field). Later versions only add fields.
pub const REPORT_FORMAT_VERSION: u32 = 1;
