//! XML character data as an XML parser reads it: a run of text between two tags is one value
//! however it is written — plain text, several CDATA sections, comments and processing
//! instructions between pieces, character references (`&#x36;`), the predefined entities and
//! the document's internal DTD entities (nested ones included). Each value keeps a map back
//! to the bytes it came from, so a key found in the value gets a range in the file.
//!
//! Expansion is bounded: a document's entities together expand to at most
//! [`MAX_EXPANDED_CHARS`] characters (the "billion laughs" attack stops there, as an error).
//! External entities (`SYSTEM`/`PUBLIC`) are never expanded and no file they name is read; a
//! reference to one is an error, since the value it stands for is unknown.

use std::collections::HashMap;

use makguard_core::TextRange;

/// The most characters all entity references of one document may expand to.
pub(crate) const MAX_EXPANDED_CHARS: usize = 1 << 20;

/// How deep entities may refer to entities.
const MAX_ENTITY_DEPTH: usize = 32;

/// Why part of a value could not be read as a parser would read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// `&name;` names an external (`SYSTEM`/`PUBLIC`) entity: its value is unknown.
    External(String),
    /// `&name;` is declared nowhere makguard can see, but the DTD reads declarations
    /// makguard does not (an external subset, parameter entities).
    DeclaredElsewhere(String),
    /// `&name;` holds markup (`<`); makguard reads entities of text only.
    Markup(String),
    /// The document's entities expand beyond [`MAX_EXPANDED_CHARS`] or nest too deep.
    ExpansionLimit(String),
    /// Not well-formed: an undeclared entity, one that refers to itself, an unparsed
    /// (`NDATA`) entity in text, a character reference to no XML character.
    Malformed(String),
}

impl ValueError {
    pub(crate) fn describe(&self) -> String {
        match self {
            ValueError::External(name) => format!(
                "the entity &{name}; is external (SYSTEM or PUBLIC); makguard never reads the file it names, so its value is unknown"
            ),
            ValueError::DeclaredElsewhere(name) => format!(
                "the entity &{name}; is not declared in the internal DTD subset, and the DTD reads an external subset or parameter entities makguard does not expand"
            ),
            ValueError::Markup(name) => {
                format!("the entity &{name}; holds markup; makguard expands only entities of text")
            }
            ValueError::ExpansionLimit(name) => format!(
                "expanding the entity &{name}; exceeds makguard's limit of {MAX_EXPANDED_CHARS} characters or {MAX_ENTITY_DEPTH} levels per document"
            ),
            ValueError::Malformed(why) => why.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entity {
    /// The replacement text (character references in the literal already expanded).
    Internal(String),
    External,
    Unparsed,
}

/// The general entities of a document's internal DTD subset.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dtd {
    entities: HashMap<String, Entity>,
    /// Declarations may come from somewhere makguard does not read.
    reads_more: bool,
}

impl Dtd {
    /// The entities declared in a `DOCTYPE`'s content (what follows `<!DOCTYPE`).
    pub(crate) fn parse(doctype: &str) -> Dtd {
        let mut dtd = Dtd::default();
        let subset_at = doctype.find('[');
        let head = &doctype[..subset_at.unwrap_or(doctype.len())];
        if head.contains("SYSTEM") || head.contains("PUBLIC") {
            dtd.reads_more = true;
        }
        if let Some(at) = subset_at {
            dtd.parse_subset(&doctype[at + 1..]);
        }
        dtd
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entities.is_empty() && !self.reads_more
    }

    fn parse_subset(&mut self, subset: &str) {
        let mut rest = subset;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with(']') {
                return;
            }
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            } else if let Some(after) = rest.strip_prefix("<?") {
                rest = after.find("?>").map_or("", |end| &after[end + 2..]);
            } else if rest.starts_with('%') {
                self.reads_more = true;
                rest = rest.find(';').map_or("", |end| &rest[end + 1..]);
            } else if let Some(after) = rest.strip_prefix("<!ENTITY") {
                rest = self.parse_entity(after);
            } else if rest.starts_with("<!") {
                rest = skip_declaration(&rest[2..]);
            } else {
                // Not a declaration: the subset is not well-formed; what follows is unknown.
                self.reads_more = true;
                return;
            }
        }
    }

