//! On-demand reading: a hive opened from a file without log replay must
//! stay within the page cache cap however much of it is walked, and must
//! read exactly what the in-memory reader reads and what reglookup prints.

mod common;

use common::{PLAIN_HIVES, TempDir, XZ_HIVES, hive_file, regcmp, require_tool};
use makguard_hive::{Hive, Key};

/// A full walk's observable content, for comparing two readers.
#[derive(Debug, PartialEq)]
enum Seen {
    Key(Vec<String>),
    Value {
        name: String,
        value_type: u32,
        data: Result<Vec<u8>, String>,
    },
}

/// Walks every key and value depth-first; after every read checks that the
/// hive's cached bytes stay within `cap`, and returns what it saw together
/// with the largest cache size observed.
fn walk_within(hive: &Hive, cap: usize) -> (Vec<Seen>, usize) {
    let mut seen = Vec::new();
    let mut peak = hive.cached_bytes();
    let mut check = |hive: &Hive| {
        let now = hive.cached_bytes();
        assert!(now <= cap, "hive caches {now} bytes, cap is {cap}");
        peak = peak.max(now);
    };
    let mut stack: Vec<(Key<'_>, Vec<String>)> = vec![(hive.root().expect("root key"), Vec::new())];
    while let Some((key, path)) = stack.pop() {
        seen.push(Seen::Key(path.clone()));
        for v in key.values().expect("values") {
            seen.push(Seen::Value {
                name: v.name(),
                value_type: v.value_type(),
                data: v.raw_data().map_err(|e| e.to_string()),
            });
            check(hive);
        }
        let subs = key.subkeys().expect("subkeys");
        check(hive);
        for sub in subs.into_iter().rev() {
            let mut p = path.clone();
            p.push(sub.name());
            stack.push((sub, p));
        }
    }
    (seen, peak)
}

#[test]
fn hive_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Hive>();
}

#[test]
fn largest_corpus_hive_is_walked_within_the_cache_cap() {
    let name = XZ_HIVES[1];
    assert!(name.contains("SYSTEM_WIN_10_1709"));
    if !require_tool("xz") || !require_tool("reglookup") {
        return;
    }
    let tmp = TempDir::new("lazy");
    let path = hive_file(name, &tmp);
    let file_len = std::fs::metadata(&path).expect("hive size").len() as usize;
    // Otherwise the walk could not evict anything and would prove nothing.
    assert!(
        file_len > Hive::CACHE_CAP_BYTES + Hive::CACHE_CAP_BYTES / 2,
        "{file_len} bytes"
    );

    let lazy = Hive::open(&path).expect("open hive");
    assert!(lazy.is_lazy(), "a hive without logs to replay must be read on demand");
    // Dirty, but with no logs beside it: nothing to replay, still lazy.
    assert!(lazy.dirty().is_dirty() && lazy.dirty().logs.is_empty());
    let (lazy_seen, peak) = walk_within(&lazy, Hive::CACHE_CAP_BYTES);
    assert!(peak > 0 && peak <= Hive::CACHE_CAP_BYTES, "peak {peak}");

    // The same walk over the whole image in memory must see the same thing.
    let bytes = std::fs::read(&path).expect("read hive");
    let in_memory = Hive::from_bytes(bytes).expect("parse hive");
    assert!(!in_memory.is_lazy());
    assert_eq!(in_memory.cached_bytes(), file_len);
    let (memory_seen, _) = walk_within(&in_memory, file_len);
    assert_eq!(lazy_seen.len(), memory_seen.len());
    assert!(lazy_seen == memory_seen, "lazy and in-memory walks differ");

    // And reglookup, reading through Hive::open, agrees line by line.
    let (keys, values) = regcmp::assert_agrees(&path, name);
    let our_keys = lazy_seen.iter().filter(|s| matches!(s, Seen::Key(_))).count();
    assert_eq!((keys, values), (our_keys, lazy_seen.len() - our_keys));
    assert!(keys > 1000, "{keys} keys");
}

#[test]
fn every_corpus_hive_opens_lazily() {
    // The reglookup comparisons go through Hive::open; this pins that they
    // exercise the on-demand path, not the in-memory one.
    if !require_tool("xz") {
        return;
    }
    for name in PLAIN_HIVES.iter().chain(XZ_HIVES.iter()) {
        let tmp = TempDir::new("lazy-corpus");
        let path = hive_file(name, &tmp);
        let hive = Hive::open(&path).expect("open hive");
        assert!(hive.is_lazy(), "{name}");
        assert!(hive.cached_bytes() <= Hive::CACHE_CAP_BYTES, "{name}");
    }
}
