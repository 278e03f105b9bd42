//! Dirty-hive detection and transaction log handling: sequence mismatches,
//! logs found beside a hive (any letter case), `HvLE` replay when it is valid,
//! and an honest "may be stale" when it is not.

mod common;

use std::path::Path;

use common::{Builder, PLAIN_HIVES, TempDir, corpus_dir, fix_checksum, utf16z};
use makguard_hive::{Hive, ValueData, reg_type};

#[test]
fn sequence_mismatch_is_dirty_and_possibly_stale() {
    let mut bytes = std::fs::read(corpus_dir().join(PLAIN_HIVES[0])).unwrap();
    let clean = Hive::from_bytes(bytes.clone()).unwrap();
    assert!(!clean.dirty().is_dirty());
    assert!(!clean.dirty().may_be_stale());

    bytes[4] = bytes[4].wrapping_add(1);
    fix_checksum(&mut bytes[..512]);
    let hive = Hive::from_bytes(bytes).unwrap();
    let d = hive.dirty();
    assert!(d.sequence_mismatch);
    assert!(!d.checksum_mismatch);
    assert!(d.logs.is_empty());
    assert!(!d.logs_applied);
    assert!(d.may_be_stale());
    assert!(
        d.log_problem
            .as_deref()
            .unwrap()
            .contains("no transaction log was available")
    );
    // Still readable: a dirty hive is reported, not refused.
    assert!(hive.root().unwrap().subkeys().is_ok());
}

#[test]
fn bad_checksum_is_dirty() {
    let mut bytes = std::fs::read(corpus_dir().join(PLAIN_HIVES[3])).unwrap();
    bytes[508] ^= 0xFF;
    let hive = Hive::from_bytes(bytes).unwrap();
    assert!(hive.dirty().checksum_mismatch);
    assert!(hive.dirty().may_be_stale());
}

#[test]
fn logs_beside_a_hive_are_noticed_case_insensitively() {
    let tmp = TempDir::new("logs");
    let bytes = std::fs::read(corpus_dir().join(PLAIN_HIVES[0])).unwrap();
    let hive_path = tmp.path().join("SOFTWARE");
    std::fs::write(&hive_path, &bytes).unwrap();
    std::fs::write(tmp.path().join("software.log1"), b"not a log").unwrap();
    std::fs::write(tmp.path().join("SOFTWARE.Log2"), b"").unwrap();
    std::fs::write(tmp.path().join("SOFTWARE.LOG"), b"").unwrap();
    std::fs::write(tmp.path().join("OTHER.LOG1"), b"").unwrap();

    // Clean hive: logs are listed but irrelevant.
    let hive = Hive::open(&hive_path).unwrap();
    let names: Vec<String> = hive
        .dirty()
        .logs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["software.log1", "SOFTWARE.Log2"]);
    assert!(!hive.dirty().is_dirty());
    assert!(!hive.dirty().may_be_stale());

    // Dirty hive with unusable logs: primary data kept, flagged stale.
    let mut dirty = bytes.clone();
    dirty[8] = dirty[8].wrapping_sub(1);
    fix_checksum(&mut dirty[..512]);
    std::fs::write(&hive_path, &dirty).unwrap();
    let hive = Hive::open(&hive_path).unwrap();
    let d = hive.dirty();
    assert!(d.sequence_mismatch);
    assert_eq!(d.logs.len(), 2);
    assert!(!d.logs_applied);
    assert!(d.may_be_stale());
    assert!(d.log_problem.is_some());
    let expected = Hive::from_bytes(bytes).unwrap();
    assert_eq!(common::walk_all(&hive).keys, common::walk_all(&expected).keys);
}

#[test]
fn dirty_corpus_hive_is_reported() {
    // regipy's SYSTEM_WIN_10_1709 sample really is dirty (4317 vs 4316) and
    // comes without its logs.
    if !common::require_tool("xz") {
        return;
    }
    let tmp = TempDir::new("dirty-corpus");
    let path = common::hive_file(common::XZ_HIVES[1], &tmp);
    let hive = Hive::open(&path).unwrap();
    assert!(hive.dirty().sequence_mismatch);
    assert!(hive.dirty().logs.is_empty());
    assert!(hive.dirty().may_be_stale());
    assert!(hive.key("Select").unwrap().is_some());
}

