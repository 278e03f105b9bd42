//! Hives written by an independent writer: hivex (`hivexregedit --merge`)
//! adds keys and values of every type to a copy of hivex's minimal hive, and
//! our reader must return exactly what was written.
//!
//! hivex writes values over 16344 bytes as one large cell rather than as
//! big-data (`db`) segments, and keeps adding to a single `lh` list rather
//! than splitting it under an `ri`; those structures are covered by the
//! regipy / nt-hive corpus hives (see tests/reglookup.rs) and by the crafted
//! hives in tests/structure.rs.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use common::{TempDir, corpus_dir, regcmp, require_tool};
use makguard_hive::{Hive, ValueData, reg_type};

const DEPTH: usize = 40;
const MANY: usize = 700;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(",")
}

fn utf16z(s: &str) -> Vec<u8> {
    common::utf16z(s)
}

fn big_blob() -> Vec<u8> {
    (0..20_000u32).map(|i| (i.wrapping_mul(31) % 256) as u8).collect()
}

fn reg_file() -> String {
    let p = r"HKEY_LOCAL_MACHINE\SOFTWARE\MakGuard";
    let mut r = String::from("Windows Registry Editor Version 5.00\n\n");
    writeln!(r, "[{p}]").unwrap();
    writeln!(r, "@=\"default value\"").unwrap();
    writeln!(r, "\"Sz\"=\"hello, \\\"world\\\"\"").unwrap();
    writeln!(r, "\"ExpandSz\"=hex(2):{}", hex(&utf16z(r"%SystemRoot%\system32"))).unwrap();
    let mut multi = Vec::new();
    for s in ["one", "two words", "drei"] {
        multi.extend(utf16z(s));
    }
    multi.extend([0, 0]);
    writeln!(r, "\"MultiSz\"=hex(7):{}", hex(&multi)).unwrap();
    writeln!(r, "\"Binary\"=hex:{}", hex(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01])).unwrap();
    writeln!(r, "\"BigBinary\"=hex:{}", hex(&big_blob())).unwrap();
    writeln!(r, "\"Dword\"=dword:c0ffee11").unwrap();
    writeln!(r, "\"Qword\"=hex(b):{}", hex(&0x0123_4567_89ab_cdefu64.to_le_bytes())).unwrap();
    writeln!(r, "\"None\"=hex(0):").unwrap();
    // hivexregedit encodes quoted strings byte by byte, so non-ASCII string
    // data goes in as explicit UTF-16LE; names are taken as UTF-8.
    writeln!(r, "\"Wert-äöü-€\"=hex(1):{}", hex(&utf16z("Grüße € ключ"))).unwrap();
    writeln!(r, "\"ProductKey\"=\"#####-#####-#####-#####-#####\"").unwrap();
    writeln!(r).unwrap();
    writeln!(r, "[{p}\\Schlüssel-€-ключ]").unwrap();
    writeln!(r, "\"Inside\"=dword:00000001").unwrap();
    writeln!(r).unwrap();
    let mut deep = format!("{p}\\Deep");
    writeln!(r, "[{deep}]\n").unwrap();
    for level in 1..=DEPTH {
        write!(deep, "\\Level{level:02}").unwrap();
        writeln!(r, "[{deep}]").unwrap();
        writeln!(r, "\"Depth\"=dword:{level:08x}").unwrap();
        writeln!(r).unwrap();
    }
    writeln!(r, "[{p}\\Many]\n").unwrap();
    for i in 0..MANY {
        writeln!(r, "[{p}\\Many\\Sub{i:04}]").unwrap();
        writeln!(r, "\"Index\"=dword:{i:08x}").unwrap();
        writeln!(r).unwrap();
    }
    r
}

fn build_fixture(tmp: &TempDir) -> PathBuf {
    let hive = tmp.path().join("software");
    std::fs::copy(corpus_dir().join("libguestfs__hivex__images__minimal"), &hive).unwrap();
    let mut perms = std::fs::metadata(&hive).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&hive, perms).unwrap();
    let reg = tmp.path().join("fixture.reg");
    std::fs::write(&reg, reg_file()).unwrap();
    let status = Command::new("hivexregedit")
        .arg("--merge")
        .arg("--prefix")
        .arg(r"HKEY_LOCAL_MACHINE\SOFTWARE")
        .arg(&hive)
        .arg(&reg)
        .status()
        .expect("run hivexregedit");
    assert!(status.success(), "hivexregedit --merge failed");
    hive
}

