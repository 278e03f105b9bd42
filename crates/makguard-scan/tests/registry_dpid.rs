//! `DigitalProductId` and `DigitalProductId4` decoding, checked against an independent
//! implementation of the widely copied VBS decoder (byte-wise long division by 24).

mod common_hive;

use common_hive::{digital_product_id, digital_product_id4};
use makguard_core::ProductKey;
use makguard_scan::testing::{DigitalProductIdError, decode_digital_product_id, parse_digital_product_id4};

const ALPHABET: &[u8; 24] = b"BCDFGHJKMPQRTVWXY2346789";

/// The classic script's algorithm, written from key-format.md §5.1: divide the 15 key bytes
/// (most significant last) by 24 twenty-five times; for N-form keys the final remainder is the
/// position of the `N`.
fn vbs_decode(dpid: &[u8]) -> String {
    let mut bytes: Vec<u8> = dpid[52..67].to_vec();
    let n_form = (bytes[14] >> 3) & 1 == 1;
    bytes[14] &= 0xF7;
    let mut out = Vec::new();
    let mut last = 0u32;
    for _ in 0..25 {
        let mut current = 0u32;
        for x in (0..15).rev() {
            current = current * 256 + u32::from(bytes[x]);
            bytes[x] = (current / 24) as u8;
            current %= 24;
        }
        out.insert(0, ALPHABET[current as usize]);
        last = current;
    }
    if n_form {
        out.remove(0);
        out.insert(last as usize, b'N');
    }
    let text = String::from_utf8(out).unwrap();
    text.as_bytes()
        .chunks(5)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("-")
}

const SYNTHETIC_N_KEYS: &[&str] = &[
    "6QWQ4-8NRCW-KHGHV-CR226-3PPQC",
    "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC",
    "YNTHT-YF2BV-TTMDY-RHH7J-VCPQD",
    "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV",
    "NCV9B-6GGCB-W848Q-QTQJW-BP992",
    "NPPR9-FWDCX-D2C8J-H872K-2YT43",
];

#[test]
fn n_form_keys_round_trip_and_agree_with_the_vbs_algorithm() {
    for text in SYNTHETIC_N_KEYS {
        let key = ProductKey::parse(text).unwrap();
        let blob = digital_product_id(key.decode().unwrap().value, true);
        assert_eq!(blob.len(), 164);
        assert_eq!(
            vbs_decode(&blob),
            *text,
            "VBS reference disagrees with the fixture builder"
        );
        let decoded = decode_digital_product_id(&blob).unwrap().unwrap();
        assert_eq!(decoded, key, "{text}");
        assert_eq!(decoded.fingerprint(), key.fingerprint());
    }
}

/// The base-24 integer of a legacy key, computed here from its letters.
fn legacy_value(text: &str) -> u128 {
    text.bytes().filter(|&b| b != b'-').fold(0u128, |v, b| {
        v * 24 + ALPHABET.iter().position(|&a| a == b).unwrap() as u128
    })
}

#[test]
fn legacy_keys_decode_without_the_flag() {
    for text in ["Y7BYD-BQG8X-7THCD-3XHD2-JGBRF", "33PXH-7Y6KF-2VJC9-XBBR8-HVTHH"] {
        let blob = digital_product_id(legacy_value(text), false);
        assert_eq!(vbs_decode(&blob), text);
        let decoded = decode_digital_product_id(&blob).unwrap().unwrap();
        assert_eq!(decoded.reveal_unmasked(), text);
    }
}

#[test]
fn upgrade_bits_beside_the_flag_do_not_confuse_the_decoder() {
    // Byte 66 bits 1-2 are the upgrade/extra bits of the key integer (bits 113-114).
    let value = makguard_core::key::compose_pkey2009(990001, 4242, 123_456_789, true);
    let key = ProductKey::from_pkey2009_value(value).unwrap();
    assert!(key.decode().unwrap().upgrade);
    let blob = digital_product_id(value, true);
    assert_ne!(blob[66] & 0x06, 0, "the upgrade bit lands in byte 66");
    assert_eq!(vbs_decode(&blob), key.reveal_unmasked());
    assert_eq!(decode_digital_product_id(&blob).unwrap(), Some(key));
}

#[test]
fn cleared_short_and_impossible_key_bytes() {
    let mut cleared = vec![0u8; 164];
    cleared[..4].copy_from_slice(&164u32.to_le_bytes());
    assert_eq!(decode_digital_product_id(&cleared), Ok(None));
    assert_eq!(
        decode_digital_product_id(&[1, 2, 3]),
        Err(DigitalProductIdError::TooShort(3))
    );
    assert_eq!(
        decode_digital_product_id(&cleared[..66]),
        Err(DigitalProductIdError::TooShort(66))
    );
    let mut too_big = cleared.clone();
    too_big[52..67].fill(0xFF);
    assert_eq!(
        decode_digital_product_id(&too_big),
        Err(DigitalProductIdError::OutOfRange)
    );
}

#[test]
fn digital_product_id4_fields() {
    let blob = digital_product_id4("Enterprise", "Volume:MAK");
    assert_eq!(blob.len(), 1272);
    let parsed = parse_digital_product_id4(&blob);
    assert_eq!(parsed.key_type.as_deref(), Some("Volume:MAK"));
    assert_eq!(parsed.edition_id.as_deref(), Some("Enterprise"));
    // A value cut inside the key-type field keeps what is there; one cut before it has none.
    assert_eq!(
        parse_digital_product_id4(&blob[..0x3F8 + 8]).key_type.as_deref(),
        Some("Volu")
    );
    assert_eq!(parse_digital_product_id4(&blob[..0x3F8]).key_type, None);
    assert_eq!(parse_digital_product_id4(&[]), Default::default());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_decode_or_error_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_digital_product_id(&bytes);
            let _ = parse_digital_product_id4(&bytes);
        }

        #[test]
        fn every_composed_key_round_trips(
            group in 0u32..0x10_0000,
            serial in 0u32..0x4000_0000,
            security in 0u64..(1u64 << 53),
            upgrade in any::<bool>(),
        ) {
            let value = makguard_core::key::compose_pkey2009(group, serial, security, upgrade);
            // Not every integer places its N inside the key; those are not keys at all.
            if let Some(key) = ProductKey::from_pkey2009_value(value) {
                let blob = digital_product_id(value, true);
                prop_assert_eq!(vbs_decode(&blob), key.reveal_unmasked());
                prop_assert_eq!(decode_digital_product_id(&blob), Ok(Some(key)));
            }
        }
    }
}
