//! Office configuration files: Click-to-Run / Office Deployment Tool `configuration.xml`
//! (`<Product ID="ProPlus2021Volume" PIDKEY="…">`, `MG211`) and MSI Office `config.xml`
//! (`<PIDKEY Value="…"/>`, usually 25 characters without dashes, `MG212`).
//!
//! A `PIDKEY` value is read as an XML parser reads it: character references, the predefined
//! entities and the internal DTD's entities spell the key they expand to (an entity makguard
//! cannot expand is `MG910`/`MG911`). Keys in XML comments are reported under the same rules:
//! they ship with the file. Any other key in the file falls to the text rule (`MG241`). A file
//! that is not well-formed XML is an `MG902` finding: Setup would reject it and makguard
//! cannot say what it holds.

use makguard_core::classify::{SlotValue, classify_slot};
use makguard_core::key::mask_keys_in;
use makguard_core::rules::{XML_ENTITY_EXPANSION_LIMIT, XML_ENTITY_UNRESOLVED, XML_MALFORMED};
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{Detail, Finding, KeySpelling, Rule, TextRange};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::textfile::{is_secret_candidate, leftover_findings};
use crate::xmltext::{Expander, SourceSpan, ValueError, XmlValue};
use crate::{FileContext, key_finding, keyscan};

/// Why the fixer may not rewrite a key spelled with DTD entities.
const NOT_REWRITABLE: &str =
    "the key is spelled with XML entities that no single edit replaces exactly; replace it by hand";

/// Which Office configuration an XML text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfficeLayout {
    /// Office Deployment Tool `configuration.xml`.
    ClickToRun,
    /// MSI Office `config.xml`.
    Msi,
}