#[test]
fn hivex_written_values_read_back_exactly() {
    if !require_tool("hivexregedit") {
        return;
    }
    let tmp = TempDir::new("hivex");
    let hive = Hive::open(&build_fixture(&tmp)).unwrap();
    assert!(!hive.dirty().may_be_stale());
    let key = hive.key("MakGuard").unwrap().expect("MakGuard key");
    let data = |name: &str| {
        key.value(name)
            .unwrap()
            .unwrap_or_else(|| panic!("value {name:?} missing"))
            .data()
            .unwrap()
    };

    assert_eq!(data(""), ValueData::Sz("default value".into()));
    assert_eq!(data("Sz"), ValueData::Sz("hello, \"world\"".into()));
    assert_eq!(data("ExpandSz"), ValueData::ExpandSz(r"%SystemRoot%\system32".into()));
    assert_eq!(
        data("MultiSz"),
        ValueData::MultiSz(vec!["one".into(), "two words".into(), "drei".into()])
    );
    assert_eq!(
        data("Binary"),
        ValueData::Binary(vec![0xde, 0xad, 0xbe, 0xef, 0x00, 0x01])
    );
    assert_eq!(data("BigBinary"), ValueData::Binary(big_blob()));
    assert_eq!(data("Dword"), ValueData::Dword(0xc0ff_ee11));
    assert_eq!(data("Qword"), ValueData::Qword(0x0123_4567_89ab_cdef));
    assert_eq!(data("None"), ValueData::None);
    assert_eq!(data("wert-ÄÖÜ-€"), ValueData::Sz("Grüße € ключ".into()));
    let pk = key.value("PRODUCTKEY").unwrap().unwrap();
    assert_eq!(pk.name(), "ProductKey");
    assert_eq!(pk.value_type(), reg_type::SZ);
    assert_eq!(
        pk.as_string().unwrap().as_deref(),
        Some("#####-#####-#####-#####-#####")
    );
    assert_eq!(key.value("Dword").unwrap().unwrap().as_string().unwrap(), None);

    let names: Vec<String> = key.values().unwrap().iter().map(makguard_hive::Value::name).collect();
    assert_eq!(
        names,
        [
            "",
            "Sz",
            "ExpandSz",
            "MultiSz",
            "Binary",
            "BigBinary",
            "Dword",
            "Qword",
            "None",
            "Wert-äöü-€",
            "ProductKey"
        ]
    );

    let unicode = hive
        .key("makguard\\SCHLÜSSEL-€-КЛЮЧ")
        .unwrap()
        .expect("unicode key, case-insensitive");
    assert_eq!(unicode.name(), "Schlüssel-€-ключ");
    assert_eq!(
        unicode.value("inside").unwrap().unwrap().data().unwrap(),
        ValueData::Dword(1)
    );
}

#[test]
fn hivex_deep_and_wide_trees() {
    if !require_tool("hivexregedit") {
        return;
    }
    let tmp = TempDir::new("hivex-tree");
    let hive = Hive::open(&build_fixture(&tmp)).unwrap();

    let mut path = String::from("MAKGUARD/deep");
    for level in 1..=DEPTH {
        write!(path, "/level{level:02}").unwrap();
        let key = hive.key(&path).unwrap().unwrap_or_else(|| panic!("{path}"));
        assert_eq!(key.name(), format!("Level{level:02}"));
        assert_eq!(
            key.value("depth").unwrap().unwrap().data().unwrap(),
            ValueData::Dword(level as u32)
        );
    }
    assert!(hive.key(&format!("{path}/Level41")).unwrap().is_none());
    let backslashed = path.replace('/', "\\");
    assert!(hive.key(&backslashed).unwrap().is_some());

    let many = hive.key("MakGuard/Many").unwrap().unwrap();
    let subs = many.subkeys().unwrap();
    assert_eq!(subs.len(), MANY);
    for (i, sub) in subs.iter().enumerate() {
        assert_eq!(sub.name(), format!("Sub{i:04}"));
        assert_eq!(
            sub.value("Index").unwrap().unwrap().data().unwrap(),
            ValueData::Dword(i as u32)
        );
    }
    assert!(many.subkey("sub0699").unwrap().is_some());
    assert!(many.subkey("sub0700").unwrap().is_none());
}

#[test]
fn reglookup_agrees_on_hivex_fixture() {
    // A second, independent reader over the same written hive; this one also
    // covers UTF-16 (non-Latin-1) key and value names against reglookup.
    if !require_tool("hivexregedit") || !require_tool("reglookup") {
        return;
    }
    let tmp = TempDir::new("hivex-reglookup");
    let path = build_fixture(&tmp);
    let (keys, values) = regcmp::assert_agrees(&path, "hivex fixture");
    assert_eq!(keys, 1 + 1 + 1 + 1 + DEPTH + 1 + MANY);
    assert_eq!(values, 11 + 1 + DEPTH + MANY);
}
