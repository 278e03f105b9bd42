//! Other text files (any text file, whatever its name: `.ini .log .yml .psd1`, no extension)
//! and the text rule every structured scanner falls back on for the rest of its file. Text
//! larger than the size cap is searched by [`scan_stream`] in bounded memory.
//!
//! Logs and inventories are full of 5×5 strings, so the rule is strict: a post-2009 key whose
//! checksum validates is reported anywhere; any other well-formed key only when a key word
//! (`ProductKey`, `PIDKEY`, `/ipk`, `key=`, …) stands just before it. GVLKs and placeholders are
//! never reported.

use makguard_core::classify::is_placeholder;
use makguard_core::rules::TEXT_NON_KMS_KEY;
use std::io::{self, Read};

use makguard_core::text::{DecodedText, LineIndex, TextEncoding, decode};
use makguard_core::{Checksum, Finding, Span, TextRange};

use crate::keyscan::{self, KeyToken};
use crate::{FileContext, key_finding};

/// True for a key that may leak: neither a public GVLK nor a placeholder.
pub(crate) fn is_secret_candidate(token: &KeyToken, text: &str) -> bool {
    !token.key.is_gvlk() && !is_placeholder(&text[token.range.start..token.range.end])
}

/// The keys of `text` the text rule reports, in text order.
pub(crate) fn reportable_keys(text: &str) -> Vec<KeyToken> {
    // Most text holds no key: a table lookup per byte rules that out before the regexes run.
    if !crate::binary::may_hold_key_any_case(text.as_bytes()) {
        return Vec::new();
    }
    let mut tokens: Vec<KeyToken> = keyscan::find_dashed_keys(text)
        .into_iter()
        .filter(|t| t.key.checksum() == Checksum::Valid || keyscan::key_word_before(text, t.range.start))
        .collect();
    if keyscan::may_hold_key_word(text) {
        tokens.extend(
            keyscan::find_bare_keys(text)
                .into_iter()
                .filter(|t| keyscan::key_word_before(text, t.range.start)),
        );
    }
    tokens.retain(|t| is_secret_candidate(t, text));
    tokens.sort_by_key(|t| t.range.start);
    tokens
}

/// Text-rule findings (`MG241`) for the keys of `text` outside `already_reported`.
pub(crate) fn leftover_findings(
    text: &str,
    index: &LineIndex,
    ctx: &FileContext<'_>,
    already_reported: &[TextRange],
) -> Vec<Finding> {
    reportable_keys(text)
        .into_iter()
        .filter(|t| !already_reported.iter().any(|r| r.overlaps(&t.range)))
        .map(|t| {
            let what = match keyscan::install_command_before_any_spelling(text, t.range.start) {
                Some(command) => format!("A `{}` command in a text file", command.describe()),
                None => "A text file".to_string(),
            };
            key_finding(&TEXT_NON_KMS_KEY, ctx, text, index, t.range, &t.key, &what)
        })
        .collect()
}

/// Every `MG241` finding in a text file.
pub(crate) fn scan(decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let text = decoded.text.as_str();
    // Most text files hold no key: only one that does pays for a line index (the search then
    // runs twice, on a file that is about to be reported anyway).
    if reportable_keys(text).is_empty() {
        return Vec::new();
    }
    let index = LineIndex::new(text);
    leftover_findings(text, &index, ctx, &[])
}

/// Bytes read per step of [`scan_stream`].
pub(crate) const STREAM_CHUNK: usize = 1 << 20;
/// Bytes carried into the next step when a step holds no line break: more than a UTF-16 key
/// with dashes (58 bytes) and its key word.
const STREAM_CARRY: usize = 256;

/// What streaming a text file found.
pub(crate) struct StreamOutcome {
    pub findings: Vec<Finding>,
    pub bytes_read: u64,
    /// Set when reading failed part-way; the findings cover what was read.
    pub error: Option<io::Error>,
}

