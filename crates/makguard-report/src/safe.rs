//! What every rendered document passes before it leaves this crate: control characters in
//! the image's own text (paths, messages, registry strings) shown as escapes in the formats a
//! terminal or a CI log displays, and the one key-masking step over the whole document.
//!
//! Masking runs on the finished document rather than field by field, so a field added later
//! cannot forget it. Escaping runs on a copy of the report whose every text field is
//! rewritten; the copy is built by destructuring each struct without `..`, so a new field
//! does not compile until it is handled here.

use makguard_core::key::{keys_in, mask_keys_in};
use makguard_core::{
    ContainerImage, Detail, Finding, FindingPath, Fix, ImageInfo, KeyInfo, KeySpelling, Location, RootReport,
    ScanReport, ScanSummary, Suppression, XmlContext,
};

use crate::{Format, RenderOptions};

/// True for a character a terminal or log viewer would act on instead of showing: C0 and C1
/// controls, DEL, and the bidirectional overrides that reorder what a reader sees.
fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character shown as an escape: `\x1b` for ASCII controls,
/// `\u{9b}` for the others. Line feeds and tabs are escaped too, unless `keep_layout` (for
/// multi-line text such as a diff or a remediation).
pub fn escape_controls(text: &str, keep_layout: bool) -> String {
    if !text.chars().any(is_unsafe_char) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' if keep_layout => out.push(c),
            c if is_unsafe_char(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn line(text: &str) -> String {
    escape_controls(text, false)
}

fn opt_line(text: &Option<String>) -> Option<String> {
    text.as_deref().map(line)
}

fn path(path: &FindingPath) -> FindingPath {
    let FindingPath { display, raw_bytes } = path;
    FindingPath {
        display: line(display),
        raw_bytes: raw_bytes.clone(),
    }
}

fn image(info: &ImageInfo) -> ImageInfo {
    let ImageInfo {
        root,
        edition_id,
        product_name,
        build,
        ubr,
        display_version,
        installation_type,
        key_configuration_files,
    } = info;
    ImageInfo {
        root: line(root),
        edition_id: opt_line(edition_id),
        product_name: opt_line(product_name),
        build: *build,
        ubr: *ubr,
        display_version: opt_line(display_version),
        installation_type: opt_line(installation_type),
        key_configuration_files: key_configuration_files.iter().map(|f| line(f)).collect(),
    }
}

fn root(report: &RootReport) -> RootReport {
    let RootReport {
        path,
        image: info,
        searched,
        is_file,
        container,
        policy,
    } = report;
    RootReport {
        path: line(path),
        image: info.as_ref().map(image),
        searched: searched.iter().map(|s| line(s)).collect(),
        is_file: *is_file,
        container: container.as_ref().map(container_image),
        policy: opt_line(policy),
    }
}

fn container_image(container: &ContainerImage) -> ContainerImage {
    let ContainerImage {
        format,
        index,
        image_count,
        name,
        edition_id,
        build,
    } = container;
    ContainerImage {
        format: line(format),
        index: *index,
        image_count: *image_count,
        name: opt_line(name),
        edition_id: opt_line(edition_id),
        build: *build,
    }
}

fn xml(context: &XmlContext) -> XmlContext {
    let XmlContext {
        pass,
        component,
        architecture,
        element_path,
        in_comment,
    } = context;
    XmlContext {
        pass: opt_line(pass),
        component: opt_line(component),
        architecture: opt_line(architecture),
        element_path: line(element_path),
        in_comment: *in_comment,
    }
}

fn location(location: &Location) -> Location {
    let Location {
        root,
        path: finding_path,
        span,
    } = location;
    Location {
        root: *root,
        path: path(finding_path),
        span: *span,
    }
}

fn detail(detail: &Detail) -> Detail {
    match detail {
        Detail::None => Detail::None,
        Detail::Xml {
            context,
            install_image_name,
        } => Detail::Xml {
            context: xml(context),
            install_image_name: opt_line(install_image_name),
        },
        Detail::Office {
            click_to_run_product_id,
            msi_product,
        } => Detail::Office {
            click_to_run_product_id: opt_line(click_to_run_product_id),
            msi_product: opt_line(msi_product),
        },
        Detail::Remediation(text) => Detail::Remediation(escape_controls(text, true)),
    }
}

fn key_info(info: &KeyInfo) -> KeyInfo {
    let KeyInfo {
        key,
        classification,
        spelling: KeySpelling { bare, not_rewritable },
    } = info;
    KeyInfo {
        key: key.clone(),
        classification: classification.clone(),
        spelling: KeySpelling {
            bare: *bare,
            not_rewritable: opt_line(not_rewritable),
        },
    }
}

fn fix(fix: &Fix) -> Fix {
    let Fix {
        applicability,
        edits,
        new_key,
        chosen_by,
    } = fix;
    Fix {
        applicability: *applicability,
        edits: edits.clone(),
        new_key: new_key.clone(),
        chosen_by: line(chosen_by),
    }
}

fn finding(finding: &Finding) -> Finding {
    let Finding {
        rule,
        severity,
        location: place,
        message,
        key,
        detail: facts,
        fix: planned,
        suppressed,
    } = finding;
    Finding {
        rule,
        severity: *severity,
        location: location(place),
        message: line(message),
        key: key.as_ref().map(key_info),
        detail: detail(facts),
        fix: planned.as_ref().map(fix),
        suppressed: suppressed.as_ref().map(|s| {
            let Suppression { justification, origin } = s;
            Suppression {
                justification: line(justification),
                origin: line(origin),
            }
        }),
    }
}

/// A copy of `report` whose every text field shows control characters as escapes.
pub fn escaped_report(report: &ScanReport) -> ScanReport {
    let ScanReport {
        roots,
        findings,
        summary,
        allow_incomplete,
        report_only,
    } = report;
    let ScanSummary {
        files_walked,
        files_scanned,
        skipped,
        bytes_read,
    } = summary;
    ScanReport {
        roots: roots.iter().map(root).collect(),
        findings: findings.iter().map(finding).collect(),
        summary: ScanSummary {
            files_walked: *files_walked,
            files_scanned: *files_scanned,
            skipped: skipped.iter().map(|(k, v)| (line(k), *v)).collect(),
            bytes_read: *bytes_read,
        },
        allow_incomplete: *allow_incomplete,
        report_only: *report_only,
    }
}

/// `bytes` (a path that is not UTF-8) with the symbols of every key in it but its last five
/// replaced by `*`, so the hex of a path's raw bytes spells no key either.
pub fn mask_key_bytes(bytes: &[u8]) -> Vec<u8> {
    // Keys are ASCII: an ASCII stand-in of the same length finds them at the same offsets.
    let proxy: String = bytes
        .iter()
        .map(|&b| if b.is_ascii() { char::from(b) } else { '\u{1}' })
        .collect();
    let mut out = bytes.to_vec();
    for found in keys_in(&proxy) {
        let span = &mut out[found.start..found.end];
        let mut kept = 0;
        for byte in span.iter_mut().rev() {
            if byte.is_ascii_alphanumeric() {
                if kept < 5 {
                    kept += 1;
                } else {
                    *byte = b'*';
                }
            }
        }
    }
    out
}

/// `report` with the raw bytes of every non-UTF-8 path masked ([`mask_key_bytes`]); borrowed
/// as is when no path has raw bytes.
pub(crate) fn with_masked_raw_paths(report: &ScanReport) -> std::borrow::Cow<'_, ScanReport> {
    if report.findings.iter().all(|f| f.path().raw_bytes.is_none()) {
        return std::borrow::Cow::Borrowed(report);
    }
    let mut copy = report.clone();
    for finding in &mut copy.findings {
        if let Some(bytes) = &mut finding.location.path.raw_bytes {
            *bytes = mask_key_bytes(bytes);
        }
    }
    std::borrow::Cow::Owned(copy)
}

/// True when `options` let `format` reveal keys (`--show-keys`, text and JSON only).
pub(crate) fn may_reveal(format: Format, options: &RenderOptions) -> bool {
    options.show_keys && matches!(format, Format::Text | Format::Json)
}

/// True when `format` shows text raw to a person or a log (JSON, SARIF and `JUnit` escape
/// control characters through their own serialisers).
pub(crate) fn needs_escaped_report(format: Format) -> bool {
    matches!(format, Format::Text | Format::Github)
}

/// The final step of every rendering: masks every non-GVLK key in the whole document, except
/// where `--show-keys` may reveal keys (the text and JSON formats only).
pub(crate) fn finish(format: Format, document: String, options: &RenderOptions) -> String {
    if may_reveal(format, options) {
        document
    } else {
        mask_keys_in(&document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_raw_path_bytes_are_masked() {
        let mut bytes = b"dir\xff/6QWQ4-8NRCW-KHGHV-CR226-3PPQC\xfe.xml".to_vec();
        assert_eq!(
            mask_key_bytes(&bytes),
            b"dir\xff/*****-*****-*****-*****-3PPQC\xfe.xml".to_vec()
        );
        bytes = "6QWQ48NRCWKHGHVCR2263PPQC".bytes().flat_map(|b| [b, 0]).collect();
        let masked = mask_key_bytes(&bytes);
        assert_eq!(masked.iter().filter(|&&b| b == b'*').count(), 20);
    }

    #[test]
    fn controls_become_escapes() {
        assert_eq!(escape_controls("a\u{1b}[31mb", false), "a\\x1b[31mb");
        assert_eq!(escape_controls("a\nb\tc", false), "a\\x0ab\\x09c");
        assert_eq!(escape_controls("a\nb\tc\rd", true), "a\nb\tc\\x0dd");
        assert_eq!(
            escape_controls("x\u{9b}y\u{202e}z\u{7f}", false),
            "x\\u{9b}y\\u{202e}z\\x7f"
        );
        assert_eq!(escape_controls("plain é", false), "plain é");
    }
}