    /// Parses one `<!ENTITY` declaration's body and returns the text after it.
    fn parse_entity<'a>(&mut self, body: &'a str) -> &'a str {
        let body = body.trim_start();
        if let Some(after) = body.strip_prefix('%') {
            // A parameter entity can declare anything where it is referenced.
            self.reads_more = true;
            return skip_declaration(after);
        }
        let name_end = body
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(body.len());
        let name = &body[..name_end];
        let after_name = body[name_end..].trim_start();
        let (entity, rest) = if let Some(quote @ ('"' | '\'')) = after_name.chars().next() {
            match after_name[1..].find(quote) {
                Some(end) => {
                    let literal = &after_name[1..1 + end];
                    if literal.contains('%') {
                        self.reads_more = true;
                    }
                    let text = expand_char_refs(literal);
                    (Entity::Internal(text), skip_declaration(&after_name[2 + end..]))
                }
                None => (Entity::External, ""),
            }
        } else {
            let end = declaration_end(after_name);
            let declaration = &after_name[..end.unwrap_or(after_name.len())];
            let entity = if declaration.contains("NDATA") {
                Entity::Unparsed
            } else {
                Entity::External
            };
            (entity, end.map_or("", |e| &after_name[e + 1..]))
        };
        if !name.is_empty() {
            // The first declaration of an entity binds (XML 1.0 §4.2).
            self.entities.entry(name.to_string()).or_insert(entity);
        }
        rest
    }
}

/// The offset of the `>` that ends a declaration, outside quotes.
fn declaration_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn skip_declaration(text: &str) -> &str {
    declaration_end(text).map_or("", |end| &text[end + 1..])
}

/// An entity literal with its character references expanded (as a parser does when it reads
/// the declaration); a malformed reference stays as written.
fn expand_char_refs(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut rest = literal;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some((c, end)) = after
            .find(';')
            .and_then(|end| char_ref(&after[2..end]).map(|c| (c, end)))
        {
            out.push(c);
            rest = &after[end + 1..];
        } else {
            out.push_str("&#");
            rest = &after[2..];
        }
    }
    out.push_str(rest);
    out
}

/// The character of a reference's body (`x36` or `54`), when it is an XML character.
fn char_ref(body: &str) -> Option<char> {
    let code = match body.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()?
        }
        None if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) => body.parse().ok()?,
        _ => return None,
    };
    char::from_u32(code).filter(|&c| is_xml_char(c))
}

/// True for the characters XML 1.0 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

/// How a piece of a value is written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceKind {
    /// Characters written as themselves: value bytes are the file's bytes.
    Literal,
    /// A CDATA section's content; `outer` is the whole section.
    Cdata { outer: TextRange },
    /// A character or entity reference: it stands for its value as a whole.
    Reference { dtd_entity: bool },
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    value_start: usize,
    value_end: usize,
    source: TextRange,
    kind: PieceKind,
}

/// Where a key found in a value lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceSpan {
    /// The key's characters are written as themselves, here.
    Exact(TextRange),
    /// Replacing these bytes by a key's characters gives the value the key's place; the span
    /// holds references, CDATA boundaries, comments or processing instructions, but no
    /// entity of the DTD.
    Rewritable(TextRange),
    /// The key cannot be rewritten on its own: it comes (partly) from DTD entities, or it
    /// starts in one kind of markup and ends in another. The range is the whole run.
    Whole(TextRange),
}

impl SourceSpan {
    pub(crate) fn range(self) -> TextRange {
        match self {
            SourceSpan::Exact(r) | SourceSpan::Rewritable(r) | SourceSpan::Whole(r) => r,
        }
    }
}

/// A document's entities and what expanding them has cost so far.
#[derive(Debug, Clone)]
pub(crate) struct Expander {
    dtd: Dtd,
    budget: usize,
}

impl Default for Expander {
    fn default() -> Self {
        Expander {
            dtd: Dtd::default(),
            budget: MAX_EXPANDED_CHARS,
        }
    }
}

