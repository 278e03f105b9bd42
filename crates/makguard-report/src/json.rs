//! The JSON report: makguard's documented machine-readable contract (docs/output-formats.md).
//! Field order follows the structs below; later versions only add fields.

use std::collections::BTreeMap;

use makguard_core::{Finding, ImageInfo, REPORT_FORMAT_VERSION, ScanReport, Severity};
use serde::Serialize;

use crate::{RenderOptions, TOOL_NAME, hex, verdict};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: Tool<'a>,
    image: Option<Image<'a>>,
    roots: Vec<Root<'a>>,
    findings: Vec<JsonFinding<'a>>,
    summary: Summary<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
pub(crate) struct Image<'a> {
    edition_id: Option<&'a str>,
    product_name: Option<&'a str>,
    build: Option<u32>,
    ubr: Option<u32>,
    display_version: Option<&'a str>,
    installation_type: Option<&'a str>,
    root: &'a str,
    key_configuration_files: &'a [String],
    description: String,
}

impl<'a> Image<'a> {
    pub(crate) fn new(image: &'a ImageInfo) -> Image<'a> {
        Image {
            edition_id: image.edition_id.as_deref(),
            product_name: image.product_name.as_deref(),
            build: image.build,
            ubr: image.ubr,
            display_version: image.display_version.as_deref(),
            installation_type: image.installation_type.as_deref(),
            root: &image.root,
            key_configuration_files: &image.key_configuration_files,
            description: image.describe(),
        }
    }
}

#[derive(Serialize)]
struct Root<'a> {
    path: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source<'a>>,
    image: Option<Image<'a>>,
    files_searched: usize,
    /// The policy file that applied to the root, as found or given; `null` for none.
    policy: Option<&'a str>,
}

/// Which image of an image file the root is (roots of kind `image`).
#[derive(Serialize)]
struct Source<'a> {
    format: &'a str,
    file: &'a str,
    index: u32,
    image_count: u32,
    name: Option<&'a str>,
    xml_edition_id: Option<&'a str>,
    xml_build: Option<u32>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'static str,
    rule: &'static str,
    severity: &'static str,
    root: usize,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes_hex: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    range: Option<Range>,
    byte_range: Option<Range>,
    message: &'a str,
    key: Option<Key<'a>>,
    xml: Option<Xml<'a>>,
    remediation: Option<&'a str>,
    fix: Option<Fix<'a>>,
    suppressed: Option<Suppressed<'a>>,
}

#[derive(Serialize)]
struct Range {
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct Key<'a> {
    masked: String,
    fingerprint: String,
    class: &'static str,
    checksum: &'static str,
    classified_by: &'static str,
    product: Option<&'a str>,
    edition: Option<&'a str>,
    edition_id: Option<&'a str>,
    /// The key in full, present only for a public GVLK.
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
    /// The key in full whatever it is, present only with `--show-keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

#[derive(Serialize)]
struct Xml<'a> {
    pass: Option<&'a str>,
    component: Option<&'a str>,
    architecture: Option<&'a str>,
    element_path: &'a str,
    in_comment: bool,
}

#[derive(Serialize)]
struct Fix<'a> {
    applicability: &'static str,
    new_key: String,
    chosen_by: &'a str,
    edits: Vec<Range>,
}

#[derive(Serialize)]
struct Suppressed<'a> {
    justification: &'a str,
    origin: &'a str,
}

#[derive(Serialize)]
struct Summary<'a> {
    files_walked: u64,
    files_scanned: u64,
    files_skipped: &'a BTreeMap<String, u64>,
    bytes_read: u64,
    errors: usize,
    warnings: usize,
    notes: usize,
    suppressed: usize,
    incomplete: bool,
    verdict: &'static str,
    exit_code: i32,
}

fn finding<'a>(finding: &'a Finding, options: &RenderOptions) -> JsonFinding<'a> {
    JsonFinding {
        code: finding.rule.code,
        rule: finding.rule.name,
        severity: finding.severity.as_str(),
        root: finding.location.root,
        path: &finding.path().display,
        path_bytes_hex: finding.path().raw_bytes.as_deref().map(hex),
        line: finding.line(),
        column: finding.column(),
        range: finding.range().map(|r| Range {
            start: r.start,
            end: r.end,
        }),
        byte_range: finding.byte_range().map(|r| Range {
            start: r.start,
            end: r.end,
        }),
        message: &finding.message,
        key: finding.key.as_ref().map(|info| Key {
            masked: info.key.masked(),
            fingerprint: info.key.fingerprint(),
            class: info.class().as_str(),
            checksum: info.classification.checksum.as_str(),
            classified_by: info.classification.source.as_str(),
            product: info.classification.product.as_deref(),
            edition: info.classification.edition.as_deref(),
            edition_id: info.classification.edition_id.as_deref(),
            display: info.key.is_gvlk().then(|| info.key.display_form()),
            key: options.show_keys.then(|| info.key.reveal_unmasked()),
        }),
        xml: finding.xml().map(|xml| Xml {
            pass: xml.pass.as_deref(),
            component: xml.component.as_deref(),
            architecture: xml.architecture.as_deref(),
            element_path: &xml.element_path,
            in_comment: xml.in_comment,
        }),
        remediation: finding.remediation(),
        fix: finding.fix.as_ref().map(|fix| Fix {
            applicability: fix.applicability.as_str(),
            new_key: fix.new_key.display_form(),
            chosen_by: &fix.chosen_by,
            edits: fix
                .edits
                .iter()
                .map(|edit| Range {
                    start: edit.range.start,
                    end: edit.range.end,
                })
                .collect(),
        }),
        suppressed: finding.suppressed.as_ref().map(|s| Suppressed {
            justification: &s.justification,
            origin: &s.origin,
        }),
    }
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let verdict = verdict(report, options.fail_on);
    let document = JsonReport {
        version: REPORT_FORMAT_VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: options.tool_version,
        },
        image: report.image().map(Image::new),
        roots: report
            .roots
            .iter()
            .map(|root| Root {
                path: &root.path,
                kind: match (&root.container, root.is_file) {
                    (Some(_), _) => "image",
                    (None, true) => "file",
                    (None, false) => "directory",
                },
                source: root.container.as_ref().map(|image| Source {
                    format: &image.format,
                    file: &root.path,
                    index: image.index,
                    image_count: image.image_count,
                    name: image.name.as_deref(),
                    xml_edition_id: image.edition_id.as_deref(),
                    xml_build: image.build,
                }),
                image: root.image.as_ref().map(Image::new),
                files_searched: root.searched.len(),
                policy: root.policy.as_deref(),
            })
            .collect(),
        findings: report.findings.iter().map(|f| finding(f, options)).collect(),
        summary: Summary {
            files_walked: report.summary.files_walked,
            files_scanned: report.summary.files_scanned,
            files_skipped: &report.summary.skipped,
            bytes_read: report.summary.bytes_read,
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            notes: report.count(Severity::Note),
            suppressed: report.suppressed_count(),
            incomplete: report.incomplete(),
            verdict: verdict.word,
            exit_code: verdict.status as i32,
        },
    };
    match serde_json::to_string_pretty(&document) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Serialising plain structs of strings and numbers cannot fail; keep the contract's
        // shape even so rather than panic.
        Err(error) => format!(
            "{{\"version\": {REPORT_FORMAT_VERSION}, \"error\": {}}}\n",
            serde_json::Value::String(error.to_string())
        ),
    }
}
