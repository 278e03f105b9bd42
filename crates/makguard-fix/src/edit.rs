//! The byte-exact rewrite of one file's content in memory: check the keys are still where
//! the scan saw them, replace only their characters (or, for a key an XML file spells with
//! references or across CDATA sections, exactly the markup that spells it), re-encode in the
//! file's own encoding, prove every other byte is unchanged, and re-parse the result.
//!
//! Nothing here touches the file system; [`crate::apply`] writes what this produces.

use makguard_core::text::{self, TextEncoding};
use makguard_core::{ByteRange, Edit, ProductKey, TextRange};

/// One key replacement to make: the [`Edit`], and the key the scan saw in its range (the
/// text must still parse to it).
pub type KeyEdit<'a> = (&'a Edit, &'a ProductKey);

/// What became of one edit given to [`rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// Made: the bytes of the ORIGINAL file it replaced.
    Applied(ByteRange),
    /// Left out, with why (it overlaps an edit made before it); the others were made.
    NotApplied(String),
}

/// The rewritten content, with where it differs from the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The encoding the original was decoded from and the new content is written in.
    pub encoding: TextEncoding,
    /// The original, decoded.
    pub old_text: String,
    /// The text with the edits made.
    pub new_text: String,
    /// `new_text` encoded as the original was (BOM included): the file's new content.
    pub new_bytes: Vec<u8>,
    /// One per edit given, in the order given.
    pub outcomes: Vec<EditOutcome>,
}

impl Rewrite {
    /// The byte ranges of the original file that were replaced, ascending, each once.
    pub fn changed_byte_ranges(&self) -> Vec<ByteRange> {
        let mut ranges: Vec<ByteRange> = self
            .outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                EditOutcome::Applied(range) => Some(*range),
                EditOutcome::NotApplied(_) => None,
            })
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        ranges
    }
}

/// Why a file's content was not rewritten. `Skipped` means nothing was attempted (the file is
/// not as the scan saw it, or cannot be re-encoded); `RolledBack` means the rewrite was made
/// in memory and failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    /// Nothing was attempted, with why.
    Skipped(String),
    /// The rewrite failed a check, with which; the original stands.
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
// `lower` is already lower-cased, and a bare `.xml` name counts, as `Path::extension` would not.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub fn looks_like_xml(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || text.trim_start_matches('\u{feff}').trim_start().starts_with('<')
}

/// Rewrites `bytes` with `edits`. `name` is the file name, used to recognise XML. Identical
/// edits are made once; an edit that overlaps one made before it (in text order) is left out
/// with a reason in [`Rewrite::outcomes`], and the others are made, as ruff does.
///
/// # Errors
///
/// [`RewriteError::Skipped`] when the file is not losslessly decodable, an edit's range no
/// longer holds its key, a replacement is not a GVLK, or the new text cannot be encoded as the
/// original was;
/// [`RewriteError::RolledBack`] when the result changes bytes outside the keys or no longer
/// parses.
pub fn rewrite(name: &str, bytes: &[u8], edits: &[KeyEdit]) -> Result<Rewrite, RewriteError> {
    let (old_text, encoding) = decode_losslessly(bytes)?;
    let (made, placements) = resolve_overlaps(edits);
    for (edit, old_key) in &made {
        check_edit(&old_text, edit, old_key)?;
    }
    let made: Vec<&Edit> = made.into_iter().map(|(edit, _)| edit).collect();
    let (new_text, new_ranges) = splice(&old_text, &made);
    let Some(new_bytes) = text::encode(&new_text, encoding) else {
        return Err(RewriteError::Skipped(format!(
            "the new text cannot be written back as {}",
            encoding.name()
        )));
    };
    let changed = changed_bytes_only_in_spans(bytes, &new_bytes, &old_text, &new_text, encoding, &made, &new_ranges)?;
    check_reads_back(name, &old_text, &new_text, &new_bytes, encoding, &made, &new_ranges)?;
    let outcomes = placements
        .into_iter()
        .map(|placement| match placement {
            Ok(slot) => EditOutcome::Applied(changed[slot]),
            Err(reason) => EditOutcome::NotApplied(reason),
        })
        .collect();
    Ok(Rewrite {
        encoding,
        old_text,
        new_text,
        new_bytes,
        outcomes,
    })
}