impl Expander {
    /// Reads the entities of a `DOCTYPE`; the first `DOCTYPE` of a document counts.
    pub(crate) fn set_doctype(&mut self, doctype: &str) {
        if self.dtd.is_empty() {
            self.dtd = Dtd::parse(doctype);
        }
    }

    /// Appends the expansion of entity `name` to `out`.
    fn expand_entity(&mut self, name: &str, out: &mut String, open: &mut Vec<String>) -> Result<(), ValueError> {
        if let Some(c) = predefined(name) {
            out.push(c);
            return Ok(());
        }
        let text = match self.dtd.entities.get(name) {
            Some(Entity::Internal(text)) => text.clone(),
            Some(Entity::External) => return Err(ValueError::External(name.to_string())),
            Some(Entity::Unparsed) => {
                return Err(ValueError::Malformed(format!(
                    "the unparsed (NDATA) entity &{name}; is referenced in text"
                )));
            }
            None if self.dtd.reads_more => return Err(ValueError::DeclaredElsewhere(name.to_string())),
            None => {
                return Err(ValueError::Malformed(format!("the entity &{name}; is not declared")));
            }
        };
        if open.iter().any(|o| o == name) {
            return Err(ValueError::Malformed(format!("the entity &{name}; refers to itself")));
        }
        if open.len() >= MAX_ENTITY_DEPTH {
            return Err(ValueError::ExpansionLimit(name.to_string()));
        }
        if text.contains('<') {
            return Err(ValueError::Markup(name.to_string()));
        }
        open.push(name.to_string());
        let result = self.expand_text(&text, out, open);
        open.pop();
        result
    }

    /// Appends replacement text to `out`, expanding the references in it.
    fn expand_text(&mut self, text: &str, out: &mut String, open: &mut Vec<String>) -> Result<(), ValueError> {
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            self.spend(at, open)?;
            out.push_str(&rest[..at]);
            let Some(end) = rest[at..].find(';') else {
                return Err(ValueError::Malformed("a bare `&` in an entity's text".to_string()));
            };
            let body = &rest[at + 1..at + end];
            match body.strip_prefix('#') {
                Some(number) => {
                    let c = char_ref(number)
                        .ok_or_else(|| ValueError::Malformed(format!("&{body}; is not a character reference")))?;
                    self.spend(1, open)?;
                    out.push(c);
                }
                None => self.expand_entity(body, out, open)?,
            }
            rest = &rest[at + end + 1..];
        }
        self.spend(rest.len(), open)?;
        out.push_str(rest);
        Ok(())
    }

    fn spend(&mut self, chars: usize, open: &[String]) -> Result<(), ValueError> {
        if open.is_empty() {
            return Ok(());
        }
        if let Some(left) = self.budget.checked_sub(chars) {
            self.budget = left;
            Ok(())
        } else {
            self.budget = 0;
            Err(ValueError::ExpansionLimit(open[0].clone()))
        }
    }
}

/// One value (an element's run of character data, or an attribute value) as a parser reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct XmlValue {
    pub value: String,
    pieces: Vec<Piece>,
    /// From the first to the last byte of the run in the file.
    span: Option<TextRange>,
    /// What could not be read as a parser would; the raw text stands in the value for it.
    pub errors: Vec<(TextRange, ValueError)>,
}

impl XmlValue {
    pub(crate) fn is_empty(&self) -> bool {
        self.span.is_none()
    }

    /// The run's bytes in the file (empty at 0 when nothing was added).
    pub(crate) fn span(&self) -> TextRange {
        self.span.unwrap_or(TextRange::new(0, 0))
    }

    fn cover(&mut self, range: TextRange) {
        self.span = Some(match self.span {
            Some(span) => TextRange::new(span.start.min(range.start), span.end.max(range.end)),
            None => range,
        });
    }

    fn push(&mut self, text: &str, source: TextRange, kind: PieceKind) {
        let value_start = self.value.len();
        self.value.push_str(text);
        self.pieces.push(Piece {
            value_start,
            value_end: self.value.len(),
            source,
            kind,
        });
    }