/// Searches a text file of any size with the text rule in bounded memory: about
/// [`STREAM_CHUNK`] at a time, cut at line breaks so that no key spans two steps (a step with
/// no line break carries its last bytes into the next). Lines and ranges are those of the whole
/// file; only a column after a forced cut in a very long line is counted from the cut.
pub(crate) fn scan_stream<R: Read>(mut reader: R, ctx: &FileContext<'_>) -> StreamOutcome {
    let mut pending: Vec<u8> = Vec::with_capacity(STREAM_CHUNK + STREAM_CARRY);
    let mut encoding: Option<TextEncoding> = None;
    let mut lines_before = 0u32;
    let mut text_before = 0usize;
    let mut outcome = StreamOutcome {
        findings: Vec::new(),
        bytes_read: 0,
        error: None,
    };
    loop {
        let read = (&mut reader).take(STREAM_CHUNK as u64).read_to_end(&mut pending);
        let eof = match read {
            Ok(n) => {
                outcome.bytes_read += n as u64;
                n < STREAM_CHUNK
            }
            Err(error) => {
                outcome.error = Some(error);
                true
            }
        };
        let (cut, carry) = match (eof, last_line_end(&pending, encoding)) {
            (true, _) => (pending.len(), 0),
            (false, Some(end)) => (end, 0),
            (false, None) => (pending.len(), STREAM_CARRY.min(pending.len())),
        };
        let step = decode_step(&pending[..cut], &mut encoding);
        let kept_len = if carry > 0 {
            decode_step(&pending[..cut - carry], &mut encoding).text.len()
        } else {
            step.text.len()
        };
        let text = step.text.as_str();
        let index = LineIndex::new(text);
        for mut finding in leftover_findings(text, &index, ctx, &[]) {
            let Span::Text { range, start } = &mut finding.location.span else {
                continue;
            };
            // A key in the carried bytes is judged in the next step, where it is whole.
            if carry > 0 && range.start >= kept_len {
                continue;
            }
            *range = TextRange {
                start: range.start + text_before,
                end: range.end + text_before,
            };
            start.line += lines_before;
            outcome.findings.push(finding);
        }
        let kept = &text[..kept_len.min(text.len())];
        lines_before += u32::try_from(kept.matches('\n').count()).unwrap_or(u32::MAX);
        text_before += kept.len();
        pending.drain(..cut - carry);
        if eof {
            break;
        }
    }
    outcome
}

/// Decodes one step: the first fixes the encoding, later ones are decoded the same way.
fn decode_step(bytes: &[u8], encoding: &mut Option<TextEncoding>) -> DecodedText {
    let Some(known) = *encoding else {
        let decoded = decode(bytes);
        *encoding = Some(decoded.encoding);
        return decoded;
    };
    let bom: &[u8] = match known {
        TextEncoding::Utf16Le { .. } => b"\xFF\xFE",
        TextEncoding::Utf16Be { .. } => b"\xFE\xFF",
        TextEncoding::Utf32Le { .. } => b"\xFF\xFE\x00\x00",
        TextEncoding::Utf32Be { .. } => b"\x00\x00\xFE\xFF",
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => b"\xEF\xBB\xBF",
        TextEncoding::SingleByte => b"",
    };
    let mut forced = Vec::with_capacity(bom.len() + bytes.len());
    forced.extend_from_slice(bom);
    forced.extend_from_slice(bytes);
    decode(&forced)
}

