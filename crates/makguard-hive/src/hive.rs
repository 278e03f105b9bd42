//! [`Hive`]: owning the hive's bytes (in memory, or read on demand from the
//! open file), validating the base block, finding and replaying transaction
//! logs, and handing out bounds-checked cells under a hive-wide work budget.

use std::borrow::Cow;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::{BASE_BLOCK_LEN, BaseBlock, u16_at, u32_at};
use crate::error::{HiveError, corrupt};
use crate::key::Key;
use crate::log::{self, DirtyState, LogInput};
use crate::source::{self, FileSource, MAX_CACHED_PAGES, PAGE_LEN, ReadAt, Source};

/// A transaction log beside a hive (`SOFTWARE.LOG1`), opened but not yet read.
pub struct HiveLog {
    /// How the log is named in [`DirtyState::logs`] and in messages.
    pub path: PathBuf,
    /// Random access to the log's bytes; read only when the hive is dirty.
    pub reader: Box<dyn ReadAt>,
}

/// Opens `path` only if it is a regular file: checked before opening (so a
/// FIFO is never opened) and again on the open file.
fn open_regular(path: &Path) -> std::io::Result<File> {
    let not_regular = || std::io::Error::other("not a regular file (a link, FIFO, socket or device); not opened");
    if !fs::symlink_metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Offset value meaning "no cell".
pub(crate) const NO_CELL: u32 = u32::MAX;

/// Budget floor so that tiny hives still allow generous repeated use.
const WORK_FLOOR: u64 = 1 << 20;
/// Budget units per byte of hive. A full walk of a real hive, reading every
/// value, costs well under one unit per byte (cells are at least 8 bytes and
/// each is touched a few times); this leaves room for many walks.
const WORK_PER_BYTE: u64 = 8;

/// An opened registry hive. Either reads its file on demand through a
/// bounded page cache or owns the whole image (after log replay, or from
/// [`Hive::from_bytes`]); [`Key`]s and [`crate::Value`]s borrow from it.
///
/// Every read is bounds-checked and charged against a work budget
/// proportional to the hive size, so no input can make the reader loop or
/// run away; see [`HiveError::WorkBudgetExhausted`].
pub struct Hive {
    source: Source,
    /// Exclusive end of the hive bins data inside the image.
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
            .field("len", &self.source.len())
            .field("lazy", &self.is_lazy())
            .field("bins_end", &self.bins_end)
            .field("root", &self.root)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

/// A bounds-checked cell payload (the bytes after the size field), borrowed
/// from an in-memory image or copied out of the file.
#[derive(Clone)]
pub(crate) struct Cell<'h> {
    pub offset: u32,
    pub data: Cow<'h, [u8]>,
}

impl Cell<'_> {
    pub(crate) fn u16(&self, at: usize, what: &'static str) -> Result<u16, HiveError> {
        u16_at(&self.data, at).ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn u32(&self, at: usize, what: &'static str) -> Result<u32, HiveError> {
        u32_at(&self.data, at).ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn bytes(&self, at: usize, len: usize, what: &'static str) -> Result<&[u8], HiveError> {
        at.checked_add(len)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| corrupt(self.offset, what))
    }

    pub(crate) fn signature(&self) -> &[u8] {
        self.data.get(..2).unwrap_or(&[])
    }
}

impl Hive {
    /// Reads a hive file. Transaction logs named `<file name>.LOG1` and
    /// `<file name>.LOG2` (any letter case) in the same directory are noticed
    /// and, if the hive is dirty, replayed in memory; see [`Hive::dirty`].
    ///
    /// A thin wrapper over [`Hive::from_random_access`] for callers with a
    /// plain path. It refuses anything that is not a regular file before
    /// opening it; makguard itself opens hives through its scan crate's safe
    /// open (non-blocking, checked again after opening) instead.
    ///
    /// # Errors
    ///
    /// [`HiveError::Io`] when `path` is not a regular file or cannot be opened
    /// or read; otherwise as [`Hive::from_random_access`].
    pub fn open(path: &Path) -> Result<Hive, HiveError> {
        let io_err = |source| HiveError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = open_regular(path).map_err(io_err)?;
        let mut logs = Vec::new();
        let mut problems = Vec::new();
        match find_logs(path) {
            Ok(paths) => {
                for p in paths {
                    match open_regular(&p) {
                        Ok(log) => logs.push(HiveLog {
                            path: p,
                            reader: Box::new(log),
                        }),
                        Err(e) => problems.push(format!("{}: {e}", p.display())),
                    }
                }
            }
            Err(e) => problems.push(format!("cannot list the hive's directory: {e}")),
        }
        let mut hive = Hive::from_random_access(path.to_path_buf(), Box::new(file), logs)?;
        for problem in problems {
            hive.dirty.note(problem);
        }
        Ok(hive)
    }

    /// Reads a hive through random access: cells on demand through the page
    /// cache, or, when the hive is dirty and has logs, the whole image
    /// replayed in memory. `path` names the hive in errors; `logs` are its
    /// `.LOG1`/`.LOG2` files, read only when the hive is dirty.
    ///
    /// # Errors
    ///
    /// [`HiveError::Io`] when the primary file cannot be read (a log that
    /// cannot be read is noted in [`Hive::dirty`] instead);
    /// [`HiveError::NotAHive`] when the file is not a primary hive this reader
    /// understands (too short, base block or first hive bin missing or
    /// invalid).
    pub fn from_random_access(path: PathBuf, primary: Box<dyn ReadAt>, logs: Vec<HiveLog>) -> Result<Hive, HiveError> {
        let io_err = |source| HiveError::Io {
            path: path.clone(),
            source,
        };
        let len = primary
            .len()
            .try_into()
            .map_err(|_| HiveError::NotAHive("hive file does not fit in memory"))?;
        let mut header = vec![0u8; BASE_BLOCK_LEN.min(len)];
        source::read_exact_at(primary.as_ref(), &mut header, 0).map_err(io_err)?;
        let mut dirty = DirtyState::default();
        let mut log_inputs = Vec::new();
        // Logs only matter for a dirty hive; a clean one just lists them.
        let needs_logs = BaseBlock::parse(&header).is_some_and(|b| b.seq1 != b.seq2 || !b.checksum_ok);
        for log in logs {
            dirty.logs.push(log.path.clone());
            if !needs_logs {
                continue;
            }
            match source::read_all(log.reader.as_ref()) {
                Ok(bytes) => log_inputs.push(LogInput { path: log.path, bytes }),
                Err(e) => dirty.note(format!("{}: {e}", log.path.display())),
            }
        }
        if !log_inputs.is_empty() {
            // Replay rewrites pages anywhere in the image, so a hive that
            // needs it is read whole; rare for a cleanly shut-down image.
            let data = source::read_all(primary.as_ref()).map_err(io_err)?;
            return Hive::build(data, &log_inputs, dirty);
        }
        Hive::build_lazy(path, primary, len, &header, dirty)
    }

    /// Uses an in-memory hive image. No transaction logs are consulted.
    ///
    /// # Errors
    ///
    /// [`HiveError::NotAHive`] when `data` is not a primary hive this reader
    /// understands (too short, base block or first hive bin missing or
    /// invalid).
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
        Hive::finish(Source::Memory(data), &base, dirty)
    }

    fn build_lazy(
        path: PathBuf,
        file: Box<dyn ReadAt>,
        len: usize,
        header: &[u8],
        mut dirty: DirtyState,
    ) -> Result<Hive, HiveError> {
        if len < BASE_BLOCK_LEN {
            return Err(HiveError::NotAHive("shorter than the 4096-byte base block"));
        }
        let base = parse_primary(header)?;
        dirty.sequence_mismatch = base.seq1 != base.seq2;
        dirty.checksum_mismatch = !base.checksum_ok;
        // No log to apply: this only records why, exactly as for an
        // in-memory image, and never touches the (empty) image.
        log::replay(&mut Vec::new(), &[], &mut dirty);
        Hive::finish(Source::File(FileSource::new(path, file, len)), &base, dirty)
    }

    fn finish(source: Source, base: &BaseBlock, dirty: DirtyState) -> Result<Hive, HiveError> {
        let bins_size = usize::try_from(base.bins_size)
            .map_err(|_| HiveError::NotAHive("hive bins data size does not fit in memory"))?;
        if bins_size == 0 || !bins_size.is_multiple_of(4096) {
            return Err(HiveError::NotAHive(
                "hive bins data size is not a positive multiple of 4096",
            ));
        }
        let len = source.len();
        // A truncated file keeps what it has; reads past the end fail per cell.
        let bins_end = BASE_BLOCK_LEN.checked_add(bins_size).map_or(len, |end| end.min(len));
        if source.range(BASE_BLOCK_LEN, BASE_BLOCK_LEN + 4)?.as_deref() != Some(b"hbin".as_slice()) {
            return Err(HiveError::NotAHive("no hive bin at offset 4096"));
        }
        let budget = (len as u64).saturating_mul(WORK_PER_BYTE).saturating_add(WORK_FLOOR);
        Ok(Hive {
            source,
            bins_end,
            root: base.root,
            dirty,
            work_left: AtomicU64::new(budget),
        })
    }

    /// Most bytes of hive data a hive read on demand keeps cached.
    pub const CACHE_CAP_BYTES: usize = MAX_CACHED_PAGES * PAGE_LEN;

    /// Bytes of hive data held in memory right now: the whole image for a
    /// hive replayed in memory or made by [`Hive::from_bytes`], at most
    /// [`Hive::CACHE_CAP_BYTES`] for one read on demand.
    pub fn cached_bytes(&self) -> usize {
        self.source.cached_bytes()
    }

    /// Whether the hive is read from its file on demand (true) or held
    /// whole in memory (false).
    pub fn is_lazy(&self) -> bool {
        matches!(self.source, Source::File(_))
    }

    /// The root key.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the root key node is damaged;
    /// [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn root(&self) -> Result<Key<'_>, HiveError> {
        Key::root(self, self.root)
    }

    /// Looks a key up by path relative to the root key, e.g.
    /// `Microsoft\Windows NT\CurrentVersion`. Components are separated by `\`
    /// or `/`; empty components are ignored, so `""` is the root itself.
    /// Matching is case-insensitive (ASCII plus simple Unicode lowercase).
    /// `Ok(None)` when some component does not exist.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when a key on the path or a subkey list searched
    /// is damaged; [`HiveError::WorkBudgetExhausted`] once the work budget has
    /// run out; [`HiveError::Io`] when a hive read on demand from its file cannot be read.
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
        let raw = self
            .source
            .range(start, header_end)?
            .and_then(|b| u32_at(&b, 0))
            .ok_or_else(|| corrupt(offset, "cell offset beyond the hive bins data"))?;
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
            .source
            .range(header_end, end)?
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

/// `<name>.LOG1` then `<name>.LOG2` beside `path`, matched case-insensitively; regular
/// files only.
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
        // A log that is not a regular file is kept here so that opening it (open_regular,
        // which checks before it opens: a FIFO or device is never opened) records why it was
        // not read; a folder of that name is no log at all.
        if let Some(rank) = wanted.iter().position(|w| *w == candidate)
            && !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            found.push((rank, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}
