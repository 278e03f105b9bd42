//! [`Hive`]: owning the file image, validating the base block, finding and
//! replaying transaction logs, and handing out bounds-checked cells under a
//! hive-wide work budget.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::{BASE_BLOCK_LEN, BaseBlock, u16_at, u32_at};
use crate::error::{HiveError, corrupt};
use crate::key::Key;
use crate::log::{self, DirtyState, LogInput};

/// Offset value meaning "no cell".
pub(crate) const NO_CELL: u32 = u32::MAX;

/// Budget floor so that tiny hives still allow generous repeated use.
const WORK_FLOOR: u64 = 1 << 20;
/// Budget units per byte of hive. A full walk of a real hive, reading every
/// value, costs well under one unit per byte (cells are at least 8 bytes and
/// each is touched a few times); this leaves room for many walks.
const WORK_PER_BYTE: u64 = 8;

/// An opened registry hive. Owns the file bytes (after any log replay);
/// [`Key`]s and [`crate::Value`]s borrow from it.
///
/// Every read is bounds-checked and charged against a work budget
/// proportional to the hive size, so no input can make the reader loop or
/// run away; see [`HiveError::WorkBudgetExhausted`].
pub struct Hive {
    data: Vec<u8>,
    /// Exclusive end of the hive bins data inside `data`.
    bins_end: usize,
    root: u32,
    dirty: DirtyState,
    work_left: AtomicU64,
}

// Hand-written so that debug-printing a Key or Value does not dump the
// whole hive image.
impl std::fmt::Debug for Hive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive")
            .field("len", &self.data.len())
            .field("bins_end", &self.bins_end)
            .field("root", &self.root)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

/// A borrowed, bounds-checked cell payload (the bytes after the size field).
#[derive(Clone, Copy)]
pub(crate) struct Cell<'h> {
    pub offset: u32,
    pub data: &'h [u8],
}