    /// Escaped character data (text or an attribute value) `raw`, which starts at byte
    /// `source_start` of the file.
    pub(crate) fn push_escaped(&mut self, raw: &str, source_start: usize, expander: &mut Expander) {
        self.cover(TextRange::new(source_start, source_start + raw.len()));
        let mut offset = 0;
        while let Some(found) = raw[offset..].find('&') {
            let at = offset + found;
            if at > offset {
                self.push(
                    &raw[offset..at],
                    TextRange::new(source_start + offset, source_start + at),
                    PieceKind::Literal,
                );
            }
            let end = raw[at + 1..]
                .find(|c: char| c == ';' || c == '&' || c == '<' || c.is_whitespace())
                .map(|end| end + 1)
                .filter(|&end| raw[at + end..].starts_with(';'));
            let Some(end) = end else {
                // A bare `&` is not well-formed, but it hides nothing, and real answer files
                // (Microsoft's own samples among them) have one in a URL: it stands as written.
                let source = TextRange::new(source_start + at, source_start + at + 1);
                self.push("&", source, PieceKind::Literal);
                offset = at + 1;
                continue;
            };
            let body = &raw[at + 1..at + end];
            let source = TextRange::new(source_start + at, source_start + at + end + 1);
            let mut expanded = String::new();
            let (result, dtd_entity) = match body.strip_prefix('#') {
                Some(number) => match char_ref(number) {
                    Some(c) => {
                        expanded.push(c);
                        (Ok(()), false)
                    }
                    None => (
                        Err(ValueError::Malformed(format!("&{body}; is not a character reference"))),
                        false,
                    ),
                },
                None if predefined(body).is_some() => {
                    (expander.expand_entity(body, &mut expanded, &mut Vec::new()), false)
                }
                None => (expander.expand_entity(body, &mut expanded, &mut Vec::new()), true),
            };
            match result {
                Ok(()) => self.push(&expanded, source, PieceKind::Reference { dtd_entity }),
                Err(error) => {
                    self.errors.push((source, error));
                    // What cannot be expanded stands as written, so a key around it still shows.
                    self.push(&raw[at..at + end + 1], source, PieceKind::Literal);
                }
            }
            offset = at + end + 1;
        }
        if offset < raw.len() {
            self.push(
                &raw[offset..],
                TextRange::new(source_start + offset, source_start + raw.len()),
                PieceKind::Literal,
            );
        }
    }

    /// A CDATA section whose content `content` starts at byte `content_start` and whose whole
    /// markup (`<![CDATA[…]]>`) is `outer`.
    pub(crate) fn push_cdata(&mut self, content: &str, content_start: usize, outer: TextRange) {
        self.cover(outer);
        let source = TextRange::new(content_start, content_start + content.len());
        self.push(content, source, PieceKind::Cdata { outer });
    }

    /// A comment or processing instruction between pieces: no part of the value.
    pub(crate) fn push_ignored(&mut self, outer: TextRange) {
        self.cover(outer);
    }

    /// The file ranges of the pieces written as themselves (text between references, CDATA
    /// content), in order.
    pub(crate) fn written_pieces(&self) -> Vec<TextRange> {
        self.pieces
            .iter()
            .filter(|p| matches!(p.kind, PieceKind::Literal | PieceKind::Cdata { .. }))
            .map(|p| p.source)
            .collect()
    }

    /// Where the value's bytes `range` (a key found in it) lie in the file.
    pub(crate) fn source_span(&self, range: TextRange) -> SourceSpan {
        let whole = SourceSpan::Whole(self.span());
        if range.is_empty() {
            return whole;
        }
        let Some(first) = self.piece_with(range.start) else {
            return whole;
        };
        let Some(last) = self.piece_with(range.end - 1) else {
            return whole;
        };
        let piece = &self.pieces[first];
        if first == last && matches!(piece.kind, PieceKind::Literal | PieceKind::Cdata { .. }) {
            let start = piece.source.start + (range.start - piece.value_start);
            return SourceSpan::Exact(TextRange::new(start, start + range.len()));
        }
        let (Some((start, start_in_cdata)), Some((end, end_in_cdata))) = (
            self.boundary(first, range.start, true),
            self.boundary(last, range.end, false),
        ) else {
            return whole;
        };
        let pieces = &self.pieces[first..=last];
        if start_in_cdata != end_in_cdata
            || pieces
                .iter()
                .any(|p| matches!(p.kind, PieceKind::Reference { dtd_entity: true }))
        {
            return whole;
        }
        SourceSpan::Rewritable(TextRange::new(start, end))
    }