/// The Office layout of an XML text, from its root element and the elements it holds.
pub(crate) fn sniff(text: &str) -> Option<OfficeLayout> {
    let mut reader = Reader::from_str(text);
    let root_tag = loop {
        let start = position(&reader);
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                if e.local_name().as_ref() != b"Configuration" {
                    return None;
                }
                break text.get(start..position(&reader)).unwrap_or_default();
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    };
    let lower = text.to_ascii_lowercase();
    if lower.contains("<pidkey") || attribute_value_range(root_tag, "Product").is_some() {
        Some(OfficeLayout::Msi)
    } else if lower.contains("<add") || lower.contains("<product") {
        Some(OfficeLayout::ClickToRun)
    } else {
        None
    }
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// The range of attribute `name`'s value (any case) inside one start tag, relative to the tag.
fn attribute_value_range(tag: &str, name: &str) -> Option<TextRange> {
    let bytes = tag.as_bytes();
    let mut i = 1;
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' && bytes[i] != b'/' {
        i += 1;
    }
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'>' || bytes[i] == b'/' {
            return None;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let attr_name = &tag[name_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = *bytes.get(i)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = i + 1;
        let value_end = value_start + tag[value_start..].find(quote as char)?;
        if attr_name.eq_ignore_ascii_case(name) {
            return Some(TextRange::new(value_start, value_end));
        }
        i = value_end + 1;
    }
}

/// The raw value of attribute `name` as an absolute range in the text.
fn attribute(tag_start: usize, tag: &str, name: &str) -> Option<TextRange> {
    let relative = attribute_value_range(tag, name)?;
    Some(TextRange::new(tag_start + relative.start, tag_start + relative.end))
}

struct OfficeScan<'t, 'c> {
    text: &'t str,
    index: LineIndex,
    ctx: &'t FileContext<'c>,
    rule: &'static Rule,
    findings: Vec<Finding>,
    reported: Vec<TextRange>,
    expander: Expander,
    value_problems_reported: Vec<String>,
}

impl OfficeScan<'_, '_> {
    /// A key attribute whose raw value is `raw_range` of the text.
    fn slot(&mut self, raw_range: TextRange, what: &str, product_id: Option<&str>) {
        let mut value = XmlValue::default();
        value.push_escaped(
            &self.text[raw_range.start..raw_range.end],
            raw_range.start,
            &mut self.expander,
        );
        self.report_value_errors(&value);
        let text = value.value.as_str();
        let leading = text.len() - text.trim_start().len();
        let trimmed = TextRange::new(leading, leading + text.trim().len());
        let SlotValue::Key(key) = classify_slot(&text[trimmed.start..trimmed.end]) else {
            return;
        };
        let span = value.source_span(trimmed);
        let range = span.range();
        self.reported.push(range);
        if key.is_gvlk() {
            return;
        }
        let not_rewritable = matches!(span, SourceSpan::Whole(_)).then(|| NOT_REWRITABLE.to_string());
        let finding = key_finding(self.rule, self.ctx, self.text, &self.index, range, &key, what)
            .with_detail(Detail::Office {
                click_to_run_product_id: product_id.map(str::to_string),
                msi_product: None,
            })
            .spelled(KeySpelling {
                bare: !text.contains('-'),
                not_rewritable,
            });
        self.findings.push(finding);
    }

    /// Entity problems in a value: unknown values are `MG910`/`MG911`, malformed ones `MG902`.
    fn report_value_errors(&mut self, value: &XmlValue) {
        for (range, error) in &value.errors {
            let rule = match error {
                ValueError::External(_) | ValueError::DeclaredElsewhere(_) | ValueError::Markup(_) => {
                    &XML_ENTITY_UNRESOLVED
                }
                ValueError::ExpansionLimit(_) => &XML_ENTITY_EXPANSION_LIMIT,
                ValueError::Malformed(_) => &XML_MALFORMED,
            };
            let detail = mask_keys_in(&error.describe());
            let seen = format!("{}{detail}", rule.code);
            if self.value_problems_reported.contains(&seen) {
                continue;
            }
            self.value_problems_reported.push(seen);
            let finding = Finding::new(
                rule,
                self.ctx.path.clone(),
                format!("The Office configuration's key could not be read in full: {detail}"),
            )
            .at(self.text, &self.index, TextRange::new(range.start, range.start));
            self.findings.push(finding);
        }
    }

    fn comment(&mut self, range: TextRange) {
        let comment = &self.text[range.start..range.end];
        let bare = keyscan::find_bare_keys(comment)
            .into_iter()
            .filter(|t| keyscan::key_word_before(comment, t.range.start));
        for token in keyscan::find_dashed_keys(comment).into_iter().chain(bare) {
            let absolute = TextRange::new(range.start + token.range.start, range.start + token.range.end);
            self.reported.push(absolute);
            if !is_secret_candidate(&token, comment) {
                continue;
            }
            let finding = key_finding(
                self.rule,
                self.ctx,
                self.text,
                &self.index,
                absolute,
                &token.key,
                "An XML comment in the Office configuration",
            );
            self.findings.push(finding.spelled(KeySpelling {
                bare: token.bare,
                not_rewritable: None,
            }));
        }
    }
}

/// Every key finding in an Office configuration, a key in a product's PIDKEY reported as `rule`
/// (the Click-to-Run or the MSI one).
pub(crate) fn scan(rule: &'static Rule, decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let text = decoded.text.as_str();
    let mut scan = OfficeScan {
        text,
        index: LineIndex::new(text),
        ctx,
        rule,
        findings: Vec::new(),
        reported: Vec::new(),
        expander: Expander::default(),
        value_problems_reported: Vec::new(),
    };
    let mut reader = Reader::from_str(text);
    let mut open_elements = 0usize;
    loop {
        let start = position(&reader);
        let event = reader.read_event();
        let end = position(&reader).min(text.len());
        let tag = text.get(start..end).unwrap_or_default();
        if matches!(event, Ok(Event::Start(_))) {
            open_elements += 1;
        }
        match event {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case(b"Product") {
                    let id = attribute(start, tag, "ID").map(|r| text[r.start..r.end].to_string());
                    if let Some(range) = attribute(start, tag, "PIDKEY") {
                        let what = match &id {
                            Some(id) => format!("The PIDKEY of Office product {id}"),
                            None => "The PIDKEY of an Office product".to_string(),
                        };
                        scan.slot(range, &what, id.as_deref());
                    }
                } else if name.as_ref().eq_ignore_ascii_case(b"PIDKEY")
                    && let Some(range) = attribute(start, tag, "Value")
                {
                    scan.slot(range, "The MSI Office PIDKEY Value", None);
                }
            }
            Ok(Event::End(_)) => open_elements = open_elements.saturating_sub(1),
            Ok(Event::DocType(e)) => {
                let content = String::from_utf8_lossy(&e);
                scan.expander.set_doctype(&content);
            }
            Ok(Event::Comment(_)) if tag.len() >= 7 => scan.comment(TextRange::new(start + 4, end - 3)),
            Ok(Event::Eof) => {
                if open_elements > 0 {
                    scan.findings.push(malformed(
                        ctx,
                        text,
                        &scan.index,
                        text.len(),
                        "an element is not closed",
                    ));
                }
                break;
            }
            Err(error) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(0).min(text.len());
                scan.findings
                    .push(malformed(ctx, text, &scan.index, at, &mask_keys_in(&error.to_string())));
                break;
            }
            Ok(_) => {}
        }
    }
    let leftovers = leftover_findings(text, &scan.index, ctx, &scan.reported);
    scan.findings.extend(leftovers);
    scan.findings
}