/// The end of the last whole line in `bytes`, in the step's encoding (UTF-16 line breaks are
/// two bytes at an even offset, UTF-32 ones four at a multiple of four).
fn last_line_end(bytes: &[u8], encoding: Option<TextEncoding>) -> Option<usize> {
    let encoding = encoding.unwrap_or_else(|| decode(&bytes[..bytes.len().min(512)]).encoding);
    match encoding {
        TextEncoding::Utf16Le { .. } => (0..bytes.len().saturating_sub(1))
            .rev()
            .find(|&i| i % 2 == 0 && bytes[i] == b'\n' && bytes[i + 1] == 0)
            .map(|i| i + 2),
        TextEncoding::Utf16Be { .. } => (0..bytes.len().saturating_sub(1))
            .rev()
            .find(|&i| i % 2 == 0 && bytes[i] == 0 && bytes[i + 1] == b'\n')
            .map(|i| i + 2),
        TextEncoding::Utf32Le { .. } => (0..bytes.len().saturating_sub(3))
            .rev()
            .find(|&i| i % 4 == 0 && bytes[i..i + 4] == [b'\n', 0, 0, 0])
            .map(|i| i + 4),
        TextEncoding::Utf32Be { .. } => (0..bytes.len().saturating_sub(3))
            .rev()
            .find(|&i| i % 4 == 0 && bytes[i..i + 4] == [0, 0, 0, b'\n'])
            .map(|i| i + 4),
        _ => bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::FindingPath;
    use makguard_core::text::decode;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const BAD_CHECKSUM: &str = "FRYPW-J6N9G-4BHXK-4BMQ3-3GXXP";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn scan_text(text: &str) -> Vec<Finding> {
        let path = FindingPath::new("x.log");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        scan(&decode(text.as_bytes()), &ctx)
    }

    #[test]
    fn checksum_valid_keys_are_reported_anywhere() {
        let found = scan_text(&format!("line one\nbuild {MAK} done\n"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.code, "MG241");
        assert_eq!((found[0].line(), found[0].column()), (Some(2), Some(7)));
        assert!(!found[0].message.contains("6QWQ4"));
    }

    #[test]
    fn other_keys_need_a_key_word() {
        assert!(scan_text(&format!("id {BAD_CHECKSUM} and {LEGACY}\n")).is_empty());
        let found = scan_text(&format!("ProductKey={LEGACY}\nkey: {BAD_CHECKSUM}\n"));
        assert_eq!(found.len(), 2);
        let bare = LEGACY.replace('-', "");
        assert!(scan_text(&format!("token {bare}\n")).is_empty());
        assert_eq!(scan_text(&format!("PIDKEY={bare}\n")).len(), 1);
    }

    fn stream(bytes: &[u8]) -> Vec<Finding> {
        let path = FindingPath::new("big.log");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        let outcome = scan_stream(bytes, &ctx);
        assert!(outcome.error.is_none());
        assert_eq!(outcome.bytes_read, bytes.len() as u64);
        outcome.findings
    }

    #[test]
    fn streamed_text_finds_what_the_whole_file_finds() {
        let line = "2026-01-01 12:00:00, Info CBS   some progress line that says nothing at all\n";
        let mut text = line.repeat(STREAM_CHUNK * 2 / line.len() + 7);
        text.push_str(&format!("Info SP key is {MAK} here\n"));
        text.push_str(&line.repeat(20));
        let whole = scan_text(&text);
        let streamed = stream(text.as_bytes());
        assert_eq!(whole.len(), 1);
        assert_eq!(streamed.len(), 1);
        assert_eq!(
            (streamed[0].line(), streamed[0].column(), streamed[0].range()),
            (whole[0].line(), whole[0].column(), whole[0].range())
        );
        let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
            .chain(text.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        let streamed = stream(&utf16);
        assert_eq!(streamed.len(), 1);
        assert_eq!(streamed[0].line(), whole[0].line());
    }

    #[test]
    fn a_key_in_one_long_line_across_a_forced_cut_is_found_once() {
        for shift in [0usize, 1, 13, 29, 100, 255, 300] {
            let mut bytes = vec![b'x'; STREAM_CHUNK - shift];
            bytes.extend_from_slice(format!(" {MAK} ").as_bytes());
            bytes.extend(std::iter::repeat_n(b'y', STREAM_CHUNK));
            let found = stream(&bytes);
            assert_eq!(found.len(), 1, "shift {shift}");
            assert_eq!(found[0].line(), Some(1));
        }
    }

    proptest::proptest! {
        /// The prefilter never hides a key the regexes find.
        #[test]
        fn the_prefilter_keeps_every_key(
            before in "[ -~\n]{0,200}",
            after in "[ -~\n]{0,200}",
            lower in proptest::bool::ANY,
            bare in proptest::bool::ANY,
        ) {
            let mut key = if bare { MAK.replace('-', "") } else { MAK.to_string() };
            if lower {
                key = key.to_lowercase();
            }
            let text = format!("{before} {key} {after}");
            proptest::prop_assert!(crate::binary::may_hold_key_any_case(text.as_bytes()));
        }
    }

    #[test]
    fn gvlks_and_placeholders_are_quiet() {
        assert!(scan_text(&format!("ProductKey={GVLK}\nProductKey={}\n", ["BBBBB"; 5].join("-"))).is_empty());
    }
}
