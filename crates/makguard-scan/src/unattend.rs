//! Answer files (`unattend.xml`, `autounattend.xml`): recognised by the
//! `urn:schemas-microsoft-com:unattend` namespace declared on the root `unattend` element, and
//! searched with a streaming XML reader for keys in every setting that holds one
//! (`Microsoft-Windows-Setup` `UserData/ProductKey/Key`, `Microsoft-Windows-Shell-Setup`
//! `ProductKey` in its plain and mixed-content forms, any other `ProductKey` or
//! `ProductKey/Key`), in command lines that install one, in any other text or attribute, and
//! in comments.
//!
//! Every range points at the key's own bytes in the decoded text, so the fixer replaces exactly
//! those. Malformed XML becomes an `MG902` finding at the error; keys before the error are still
//! reported, and the unparsed rest is still searched for key-shaped tokens, so a broken file
//! never hides a MAK.

use std::borrow::Cow;
use std::collections::HashMap;

use makguard_core::classify::is_placeholder;
use makguard_core::rules;
use makguard_core::text::{DecodedText, LineIndex};
use makguard_core::{
    Finding, KeyClass, ProductKey, Rule, SlotValue, TextRange, XmlContext, classify_key, classify_slot,
};
use quick_xml::Reader;
use quick_xml::escape::unescape;
use quick_xml::events::{BytesStart, Event};

use crate::FileContext;
use crate::keyscan::{KeyToken, find_bare_keys, find_dashed_keys, install_command_before, key_word_before};

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
            Ok(Event::Start(start)) | Ok(Event::Empty(start)) => return declares_answer_file_root(&start),
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

