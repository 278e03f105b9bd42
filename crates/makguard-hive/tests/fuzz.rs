//! Property tests over damaged copies of the real corpus hives: truncated at
//! any length, or with bits flipped anywhere (biased towards the structural
//! start of the hive bins). Walking everything must return values or errors,
//! never panic, and always finish; finishing is guaranteed by the reader's
//! cycle checks and work budget, not by any clock.

mod common;

use std::sync::OnceLock;

use common::{PLAIN_HIVES, TempDir, XZ_HIVES, corpus_dir, hive_file, walk_all};
use makguard_hive::Hive;
use proptest::prelude::*;

/// Small corpus hives (all plain ones plus SAM and BCD), loaded once.
fn small_hives() -> &'static Vec<Vec<u8>> {
    static HIVES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    HIVES.get_or_init(|| {
        let mut out: Vec<Vec<u8>> = PLAIN_HIVES
            .iter()
            .map(|n| std::fs::read(corpus_dir().join(n)).expect("read corpus hive"))
            .collect();
        if common::require_tool("xz") {
            let tmp = TempDir::new("fuzz");
            for name in [XZ_HIVES[2], XZ_HIVES[3]] {
                out.push(std::fs::read(hive_file(name, &tmp)).expect("read hive"));
            }
        }
        out
    })
}

/// One larger real hive (regipy's partial NTUSER/SOFTWARE), for fewer cases.
fn large_hive() -> Option<&'static Vec<u8>> {
    static HIVE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    HIVE.get_or_init(|| {
        if !common::require_tool("xz") {
            return None;
        }
        let tmp = TempDir::new("fuzz-large");
        Some(std::fs::read(hive_file(XZ_HIVES[4], &tmp)).expect("read hive"))
    })
    .as_ref()
}

fn exercise(bytes: Vec<u8>) {
    if let Ok(hive) = Hive::from_bytes(bytes) {
        let _ = hive.dirty().may_be_stale();
        walk_all(&hive);
        let _ = hive.key(r"Microsoft\Windows NT\CurrentVersion");
        let _ = hive.key("ControlSet001/Control");
    }
}

/// Flips `flips` (position, bit) pairs; positions are fractions of the length
/// so they scale to every hive, and about a quarter of them land in the
/// first 64 KiB of hive bins, where the root key and most lists live. Few
/// flips per case keep most of each hive walkable, so damage is met deep
/// inside the tree rather than only at the root.
fn mutate(mut bytes: Vec<u8>, flips: &[(f64, bool, u8)]) -> Vec<u8> {
    let len = bytes.len();
    for &(frac, near_start, bit) in flips {
        let span = if near_start { (4096 + 65536).min(len) } else { len };
        let pos = ((span as f64 * frac) as usize).min(len - 1);
        bytes[pos] ^= 1 << (bit % 8);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn truncated_small_hives_never_panic(which in 0usize..7, frac in 0.0f64..1.0) {
        let hives = small_hives();
        let src = &hives[which % hives.len()];
        let cut = (src.len() as f64 * frac) as usize;
        exercise(src[..cut].to_vec());
    }

    #[test]
    fn bit_flipped_small_hives_never_panic(
        which in 0usize..7,
        flips in prop::collection::vec((0.0f64..1.0, prop::bool::weighted(0.25), any::<u8>()), 1..12),
    ) {
        let hives = small_hives();
        let src = &hives[which % hives.len()];
        exercise(mutate(src.clone(), &flips));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn damaged_large_hive_never_panics(
        truncate in prop::bool::weighted(0.25),
        frac in 0.05f64..1.0,
        flips in prop::collection::vec((0.0f64..1.0, prop::bool::weighted(0.25), any::<u8>()), 1..12),
    ) {
        if let Some(src) = large_hive() {
            // This hive keeps its root's subkey list near the end, so a cut
            // almost always leaves only the root; most cases keep it whole.
            let cut = if truncate { (src.len() as f64 * frac) as usize } else { src.len() };
            exercise(mutate(src[..cut].to_vec(), &flips));
        }
    }
}

#[test]
fn undamaged_corpus_walks_without_errors() {
    for (i, bytes) in small_hives().iter().enumerate() {
        let hive = Hive::from_bytes(bytes.clone()).expect("corpus hive opens");
        let stats = walk_all(&hive);
        assert_eq!(stats.errors, 0, "hive #{i} walked with errors: {stats:?}");
        assert!(stats.keys > 0);
    }
}