// ---- HvLE replay -------------------------------------------------------

const LOG_HASH_SEED: u64 = 0x82EF_4D88_7A4E_55C5;

/// Test-side Marvin32, checked against a published vector below.
fn marvin32(data: &[u8], seed: u64) -> u64 {
    fn mix(lo: &mut u32, hi: &mut u32) {
        *hi ^= *lo;
        *lo = lo.rotate_left(20).wrapping_add(*hi);
        *hi = hi.rotate_left(9) ^ *lo;
        *lo = lo.rotate_left(27).wrapping_add(*hi);
        *hi = hi.rotate_left(19);
    }
    let (mut lo, mut hi) = (seed as u32, (seed >> 32) as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        lo = lo.wrapping_add(u32::from_le_bytes(c.try_into().unwrap()));
        mix(&mut lo, &mut hi);
    }
    let mut last = [0u8; 4];
    let rem = chunks.remainder();
    last[..rem.len()].copy_from_slice(rem);
    last[rem.len()] = 0x80;
    lo = lo.wrapping_add(u32::from_le_bytes(last));
    mix(&mut lo, &mut hi);
    mix(&mut lo, &mut hi);
    (u64::from(hi) << 32) | u64::from(lo)
}

#[test]
fn test_marvin_matches_published_vector() {
    assert_eq!(
        marvin32(&[0x37, 0xF4, 0x95], 0x004F_B61A_001B_DBCC),
        0xF0B0_7C78_9B8C_F7E8
    );
}

/// A one-key hive whose value "Data" holds `text` (same layout for any
/// text of the same length).
fn hive_with(text: &str, seq1: u32, seq2: u32) -> Vec<u8> {
    let mut b = Builder::new();
    b.seq1 = seq1;
    b.seq2 = seq2;
    let root = b.nk("ROOT", 0);
    let v = b.value("Data", reg_type::SZ, &utf16z(text));
    b.set_values(root, &[v]);
    b.finish(root)
}

/// A new-format log: base block copy (type 6) and one `HvLE` entry per item of
/// `entries` = (sequence number, page offset, page bytes).
fn new_log(primary: &[u8], entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut log = primary[..512].to_vec();
    log[28..32].copy_from_slice(&6u32.to_le_bytes());
    fix_checksum(&mut log);
    let bins_size = u32::from_le_bytes(primary[40..44].try_into().unwrap());
    for &(seq, offset, page) in entries {
        let mut e = vec![0u8; 40];
        e[..4].copy_from_slice(b"HvLE");
        e[12..16].copy_from_slice(&seq.to_le_bytes());
        e[16..20].copy_from_slice(&bins_size.to_le_bytes());
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e.extend_from_slice(&offset.to_le_bytes());
        e.extend_from_slice(&(page.len() as u32).to_le_bytes());
        e.extend_from_slice(page);
        e.resize(e.len().div_ceil(512) * 512, 0);
        let size = e.len() as u32;
        e[4..8].copy_from_slice(&size.to_le_bytes());
        let h1 = marvin32(&e[40..], LOG_HASH_SEED);
        e[24..32].copy_from_slice(&h1.to_le_bytes());
        let h2 = marvin32(&e[..32], LOG_HASH_SEED);
        e[32..40].copy_from_slice(&h2.to_le_bytes());
        log.extend_from_slice(&e);
    }
    log
}

fn data_of(hive: &Hive) -> String {
    match hive.root().unwrap().value("Data").unwrap().unwrap().data().unwrap() {
        ValueData::Sz(s) => s,
        other => panic!("unexpected {other:?}"),
    }
}

fn write_pair(dir: &Path, primary: &[u8], log_name: &str, log: &[u8]) -> std::path::PathBuf {
    let p = dir.join("HIVE");
    std::fs::write(&p, primary).unwrap();
    std::fs::write(dir.join(log_name), log).unwrap();
    p
}

