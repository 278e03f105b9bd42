//! Hand-made hives exercising each on-disk structure and each failure mode:
//! inline data, big data (`db`), every subkey list kind, cycles, bounds, and
//! lookups.

mod common;

use common::{Builder, utf16z};
use makguard_hive::{Hive, HiveError, ValueData, reg_type};

fn corrupt_reason(e: HiveError) -> &'static str {
    match e {
        HiveError::Corrupt { reason, .. } => reason,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn inline_data_lives_in_the_offset_field() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let v4 = b.vk("Four", reg_type::DWORD, 0x8000_0004, 0x1234_5678);
    let v2 = b.vk("Two", reg_type::BINARY, 0x8000_0002, 0x0000_BBAA);
    let v0 = b.vk("Zero", reg_type::BINARY, 0x8000_0000, 0xFFFF_FFFF);
    let bad = b.vk("Five", reg_type::BINARY, 0x8000_0005, 0);
    b.set_values(root, &[v4, v2, v0, bad]);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    let key = hive.root().unwrap();
    assert_eq!(
        key.value("four").unwrap().unwrap().data().unwrap(),
        ValueData::Dword(0x1234_5678)
    );
    assert_eq!(key.value("Two").unwrap().unwrap().raw_data().unwrap(), vec![0xAA, 0xBB]);
    assert!(key.value("Zero").unwrap().unwrap().raw_data().unwrap().is_empty());
    let err = key.value("Five").unwrap().unwrap().raw_data().unwrap_err();
    assert_eq!(corrupt_reason(err), "inline value data longer than 4 bytes");
}

/// Builds a big-data value of `len` bytes split over 16344-byte segments.
fn big_data_hive(len: usize, tamper: impl FnOnce(&mut Builder, &mut Vec<u32>)) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let mut segs: Vec<u32> = data.chunks(16344).map(|c| b.cell(c)).collect();
    tamper(&mut b, &mut segs);
    let list: Vec<u8> = segs.iter().flat_map(|s| s.to_le_bytes()).collect();
    let list = b.cell(&list);
    let mut db = b"db".to_vec();
    db.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    db.extend_from_slice(&list.to_le_bytes());
    let db = b.cell(&db);
    let vk = b.vk("Big", reg_type::BINARY, len as u32, db);
    b.set_values(root, &[vk]);
    b.finish(root)
}

#[test]
fn big_data_segments_are_joined() {
    let len = 40_000;
    let hive = Hive::from_bytes(big_data_hive(len, |_, _| {})).unwrap();
    let v = hive.root().unwrap().value("big").unwrap().unwrap();
    let want: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(v.raw_data().unwrap(), want);
    assert_eq!(v.data().unwrap(), ValueData::Binary(want));
}

#[test]
fn big_data_damage_is_an_error() {
    let repeated = big_data_hive(40_000, |_, segs| segs[1] = segs[0]);
    let hive = Hive::from_bytes(repeated).unwrap();
    let err = hive.root().unwrap().value("Big").unwrap().unwrap().raw_data();
    assert_eq!(corrupt_reason(err.unwrap_err()), "big data uses the same segment twice");

    let short = big_data_hive(40_000, |_, segs| {
        segs.pop();
    });
    let hive = Hive::from_bytes(short).unwrap();
    let err = hive.root().unwrap().value("Big").unwrap().unwrap().raw_data();
    assert_eq!(corrupt_reason(err.unwrap_err()), "big data has too few segments");
}

/// root -> {A (li), B (lf), C (lh)}, C -> ri -> [li{x, y}, lh{z}].
fn list_kinds_hive() -> Vec<u8> {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let a = b.nk("Alpha", root);
    let bb = b.nk("Beta", root);
    let c = b.nk("Gamma", root);
    let top = b.list(b"li", &[a, bb, c]);
    b.set_subkeys(root, 3, top);
    let ka = b.nk("under-lf", a);
    let la = b.list(b"lf", &[ka]);
    b.set_subkeys(a, 1, la);
    let kb = b.nk("under-lh", bb);
    let lb = b.list(b"lh", &[kb]);
    b.set_subkeys(bb, 1, lb);
    let x = b.nk("x", c);
    let y = b.nk("y", c);
    let z = b.nk("z", c);
    let l1 = b.list(b"li", &[x, y]);
    let l2 = b.list(b"lh", &[z]);
    let ri = b.list(b"ri", &[l1, l2]);
    b.set_subkeys(c, 3, ri);
    let sz = b.value("Text", reg_type::SZ, &utf16z("hello"));
    let def = b.value("", reg_type::SZ, &utf16z("default!"));
    b.set_values(z, &[sz, def]);
    b.finish(root)
}

