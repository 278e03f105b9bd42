//! Answer files (`unattend.xml`, `autounattend.xml`): recognised by the
//! `urn:schemas-microsoft-com:unattend` namespace declared on the root `unattend` element, and
//! searched with a streaming XML reader for keys in every setting that holds one
//! (`Microsoft-Windows-Setup` `UserData/ProductKey/Key`, `Microsoft-Windows-Shell-Setup`
//! `ProductKey` in its plain and mixed-content forms, any other `ProductKey` or
//! `ProductKey/Key`), in command lines that install one, in any other text or attribute, and
//! in comments.
//!
//! Values are read as any XML parser reads them ([`crate::xmltext`]): a key split across CDATA
//! sections, comments or processing instructions, or written with character references or
//! internal DTD entities, is the key it spells. A range points at the key's own bytes when it
//! is written as itself; otherwise at the bytes that spell it (which the fixer replaces as a
//! whole), or, when no edit can replace it alone (DTD entities), at the whole run of text,
//! with the finding marked not rewritable.
//!
//! Malformed XML becomes an `MG902` finding at the error; keys before the error are still
//! reported, and the unparsed rest is still searched for key-shaped tokens, so a broken file
//! never hides a MAK. A character XML does not allow (a NUL of a UTF-16 string inside UTF-8
//! text) is `MG902` too, and the key it spells is still reported.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use makguard_core::classify::is_placeholder;
use makguard_core::rules;
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{
    Detail, Finding, KeyClass, KeySpelling, ProductKey, Rule, SlotValue, TextRange, XmlContext, classify_key,
    classify_slot,
};
use quick_xml::Reader;
use quick_xml::escape::unescape;
use quick_xml::events::{BytesStart, Event};

use crate::FileContext;
use crate::keyscan::{KeyToken, find_bare_keys, find_dashed_keys, install_command_before, key_word_before};
use crate::xmltext::{Expander, SourceSpan, ValueError, XmlValue, is_xml_char};

/// The answer-file namespace.
pub const UNATTEND_NAMESPACE: &str = "urn:schemas-microsoft-com:unattend";

/// The `MetaData` key whose `Value` names the Windows image to install.
const IMAGE_NAME_METADATA_KEY: &str = "/IMAGE/NAME";

/// The most element names a finding's path shows.
const MAX_PATH_ELEMENTS: usize = 32;

/// How far back from a key the command that installs it is looked for; the regexes in
/// `keyscan` look at most 400 bytes back, and this bound keeps long one-line texts linear.
const COMMAND_LOOKBACK: usize = 512;