/// The file's text and encoding, when it decodes losslessly (so re-encoding gives its bytes).
fn decode_losslessly(bytes: &[u8]) -> Result<(String, TextEncoding), RewriteError> {
    let decoded = text::decode(bytes);
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
    Ok((decoded.text, decoded.encoding))
}

/// The edits to make, ascending and non-overlapping, and for each edit given, which of them
/// makes it (`Ok(index)`; identical edits share one) or why it is left out (`Err`).
fn resolve_overlaps<'a>(edits: &[KeyEdit<'a>]) -> (Vec<KeyEdit<'a>>, Vec<Result<usize, String>>) {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].0.range.start, edits[i].0.range.end, i));
    let mut made: Vec<KeyEdit<'a>> = Vec::with_capacity(edits.len());
    let mut placements = vec![Ok(0); edits.len()];
    for i in order {
        let (edit, _) = edits[i];
        placements[i] = match made.last() {
            Some((last, _)) if *last == edit => Ok(made.len() - 1),
            Some((last, _)) if last.range.overlaps(&edit.range) => Err(format!(
                "it overlaps another fix's edit of text bytes {}..{}, made before it; scan again to see whether it is still needed",
                last.range.start, last.range.end
            )),
            _ => {
                made.push(edits[i]);
                Ok(made.len() - 1)
            }
        };
    }
    (made, placements)
}

/// Refuses an edit unless `old_text` still holds `old_key` in its range and its replacement
/// is one GVLK on one line.
fn check_edit(old_text: &str, edit: &Edit, old_key: &ProductKey) -> Result<(), RewriteError> {
    let range = edit.range;
    let Some(current) = old_text.get(range.start..range.end) else {
        return Err(RewriteError::Skipped(
            "the file changed since the scan (a key's position is out of range); scan again".to_string(),
        ));
    };
    if !holds_key(old_text, range, old_key) {
        if spelled_with_markup(current) {
            return Err(RewriteError::Skipped(format!(
                "the key {} ({}) at byte {} is spelled with XML references or markup that makguard cannot \
map to one key; fix it by hand",
                old_key.masked(),
                old_key.fingerprint(),
                range.start
            )));
        }
        return Err(RewriteError::Skipped(format!(
            "the file changed since the scan: the key {} ({}) is no longer at byte {} of the text; scan again",
            old_key.masked(),
            old_key.fingerprint(),
            range.start
        )));
    }
    let new_key = ProductKey::parse(&edit.replacement).ok();
    if new_key.as_ref().is_none_or(|k| !k.is_gvlk()) || edit.replacement.contains(['\r', '\n']) {
        return Err(RewriteError::Skipped(
            "a replacement is not a KMS client key (GVLK); refusing to write it".to_string(),
        ));
    }
    Ok(())
}

/// `old_text` with `edits` (ascending, non-overlapping) made, and each replacement's range in
/// the new text.
fn splice(old_text: &str, edits: &[&Edit]) -> (String, Vec<TextRange>) {
    let mut new_text = String::with_capacity(old_text.len());
    let mut new_ranges = Vec::with_capacity(edits.len());
    let mut cursor = 0;
    for edit in edits {
        new_text.push_str(&old_text[cursor..edit.range.start]);
        let start = new_text.len();
        new_text.push_str(&edit.replacement);
        new_ranges.push(TextRange::new(start, new_text.len()));
        cursor = edit.range.end;
    }
    new_text.push_str(&old_text[cursor..]);
    (new_text, new_ranges)
}

