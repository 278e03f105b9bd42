//! Shared helpers for the integration tests: locating the shared hive corpus,
//! decompressing `.xz` hives into private temp directories, checking that the
//! external tools exist, and a full-walk helper over our reader.

#![allow(dead_code)]

pub(crate) mod regcmp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use makguard_hive::{Hive, HiveError, Key};

/// `<workspace>/../shared/corpus/hives`, computed from this crate's manifest
/// directory (`<workspace>/crates/makguard-hive`).
pub(crate) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/hives")
}

/// A temp directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("makguard-hive-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True when `tool` is on PATH; otherwise fails (in CI) or prints why the test is skipped.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::require_tool;

/// The path of a corpus hive ready to read: plain files are used in place;
/// `.xz` files are decompressed with `xz -dc` into `tmp`.
pub(crate) fn hive_file(name: &str, tmp: &TempDir) -> PathBuf {
    let src = corpus_dir().join(name);
    assert!(src.is_file(), "corpus hive missing: {}", src.display());
    let Some(stem) = name.strip_suffix(".xz") else {
        return src;
    };
    let out = Command::new("xz").arg("-dc").arg(&src).output().expect("run xz");
    assert!(out.status.success(), "xz -dc {} failed", src.display());
    let dst = tmp.path().join(stem);
    std::fs::write(&dst, out.stdout).expect("write decompressed hive");
    dst
}

/// Plain (uncompressed) corpus hives.
pub(crate) const PLAIN_HIVES: [&str; 5] = [
    "ColinFinck__nt-hive__testdata__testhive",
    "msuhanov__yarp__hives_for_tests__StringValuesHive",
    "libguestfs__hivex__images__special",
    "libguestfs__hivex__images__minimal",
    "libguestfs__hivex__images__rlenvalue_test_hive",
];

/// Compressed corpus hives.
pub(crate) const XZ_HIVES: [&str; 5] = [
    "mkorman90__regipy__regipy_tests__data__SYSTEM.xz",
    "mkorman90__regipy__regipy_tests__data__SYSTEM_WIN_10_1709.xz",
    "mkorman90__regipy__regipy_tests__data__SAM.xz",
    "mkorman90__regipy__regipy_tests__data__BCD.xz",
    "mkorman90__regipy__regipy_tests__data__ntuser_software_partial.xz",
];

/// What a full walk saw.
#[derive(Debug, Default)]
pub(crate) struct WalkStats {
    pub keys: usize,
    pub values: usize,
    pub errors: usize,
}

/// Visits every key, value name, type and data item, counting errors instead
/// of stopping at them. Depth-first, iterative (no recursion limit issues).
pub(crate) fn walk_all(hive: &Hive) -> WalkStats {
    let mut stats = WalkStats::default();
    let Ok(root) = hive.root() else {
        stats.errors += 1;
        return stats;
    };
    let mut stack: Vec<Key<'_>> = vec![root];
    while let Some(key) = stack.pop() {
        stats.keys += 1;
        let _ = key.name();
        match key.values() {
            Ok(values) => {
                for v in values {
                    stats.values += 1;
                    let _ = (v.name(), v.value_type());
                    if v.data().is_err() {
                        stats.errors += 1;
                    }
                    let _ = v.as_string();
                }
            }
            Err(_) => stats.errors += 1,
        }
        match key.subkeys() {
            Ok(subs) => stack.extend(subs),
            Err(e) => {
                stats.errors += 1;
                if matches!(e, HiveError::WorkBudgetExhausted) {
                    break;
                }
            }
        }
    }
    stats
}

/// Builds small, hand-made hives (one hive bin) for structural tests.
pub(crate) struct Builder {
    /// Hive bin bytes, starting with the 32-byte hbin header.
    bin: Vec<u8>,
    pub minor: u32,
    pub seq1: u32,
    pub seq2: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub(crate) fn new() -> Builder {
        let mut bin = vec![0u8; 32];
        bin[..4].copy_from_slice(b"hbin");
        Builder {
            bin,
            minor: 5,
            seq1: 7,
            seq2: 7,
        }
    }

    /// Appends an allocated cell with `payload`; returns its offset relative
    /// to the hive bins data.
    pub(crate) fn cell(&mut self, payload: &[u8]) -> u32 {
        let offset = self.bin.len() as u32;
        let size = (payload.len() + 4).div_ceil(8) * 8;
        self.bin.extend_from_slice(&(-(size as i32)).to_le_bytes());
        self.bin.extend_from_slice(payload);
        self.bin.resize(offset as usize + size, 0);
        offset
    }

