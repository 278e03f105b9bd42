//! Read-only, offline reader for Windows registry hive files ("regf").
//!
//! makguard uses it to look inside `SYSTEM`, `SOFTWARE` and similar hives
//! taken from Windows images without ever running Windows code or writing to
//! the image.
//!
//! # Structure
//!
//! * [`Hive`] owns the hive's bytes. [`Hive::open`] keeps the file open
//!   and reads cells on demand through a bounded page cache (8 MiB at most),
//!   unless the hive is dirty and its transaction logs must be replayed, in
//!   which case the file is read whole and replayed in memory;
//!   [`Hive::from_random_access`] does the same over any [`ReadAt`] (a file
//!   inside an image container, or a file makguard opened safely);
//!   [`Hive::from_bytes`] takes an image in memory. It hands out the root [`Key`] and looks keys up by path.
//! * [`Key`] is a key node (`nk`): name, subkeys (through `li`, `lf`, `lh`
//!   and `ri` lists) and values.
//! * [`Value`] is a value record (`vk`): name, REG_* type, raw data (inline,
//!   in one cell, or in big-data `db` segments) and [`ValueData`].
//! * [`DirtyState`] tells whether the primary file was caught mid-write,
//!   which logs were found, and whether new-format (`HvLE`) log entries were
//!   replayed into the in-memory image.
//!
//! # Guarantees
//!
//! * **Read-only.** Nothing is ever written.
//! * **No panics on any input.** Every read is bounds-checked and all offset
//!   arithmetic is checked; no `unsafe`.
//! * **Bounded memory.** A hive opened from a file without log replay
//!   caches at most [`Hive::CACHE_CAP_BYTES`] of hive data, plus copies of
//!   the cells being read. Counts and lengths read from the file are checked
//!   against the size of the containing cell or of the hive before anything
//!   is allocated for them.
//! * **Always terminates.** A cell reached twice while resolving one
//!   structure, a key that is its own ancestor, or a subkey whose parent
//!   field does not point back at the key listing it is
//!   [`HiveError::Corrupt`]; a hive-wide work budget proportional to the hive
//!   size ([`HiveError::WorkBudgetExhausted`]) bounds everything else.
//! * **Honest about staleness.** A dirty hive whose logs cannot be replayed
//!   is still readable, and [`DirtyState::may_be_stale`] says so.
//!
//! Names are decoded from UTF-16LE or, for "compressed" names, Latin-1;
//! lookups are case-insensitive (ASCII plus simple Unicode lowercase).
//!
//! ```no_run
//! use makguard_hive::{Hive, ValueData};
//! # fn main() -> Result<(), makguard_hive::HiveError> {
//! let hive = Hive::open(std::path::Path::new("SOFTWARE"))?;
//! if hive.dirty().may_be_stale() {
//!     eprintln!("warning: hive is dirty and its logs were not replayed");
//! }
//! if let Some(key) = hive.key(r"Microsoft\Windows NT\CurrentVersion")? {
//!     if let Some(v) = key.value("ProductName")? {
//!         if let ValueData::Sz(s) = v.data()? {
//!             println!("{s}");
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod base;
mod error;
mod hive;
mod key;
mod log;
mod source;
mod text;
mod value;

pub use base::declared_hive_len;
pub use error::HiveError;
pub use hive::{Hive, HiveLog};
pub use key::Key;
pub use log::DirtyState;
pub use source::{ReadAt, read_all};
pub use text::decode_utf16le_lossy;
pub use value::{Value, ValueData, reg_type};