/// Proves every byte outside the replaced spans is the original byte, and returns each span
/// as a range of the original bytes.
fn changed_bytes_only_in_spans(
    bytes: &[u8],
    new_bytes: &[u8],
    old_text: &str,
    new_text: &str,
    encoding: TextEncoding,
    edits: &[&Edit],
    new_ranges: &[TextRange],
) -> Result<Vec<ByteRange>, RewriteError> {
    let mut changed = Vec::with_capacity(edits.len());
    let (mut old_pos, mut new_pos) = (0usize, 0usize);
    for (edit, new_range) in edits.iter().zip(new_ranges) {
        let old_start = byte_offset(old_text, edit.range.start, encoding);
        let old_end = byte_offset(old_text, edit.range.end, encoding);
        let new_start = byte_offset(new_text, new_range.start, encoding);
        let new_end = byte_offset(new_text, new_range.end, encoding);
        if bytes.get(old_pos..old_start) != new_bytes.get(new_pos..new_start) {
            return Err(RewriteError::RolledBack(
                "bytes outside the key's span would change; nothing was written".to_string(),
            ));
        }
        changed.push(ByteRange::new(old_start, old_end));
        old_pos = old_end;
        new_pos = new_end;
    }
    if bytes.get(old_pos..) != new_bytes.get(new_pos..) {
        return Err(RewriteError::RolledBack(
            "bytes after the last key would change; nothing was written".to_string(),
        ));
    }
    Ok(changed)
}

