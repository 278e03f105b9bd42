//! The one error type of this crate, [`HiveError`].
//!
//! Every failure is typed so that callers can tell "this is not a hive at all"
//! apart from "this hive is damaged here" and "this hive is so tangled that the
//! reader gave up", and report each honestly instead of guessing.

use std::path::PathBuf;

/// Everything that can go wrong while opening or reading a hive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HiveError {
    /// A file (the hive itself, or a transaction log beside it) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a primary registry hive this reader understands
    /// (bad signature, unsupported version, impossible base block fields).
    #[error("not a usable registry hive: {0}")]
    NotAHive(&'static str),

    /// A structure inside the hive is damaged: out of bounds, wrong signature,
    /// inconsistent counts, or a cycle.
    #[error("corrupt hive: {reason} (cell offset {offset:#x})")]
    Corrupt {
        /// Offset of the offending cell, relative to the start of the hive bins
        /// data (the same convention as offsets stored inside the hive).
        offset: u32,
        /// What was wrong.
        reason: &'static str,
    },

    /// The hive-wide work budget ran out. The budget is proportional to the
    /// hive size and is far above what a legitimate hive needs for several
    /// full walks; exhausting it means the hive's structure multiplies work
    /// (for example many keys sharing one subkey list). Once exhausted, every
    /// further read of this [`crate::Hive`] fails with this error.
    #[error("hive reader work budget exhausted; the hive structure is pathological")]
    WorkBudgetExhausted,
}

pub(crate) fn corrupt(offset: u32, reason: &'static str) -> HiveError {
    HiveError::Corrupt { offset, reason }
}
