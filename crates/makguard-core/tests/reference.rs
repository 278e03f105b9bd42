//! The key model and catalog against the project's reference tables in `../shared/reference`.

use std::path::PathBuf;

use makguard_core::{Checksum, KeyClass, KeyForm, ProductKey, catalog, classify_key};

fn reference(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rows(name: &str) -> Vec<Vec<String>> {
    reference(name)
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn every_n_form_gvlk_passes_the_checksum_and_is_in_the_catalog() {
    let mut n_form = 0;
    for row in rows("gvlk.tsv") {
        let key = ProductKey::parse(&row[4]).unwrap();
        assert!(catalog::lookup_key(&key).is_some());
        assert_eq!(classify_key(&key, None).class, KeyClass::Gvlk);
        if key.form() == KeyForm::Pkey2009 {
            n_form += 1;
            assert_eq!(key.checksum(), Checksum::Valid, "{key}");
            if let Some(group) = row[6].split("RefGroupId=").nth(1) {
                let group: u32 = group
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(key.decode().unwrap().group, group, "{key}");
            }
        } else {
            assert_eq!(key.checksum(), Checksum::NotApplicable);
        }
        assert_eq!(key.to_string(), row[4], "GVLKs print in full");
    }
    assert_eq!(n_form, 128);
}

#[test]
fn synthetic_keys_match_their_declared_checksum_group_and_serial() {
    for row in rows("synthetic-keys.tsv") {
        let key = ProductKey::parse(&row[0]).unwrap();
        assert!(!key.is_gvlk());
        assert_eq!(key.to_string(), format!("*****-*****-*****-*****-{}", &row[0][24..]));
        match row[4].as_str() {
            "true" => {
                assert_eq!(key.checksum(), Checksum::Valid, "{key}");
                let decoded = key.decode().unwrap();
                assert_eq!(decoded.group.to_string(), row[2]);
                assert_eq!(decoded.serial.to_string(), row[3]);
            }
            "false" => assert_eq!(key.checksum(), Checksum::Invalid, "{key}"),
            _ => assert_eq!(key.checksum(), Checksum::NotApplicable, "{key}"),
        }
        assert_eq!(classify_key(&key, None).class, KeyClass::NonKms);
    }
}
