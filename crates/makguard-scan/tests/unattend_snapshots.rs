//! Snapshot tests for the answer-file linter: one fixture (or more) per rule, MG100–MG106 and
//! MG902, plus the same answer file in UTF-16LE with BOM and CRLF, UTF-16BE without BOM and
//! UTF-8 with BOM. Snapshots show keys masked with their fingerprints only.

mod unattend_support;

use makguard_core::text::TextEncoding;
use unattend_support::{assert_ranges_exact, fixture_as, render, scan_bytes, scan_fixture};

fn snapshot_fixture(name: &str) -> String {
    let (decoded, findings) = scan_fixture(name);
    assert!(!findings.is_empty(), "{name} must produce findings");
    assert_ranges_exact(&decoded, &findings);
    render(&decoded, &findings)
}

fn snapshot_encoded(name: &str, encoding: TextEncoding, crlf: bool) -> String {
    let bytes = fixture_as(name, encoding, crlf);
    let (decoded, findings) = scan_bytes(name, &bytes);
    assert_eq!(decoded.encoding, encoding);
    assert_ranges_exact(&decoded, &findings);
    render(&decoded, &findings)
}

macro_rules! fixture_snapshot {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(stringify!($test), snapshot_fixture($file));
        }
    };
}

fixture_snapshot!(mg100_gvlk_both_passes, "mg100_gvlk_both_passes.xml");
fixture_snapshot!(mg101_mak_windowspe, "mg101_mak_windowspe.xml");
fixture_snapshot!(mg101_multiarch_specialize, "mg101_multiarch_specialize.xml");
fixture_snapshot!(mg101_mixed_content, "mg101_mixed_content.xml");
fixture_snapshot!(mg102_key_in_comment, "mg102_key_in_comment.xml");
fixture_snapshot!(mg103_commands, "mg103_commands.xml");
fixture_snapshot!(mg104_placeholders, "mg104_placeholders.xml");
fixture_snapshot!(mg105_partial, "mg105_partial.xml");
fixture_snapshot!(mg106_malformed_key, "mg106_malformed_key.xml");
fixture_snapshot!(mg902_mismatched_end, "mg902_mismatched_end.xml");
fixture_snapshot!(mg902_truncated, "mg902_truncated.xml");
fixture_snapshot!(mg902_garbage, "mg902_garbage.xml");

#[test]
fn utf16le_bom_crlf() {
    insta::assert_snapshot!(
        "utf16le_bom_crlf",
        snapshot_encoded("utf16_template.xml", TextEncoding::Utf16Le { bom: true }, true)
    );
}

#[test]
fn utf16be_no_bom_lf() {
    insta::assert_snapshot!(
        "utf16be_no_bom_lf",
        snapshot_encoded("utf16_template.xml", TextEncoding::Utf16Be { bom: false }, false)
    );
}

#[test]
fn utf8_bom_crlf_mg103() {
    insta::assert_snapshot!(
        "utf8_bom_crlf_mg103",
        snapshot_encoded("mg103_commands.xml", TextEncoding::Utf8Bom, true)
    );
}
