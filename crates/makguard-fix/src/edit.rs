//! The byte-exact rewrite of one file's content in memory: check the keys are still where
//! the scan saw them, replace only their characters (or, for a key an XML file spells with
//! references or across CDATA sections, exactly the markup that spells it), re-encode in the
//! file's own encoding, prove every other byte is unchanged, and re-parse the result.
//!
//! Nothing here touches the file system; [`crate::apply`] writes what this produces.

use makguard_core::text::{self, DecodedText, TextEncoding};
use makguard_core::{ProductKey, TextRange};

/// One key replacement to make in a file's decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEdit {
    pub range: TextRange,
    /// The key the scan saw there; the text must still parse to it.
    pub old_key: ProductKey,
    /// The GVLK text to write (dashed or bare, upper case).
    pub replacement: String,
}

/// The rewritten content, with where it differs from the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub encoding: TextEncoding,
    pub old_text: String,
    pub new_text: String,
    pub new_bytes: Vec<u8>,
    /// Byte ranges in the ORIGINAL bytes that were replaced, ascending, one per edit.
    pub changed_byte_ranges: Vec<TextRange>,
}

/// Why a file's content was not rewritten. `Skipped` means nothing was attempted (the file is
/// not as the scan saw it, or cannot be re-encoded); `RolledBack` means the rewrite was made
/// in memory and failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    Skipped(String),
    RolledBack(String),
}

/// The byte offset in the encoded file of decoded-text offset `offset`.
fn byte_offset(text: &str, offset: usize, encoding: TextEncoding) -> usize {
    let prefix = &text[..offset];
    match encoding {
        TextEncoding::Utf8 => offset,
        TextEncoding::Utf8Bom => offset + 3,
        TextEncoding::Utf16Le { bom } | TextEncoding::Utf16Be { bom } => {
            usize::from(bom) * 2 + prefix.encode_utf16().count() * 2
        }
        TextEncoding::Utf32Le { bom } | TextEncoding::Utf32Be { bom } => {
            usize::from(bom) * 4 + prefix.chars().count() * 4
        }
        TextEncoding::SingleByte => prefix.chars().count(),
    }
}

/// True when the key token at `range` of `text` stands alone and parses as `key`.
fn token_at(text: &str, range: TextRange, key: &ProductKey) -> bool {
    let found = if range.len() == 25 {
        makguard_scan::find_bare_keys(text)
    } else {
        makguard_scan::find_dashed_keys(text)
    };
    found.iter().any(|t| t.range == range && &t.key == key)
}

/// True when `range` of `text` still holds `key`: written as itself, standing alone, or (in
/// XML) spelled with character references, CDATA sections, comments or processing
/// instructions that the scan read as the key and that the replacement takes out as a whole.
fn holds_key(text: &str, range: TextRange, key: &ProductKey) -> bool {
    let Some(current) = text.get(range.start..range.end) else {
        return false;
    };
    if ProductKey::parse(current).ok().as_ref() == Some(key) {
        return token_at(text, range, key);
    }
    current.contains(['&', '<'])
        && makguard_scan::rewritable_value(current)
            .is_some_and(|value| ProductKey::parse(&value).ok().as_ref() == Some(key))
}

/// True when `spelled` holds what spells a value in XML without writing it out: a reference
/// (`&...;`), a CDATA section, a comment or a processing instruction.
fn spelled_with_markup(spelled: &str) -> bool {
    let reference = spelled
        .find('&')
        .is_some_and(|at| spelled[at..].find(';').is_some_and(|end| end > 1));
    reference || ["<![CDATA[", "<!--", "<?"].iter().any(|m| spelled.contains(m))
}