fn malformed(ctx: &FileContext<'_>, text: &str, index: &LineIndex, at: usize, why: &str) -> Finding {
    let mut at = at;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    Finding::new(
        &XML_MALFORMED,
        ctx.path.clone(),
        format!("The Office configuration is not well-formed XML ({why}); its keys could not be checked"),
    )
    .at(text, index, TextRange::new(at, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::FindingPath;
    use makguard_core::rules::{OFFICE_C2R_NON_KMS_KEY, OFFICE_MSI_NON_KMS_KEY};
    use makguard_core::text::decode;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const OFFICE_GVLK: &str = "FXYTK-NJJ8C-GB6DW-3DYQT-6F7TH";

    fn run(rule: &'static Rule, text: &str) -> Vec<Finding> {
        let path = FindingPath::new("configuration.xml");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        scan(rule, &decode(text.as_bytes()), &ctx)
    }

    #[test]
    fn click_to_run_pidkey_keeps_the_product_id() {
        let text = format!(
            "<Configuration>\n <Add Channel=\"PerpetualVL2021\">\n  <Product ID=\"ProPlus2021Volume\" PIDKEY = ' {MAK} '>\n  </Product>\n  <Product ID=\"ProPlus2021Volume\" PIDKEY=\"{OFFICE_GVLK}\"/>\n </Add>\n</Configuration>\n"
        );
        assert_eq!(sniff(&text), Some(OfficeLayout::ClickToRun));
        let found = run(&OFFICE_C2R_NON_KMS_KEY, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule.code, "MG211");
        assert_eq!(found[0].detail.click_to_run_product_id(), Some("ProPlus2021Volume"));
        assert!(!found[0].spelling().bare);
        let range = found[0].range().unwrap();
        assert_eq!(&text[range.start..range.end], MAK);
        assert_eq!(found[0].line(), Some(3));
    }

    #[test]
    fn msi_pidkey_is_bare_and_comments_count() {
        let bare = MAK.replace('-', "");
        let text = format!(
            "<Configuration Product=\"ProPlus\">\n<PIDKEY Value=\"{bare}\" />\n<!-- old <PIDKEY Value=\"{bare}\"/> -->\n</Configuration>\n"
        );
        assert_eq!(sniff(&text), Some(OfficeLayout::Msi));
        let found = run(&OFFICE_MSI_NON_KMS_KEY, &text);
        let lines: Vec<_> = found
            .iter()
            .map(|f| (f.rule.code, f.line(), f.spelling().bare))
            .collect();
        assert_eq!(lines, vec![("MG212", Some(2), true), ("MG212", Some(3), true)]);
    }

    #[test]
    fn malformed_xml_is_mg902() {
        let found = run(&OFFICE_MSI_NON_KMS_KEY, "<Configuration>\n<PIDKEY Value=\"x\"\n");
        assert!(found.iter().any(|f| f.rule.code == "MG902"), "{found:?}");
        let found = run(&OFFICE_MSI_NON_KMS_KEY, "<Configuration>\n<Add>\n");
        assert!(found.iter().any(|f| f.rule.code == "MG902"), "{found:?}");
    }

    #[test]
    fn attribute_ranges_respect_quotes() {
        let tag = r#"<Product ID="a b" Other='PIDKEY="no"' PIDKEY="yes">"#;
        let range = attribute_value_range(tag, "pidkey").unwrap();
        assert_eq!(&tag[range.start..range.end], "yes");
    }
}