    fn piece_with(&self, value_offset: usize) -> Option<usize> {
        let index = self.pieces.partition_point(|p| p.value_end <= value_offset);
        self.pieces
            .get(index)
            .filter(|p| p.value_start <= value_offset)
            .map(|_| index)
    }

    /// The file offset of a key's start (`is_start`) or end at value offset `at` in piece
    /// `index`, and whether it falls inside a CDATA section.
    fn boundary(&self, index: usize, at: usize, is_start: bool) -> Option<(usize, bool)> {
        let piece = &self.pieces[index];
        let into = at - piece.value_start;
        let at_edge = if is_start {
            at == piece.value_start
        } else {
            at == piece.value_end
        };
        match piece.kind {
            PieceKind::Literal => Some((piece.source.start + into, false)),
            // A key that fills a section to its edge takes the section's markup with it.
            PieceKind::Cdata { outer } if at_edge => Some((if is_start { outer.start } else { outer.end }, false)),
            PieceKind::Cdata { .. } => Some((piece.source.start + into, true)),
            PieceKind::Reference { .. } if at_edge => {
                Some((if is_start { piece.source.start } else { piece.source.end }, false))
            }
            PieceKind::Reference { .. } => None,
        }
    }
}

/// The value of a span of XML content `raw` that holds only text, character references, the
/// predefined entities, whole CDATA sections, comments and processing instructions; or, when
/// it starts and ends inside CDATA sections, the content of those. `None` for anything else
/// (DTD entities, elements). The fixer checks with this that a rewritable span still holds
/// the key the scan saw.
pub fn rewritable_value(raw: &str) -> Option<String> {
    // A span that starts and ends inside CDATA sections but is not within one crosses a `]]>`.
    content_value(raw).or_else(|| {
        raw.contains("]]>")
            .then(|| content_value(&format!("<![CDATA[{raw}]]>")))
            .flatten()
    })
}

fn content_value(raw: &str) -> Option<String> {
    let mut value = XmlValue::default();
    let mut expander = Expander::default();
    let mut rest = raw;
    let mut offset = 0;
    while !rest.is_empty() {
        let (consumed, text) = if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>")?;
            value.value.push_str(&after[..end]);
            (9 + end + 3, None)
        } else if let Some(after) = rest.strip_prefix("<!--") {
            (4 + after.find("-->")? + 3, None)
        } else if let Some(after) = rest.strip_prefix("<?") {
            (2 + after.find("?>")? + 2, None)
        } else if rest.starts_with('<') {
            return None;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            (end, Some(&rest[..end]))
        };
        if let Some(text) = text {
            if text.contains("]]>") {
                return None;
            }
            value.push_escaped(text, offset, &mut expander);
        }
        offset += consumed;
        rest = &rest[consumed..];
    }
    value.errors.is_empty().then_some(value.value)
}