/// A run of character data directly inside a key slot.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// The raw bytes in the decoded text (a CDATA section's content only).
    range: TextRange,
    /// CDATA content carries no escapes.
    cdata: bool,
}

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
    segments: Vec<Segment>,
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
        let mut reader = Reader::from_str(&text[body_offset..]);
        loop {
            let resume = self.clamp_offset(body_offset + to_usize(reader.buffer_position()));
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(error) => {
                    let at = self.clamp_offset(body_offset + to_usize(reader.error_position()));
                    self.fail(at, resume, &error.to_string());
                    return;
                }
            };
            let event_end = self.clamp_offset(body_offset + to_usize(reader.buffer_position()));
            match event {
                Event::Start(start) => self.open(&start, resume),
                Event::Empty(start) => {
                    self.open(&start, resume);
                    self.close_top();
                }
                Event::End(_) => self.close_top(),
                Event::Text(content) => {
                    let range = self.range_of(&content, resume, event_end);
                    self.on_text(range, false);
                }
                Event::CData(content) => {
                    let fallback = (resume + "<![CDATA[".len()).min(event_end);
                    let range = self.range_of(&content, fallback, event_end.saturating_sub("]]>".len()));
                    self.on_text(range, true);
                }
                Event::Comment(content) => {
                    let range = self.range_of(&content, resume, event_end);
                    self.scan_free_text(range, true, None, false);
                }
                Event::PI(content) => {
                    let range = self.range_of(&content, resume, event_end);
                    self.scan_free_text(range, false, None, false);
                }
                Event::DocType(content) => {
                    let range = self.range_of(&content, resume, event_end);
                    self.scan_free_text(range, false, None, false);
                }
                Event::Decl(_) => {}
                Event::Eof => {
                    self.at_end_of_file();
                    return;
                }
            }
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        for finding in &mut self.findings {
            if finding.key.is_none() {
                continue;
            }
            let architecture = finding.xml.as_ref().and_then(|xml| xml.architecture.as_deref());
            finding.hints.install_image_name = self.image_names.for_architecture(architecture).map(str::to_string);
        }
        self.findings.sort_by_key(|f| (f.range.map(|r| r.start), f.rule.code));
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
            segments: Vec::new(),
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
                    // Only an attribute long enough to hold a key is worth searching.
                    if attribute.value.len() >= 25
                        && let Some(range) = self.borrowed_range(&attribute.value)
                    {
                        attributes.push((name, range));
                    }
                }
                Err(_) => attribute_error = true,
            }
        }
        self.stack.push(element);
        if attribute_error {
            self.structure_problem(tag_start, "an attribute of this element is not well-formed");
        }
        for (name, range) in attributes {
            self.scan_free_text(range, false, Some(&format!("@{name}")), true);
        }
    }

    /// Evaluates the innermost open element and closes it.
    fn close_top(&mut self) {
        let Some(top) = self.stack.last() else {
            return;
        };
        match top.role {
            Role::KeySlot => {
                let segments = top.segments.clone();
                self.evaluate_key_slot(&segments);
            }
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

    fn on_text(&mut self, range: TextRange, cdata: bool) {
        let raw = self.slice(range);
        if raw.trim().is_empty() {
            return;
        }
        if self.stack.is_empty() && !self.root_seen {
            // Reported when the root turns up; without a root the file has a worse problem.
            self.text_before_root.get_or_insert(range.start);
        } else if self.stack.is_empty() {
            self.structure_problem(range.start, "text stands after the root element");
        }
        match self.stack.last_mut() {
            Some(top) if top.role == Role::KeySlot => top.segments.push(Segment { range, cdata }),
            Some(top) if top.role == Role::MetaDataField => {
                let value = if cdata {
                    Cow::Borrowed(raw)
                } else {
                    unescape(raw).unwrap_or(Cow::Borrowed(raw))
                };
                top.text.push_str(&value);
                self.scan_free_text(range, false, None, !cdata);
            }
            _ => self.scan_free_text(range, false, None, !cdata),
        }
    }

    fn at_end_of_file(&mut self) {
        let end = self.text.len();
        if !self.root_seen {
            self.push_malformed(end, "the document has no root element".to_string());
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
            self.push_malformed(end, message);
        }
    }

    /// A fatal parse error at `at`: reports what the open key settings hold, the error, and any
    /// key in the text the reader could not get to (from `resume` on).
    fn fail(&mut self, at: usize, resume: usize, error: &str) {
        while !self.stack.is_empty() {
            self.close_top();
        }
        let (line, column) = self.index.line_col(self.text, at);
        self.push_malformed(at, mask_keys(error));
        let tail = TextRange::new(resume, self.text.len());
        let what = format!("Text after the XML error at line {line}, column {column} (structure unknown)");
        self.scan_unparsed(tail, &what);
    }

    fn structure_problem(&mut self, at: usize, message: &str) {
        if self.structure_problem_reported {
            return;
        }
        self.structure_problem_reported = true;
        self.push_malformed(at, message.to_string());
    }

    fn push_malformed(&mut self, at: usize, detail: String) {
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
    fn evaluate_key_slot(&mut self, segments: &[Segment]) {
        for segment in segments {
            let Some(range) = trimmed_range(self.text, segment.range) else {
                continue;
            };
            let raw = self.slice(range);
            // Key characters need no escaping, so for a real key the raw text is the value and
            // the range is exact; an escaped spelling still gets the whole raw text replaced.
            let value = if segment.cdata {
                Cow::Borrowed(raw)
            } else {
                unescape(raw).unwrap_or(Cow::Borrowed(raw))
            };
            let xml = self.xml_context(None, false);
            let what = describe(&xml);
            match classify_slot(&value) {
                SlotValue::Empty => {}
                SlotValue::Key(key) => {
                    let bare = !value.contains('-');
                    self.report_key(&rules::UNATTEND_NON_KMS_KEY, range, &key, &what, xml, bare);
                }
                other => {
                    // Decoration around a key ("[KEY]", "KEY (MAK)") does not make it any less a key.
                    let embedded = real_keys(find_dashed_keys(raw), raw);
                    if !embedded.is_empty() {
                        for token in embedded {
                            let key_range = offset_range(token.range, range.start);
                            self.report_key(
                                &rules::UNATTEND_NON_KMS_KEY,
                                key_range,
                                &token.key,
                                &what,
                                xml.clone(),
                                false,
                            );
                        }
                        continue;
                    }
                    let (rule, message) = match other {
                        SlotValue::Placeholder => {
                            let shown = if find_bare_keys(raw).is_empty() {
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
                    let mut finding =
                        Finding::new(rule, self.ctx.path.clone(), message).at(self.text, &self.index, range);
                    finding.xml = Some(xml);
                    self.findings.push(finding);
                }
            }
        }
    }

    /// Key-shaped tokens in text that is not a key setting: a command line, any other element or
    /// attribute, a comment. `escaped` says whether XML escapes apply to the raw text.
    fn scan_free_text(&mut self, range: TextRange, in_comment: bool, attribute: Option<&str>, escaped: bool) {
        let raw = self.slice(range);
        if raw.len() < 25 {
            return;
        }
        for (token, command) in key_tokens(raw, escaped) {
            let key_range = offset_range(token.range, range.start);
            let xml = self.xml_context(attribute, in_comment);
            let what = describe(&xml);
            let rule = if in_comment {
                &rules::UNATTEND_KEY_IN_COMMENT
            } else if command.is_some() {
                &rules::UNATTEND_COMMAND_INSTALLS_KEY
            } else {
                &rules::UNATTEND_NON_KMS_KEY
            };
            let what = match command {
                Some(command) => format!("{what} runs {command} and"),
                None => what,
            };
            self.report_key(rule, key_range, &token.key, &what, xml, token.bare);
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
            self.report_key(rule, key_range, &token.key, what, xml, token.bare);
        }
    }

    /// Reports `key` under `non_gvlk_rule`, or as `MG100` when it is a GVLK.
    fn report_key(
        &mut self,
        non_gvlk_rule: &'static Rule,
        range: TextRange,
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
        let mut finding = crate::key_finding(rule, self.ctx, self.text, &self.index, range, key, what);
        finding.xml = Some(xml);
        finding.hints.bare_key = bare;
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
        let command = install_command_before(&prefix, prefix.len()).map(|c| c.describe());
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
    install_command_before(&prefix, prefix.len()).map(|c| c.describe())
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
        let range = f.range.unwrap();
        assert_eq!(&text[range.start..range.end], MAK);
        let xml = f.xml.as_ref().unwrap();
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
        let range = findings[0].range.unwrap();
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
        assert!(findings[0].xml.as_ref().unwrap().in_comment);
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