/// True when `text` is well-formed XML as far as quick-xml reads it.
pub fn xml_is_well_formed(text: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth: usize = 0;
    let mut seen_root = false;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return depth == 0 && seen_root,
            Ok(quick_xml::events::Event::Start(_)) => {
                depth += 1;
                seen_root = true;
            }
            Ok(quick_xml::events::Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(quick_xml::events::Event::Empty(_)) => seen_root = true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// True when the file is meant to be XML: its name says so, or its text starts with `<`.
pub fn looks_like_xml(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || text.trim_start_matches('\u{feff}').trim_start().starts_with('<')
}

/// Rewrites `bytes` with `edits` (non-overlapping; identical duplicates are merged).
/// `name` is the file name, used to recognise XML.
pub fn rewrite(name: &str, bytes: &[u8], edits: &[KeyEdit]) -> Result<Rewrite, RewriteError> {
    let decoded: DecodedText = text::decode(bytes);
    if let Some(problem) = decoded.unsupported_encoding() {
        return Err(RewriteError::Skipped(format!(
            "{problem}; makguard does not rewrite a file it cannot decode"
        )));
    }
    if !decoded.is_lossless() {
        return Err(RewriteError::Skipped(format!(
            "the file does not decode losslessly as {}; makguard does not rewrite it",
            decoded.encoding.name()
        )));
    }
    let old_text = decoded.text;
    let encoding = decoded.encoding;

    let mut edits: Vec<KeyEdit> = edits.to_vec();
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    edits.dedup();
    for pair in edits.windows(2) {
        if pair[0].range.overlaps(&pair[1].range) {
            return Err(RewriteError::Skipped(
                "two fixes overlap with different replacements; fix one at a time".to_string(),
            ));
        }
    }
    for edit in &edits {
        let range = edit.range;
        if old_text.get(range.start..range.end).is_none() {
            return Err(RewriteError::Skipped(
                "the file changed since the scan (a key's position is out of range); scan again".to_string(),
            ));
        }
        if !holds_key(&old_text, range, &edit.old_key) {
            if old_text.get(range.start..range.end).is_some_and(spelled_with_markup) {
                return Err(RewriteError::Skipped(format!(
                    "the key {} ({}) at byte {} is spelled with XML references or markup that makguard cannot \
map to one key; fix it by hand",
                    edit.old_key.masked(),
                    edit.old_key.fingerprint(),
                    range.start
                )));
            }
            return Err(RewriteError::Skipped(format!(
                "the file changed since the scan: the key {} ({}) is no longer at byte {} of the text; scan again",
                edit.old_key.masked(),
                edit.old_key.fingerprint(),
                range.start
            )));
        }
        let new_key = ProductKey::parse(&edit.replacement).ok();
        if new_key.as_ref().is_none_or(|k| !k.is_gvlk()) || edit.replacement.contains(['\r', '\n']) {
            return Err(RewriteError::Skipped(
                "a replacement is not a KMS client key (GVLK); refusing to write it".to_string(),
            ));
        }
    }

    let mut new_text = String::with_capacity(old_text.len());
    let mut new_ranges = Vec::with_capacity(edits.len());
    let mut cursor = 0;
    for edit in &edits {
        new_text.push_str(&old_text[cursor..edit.range.start]);
        let start = new_text.len();
        new_text.push_str(&edit.replacement);
        new_ranges.push(TextRange::new(start, new_text.len()));
        cursor = edit.range.end;
    }
    new_text.push_str(&old_text[cursor..]);

    let Some(new_bytes) = text::encode(&new_text, encoding) else {
        return Err(RewriteError::Skipped(format!(
            "the new text cannot be written back as {}",
            encoding.name()
        )));
    };

    // Every byte outside the replaced spans must be the original byte.
    let mut changed_byte_ranges = Vec::with_capacity(edits.len());
    let (mut old_pos, mut new_pos) = (0usize, 0usize);
    for (edit, new_range) in edits.iter().zip(&new_ranges) {
        let old_start = byte_offset(&old_text, edit.range.start, encoding);
        let old_end = byte_offset(&old_text, edit.range.end, encoding);
        let new_start = byte_offset(&new_text, new_range.start, encoding);
        let new_end = byte_offset(&new_text, new_range.end, encoding);
        if bytes.get(old_pos..old_start) != new_bytes.get(new_pos..new_start) {
            return Err(RewriteError::RolledBack(
                "bytes outside the key's span would change; nothing was written".to_string(),
            ));
        }
        changed_byte_ranges.push(TextRange::new(old_start, old_end));
        old_pos = old_end;
        new_pos = new_end;
    }
    if bytes.get(old_pos..) != new_bytes.get(new_pos..) {
        return Err(RewriteError::RolledBack(
            "bytes after the last key would change; nothing was written".to_string(),
        ));
    }

    // Re-parse the result as the next scan will read it.
    let reread = text::decode(&new_bytes);
    if !reread.is_lossless() || reread.encoding != encoding || reread.text != new_text {
        return Err(RewriteError::RolledBack(format!(
            "the rewritten file would no longer decode as {}; nothing was written",
            encoding.name()
        )));
    }
    for (edit, new_range) in edits.iter().zip(&new_ranges) {
        let new_key = ProductKey::parse(&edit.replacement).ok();
        if new_key.is_none_or(|key| !token_at(&new_text, *new_range, &key)) {
            return Err(RewriteError::RolledBack(
                "the new key would not read back as one key token; nothing was written".to_string(),
            ));
        }
    }
    if looks_like_xml(name, &old_text) && xml_is_well_formed(&old_text) && !xml_is_well_formed(&new_text) {
        return Err(RewriteError::RolledBack(
            "the rewritten XML would no longer parse; nothing was written".to_string(),
        ));
    }
    Ok(Rewrite {
        encoding,
        old_text,
        new_text,
        new_bytes,
        changed_byte_ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn edit_at(text: &str, replacement: &str) -> KeyEdit {
        let start = text.find(MAK).unwrap();
        KeyEdit {
            range: TextRange::new(start, start + MAK.len()),
            old_key: ProductKey::parse(MAK).unwrap(),
            replacement: replacement.to_string(),
        }
    }

    #[test]
    fn byte_ranges_account_for_multibyte_text_before_the_key() {
        let text = "é😀 <Key>6QWQ4-8NRCW-KHGHV-CR226-3PPQC</Key>\r\n";
        for encoding in [
            TextEncoding::Utf8Bom,
            TextEncoding::Utf16Be { bom: true },
            TextEncoding::Utf16Le { bom: false },
        ] {
            let bytes = text::encode(text, encoding).unwrap();
            let rewrite = rewrite("x.txt", &bytes, &[edit_at(text, GVLK)]).unwrap();
            assert_eq!(rewrite.encoding, encoding);
            let expected = text::encode(&text.replace(MAK, GVLK), encoding).unwrap();
            assert_eq!(rewrite.new_bytes, expected);
            let range = rewrite.changed_byte_ranges[0];
            let key_bytes = match encoding {
                TextEncoding::Utf8Bom => GVLK.as_bytes().to_vec(),
                TextEncoding::Utf16Be { .. } => text::encode(GVLK, TextEncoding::Utf16Be { bom: false }).unwrap(),
                _ => text::encode(GVLK, TextEncoding::Utf16Le { bom: false }).unwrap(),
            };
            assert_eq!(
                &rewrite.new_bytes[range.start..range.end],
                key_bytes.as_slice(),
                "{encoding:?}"
            );
        }
        // Single-byte code page text: the Latin-1 byte before the key survives.
        let bytes = b"caf\xE9 slmgr /ipk 6QWQ4-8NRCW-KHGHV-CR226-3PPQC\r\n".to_vec();
        let decoded = text::decode(&bytes).text;
        let rewrite = rewrite("a.cmd", &bytes, &[edit_at(&decoded, GVLK)]).unwrap();
        assert_eq!(rewrite.encoding, TextEncoding::SingleByte);
        assert_eq!(rewrite.changed_byte_ranges[0], TextRange::new(16, 45));
        assert_eq!(&rewrite.new_bytes[..16], &bytes[..16]);
    }

    #[test]
    fn a_key_written_with_character_references_is_rewritten() {
        for written in [
            format!("&#x36;{}", &MAK[1..]),
            "&#54;QWQ4-8NRCW-KHGHV-CR226-3PP&#x51;C".to_string(),
        ] {
            let text = format!("<Key>{written}</Key>");
            let edit = KeyEdit {
                range: TextRange::new(5, 5 + written.len()),
                old_key: ProductKey::parse(MAK).unwrap(),
                replacement: GVLK.to_string(),
            };
            let rewrite = rewrite("u.xml", text.as_bytes(), &[edit]).unwrap();
            assert_eq!(rewrite.new_text, format!("<Key>{GVLK}</Key>"));
        }
        // A reference makguard cannot decode is refused truthfully, not as a changed file.
        let text = format!("<Key>&ent;{}</Key>", &MAK[1..]);
        let edit = KeyEdit {
            range: TextRange::new(5, text.len() - 6),
            old_key: ProductKey::parse(MAK).unwrap(),
            replacement: GVLK.to_string(),
        };
        match rewrite("u.xml", text.as_bytes(), &[edit]) {
            Err(RewriteError::Skipped(reason)) => assert!(reason.contains("fix it by hand"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // A key split across CDATA sections, as an XML parser assembles it: the span is replaced
        // whole, so the parser reads the GVLK.
        let text = format!("<Key><![CDATA[{}]]><![CDATA[{}]]></Key>", &MAK[..12], &MAK[12..]);
        let edit = KeyEdit {
            range: TextRange::new(5, text.len() - 6),
            old_key: ProductKey::parse(MAK).unwrap(),
            replacement: GVLK.to_string(),
        };
        let rewrite = rewrite("u.xml", text.as_bytes(), &[edit]).unwrap();
        assert_eq!(rewrite.new_text, format!("<Key>{GVLK}</Key>"));
    }

    #[test]
    fn refuses_stale_conflicting_and_non_gvlk_edits() {
        let text = format!("<Key>{MAK}</Key>");
        let bytes = text.as_bytes();
        let stale = KeyEdit {
            range: TextRange::new(0, 29),
            ..edit_at(&text, GVLK)
        };
        assert!(matches!(
            rewrite("u.xml", bytes, &[stale]),
            Err(RewriteError::Skipped(_))
        ));
        let other_gvlk = "W269N-WFGWX-YVC9B-4J6C9-T83GX";
        assert!(matches!(
            rewrite("u.xml", bytes, &[edit_at(&text, GVLK), edit_at(&text, other_gvlk)]),
            Err(RewriteError::Skipped(_))
        ));
        let same_twice = rewrite("u.xml", bytes, &[edit_at(&text, GVLK), edit_at(&text, GVLK)]).unwrap();
        assert_eq!(same_twice.new_text, format!("<Key>{GVLK}</Key>"));
        let not_a_gvlk = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
        match rewrite("u.xml", bytes, &[edit_at(&text, not_a_gvlk)]) {
            Err(RewriteError::Skipped(reason)) => assert!(reason.contains("not a KMS client key")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn xml_well_formedness() {
        assert!(xml_is_well_formed(
            "<?xml version=\"1.0\"?>\r\n<a><!-- c --><b x='1'/></a>\r\n"
        ));
        assert!(!xml_is_well_formed("<a><b></a>"));
        assert!(!xml_is_well_formed("<a>"));
        assert!(!xml_is_well_formed("just text"));
        assert!(looks_like_xml("x.XML", "anything"));
        assert!(looks_like_xml("x.cfg", "  <Configuration/>"));
        assert!(!looks_like_xml("x.cmd", "@echo off"));
    }
}