#[test]
fn every_subkey_list_kind_resolves() {
    let hive = Hive::from_bytes(list_kinds_hive()).unwrap();
    let root = hive.root().unwrap();
    let names: Vec<String> = root.subkeys().unwrap().iter().map(makguard_hive::Key::name).collect();
    assert_eq!(names, ["Alpha", "Beta", "Gamma"]);
    let gamma: Vec<String> = hive
        .key("gamma")
        .unwrap()
        .unwrap()
        .subkeys()
        .unwrap()
        .iter()
        .map(makguard_hive::Key::name)
        .collect();
    assert_eq!(gamma, ["x", "y", "z"]);
    assert!(hive.key(r"ALPHA\Under-LF").unwrap().is_some());
    assert!(hive.key("beta/under-lh").unwrap().is_some());
    assert!(hive.key(r"\Gamma\\z\").unwrap().is_some());
    assert!(hive.key("Gamma/w").unwrap().is_none());
    assert!(hive.key("Nope/z").unwrap().is_none());
    assert_eq!(hive.key("").unwrap().unwrap().name(), "ROOT");

    let z = hive.key("GAMMA/Z").unwrap().unwrap();
    assert_eq!(
        z.value("TEXT").unwrap().unwrap().as_string().unwrap().as_deref(),
        Some("hello")
    );
    assert_eq!(
        z.value("").unwrap().unwrap().data().unwrap(),
        ValueData::Sz("default!".into())
    );
    assert!(z.value("missing").unwrap().is_none());
    let names: Vec<String> = z.values().unwrap().iter().map(makguard_hive::Value::name).collect();
    assert_eq!(names, ["Text", ""]);
}

#[test]
fn a_key_listing_itself_is_corrupt_not_a_loop() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    // The root claims to be its own parent, so only the cycle check stops it.
    b.patch_u32(root, 0x10, root);
    let list = b.list(b"lf", &[root]);
    b.set_subkeys(root, 1, list);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    let err = hive.root().unwrap().subkeys().unwrap_err();
    assert_eq!(corrupt_reason(err), "subkey is the key itself or one of its ancestors");
    assert!(hive.key("ROOT/ROOT/ROOT").is_err());
}

#[test]
fn a_key_listing_its_ancestor_is_corrupt() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let child = b.nk("Child", root);
    let grandchild = b.nk("Grandchild", child);
    b.patch_u32(root, 0x10, grandchild);
    let l0 = b.list(b"lh", &[child]);
    b.set_subkeys(root, 1, l0);
    let l1 = b.list(b"lh", &[grandchild]);
    b.set_subkeys(child, 1, l1);
    let l2 = b.list(b"lh", &[root]);
    b.set_subkeys(grandchild, 1, l2);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    let gc = hive.key("child/grandchild").unwrap().unwrap();
    assert_eq!(
        corrupt_reason(gc.subkeys().unwrap_err()),
        "subkey is the key itself or one of its ancestors"
    );
}

#[test]
fn index_cycles_and_duplicates_are_corrupt() {
    // An ri that lists itself.
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let ri = b.list(b"ri", &[0]);
    b.patch_u32(ri, 4, ri);
    b.set_subkeys(root, 1, ri);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    assert_eq!(
        corrupt_reason(hive.root().unwrap().subkeys().unwrap_err()),
        "subkey index refers back to itself"
    );

    // A leaf naming the same key twice.
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let k = b.nk("K", root);
    let list = b.list(b"li", &[k, k]);
    b.set_subkeys(root, 2, list);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    assert_eq!(
        corrupt_reason(hive.root().unwrap().subkeys().unwrap_err()),
        "subkey list names the same key twice"
    );

    // A key shared by two parents (only one can be its parent).
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let a = b.nk("A", root);
    let c = b.nk("C", root);
    let shared = b.nk("Shared", a);
    let top = b.list(b"lh", &[a, c]);
    b.set_subkeys(root, 2, top);
    let la = b.list(b"lh", &[shared]);
    b.set_subkeys(a, 1, la);
    let lc = b.list(b"lh", &[shared]);
    b.set_subkeys(c, 1, lc);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    assert!(hive.key("A/Shared").unwrap().is_some());
    assert_eq!(
        corrupt_reason(hive.key("C/Shared").unwrap_err()),
        "subkey's parent field does not point back to its key"
    );
}