/// True when `text` is an answer file: its root element is `unattend` and declares the
/// answer-file namespace (by name alone a file proves nothing, and a mere mention of the
/// namespace in a comment or elsewhere does not count).
pub fn is_answer_file(text: &str) -> bool {
    // Most XML files never mention the namespace; rejecting them costs one substring search.
    if !text.contains(UNATTEND_NAMESPACE) {
        return false;
    }
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(body);
    loop {
        match reader.read_event() {
            Ok(Event::Start(start) | Event::Empty(start)) => return declares_answer_file_root(&start),
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// True when `start` is an `unattend` element bound to the answer-file namespace, either as the
/// default namespace or through the prefix it is written with.
fn declares_answer_file_root(start: &BytesStart<'_>) -> bool {
    let name = start.name();
    if name.local_name().as_ref() != b"unattend" {
        return false;
    }
    let prefix = name.prefix().map(|p| p.as_ref().to_vec());
    start.attributes().flatten().any(|attribute| {
        let key = attribute.key.as_ref();
        let binds_element = match &prefix {
            None => key == b"xmlns",
            Some(prefix) => key.strip_prefix(b"xmlns:") == Some(prefix.as_slice()),
        };
        binds_element
            && attribute
                .unescape_value()
                .is_ok_and(|value| value.trim() == UNATTEND_NAMESPACE)
    })
}

/// Every key finding in an answer file, or an `MG902` finding when it is not well-formed XML.
pub fn scan(decoded: &DecodedText, ctx: &FileContext<'_>) -> Vec<Finding> {
    let mut scanner = Scanner::new(&decoded.text, ctx);
    if !decoded.bytes_decoded_cleanly() {
        // An odd trailing byte (a truncated UTF-16 file), an unpaired surrogate, bad UTF-8
        // after a BOM: characters XML cannot have, so the file is not what Setup can read.
        scanner.push_malformed(
            decoded.text.len(),
            &format!("some of its bytes are not valid {}", decoded.encoding.name()),
        );
    }
    scanner.run();
    scanner.finish()
}

/// What the direct text of an element means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `ProductKey`, or `Key` inside `ProductKey`: the whole text is a key setting.
    KeySlot,
    /// `Key` or `Value` inside `ImageInstall/.../MetaData`: collected for the image-name hint.
    MetaDataField,
    Plain,
}

/// Why the fixer may not rewrite a key whose bytes are not one edit.
const NOT_REWRITABLE: &str = "the key is spelled across XML entities or markup that no single edit replaces exactly; \
replace it by hand";

/// Why the fixer may not rewrite a key written as UTF-16 inside 8-bit text.
const NOT_REWRITABLE_UTF16: &str =
    "the key is written as UTF-16 inside 8-bit text, which is not well-formed XML; replace it by hand";

/// An open element.
#[derive(Debug)]
struct Element {
    local: String,
    start: usize,
    /// `settings pass="…"`.
    pass: Option<String>,
    /// Stack indexes of the innermost `settings` and `component` at or above this element, so
    /// that a finding's context costs the same however deep the nesting.
    settings_at: Option<usize>,
    component_at: Option<usize>,
    /// `component name="…"`.
    component: Option<String>,
    /// `component processorArchitecture="…"`.
    architecture: Option<String>,
    role: Role,
    /// The unescaped direct text of a `MetaDataField`.
    text: String,
    /// For `MetaData`: its `Key` and `Value` children.
    metadata_key: Option<String>,
    metadata_value: Option<String>,
}

/// `/IMAGE/NAME` values: the first one per component architecture, and the first of all.
#[derive(Debug, Default)]
struct ImageNames {
    first: Option<String>,
    by_architecture: HashMap<String, String>,
}

impl ImageNames {
    fn add(&mut self, architecture: Option<String>, name: String) {
        if let Some(architecture) = architecture {
            self.by_architecture.entry(architecture).or_insert_with(|| name.clone());
        }
        self.first.get_or_insert(name);
    }

    /// The image named by a component of the same architecture, else the first one named.
    fn for_architecture(&self, architecture: Option<&str>) -> Option<&str> {
        architecture
            .and_then(|a| self.by_architecture.get(a))
            .or(self.first.as_ref())
            .map(String::as_str)
    }
}

struct Scanner<'t, 'c> {
    text: &'t str,
    ctx: &'c FileContext<'c>,
    index: LineIndex,
    findings: Vec<Finding>,
    stack: Vec<Element>,
    /// `/IMAGE/NAME` values with the architecture of the component that names them.
    image_names: ImageNames,
    root_seen: bool,
    root_closed: bool,
    text_before_root: Option<usize>,
    /// Problems that do not stop the reader (a second root, text outside the root, broken
    /// attributes) are reported once per file: one is enough to fail the file.
    structure_problem_reported: bool,
    /// The document's DTD entities and the expansion budget.
    expander: Expander,
    /// Character data since the last tag: one value, however many pieces.
    run: XmlValue,
    /// Entity problems already reported (each once per file).
    value_problems_reported: HashSet<String>,
}

impl<'t, 'c> Scanner<'t, 'c> {
    fn new(text: &'t str, ctx: &'c FileContext<'c>) -> Self {
        Scanner {
            text,
            ctx,
            index: LineIndex::new(text),
            findings: Vec::new(),
            stack: Vec::new(),
            image_names: ImageNames::default(),
            root_seen: false,
            root_closed: false,
            text_before_root: None,
            structure_problem_reported: false,
            expander: Expander::default(),
            run: XmlValue::default(),
            value_problems_reported: HashSet::new(),
        }
    }

    fn run(&mut self) {
        let text = self.text;
        // A stray BOM character would otherwise read as text before the root element.
        let body_offset = if text.starts_with('\u{FEFF}') {
            '\u{FEFF}'.len_utf8()
        } else {
            0
        };
        self.check_characters(body_offset);
        let mut reader = Reader::from_str(&text[body_offset..]);
        loop {
            let resume = self.clamp_offset(body_offset + to_usize(reader.buffer_position()));
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(error) => {
                    self.flush_run();
                    let at = self.clamp_offset(body_offset + to_usize(reader.error_position()));
                    self.fail(at, resume, &error.to_string());
                    return;
                }
            };
            let event_end = self.clamp_offset(body_offset + to_usize(reader.buffer_position()));
            let outer = TextRange::new(resume, event_end.max(resume));
            match event {
                Event::Text(content) => {
                    let range = self.range_of(&content, resume, event_end);
                    self.run
                        .push_escaped(self.slice(range), range.start, &mut self.expander);
                }
                Event::CData(content) => {
                    let fallback = (resume + "<![CDATA[".len()).min(event_end);
                    let range = self.range_of(&content, fallback, event_end.saturating_sub("]]>".len()));
                    self.run.push_cdata(self.slice(range), range.start, outer);
                }
                Event::Comment(content) => {
                    self.run.push_ignored(outer);
                    let range = self.range_of(&content, resume, event_end);
                    self.scan_markup_text(range, true);
                }
                Event::PI(content) => {
                    self.run.push_ignored(outer);
                    let range = self.range_of(&content, resume, event_end);
                    self.scan_markup_text(range, false);
                }
                markup => {
                    self.flush_run();
                    if !self.on_markup(markup, resume, event_end) {
                        return;
                    }
                }
            }
        }
    }

    /// Handles an event that ends a run of character data; false at the end of the file.
    fn on_markup(&mut self, event: Event<'_>, resume: usize, event_end: usize) -> bool {
        match event {
            Event::Start(start) => self.open(&start, resume),
            Event::Empty(start) => {
                self.open(&start, resume);
                self.close_top();
            }
            Event::End(_) => self.close_top(),
            Event::DocType(content) => {
                let range = self.range_of(&content, resume, event_end);
                self.expander.set_doctype(self.slice(range));
                self.scan_markup_text(range, false);
            }
            Event::Eof => {
                self.at_end_of_file();
                return false;
            }
            _ => {}
        }
        true
    }

    /// A character XML does not allow makes the file not well-formed; a NUL most often
    /// belongs to a UTF-16 string pasted into 8-bit text.
    fn check_characters(&mut self, from: usize) {
        let Some((at, c)) = self.text[from..].char_indices().find(|&(_, c)| !is_xml_char(c)) else {
            return;
        };
        let at = from + at;
        let (line, column) = self.index.line_col(self.text, at);
        let hint = if c == '\0' {
            " (a UTF-16 string inside 8-bit text reads like this)"
        } else {
            ""
        };
        self.push_malformed(
            at,
            &format!(
                "the character U+{:04X} at line {line}, column {column} is not allowed in XML{hint}",
                u32::from(c)
            ),
        );
    }

    fn finish(mut self) -> Vec<Finding> {
        for finding in &mut self.findings {
            if finding.key.is_none() {
                continue;
            }
            if let Detail::Xml {
                context,
                install_image_name,
            } = &mut finding.detail
            {
                let architecture = context.architecture.as_deref();
                *install_image_name = self.image_names.for_architecture(architecture).map(str::to_string);
            }
        }
        self.findings.sort_by_key(|f| (f.range().map(|r| r.start), f.rule.code));
        self.findings
    }

    // --- Structure ---------------------------------------------------------------------------

    fn open(&mut self, start: &BytesStart<'_>, tag_start: usize) {
        if self.stack.is_empty() {
            if self.root_closed {
                self.structure_problem(tag_start, "a second root element follows the first one");
            }
            self.root_seen = true;
            if let Some(at) = self.text_before_root.take() {
                self.structure_problem(at, "text stands before the root element");
            }
        }
        let local = masked(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
        let parent = self.stack.last().map(|e| e.local.as_str());
        let parent_is = |name: &str| parent.is_some_and(|p| p.eq_ignore_ascii_case(name));
        let role = if local.eq_ignore_ascii_case("ProductKey")
            || (local.eq_ignore_ascii_case("Key") && parent_is("ProductKey"))
        {
            Role::KeySlot
        } else if (local == "Key" || local == "Value") && parent_is("MetaData") {
            Role::MetaDataField
        } else {
            Role::Plain
        };
        let mut element = Element {
            settings_at: if local == "settings" {
                Some(self.stack.len())
            } else {
                self.stack.last().and_then(|e| e.settings_at)
            },
            component_at: if local == "component" {
                Some(self.stack.len())
            } else {
                self.stack.last().and_then(|e| e.component_at)
            },
            local,
            start: tag_start,
            pass: None,
            component: None,
            architecture: None,
            role,
            text: String::new(),
            metadata_key: None,
            metadata_value: None,
        };
        let mut attributes = Vec::new();
        let mut attribute_error = false;
        for attribute in start.attributes() {
            match attribute {
                Ok(attribute) => {
                    let name = masked(String::from_utf8_lossy(attribute.key.as_ref()).into_owned());
                    let slot = match (element.local.as_str(), name.as_str()) {
                        ("settings", "pass") => Some(&mut element.pass),
                        ("component", "name") => Some(&mut element.component),
                        ("component", "processorArchitecture") => Some(&mut element.architecture),
                        _ => None,
                    };
                    if let Some(slot) = slot {
                        *slot = attribute.unescape_value().ok().map(|v| masked(v.into_owned()));
                    }
                    // Only an attribute that is or may expand to a key's length is worth reading.
                    if (attribute.value.len() >= 25 || attribute.value.contains(&b'&'))
                        && let Some(range) = self.borrowed_range(&attribute.value)
                    {
                        let mut value = XmlValue::default();
                        value.push_escaped(self.slice(range), range.start, &mut self.expander);
                        attributes.push((name, value));
                    }
                }
                Err(_) => attribute_error = true,
            }
        }
        self.stack.push(element);
        if attribute_error {
            self.structure_problem(tag_start, "an attribute of this element is not well-formed");
        }
        for (name, value) in attributes {
            self.report_value_errors(&value);
            self.scan_value(&value, Some(&format!("@{name}")));
        }
    }

    /// Evaluates the innermost open element and closes it.
    fn close_top(&mut self) {
        let Some(top) = self.stack.last() else {
            return;
        };
        match top.role {
            // Its text was evaluated run by run.
            Role::KeySlot => {}
            Role::MetaDataField => {
                let value = masked(top.text.trim().to_string());
                let is_key = top.local == "Key";
                let depth = self.stack.len();
                if depth >= 2 {
                    let parent = &mut self.stack[depth - 2];
                    if is_key {
                        parent.metadata_key = Some(value);
                    } else {
                        parent.metadata_value = Some(value);
                    }
                }
            }
            Role::Plain => {
                if top.local == "MetaData"
                    && let (Some(key), Some(value)) = (&top.metadata_key, &top.metadata_value)
                    && key.eq_ignore_ascii_case(IMAGE_NAME_METADATA_KEY)
                    && !value.is_empty()
                {
                    let architecture = self.xml_context(None, false).architecture;
                    self.image_names.add(architecture, value.clone());
                }
            }
        }
        self.stack.pop();
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    /// Evaluates the character data read since the last tag as the value of the element it
    /// belongs to.
    fn flush_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        if run.is_empty() {
            return;
        }
        self.report_value_errors(&run);
        if run.value.trim().is_empty() {
            return;
        }
        let at = run.span().start;
        if self.stack.is_empty() && !self.root_seen {
            // Reported when the root turns up; without a root the file has a worse problem.
            self.text_before_root.get_or_insert(at);
        } else if self.stack.is_empty() {
            self.structure_problem(at, "text stands after the root element");
        }
        match self.stack.last_mut() {
            Some(top) if top.role == Role::KeySlot => self.evaluate_key_slot(&run),
            Some(top) if top.role == Role::MetaDataField => {
                top.text.push_str(&run.value);
                self.scan_value(&run, None);
            }
            _ => self.scan_value(&run, None),
        }
    }

    /// Entity problems in a value: unknown values are `MG910`/`MG911`, malformed ones `MG902`.
    fn report_value_errors(&mut self, value: &XmlValue) {
        for (range, error) in &value.errors {
            let rule = match error {
                ValueError::External(_) | ValueError::DeclaredElsewhere(_) | ValueError::Markup(_) => {
                    &rules::XML_ENTITY_UNRESOLVED
                }
                ValueError::ExpansionLimit(_) => &rules::XML_ENTITY_EXPANSION_LIMIT,
                ValueError::Malformed(_) => &rules::XML_MALFORMED,
            };
            let detail = mask_keys(&error.describe());
            if !self.value_problems_reported.insert(format!("{}{detail}", rule.code)) {
                continue;
            }
            let message = if rule == &rules::XML_MALFORMED {
                format!("The answer file is not well-formed XML: {detail}")
            } else {
                format!("The answer file's text could not be read in full: {detail}; it may hold a key")
            };
            let at = self.clamp_offset(range.start);
            let finding =
                Finding::new(rule, self.ctx.path.clone(), message).at(self.text, &self.index, TextRange::new(at, at));
            self.findings.push(finding);
        }
    }

    fn at_end_of_file(&mut self) {
        let end = self.text.len();
        if !self.root_seen {
            self.push_malformed(end, "the document has no root element");
            return;
        }
        if let Some(innermost) = self.stack.last() {
            let (line, column) = self.index.line_col(self.text, innermost.start);
            let message = format!(
                "the file ends inside element <{}> opened at line {line}, column {column}",
                innermost.local
            );
            while !self.stack.is_empty() {
                self.close_top();
            }
            self.push_malformed(end, &message);
        }
    }

    /// A fatal parse error at `at`: reports what the open key settings hold, the error, and any
    /// key in the text the reader could not get to (from `resume` on).
    fn fail(&mut self, at: usize, resume: usize, error: &str) {
        while !self.stack.is_empty() {
            self.close_top();
        }
        let (line, column) = self.index.line_col(self.text, at);
        self.push_malformed(at, &mask_keys(error));
        let tail = TextRange::new(resume, self.text.len());
        let what = format!("Text after the XML error at line {line}, column {column} (structure unknown)");
        self.scan_unparsed(tail, &what);
    }

    fn structure_problem(&mut self, at: usize, message: &str) {
        if self.structure_problem_reported {
            return;
        }
        self.structure_problem_reported = true;
        self.push_malformed(at, message);
    }

    fn push_malformed(&mut self, at: usize, detail: &str) {
        let at = self.clamp_offset(at);
        let finding = Finding::new(
            &rules::XML_MALFORMED,
            self.ctx.path.clone(),
            format!("The answer file is not well-formed XML: {detail}"),
        )
        .at(self.text, &self.index, TextRange::new(at, at));
        self.findings.push(finding);
    }

    // --- Keys --------------------------------------------------------------------------------

    /// A key setting: its whole text should be one key (or empty).
    fn evaluate_key_slot(&mut self, run: &XmlValue) {
        let Some(trimmed) = trimmed_range(&run.value, TextRange::new(0, run.value.len())) else {
            return;
        };
        let value = &run.value[trimmed.start..trimmed.end];
        let span = run.source_span(trimmed);
        let range = span.range();
        let xml = self.xml_context(None, false);
        let what = describe(&xml);
        let mut reported = Vec::new();
        match classify_slot(value) {
            SlotValue::Empty => {}
            SlotValue::Key(key) => {
                let bare = !value.contains('-');
                self.report_key(&rules::UNATTEND_NON_KMS_KEY, span, &key, &what, xml.clone(), bare);
                reported.push(range);
            }
            other => {
                // Decoration around a key ("[KEY]", "KEY (MAK)") does not make it any less a key.
                let embedded = real_keys(find_dashed_keys(value), value);
                for token in &embedded {
                    let token_span = run.source_span(offset_range(token.range, trimmed.start));
                    self.report_key(
                        &rules::UNATTEND_NON_KMS_KEY,
                        token_span,
                        &token.key,
                        &what,
                        xml.clone(),
                        false,
                    );
                    reported.push(token_span.range());
                }
                if embedded.is_empty() && !self.report_utf16_keys(run, &rules::UNATTEND_NON_KMS_KEY, &what, &xml) {
                    self.report_slot_value(&other, value, range, &what, xml.clone());
                }
            }
        }
        // A key written as itself in one piece still ships with the file, whatever the pieces
        // around it make of the value.
        for piece in run.written_pieces() {
            self.scan_written_piece(piece, &reported, Some(&rules::UNATTEND_NON_KMS_KEY));
        }
    }

    /// What a key setting holds when it is not a key.
    fn report_slot_value(&mut self, slot: &SlotValue, value: &str, range: TextRange, what: &str, xml: XmlContext) {
        let (rule, message) = match slot {
            SlotValue::Placeholder => {
                let shown = if find_bare_keys(value).is_empty() {
                    format!(" \"{}\"", truncate_chars(value.trim(), 48))
                } else {
                    String::new()
                };
                (
                    &rules::UNATTEND_PLACEHOLDER_KEY,
                    format!("{what} holds the placeholder{shown}, not a key"),
                )
            }
            SlotValue::Partial => (
                &rules::UNATTEND_PARTIAL_KEY,
                format!("{what} holds a truncated key (four groups of five characters)"),
            ),
            _ => (
                &rules::UNATTEND_MALFORMED_KEY,
                format!(
                    "{what} holds a value of {} characters that is not a product key",
                    value.trim().chars().count()
                ),
            ),
        };
        let finding = Finding::new(rule, self.ctx.path.clone(), mask_keys(&message))
            .at(self.text, &self.index, range)
            .with_detail(xml_detail(xml));
        self.findings.push(finding);
    }

    /// Keys in a value with NULs taken out: UTF-16 text inside 8-bit text. True when any.
    fn report_utf16_keys(&mut self, run: &XmlValue, rule: &'static Rule, what: &str, xml: &XmlContext) -> bool {
        if !run.value.contains('\0') {
            return false;
        }
        let without_nuls: String = run.value.chars().filter(|&c| c != '\0').collect();
        let tokens = key_tokens(&without_nuls, false);
        for (token, _) in &tokens {
            let finding = crate::key_finding(
                rule,
                self.ctx,
                self.text,
                &self.index,
                run.span(),
                &token.key,
                &format!("{what} (as UTF-16 inside 8-bit text)"),
            )
            .with_detail(xml_detail(xml.clone()))
            .spelled(KeySpelling {
                bare: token.bare,
                not_rewritable: Some(NOT_REWRITABLE_UTF16.to_string()),
            });
            self.findings.push(finding);
        }
        !tokens.is_empty()
    }

    /// Key-shaped tokens in a value that is not a key setting (element text, an attribute),
    /// read as a parser reads it, and in each piece written as itself.
    fn scan_value(&mut self, run: &XmlValue, attribute: Option<&str>) {
        let mut reported = Vec::new();
        if run.value.len() >= 25 {
            for (token, command) in key_tokens(&run.value, false) {
                let span = run.source_span(token.range);
                let xml = self.xml_context(attribute, false);
                let what = describe(&xml);
                let (rule, what) = command_rule(command, what, &rules::UNATTEND_NON_KMS_KEY);
                self.report_key(rule, span, &token.key, &what, xml, token.bare);
                reported.push(span.range());
            }
            let xml = self.xml_context(attribute, false);
            let what = describe(&xml);
            self.report_utf16_keys(run, &rules::UNATTEND_NON_KMS_KEY, &what, &xml);
        }
        for piece in run.written_pieces() {
            self.scan_written_piece(piece, &reported, None);
        }
    }

    /// Keys written as themselves in one piece of character data (`range`, escapes apply),
    /// leaving out those that overlap `reported`; `rule` overrides the rule for keys outside
    /// a command.
    fn scan_written_piece(&mut self, range: TextRange, reported: &[TextRange], rule: Option<&'static Rule>) {
        let raw = self.slice(range);
        if raw.len() < 25 {
            return;
        }
        for (token, command) in key_tokens(raw, true) {
            let key_range = offset_range(token.range, range.start);
            if reported.iter().any(|r| r.overlaps(&key_range)) {
                continue;
            }
            let xml = self.xml_context(None, false);
            let what = describe(&xml);
            let (rule, what) = command_rule(command, what, rule.unwrap_or(&rules::UNATTEND_NON_KMS_KEY));
            self.report_key(rule, SourceSpan::Exact(key_range), &token.key, &what, xml, token.bare);
        }
    }

    /// Key-shaped tokens in markup that is not character data (a comment, a processing
    /// instruction, the DTD), where no XML escapes apply.
    fn scan_markup_text(&mut self, range: TextRange, in_comment: bool) {
        let raw = self.slice(range);
        if raw.len() < 25 {
            return;
        }
        for (token, command) in key_tokens(raw, false) {
            let key_range = offset_range(token.range, range.start);
            let xml = self.xml_context(None, in_comment);
            let what = describe(&xml);
            let (rule, what) = command_rule(command, what, &rules::UNATTEND_NON_KMS_KEY);
            let rule = if in_comment {
                &rules::UNATTEND_KEY_IN_COMMENT
            } else {
                rule
            };
            self.report_key(rule, SourceSpan::Exact(key_range), &token.key, &what, xml, token.bare);
        }
    }

    /// Key-shaped tokens in the text after a fatal XML error, where elements are unknown.
    fn scan_unparsed(&mut self, range: TextRange, what: &str) {
        let raw = self.slice(range);
        // Whether a comment is open, followed from token to token so the tail is read once.
        let mut in_comment = false;
        let mut followed_to = 0;
        for (token, command) in key_tokens(raw, true) {
            let between = &raw[followed_to..token.range.start];
            match (between.rfind("<!--"), between.rfind("-->")) {
                (Some(open), Some(close)) => in_comment = open > close,
                (Some(_), None) => in_comment = true,
                (None, Some(_)) => in_comment = false,
                (None, None) => {}
            }
            followed_to = token.range.start;
            let rule = if in_comment {
                &rules::UNATTEND_KEY_IN_COMMENT
            } else if command.is_some() {
                &rules::UNATTEND_COMMAND_INSTALLS_KEY
            } else {
                &rules::UNATTEND_NON_KMS_KEY
            };
            let xml = XmlContext {
                in_comment,
                ..XmlContext::default()
            };
            let key_range = offset_range(token.range, range.start);
            self.report_key(rule, SourceSpan::Exact(key_range), &token.key, what, xml, token.bare);
        }
    }

    /// Reports `key` under `non_gvlk_rule`, or as `MG100` when it is a GVLK, at `span`.
    fn report_key(
        &mut self,
        non_gvlk_rule: &'static Rule,
        span: SourceSpan,
        key: &ProductKey,
        what: &str,
        xml: XmlContext,
        bare: bool,
    ) {
        let rule = if classify_key(key, self.ctx.key_config).class == KeyClass::Gvlk {
            &rules::UNATTEND_GVLK
        } else {
            non_gvlk_rule
        };
        let not_rewritable = matches!(span, SourceSpan::Whole(_)).then(|| NOT_REWRITABLE.to_string());
        let finding = crate::key_finding(rule, self.ctx, self.text, &self.index, span.range(), key, what)
            .with_detail(xml_detail(xml))
            .spelled(KeySpelling { bare, not_rewritable });
        self.findings.push(finding);
    }

    // --- Context and offsets -----------------------------------------------------------------

    /// Pass, component, architecture and element path of the innermost open element, with
    /// `extra` (an attribute) appended to the path.
    fn xml_context(&self, extra: Option<&str>, in_comment: bool) -> XmlContext {
        let top = self.stack.last();
        let pass = top.and_then(|e| e.settings_at).and_then(|i| self.stack[i].pass.clone());
        let (component, architecture, path_start) = match top.and_then(|e| e.component_at) {
            Some(i) => (
                self.stack[i].component.clone(),
                self.stack[i].architecture.clone(),
                i + 1,
            ),
            // Outside a component the path starts below the root element.
            None => (None, None, 1.min(self.stack.len())),
        };
        // Real answer files nest a few levels; a pathological one keeps only its innermost names.
        let elided = self.stack.len().saturating_sub(path_start) > MAX_PATH_ELEMENTS;
        let path_start = path_start.max(self.stack.len().saturating_sub(MAX_PATH_ELEMENTS));
        let mut path: Vec<&str> = self.stack[path_start..].iter().map(|e| e.local.as_str()).collect();
        if elided {
            path.insert(0, "…");
        }
        if let Some(extra) = extra {
            path.push(extra);
        }
        XmlContext {
            pass,
            component,
            architecture,
            element_path: path.join("/"),
            in_comment,
        }
    }

    /// The range of `content` (borrowed from the text) in the text, or `start..end` as the
    /// reader's positions give it.
    fn range_of(&self, content: &[u8], start: usize, end: usize) -> TextRange {
        self.borrowed_range(content).unwrap_or_else(|| {
            let start = self.clamp_offset(start);
            TextRange::new(start, self.clamp_offset(end).max(start))
        })
    }

    /// Where `bytes` lie in the text, when they are a slice of it.
    fn borrowed_range(&self, bytes: &[u8]) -> Option<TextRange> {
        let base = self.text.as_ptr().addr();
        let start = bytes.as_ptr().addr().checked_sub(base)?;
        let end = start.checked_add(bytes.len())?;
        (end <= self.text.len() && self.text.is_char_boundary(start) && self.text.is_char_boundary(end))
            .then(|| TextRange::new(start, end))
    }

    fn slice(&self, range: TextRange) -> &'t str {
        self.text.get(range.start..range.end).unwrap_or("")
    }

    /// `offset` within the text, moved back to a character boundary.
    fn clamp_offset(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// The rule and wording for a key in `what`: after an install `command`, the command rule and
/// the command named; otherwise `outside_command`.
fn command_rule(command: Option<&str>, what: String, outside_command: &'static Rule) -> (&'static Rule, String) {
    match command {
        Some(command) => (
            &rules::UNATTEND_COMMAND_INSTALLS_KEY,
            format!("{what} runs {command} and"),
        ),
        None => (outside_command, what),
    }
}

/// Dashed keys, and bare 25-character keys where a command or key word stands right before
/// them, with the command that installs each (if one does). Placeholders are left out.
fn key_tokens(raw: &str, escaped: bool) -> Vec<(KeyToken, Option<&'static str>)> {
    let mut out = Vec::new();
    for token in real_keys(find_dashed_keys(raw), raw) {
        let command = command_before(raw, token.range.start, escaped);
        out.push((token, command));
    }
    for token in real_keys(find_bare_keys(raw), raw) {
        let prefix = prefix_before(raw, token.range.start, escaped);
        let command = install_command_before(&prefix, prefix.len()).map(super::keyscan::InstallCommand::describe);
        if command.is_some() || key_word_before(&prefix, prefix.len()) {
            out.push((token, command));
        }
    }
    out.sort_by_key(|(token, _)| token.range.start);
    out
}

/// Drops tokens that are placeholders (`XXXXX-XXXXX-…` is key-shaped: X is a key symbol).
fn real_keys(tokens: Vec<KeyToken>, raw: &str) -> Vec<KeyToken> {
    tokens
        .into_iter()
        .filter(|t| !is_placeholder(raw.get(t.range.start..t.range.end).unwrap_or("")))
        .collect()
}

fn command_before(raw: &str, offset: usize, escaped: bool) -> Option<&'static str> {
    let prefix = prefix_before(raw, offset, escaped);
    install_command_before(&prefix, prefix.len()).map(super::keyscan::InstallCommand::describe)
}

/// The text of the line before `offset` within `raw` (bounded), unescaped when XML escapes
/// apply, so `slmgr /ipk &quot;KEY&quot;` reads as the command it is.
fn prefix_before(raw: &str, offset: usize, escaped: bool) -> Cow<'_, str> {
    let mut window_start = offset.saturating_sub(COMMAND_LOOKBACK);
    while !raw.is_char_boundary(window_start) {
        window_start += 1;
    }
    let window = &raw[window_start..offset];
    let line = window.rfind(['\n', '\r']).map_or(window, |i| &window[i + 1..]);
    if escaped {
        unescape(line).unwrap_or(Cow::Borrowed(line))
    } else {
        Cow::Borrowed(line)
    }
}

/// `range` without leading and trailing whitespace; `None` when nothing remains.
fn trimmed_range(text: &str, range: TextRange) -> Option<TextRange> {
    let raw = text.get(range.start..range.end)?;
    let trimmed_start = raw.trim_start();
    if trimmed_start.is_empty() {
        return None;
    }
    let start = range.start + (raw.len() - trimmed_start.len());
    let end = start + trimmed_start.trim_end().len();
    Some(TextRange::new(start, end))
}

fn offset_range(range: TextRange, by: usize) -> TextRange {
    TextRange::new(range.start + by, range.end + by)
}

/// `Microsoft-Windows-Shell-Setup/ProductKey (pass specialize, amd64)`, prefixed with
/// `A comment in` for comments; the start of a finding's message.
/// The detail of a finding at `context`; the image name is filled in when the whole answer
/// file has been read.
fn xml_detail(context: XmlContext) -> Detail {
    Detail::Xml {
        context,
        install_image_name: None,
    }
}

fn describe(xml: &XmlContext) -> String {
    let mut out = match (&xml.component, xml.element_path.is_empty()) {
        (Some(component), false) => format!("{component}/{}", xml.element_path),
        (Some(component), true) => component.clone(),
        (None, false) => xml.element_path.clone(),
        (None, true) if xml.in_comment => "the answer file".to_string(),
        (None, true) => "The answer file".to_string(),
    };
    let mut where_ = Vec::new();
    if let Some(pass) = &xml.pass {
        where_.push(format!("pass {pass}"));
    }
    if let Some(architecture) = &xml.architecture {
        where_.push(architecture.clone());
    }
    if !where_.is_empty() {
        out.push_str(&format!(" ({})", where_.join(", ")));
    }
    if xml.in_comment {
        out = format!("A comment in {out}");
    }
    out
}

fn mask_keys(text: &str) -> String {
    makguard_core::key::mask_keys_in(text)
}

/// `text` with keys masked, cheaply: names and attribute values end up in messages and in
/// the XML context of findings, and a hostile file can put a key there.
fn masked(text: String) -> String {
    if text.len() < 25 { text } else { mask_keys(&text) }
}

fn truncate_chars(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

fn to_usize(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::FindingPath;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const PRO_GVLK: &str = "W269N-WFGWX-YVC9B-4J6C9-T83GX";

    fn run(text: &str) -> Vec<Finding> {
        let path = FindingPath::new("unattend.xml");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        scan(&makguard_core::text::decode(text.as_bytes()), &ctx)
    }

    fn wrap(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"{UNATTEND_NAMESPACE}\">\n{body}\n</unattend>\n"
        )
    }

    #[test]
    fn recognises_answer_files_by_root_namespace() {
        assert!(is_answer_file(&wrap("")));
        assert!(is_answer_file(&format!(
            "\u{FEFF}<u:unattend xmlns:u=\"{UNATTEND_NAMESPACE}\"/>"
        )));
        assert!(!is_answer_file(&format!(
            "<!-- {UNATTEND_NAMESPACE} --><Configuration/>"
        )));
        assert!(!is_answer_file(&format!("<other xmlns=\"{UNATTEND_NAMESPACE}\"/>")));
        assert!(!is_answer_file(&format!(
            "<u:unattend xmlns=\"{UNATTEND_NAMESPACE}\"/>"
        )));
        assert!(!is_answer_file("<unattend/>"));
    }

    #[test]
    fn mixed_content_key_has_exact_range() {
        let text = wrap(&format!(
            "<settings pass=\"windowsPE\"><component name=\"Microsoft-Windows-Setup\" processorArchitecture=\"amd64\">\
<UserData><ProductKey>  {MAK}\n  <WillShowUI>Never</WillShowUI>\n</ProductKey></UserData></component></settings>"
        ));
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.rule.code, "MG101");
        let range = f.range().unwrap();
        assert_eq!(&text[range.start..range.end], MAK);
        let xml = f.xml().unwrap();
        assert_eq!(xml.element_path, "UserData/ProductKey");
        assert_eq!(xml.pass.as_deref(), Some("windowsPE"));
        assert!(!f.message.contains("6QWQ4"));
    }

    #[test]
    fn escaped_command_prefix_is_recognised() {
        let text = wrap(&format!(
            "<settings pass=\"oobeSystem\"><component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"x86\">\
<FirstLogonCommands><SynchronousCommand><CommandLine>cmd /c slmgr.vbs /ipk &quot;{MAK}&quot; &amp;&amp; slmgr /ato</CommandLine>\
</SynchronousCommand></FirstLogonCommands></component></settings>"
        ));
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].rule.code, "MG103");
        let range = findings[0].range().unwrap();
        assert_eq!(&text[range.start..range.end], MAK);
    }

    #[test]
    fn placeholders_in_comments_are_not_keys() {
        let text = wrap(&format!("<!-- <Key>{}</Key> -->", ["XXXXX"; 5].join("-")));
        assert!(run(&text).is_empty());
        let text = wrap(&format!("<!-- <Key>{PRO_GVLK}</Key> -->"));
        let findings = run(&text);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule.code, "MG100");
        assert!(findings[0].xml().unwrap().in_comment);
    }

    #[test]
    fn parser_errors_mask_keys() {
        let masked = mask_keys(&format!("expected `{MAK}` and `{PRO_GVLK}`"));
        assert!(!masked.contains("6QWQ4"));
        assert!(masked.contains("3PPQC") && masked.contains(PRO_GVLK));
    }

    #[test]
    fn unclosed_elements_are_malformed_and_keys_before_still_count() {
        let text = format!(
            "<unattend xmlns=\"{UNATTEND_NAMESPACE}\"><settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\">\
<ProductKey>{MAK}</ProductKey>"
        );
        let findings = run(&text);
        let codes: Vec<_> = findings.iter().map(|f| f.rule.code).collect();
        assert_eq!(codes, ["MG101", "MG902"]);
        assert!(findings[1].message.contains("<component>"));
    }
}
