//! Differential test: every key path and every value (name, type, data) our
//! reader sees must agree with `reglookup` (an independent regf parser, run
//! at test time), on every hive in the shared corpus. How reglookup's output
//! is reproduced is described in `common/regcmp.rs`.
//!
//! Nothing is excluded: every line of every hive must match, and reglookup
//! must not print lines we lack or vice versa. reglookup's stderr warnings
//! on these hives are only about the name and data conversions that
//! `regcmp` reproduces, and about the nt-hive test hive's root key lacking
//! the `KEY_HIVE_ENTRY` flag (reglookup then finds the root by scanning; both
//! walks still agree).

mod common;

use common::{PLAIN_HIVES, TempDir, XZ_HIVES, hive_file, regcmp, require_tool};

fn compare_with_reglookup(name: &str) {
    if !require_tool("reglookup")
        || (std::path::Path::new(name).extension().is_some_and(|ext| ext == "xz") && !require_tool("xz"))
    {
        return;
    }
    let tmp = TempDir::new("reglookup");
    let path = hive_file(name, &tmp);
    let (keys, values) = regcmp::assert_agrees(&path, name);
    assert!(keys > 0 && (values > 0 || name.ends_with("minimal")));
}

#[test]
fn reglookup_agrees_on_plain_corpus_hives() {
    for name in PLAIN_HIVES {
        compare_with_reglookup(name);
    }
}

#[test]
fn reglookup_agrees_on_system() {
    compare_with_reglookup(XZ_HIVES[0]);
}

#[test]
fn reglookup_agrees_on_system_win10_1709() {
    compare_with_reglookup(XZ_HIVES[1]);
}

#[test]
fn reglookup_agrees_on_sam() {
    compare_with_reglookup(XZ_HIVES[2]);
}

#[test]
fn reglookup_agrees_on_bcd() {
    compare_with_reglookup(XZ_HIVES[3]);
}

#[test]
fn reglookup_agrees_on_ntuser_software_partial() {
    compare_with_reglookup(XZ_HIVES[4]);
}