    /// Overwrites a u32 inside the payload of the cell at `cell`.
    pub(crate) fn patch_u32(&mut self, cell: u32, at: usize, v: u32) {
        let p = cell as usize + 4 + at;
        self.bin[p..p + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn nk(&mut self, name: &str, parent: u32) -> u32 {
        let mut p = vec![0u8; 0x4C];
        p[..2].copy_from_slice(b"nk");
        p[2..4].copy_from_slice(&0x0020u16.to_le_bytes());
        p[0x10..0x14].copy_from_slice(&parent.to_le_bytes());
        p[0x1C..0x20].copy_from_slice(&u32::MAX.to_le_bytes());
        p[0x20..0x24].copy_from_slice(&u32::MAX.to_le_bytes());
        p[0x28..0x2C].copy_from_slice(&u32::MAX.to_le_bytes());
        p[0x2C..0x30].copy_from_slice(&u32::MAX.to_le_bytes());
        p[0x30..0x34].copy_from_slice(&u32::MAX.to_le_bytes());
        p[0x48..0x4A].copy_from_slice(&(name.len() as u16).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        self.cell(&p)
    }

    /// Points key `nk` at subkey list `list` holding `count` keys.
    pub(crate) fn set_subkeys(&mut self, nk: u32, count: u32, list: u32) {
        self.patch_u32(nk, 0x14, count);
        self.patch_u32(nk, 0x1C, list);
    }

    /// Gives key `nk` the values at `values` (builds the value list cell).
    pub(crate) fn set_values(&mut self, nk: u32, values: &[u32]) {
        let list: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let list = self.cell(&list);
        self.patch_u32(nk, 0x24, values.len() as u32);
        self.patch_u32(nk, 0x28, list);
    }

    /// A subkey list cell (`li`, `lf`, `lh` or `ri`) naming `entries`.
    pub(crate) fn list(&mut self, sig: &[u8; 2], entries: &[u32]) -> u32 {
        let mut p = sig.to_vec();
        p.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for e in entries {
            p.extend_from_slice(&e.to_le_bytes());
            if sig == b"lf" || sig == b"lh" {
                p.extend_from_slice(&[0; 4]);
            }
        }
        self.cell(&p)
    }

    /// A value record with an ASCII name.
    pub(crate) fn vk(&mut self, name: &str, value_type: u32, size_field: u32, data_off: u32) -> u32 {
        let mut p = vec![0u8; 0x14];
        p[..2].copy_from_slice(b"vk");
        p[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
        p[4..8].copy_from_slice(&size_field.to_le_bytes());
        p[8..12].copy_from_slice(&data_off.to_le_bytes());
        p[12..16].copy_from_slice(&value_type.to_le_bytes());
        p[16..18].copy_from_slice(&1u16.to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        self.cell(&p)
    }

    /// A value whose data lives in its own cell.
    pub(crate) fn value(&mut self, name: &str, value_type: u32, data: &[u8]) -> u32 {
        let cell = self.cell(data);
        self.vk(name, value_type, data.len() as u32, cell)
    }

    /// The finished file: base block plus the bin padded to 4096 bytes.
    pub(crate) fn finish(mut self, root: u32) -> Vec<u8> {
        let bin_len = self.bin.len().div_ceil(4096) * 4096;
        // The unused tail of the bin is one free cell.
        let tail = bin_len - self.bin.len();
        if tail >= 8 {
            let start = self.bin.len();
            self.bin.resize(bin_len, 0);
            self.bin[start..start + 4].copy_from_slice(&(tail as i32).to_le_bytes());
        } else {
            self.bin.resize(bin_len, 0);
        }
        self.bin[8..12].copy_from_slice(&(bin_len as u32).to_le_bytes());
        let mut base = vec![0u8; 4096];
        base[..4].copy_from_slice(b"regf");
        base[4..8].copy_from_slice(&self.seq1.to_le_bytes());
        base[8..12].copy_from_slice(&self.seq2.to_le_bytes());
        base[20..24].copy_from_slice(&1u32.to_le_bytes());
        base[24..28].copy_from_slice(&self.minor.to_le_bytes());
        base[32..36].copy_from_slice(&1u32.to_le_bytes());
        base[36..40].copy_from_slice(&root.to_le_bytes());
        base[40..44].copy_from_slice(&(bin_len as u32).to_le_bytes());
        base[44..48].copy_from_slice(&1u32.to_le_bytes());
        fix_checksum(&mut base);
        base.extend_from_slice(&self.bin);
        base
    }
}

/// Recomputes the XOR-32 checksum of a base block (first 508 bytes).
pub(crate) fn fix_checksum(block: &mut [u8]) {
    let x = block[..508]
        .chunks_exact(4)
        .fold(0u32, |a, c| a ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    block[508..512].copy_from_slice(&x.to_le_bytes());
}

pub(crate) fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}