/// True when `text` is one well-formed XML element (with prolog and trailing misc) as far as
/// quick-xml reads it, with no character XML does not allow.
pub(crate) fn is_well_formed(text: &str) -> bool {
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if !body.chars().all(is_xml_char) {
        return false;
    }
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return depth == 0 && roots == 1,
            Ok(quick_xml::events::Event::Start(_)) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(quick_xml::events::Event::Empty(_)) => roots += usize::from(depth == 0),
            Ok(quick_xml::events::Event::Text(t)) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return false;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(raw: &str, doctype: &str) -> XmlValue {
        let mut expander = Expander::default();
        expander.set_doctype(doctype);
        let mut value = XmlValue::default();
        value.push_escaped(raw, 0, &mut expander);
        value
    }

    #[test]
    fn references_expand_and_map_back() {
        let value = escaped("a &#x36;QW&#54;4 &amp; b", "");
        assert_eq!(value.value, "a 6QW64 & b");
        assert!(value.errors.is_empty());
        // "6QW64" spans from the first reference to the literal "4".
        assert_eq!(
            value.source_span(TextRange::new(2, 7)),
            SourceSpan::Rewritable(TextRange::new(2, 16))
        );
        assert_eq!(
            value.source_span(TextRange::new(3, 5)),
            SourceSpan::Exact(TextRange::new(8, 10))
        );
    }

    #[test]
    fn nested_internal_entities_expand() {
        let doctype = r#"u [<!ENTITY a "AB&b;"> <!ENTITY b 'C&#x44;'> <!ENTITY a "ignored">]"#;
        let value = escaped("&a;-&b;", doctype);
        assert_eq!(value.value, "ABCD-CD");
        assert!(matches!(value.source_span(TextRange::new(0, 7)), SourceSpan::Whole(_)));
    }

    #[test]
    fn billion_laughs_stop_at_the_limit() {
        let mut doctype = String::from("lolz [<!ENTITY l0 \"lollollollollol\">");
        for level in 1..10 {
            let refs = format!("&l{};", level - 1).repeat(10);
            doctype.push_str(&format!("<!ENTITY l{level} \"{refs}\">"));
        }
        doctype.push(']');
        let value = escaped("&l9;", &doctype);
        assert!(
            matches!(value.errors[..], [(_, ValueError::ExpansionLimit(_))]),
            "{:?}",
            value.errors
        );
        assert!(value.value.len() <= 16);
    }

    #[test]
    fn external_and_unknown_entities_are_errors() {
        let value = escaped("&x;", r#"u [<!ENTITY x SYSTEM "file:///etc/passwd">]"#);
        assert!(matches!(value.errors[..], [(_, ValueError::External(_))]));
        assert_eq!(value.value, "&x;");
        let value = escaped("&y;", r#"u SYSTEM "u.dtd""#);
        assert!(matches!(value.errors[..], [(_, ValueError::DeclaredElsewhere(_))]));
        let value = escaped("&y;", r#"u [<!ENTITY % p SYSTEM "p.dtd"> %p;]"#);
        assert!(matches!(value.errors[..], [(_, ValueError::DeclaredElsewhere(_))]));
        let value = escaped("&y;", "");
        assert!(matches!(value.errors[..], [(_, ValueError::Malformed(_))]));
        let value = escaped("&r;", r#"u [<!ENTITY r "x&r;">]"#);
        assert!(matches!(value.errors[..], [(_, ValueError::Malformed(_))]));
        let value = escaped("&m;", r#"u [<!ENTITY m "<b/>">]"#);
        assert!(matches!(value.errors[..], [(_, ValueError::Markup(_))]));
        let value = escaped("a & b &#1;", "");
        assert_eq!(value.errors.len(), 1);
        assert_eq!(value.value, "a & b &#1;");
    }

    #[test]
    fn cdata_edges_take_their_markup_and_middles_stay_inside() {
        let text = "<![CDATA[ABC]]><!-- c --><![CDATA[DEF]]>";
        let mut value = XmlValue::default();
        value.push_cdata("ABC", 9, TextRange::new(0, 15));
        value.push_ignored(TextRange::new(15, 25));
        value.push_cdata("DEF", 34, TextRange::new(25, 40));
        assert_eq!(value.value, "ABCDEF");
        assert_eq!(
            value.source_span(TextRange::new(0, 6)),
            SourceSpan::Rewritable(TextRange::new(0, text.len()))
        );
        assert_eq!(
            value.source_span(TextRange::new(1, 5)),
            SourceSpan::Rewritable(TextRange::new(10, 36))
        );
        assert_eq!(
            value.source_span(TextRange::new(1, 2)),
            SourceSpan::Exact(TextRange::new(10, 11))
        );
        assert!(matches!(value.source_span(TextRange::new(1, 6)), SourceSpan::Whole(_)));
    }

    #[test]
    fn rewritable_values_hold_no_dtd_entities_or_elements() {
        assert_eq!(
            rewritable_value("&#x36;Q<!-- x -->W<![CDATA[Q]]>&lt;").as_deref(),
            Some("6QWQ<")
        );
        assert_eq!(rewritable_value("B]]><![CDATA[C").as_deref(), Some("BC"));
        assert_eq!(rewritable_value("&a;"), None);
        assert_eq!(rewritable_value("a<b/>c"), None);
    }
}