#[test]
fn valid_log_entries_are_replayed() {
    let tmp = TempDir::new("replay");
    // Primary caught mid-write: primary seq 8, secondary 7, old data.
    let primary = hive_with("old value", 8, 7);
    let fresh = hive_with("new value", 8, 8);
    let page = &fresh[4096..8192];
    let log = new_log(&primary, &[(8, 0, page)]);
    let path = write_pair(tmp.path(), &primary, "hive.LOG1", &log);

    let hive = Hive::open(&path).unwrap();
    let d = hive.dirty();
    assert!(d.sequence_mismatch);
    assert!(d.logs_applied, "{d:?}");
    assert_eq!(d.applied_entries, 1);
    assert!(!d.may_be_stale());
    assert_eq!(data_of(&hive), "new value");
    // Replay needs the whole image in memory.
    assert!(!hive.is_lazy());
    assert_eq!(hive.cached_bytes(), primary.len());
}

#[test]
fn entries_split_over_log1_and_log2_are_chained() {
    let tmp = TempDir::new("replay2");
    let primary = hive_with("version A", 8, 7);
    let mid = hive_with("version B", 8, 8);
    let last = hive_with("version C", 8, 8);
    let log1 = new_log(&primary, &[(8, 0, &mid[4096..8192])]);
    let log2 = new_log(&primary, &[(9, 0, &last[4096..8192])]);
    let path = write_pair(tmp.path(), &primary, "HIVE.LOG1", &log1);
    std::fs::write(tmp.path().join("hive.log2"), &log2).unwrap();
    let hive = Hive::open(&path).unwrap();
    assert_eq!(hive.dirty().applied_entries, 2, "{:?}", hive.dirty());
    assert_eq!(data_of(&hive), "version C");
}

#[test]
fn invalid_log_entries_are_not_replayed() {
    let primary = hive_with("old value", 8, 7);
    let fresh = hive_with("new value", 8, 8);
    let page = &fresh[4096..8192];

    // Wrong hash: the entry is bogus, primary data kept and flagged stale.
    let mut bad_hash = new_log(&primary, &[(8, 0, page)]);
    bad_hash[512 + 100] ^= 1;
    // Sequence number before the primary's: an old, already applied entry.
    let old_entry = new_log(&primary, &[(7, 0, page)]);
    // Old-format log: recognised, not replayed.
    let mut old_format = new_log(&primary, &[(8, 0, page)]);
    old_format[28..32].copy_from_slice(&1u32.to_le_bytes());
    fix_checksum(&mut old_format[..512]);

    for (what, log) in [
        ("bad hash", bad_hash),
        ("old entry", old_entry),
        ("old format", old_format),
    ] {
        let tmp = TempDir::new("noreplay");
        let path = write_pair(tmp.path(), &primary, "HIVE.LOG1", &log);
        let hive = Hive::open(&path).unwrap();
        let d = hive.dirty();
        assert!(!d.logs_applied, "{what}: {d:?}");
        assert!(d.may_be_stale(), "{what}");
        assert!(d.log_problem.is_some(), "{what}");
        assert_eq!(data_of(&hive), "old value", "{what}");
    }
}

#[test]
fn clean_hive_ignores_its_logs() {
    let tmp = TempDir::new("clean");
    let primary = hive_with("old value", 8, 8);
    let fresh = hive_with("new value", 8, 8);
    let log = new_log(&primary, &[(8, 0, &fresh[4096..8192])]);
    let path = write_pair(tmp.path(), &primary, "HIVE.LOG1", &log);
    let hive = Hive::open(&path).unwrap();
    assert!(!hive.dirty().logs_applied);
    assert!(!hive.dirty().may_be_stale());
    assert_eq!(hive.dirty().logs.len(), 1);
    assert_eq!(data_of(&hive), "old value");
    // Logs that need no replay do not force the image into memory.
    assert!(hive.is_lazy());
    assert!(hive.cached_bytes() <= Hive::CACHE_CAP_BYTES);
}