impl<'h> Cell<'h> {
    pub(crate) fn u16(&self, at: usize, what: &'static str) -> Result<u16, HiveError> {
        u16_at(self.data, at).ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn u32(&self, at: usize, what: &'static str) -> Result<u32, HiveError> {
        u32_at(self.data, at).ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn bytes(&self, at: usize, len: usize, what: &'static str) -> Result<&'h [u8], HiveError> {
        at.checked_add(len)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn signature(&self) -> &'h [u8] {
        self.data.get(..2).unwrap_or(&[])
    }
}

impl Hive {
    /// Reads a hive file. Transaction logs named `<file name>.LOG1` and
    /// `<file name>.LOG2` (any letter case) in the same directory are noticed
    /// and, if the hive is dirty, replayed in memory; see [`Hive::dirty`].
    pub fn open(path: &Path) -> Result<Hive, HiveError> {
        let data = fs::read(path).map_err(|source| HiveError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut dirty = DirtyState::default();
        let mut logs = Vec::new();
        // Logs only matter for a dirty hive; a clean one just lists them.
        let needs_logs = BaseBlock::parse(&data).is_some_and(|b| b.seq1 != b.seq2 || !b.checksum_ok);
        match find_logs(path) {
            Ok(paths) => {
                for p in paths {
                    dirty.logs.push(p.clone());
                    if !needs_logs {
                        continue;
                    }
                    match fs::read(&p) {
                        Ok(bytes) => logs.push(LogInput { path: p, bytes }),
                        Err(e) => dirty.note(format!("{}: {e}", p.display())),
                    }
                }
            }
            Err(e) => {
                dirty.note(format!("cannot list the hive's directory: {e}"));
            }
        }
        Hive::build(data, &logs, dirty)
    }

    /// Uses an in-memory hive image. No transaction logs are consulted.
    pub fn from_bytes(data: Vec<u8>) -> Result<Hive, HiveError> {
        Hive::build(data, &[], DirtyState::default())
    }

    fn build(mut data: Vec<u8>, logs: &[LogInput], mut dirty: DirtyState) -> Result<Hive, HiveError> {
        if data.len() < BASE_BLOCK_LEN {
            return Err(HiveError::NotAHive("shorter than the 4096-byte base block"));
        }
        let base = parse_primary(&data)?;
        dirty.sequence_mismatch = base.seq1 != base.seq2;
        dirty.checksum_mismatch = !base.checksum_ok;
        log::replay(&mut data, logs, &mut dirty);
        // Replay may have changed the base block (hive size, sequence numbers).
        let base = parse_primary(&data)?;

        let bins_size = usize::try_from(base.bins_size)
            .map_err(|_| HiveError::NotAHive("hive bins data size does not fit in memory"))?;
        if bins_size == 0 || !bins_size.is_multiple_of(4096) {
            return Err(HiveError::NotAHive(
                "hive bins data size is not a positive multiple of 4096",
            ));
        }
        // A truncated file keeps what it has; reads past the end fail per cell.
        let bins_end = BASE_BLOCK_LEN
            .checked_add(bins_size)
            .map_or(data.len(), |end| end.min(data.len()));
        if data.get(BASE_BLOCK_LEN..BASE_BLOCK_LEN + 4) != Some(b"hbin".as_slice()) {
            return Err(HiveError::NotAHive("no hive bin at offset 4096"));
        }
        let budget = (data.len() as u64)
            .saturating_mul(WORK_PER_BYTE)
            .saturating_add(WORK_FLOOR);
        Ok(Hive {
            data,
            bins_end,
            root: base.root,
            dirty,
            work_left: AtomicU64::new(budget),
        })
    }

    /// The root key.
    pub fn root(&self) -> Result<Key<'_>, HiveError> {
        Key::root(self, self.root)
    }

    /// Looks a key up by path relative to the root key, e.g.
    /// `Microsoft\Windows NT\CurrentVersion`. Components are separated by `\`
    /// or `/`; empty components are ignored, so `""` is the root itself.
    /// Matching is case-insensitive (ASCII plus simple Unicode lowercase).
    /// `Ok(None)` when some component does not exist.
    pub fn key(&self, path: &str) -> Result<Option<Key<'_>>, HiveError> {
        let mut cur = self.root()?;
        for part in path.split(['\\', '/']).filter(|p| !p.is_empty()) {
            match cur.subkey(part)? {
                Some(next) => cur = next,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// Dirty state: whether the primary file was caught mid-write, which logs
    /// sit beside it, and whether they were replayed.
    pub fn dirty(&self) -> &DirtyState {
        &self.dirty
    }

    /// Spends `units` of the hive-wide work budget.
    pub(crate) fn charge(&self, units: u64) -> Result<(), HiveError> {
        self.work_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(units))
            .map(|_| ())
            .map_err(|_| HiveError::WorkBudgetExhausted)
    }

    /// The allocated cell at `offset` (relative to the hive bins data).
    pub(crate) fn cell(&self, offset: u32) -> Result<Cell<'_>, HiveError> {
        self.charge(1)?;
        if offset == NO_CELL {
            return Err(corrupt(offset, "reference to a missing cell"));
        }
        let start = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(BASE_BLOCK_LEN))
            .ok_or_else(|| corrupt(offset, "cell offset out of range"))?;
        let header_end = start
            .checked_add(4)
            .filter(|&e| e <= self.bins_end)
            .ok_or_else(|| corrupt(offset, "cell offset beyond the hive bins data"))?;
        let raw = u32_at(&self.data, start).ok_or_else(|| corrupt(offset, "cell offset beyond the hive bins data"))?;
        // Allocated cells store their size negated.
        let size = i32::from_le_bytes(raw.to_le_bytes());
        if size >= 0 {
            return Err(corrupt(offset, "reference to an unallocated cell"));
        }
        let len = usize::try_from(size.unsigned_abs()).map_err(|_| corrupt(offset, "cell size out of range"))?;
        if len < 8 {
            return Err(corrupt(offset, "cell smaller than its header"));
        }
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.bins_end)
            .ok_or_else(|| corrupt(offset, "cell extends beyond the hive bins data"))?;
        let data = self
            .data
            .get(header_end..end)
            .ok_or_else(|| corrupt(offset, "cell extends beyond the hive bins data"))?;
        Ok(Cell { offset, data })
    }

    /// Upper bound on how many cells could exist; caps counts read from the
    /// file before anything is allocated for them.
    pub(crate) fn max_cells(&self) -> usize {
        self.bins_end.saturating_sub(BASE_BLOCK_LEN) / 8
    }
}

fn parse_primary(data: &[u8]) -> Result<BaseBlock, HiveError> {
    let base = BaseBlock::parse(data).ok_or(HiveError::NotAHive(
        "missing regf signature or unsupported major version",
    ))?;
    if base.file_type != 0 {
        return Err(HiveError::NotAHive(
            "file type is not a primary hive (is this a transaction log?)",
        ));
    }
    Ok(base)
}

/// `<name>.LOG1` then `<name>.LOG2` beside `path`, matched case-insensitively.
fn find_logs(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let Some(name) = path.file_name() else {
        return Ok(Vec::new());
    };
    let name = name.to_string_lossy().to_lowercase();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let wanted = [format!("{name}.log1"), format!("{name}.log2")];
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let candidate = entry.file_name().to_string_lossy().to_lowercase();
        if let Some(rank) = wanted.iter().position(|w| *w == candidate)
            && entry.file_type().map(|t| !t.is_dir()).unwrap_or(false)
        {
            found.push((rank, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}