/// Re-reads the new bytes as the next scan will: the same encoding and text, each new key one
/// token, and XML that parsed before still parses.
fn check_reads_back(
    name: &str,
    old_text: &str,
    new_text: &str,
    new_bytes: &[u8],
    encoding: TextEncoding,
    edits: &[&Edit],
    new_ranges: &[TextRange],
) -> Result<(), RewriteError> {
    let reread = text::decode(new_bytes);
    if !reread.is_lossless() || reread.encoding != encoding || reread.text != new_text {
        return Err(RewriteError::RolledBack(format!(
            "the rewritten file would no longer decode as {}; nothing was written",
            encoding.name()
        )));
    }
    for (edit, new_range) in edits.iter().zip(new_ranges) {
        let new_key = ProductKey::parse(&edit.replacement).ok();
        if new_key.is_none_or(|key| !token_at(new_text, *new_range, &key)) {
            return Err(RewriteError::RolledBack(
                "the new key would not read back as one key token; nothing was written".to_string(),
            ));
        }
    }
    if looks_like_xml(name, old_text) && xml_is_well_formed(old_text) && !xml_is_well_formed(new_text) {
        return Err(RewriteError::RolledBack(
            "the rewritten XML would no longer parse; nothing was written".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn edit_at(text: &str, replacement: &str) -> Edit {
        let start = text.find(MAK).unwrap();
        Edit {
            range: TextRange::new(start, start + MAK.len()),
            replacement: replacement.to_string(),
        }
    }

    fn mak() -> ProductKey {
        ProductKey::parse(MAK).unwrap()
    }

    fn applied(outcome: &EditOutcome) -> ByteRange {
        match outcome {
            EditOutcome::Applied(range) => *range,
            EditOutcome::NotApplied(reason) => panic!("not applied: {reason}"),
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
            let rewrite = rewrite("x.txt", &bytes, &[(&edit_at(text, GVLK), &mak())]).unwrap();
            assert_eq!(rewrite.encoding, encoding);
            let expected = text::encode(&text.replace(MAK, GVLK), encoding).unwrap();
            assert_eq!(rewrite.new_bytes, expected);
            let range = applied(&rewrite.outcomes[0]);
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
        let rewrite = rewrite("a.cmd", &bytes, &[(&edit_at(&decoded, GVLK), &mak())]).unwrap();
        assert_eq!(rewrite.encoding, TextEncoding::SingleByte);
        assert_eq!(applied(&rewrite.outcomes[0]), ByteRange::new(16, 45));
        assert_eq!(&rewrite.new_bytes[..16], &bytes[..16]);
    }

    #[test]
    fn a_key_written_with_character_references_is_rewritten() {
        for written in [
            format!("&#x36;{}", &MAK[1..]),
            "&#54;QWQ4-8NRCW-KHGHV-CR226-3PP&#x51;C".to_string(),
        ] {
            let text = format!("<Key>{written}</Key>");
            let edit = Edit {
                range: TextRange::new(5, 5 + written.len()),
                replacement: GVLK.to_string(),
            };
            let rewrite = rewrite("u.xml", text.as_bytes(), &[(&edit, &mak())]).unwrap();
            assert_eq!(rewrite.new_text, format!("<Key>{GVLK}</Key>"));
        }
        // A reference makguard cannot decode is refused truthfully, not as a changed file.
        let text = format!("<Key>&ent;{}</Key>", &MAK[1..]);
        let edit = Edit {
            range: TextRange::new(5, text.len() - 6),
            replacement: GVLK.to_string(),
        };
        match rewrite("u.xml", text.as_bytes(), &[(&edit, &mak())]) {
            Err(RewriteError::Skipped(reason)) => assert!(reason.contains("fix it by hand"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // A key split across CDATA sections, as an XML parser assembles it: the span is replaced
        // whole, so the parser reads the GVLK.
        let text = format!("<Key><![CDATA[{}]]><![CDATA[{}]]></Key>", &MAK[..12], &MAK[12..]);
        let edit = Edit {
            range: TextRange::new(5, text.len() - 6),
            replacement: GVLK.to_string(),
        };
        let rewrite = rewrite("u.xml", text.as_bytes(), &[(&edit, &mak())]).unwrap();
        assert_eq!(rewrite.new_text, format!("<Key>{GVLK}</Key>"));
    }

    #[test]
    fn refuses_stale_and_non_gvlk_edits() {
        let text = format!("<Key>{MAK}</Key>");
        let bytes = text.as_bytes();
        let stale = Edit {
            range: TextRange::new(0, 29),
            ..edit_at(&text, GVLK)
        };
        assert!(matches!(
            rewrite("u.xml", bytes, &[(&stale, &mak())]),
            Err(RewriteError::Skipped(_))
        ));
        let same_twice = rewrite(
            "u.xml",
            bytes,
            &[(&edit_at(&text, GVLK), &mak()), (&edit_at(&text, GVLK), &mak())],
        )
        .unwrap();
        assert_eq!(same_twice.new_text, format!("<Key>{GVLK}</Key>"));
        assert_eq!(same_twice.outcomes[0], same_twice.outcomes[1]);
        let not_a_gvlk = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
        match rewrite("u.xml", bytes, &[(&edit_at(&text, not_a_gvlk), &mak())]) {
            Err(RewriteError::Skipped(reason)) => assert!(reason.contains("not a KMS client key")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_edit_overlapping_an_earlier_one_is_left_out_and_the_rest_are_made() {
        let other_gvlk = "W269N-WFGWX-YVC9B-4J6C9-T83GX";
        let text = format!("<Key>{MAK}</Key>\n<Key>{MAK}</Key>\n");
        let first = edit_at(&text, GVLK);
        let conflicting = edit_at(&text, other_gvlk);
        let second_start = text.rfind(MAK).unwrap();
        let second = Edit {
            range: TextRange::new(second_start, second_start + MAK.len()),
            replacement: GVLK.to_string(),
        };
        // Given out of text order: the order of the text decides which edit comes first.
        let key = mak();
        let rewrite = rewrite(
            "u.xml",
            text.as_bytes(),
            &[(&second, &key), (&conflicting, &key), (&first, &key)],
        )
        .unwrap();
        assert_eq!(
            rewrite.new_text,
            format!("<Key>{other_gvlk}</Key>\n<Key>{GVLK}</Key>\n")
        );
        assert_eq!(
            applied(&rewrite.outcomes[0]),
            ByteRange::new(second_start, second_start + 29)
        );
        assert_eq!(applied(&rewrite.outcomes[1]), ByteRange::new(5, 34));
        match &rewrite.outcomes[2] {
            EditOutcome::NotApplied(reason) => {
                assert!(reason.contains("overlaps") && reason.contains("5..34"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(rewrite.changed_byte_ranges().len(), 2);
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
