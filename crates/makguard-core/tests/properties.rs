//! Property tests: parsing and decoding round-trip and never panic.

use makguard_core::key::{KEY_ALPHABET, compose_pkey2009};
use makguard_core::{Checksum, ProductKey, classify_slot};
use proptest::prelude::*;

fn symbol() -> impl Strategy<Value = char> {
    prop::sample::select(KEY_ALPHABET.to_vec()).prop_map(char::from)
}

proptest! {
    #[test]
    fn parse_never_panics(text in ".{0,40}") {
        let _ = ProductKey::parse(&text);
        let _ = classify_slot(&text);
    }

    #[test]
    fn legacy_keys_round_trip_through_text(symbols in prop::collection::vec(symbol(), 25)) {
        let bare: String = symbols.into_iter().collect();
        let key = ProductKey::parse(&bare).unwrap();
        let dashed = key.reveal_unmasked().to_string();
        prop_assert_eq!(ProductKey::parse(&dashed.to_lowercase()).unwrap(), key.clone());
        prop_assert_eq!(key.checksum(), Checksum::NotApplicable);
    }

    #[test]
    fn pkey2009_fields_round_trip(group in 0u32..(1 << 20), serial in 0u32..(1 << 30), security in 0u64..(1 << 53), upgrade: bool) {
        let value = compose_pkey2009(group, serial, security, upgrade);
        // Values whose N position is past the end are not keys; the rest must round-trip.
        if let Some(key) = ProductKey::from_pkey2009_value(value) {
            let decoded = key.decode().unwrap();
            prop_assert_eq!((decoded.group, decoded.serial, decoded.security, decoded.upgrade), (group, serial, security, upgrade));
            prop_assert_eq!(key.checksum(), Checksum::Valid);
            prop_assert_eq!(ProductKey::parse(key.reveal_unmasked()).unwrap(), key);
        }
    }
}

proptest! {
    /// The one masking step hides every spelling of any checksummed key, whatever text
    /// surrounds it: dashed or not, any mix of case, or as UTF-16 with NULs between symbols.
    #[test]
    fn masking_hides_every_spelling_of_a_key(
        group in 0u32..(1 << 20),
        serial in 0u32..(1 << 30),
        security in 0u64..(1 << 53),
        before in ".{0,12}",
        after in ".{0,12}",
        dashed: bool,
        utf16: bool,
        cases in prop::collection::vec(any::<bool>(), 29),
    ) {
        let Some(key) = ProductKey::from_pkey2009_value(compose_pkey2009(group, serial, security, false)) else {
            return Ok(());
        };
        prop_assume!(!key.is_gvlk());
        let normal = key.reveal_unmasked();
        let written: String = if dashed { normal.to_string() } else { normal.replace('-', "") };
        let mut spelled: String = written
            .chars()
            .zip(&cases)
            .map(|(c, &lower)| if lower { c.to_ascii_lowercase() } else { c })
            .collect();
        if utf16 {
            spelled = spelled.chars().flat_map(|c| [c, '\0']).collect();
        }
        let text = format!("{before}{spelled}{after}");
        let masked = makguard_core::key::mask_keys_in(&text);
        let plain: String = masked.chars().filter(|&c| c != '\0').collect::<String>().to_uppercase();
        let bare = normal.replace('-', "");
        prop_assert!(!plain.contains(&bare[..20]), "{:?} -> {:?}", text, masked);
        prop_assert!(!plain.contains(&normal[..17]), "{:?} -> {:?}", text, masked);
    }
}