#[test]
fn lying_counts_and_offsets_are_bounded() {
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let k = b.nk("K", root);
    let list = b.list(b"lh", &[k]);
    b.set_subkeys(root, u32::MAX, list);
    let v = b.vk("V", reg_type::BINARY, 1 << 30, 0x10);
    let far = b.vk("Far", reg_type::BINARY, 16, 0x7FFF_0000);
    b.set_values(root, &[v, far]);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    let root_key = hive.root().unwrap();
    assert_eq!(
        corrupt_reason(root_key.subkeys().unwrap_err()),
        "subkey count larger than the hive"
    );
    let values = root_key.values().unwrap();
    assert!(values[0].raw_data().is_err(), "1 GiB claim must not allocate");
    assert_eq!(
        corrupt_reason(values[1].raw_data().unwrap_err()),
        "cell offset beyond the hive bins data"
    );

    // A value count far larger than its list cell.
    let mut b = Builder::new();
    let root = b.nk("ROOT", 0);
    let v = b.value("V", reg_type::DWORD, &[1, 0, 0, 0]);
    b.set_values(root, &[v]);
    b.patch_u32(root, 0x24, 0x4000_0000);
    let hive = Hive::from_bytes(b.finish(root)).unwrap();
    assert_eq!(
        corrupt_reason(hive.root().unwrap().values().unwrap_err()),
        "value list shorter than the value count"
    );
}

#[test]
fn not_a_hive_is_rejected_up_front() {
    assert!(matches!(Hive::from_bytes(vec![0; 100]), Err(HiveError::NotAHive(_))));
    let mut bytes = list_kinds_hive();
    bytes[0] = b'x';
    assert!(matches!(Hive::from_bytes(bytes), Err(HiveError::NotAHive(_))));
    let mut bytes = list_kinds_hive();
    bytes[4096] = b'x';
    assert!(matches!(Hive::from_bytes(bytes), Err(HiveError::NotAHive(_))));
}

#[test]
fn typed_data_interpretation() {
    use ValueData as D;
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    assert_eq!(D::from_raw(1, utf16("a\0b")), D::Sz("a".into()));
    assert_eq!(D::from_raw(2, utf16("%x%\0")), D::ExpandSz("%x%".into()));
    assert_eq!(
        D::from_raw(7, utf16("one\0two\0\0")),
        D::MultiSz(vec!["one".into(), "two".into()])
    );
    assert_eq!(D::from_raw(4, vec![1, 0, 0, 0]), D::Dword(1));
    assert_eq!(D::from_raw(5, vec![0, 0, 0, 1]), D::DwordBigEndian(1));
    assert_eq!(D::from_raw(11, 7u64.to_le_bytes().to_vec()), D::Qword(7));
    assert_eq!(D::from_raw(0, vec![]), D::None);
    assert_eq!(
        D::from_raw(0, vec![1]),
        D::Other {
            value_type: 0,
            data: vec![1]
        }
    );
    assert_eq!(
        D::from_raw(4, vec![1, 2]),
        D::Other {
            value_type: 4,
            data: vec![1, 2]
        }
    );
    assert_eq!(
        D::from_raw(0x1234, vec![9]),
        D::Other {
            value_type: 0x1234,
            data: vec![9]
        }
    );
}

#[test]
fn work_budget_stops_endless_use() {
    let hive = Hive::from_bytes(list_kinds_hive()).unwrap();
    let mut walks = 0u64;
    let err = loop {
        match hive.key("gamma/z").and_then(|k| k.unwrap().values()) {
            Ok(_) => walks += 1,
            Err(e) => break e,
        }
        assert!(walks < 10_000_000, "budget never ran out");
    };
    assert!(matches!(err, HiveError::WorkBudgetExhausted), "{err:?}");
    assert!(walks > 1000, "budget must allow ordinary repeated use");
    assert!(matches!(hive.root(), Err(HiveError::WorkBudgetExhausted)));
}
