//! SARIF 2.1.0 for code-scanning services (GitHub code scanning, Azure DevOps, Sonar, ...).
//!
//! Shaped to pass Microsoft's SARIF Multitool under its SARIF and GitHub rule kinds: every
//! rule in the registry with a `PascalCase` `name` and help, exactly one location per result
//! with a relative URI and a region that has a `startLine`, and a
//! `partialFingerprints.primaryLocationLineHash` built from the rule, the path and the key's
//! fingerprint, so an alert survives edits that only move lines. Keys appear only masked,
//! whatever `--show-keys` says: SARIF ends up in CI systems.
//!
//! Shaped for GitHub code scanning too: each rule carries a `security-severity`
//! ([`security_severity`]); note-level findings ("this GVLK is fine") are left out unless
//! `--fail-on note`, as GitHub opens an alert for every result it is given; the results are
//! capped to GitHub's upload limits ([`SarifLimits`]), most severe first, with a notification
//! saying how many were left out; and `invocations[0]` carries the exit code and one
//! notification per finding that made the scan incomplete.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

use makguard_core::rules::{self, Area as RuleArea, Rule};
use makguard_core::{Finding, ScanReport, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::json::Image;
use crate::{
    INFORMATION_URI, RenderOptions, TOOL_NAME, describe_xml, hex, is_absolute, join_root, normalise_root, root_of,
    rule_help_uri, verdict,
};
use crate::{Verdict, file_location, position_suffix};

/// What one SARIF upload may hold: GitHub code scanning rejects a run with more than 25,000
/// results and an upload over 10 MB gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SarifLimits {
    /// The most results one run may hold.
    pub max_results: usize,
    /// The document's size after gzip compression, in bytes.
    pub max_gzip_bytes: usize,
}

impl SarifLimits {
    /// GitHub code scanning's limits (10 MB taken as 10,000,000 bytes, the stricter reading).
    pub const GITHUB: SarifLimits = SarifLimits {
        max_results: 25_000,
        max_gzip_bytes: 10_000_000,
    };
}

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The directory makguard ran in: relative roots (and so relative URIs) start there.
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: &'a Tool,
    invocations: [Invocation<'a>; 1],
    original_uri_base_ids: &'a BTreeMap<String, BaseId>,
    column_kind: &'static str,
    results: Vec<&'a SarifResult>,
    properties: RunPropertiesOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    /// False when the scan was incomplete (an unsuppressed `MG9xx` finding).
    execution_successful: bool,
    exit_code: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<&'a Notification>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Notification {
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    associated_rule: Option<RuleReference>,
}

#[derive(Serialize, Clone)]
struct RuleReference {
    id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    full_name: String,
    information_uri: &'static str,
    version: String,
    semantic_version: String,
    rules: Vec<RuleDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: &'static str,
    name: String,
    short_description: Message,
    full_description: Message,
    help: Help,
    help_uri: String,
    default_configuration: DefaultConfiguration,
    properties: RuleProperties,
}

#[derive(Serialize, Clone)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct DefaultConfiguration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleProperties {
    /// The rule's kebab-case name as makguard prints it (`unattend-non-kms-key`).
    makguard_name: &'static str,
    fixable: bool,
    tags: Vec<&'static str>,
    /// GitHub ranks alerts by it: a number from 0.0 to 10.0, as a string.
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
}

#[derive(Serialize)]
struct BaseId {
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    description: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<SarifSuppression>,
    properties: ResultProperties,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: String,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct SarifSuppression {
    kind: &'static str,
    justification: String,
    properties: SuppressionProperties,
}

#[derive(Serialize)]
struct SuppressionProperties {
    /// Where the exception is written, e.g. `makguard.toml:12`.
    origin: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    /// makguard's root-relative path and root index, as in the JSON report.
    path: String,
    root: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes_hex: Option<String>,
    /// False when the finding has no line (a registry value, a whole file): the region then
    /// says line 1 because GitHub requires a `startLine`.
    line_known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<ResultKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xml: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<ResultFix>,
}

#[derive(Serialize)]
struct ResultKey {
    masked: String,
    fingerprint: String,
    class: &'static str,
    checksum: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultFix {
    applicability: &'static str,
    new_key: String,
    chosen_by: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Image<'a>>,
    roots: Vec<RunRoot<'a>>,
    summary: RunSummary<'a>,
}

/// The run's properties as written: the report's, plus what was left out of `results`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunPropertiesOut<'a> {
    #[serde(flatten)]
    report: &'a RunProperties<'a>,
    omitted: Omitted,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Omitted {
    /// Note-level findings, left out unless `--fail-on note` (they are counted in `summary`).
    notes: usize,
    /// Results past [`SarifLimits`], the least severe first.
    over_limits: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunRoot<'a> {
    path: &'a str,
    uri_base_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Image<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunSummary<'a> {
    files_walked: u64,
    files_scanned: u64,
    files_skipped: &'a BTreeMap<String, u64>,
    errors: usize,
    warnings: usize,
    notes: usize,
    suppressed: usize,
    incomplete: bool,
    verdict: &'static str,
    exit_code: i32,
}

/// `unattend-non-kms-key` -> `UnattendNonKmsKey` (the Multitool wants `PascalCase` names).
pub(crate) fn pascal_case(kebab: &str) -> String {
    kebab
        .split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// SARIF messages are sentences (Multitool rule SARIF2001).
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// What a rule is about, as the rule declares it (`Rule::area`), with incomplete-scan rules
/// apart: SARIF tags and `security-severity` follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    AnswerFile,
    ImageFile,
    Registry,
    Fix,
    Policy,
    IncompleteScan,
}

impl Area {
    fn of(rule: &Rule) -> Area {
        if rule.is_incomplete_scan() {
            return Area::IncompleteScan;
        }
        match rule.area() {
            RuleArea::AnswerFile => Area::AnswerFile,
            RuleArea::ImageFile => Area::ImageFile,
            RuleArea::Registry => Area::Registry,
            RuleArea::Fix => Area::Fix,
            RuleArea::Policy => Area::Policy,
            RuleArea::Unreadable => Area::IncompleteScan,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Area::AnswerFile => "answer-file",
            Area::ImageFile => "image-file",
            Area::Registry => "registry",
            Area::Fix => "fix",
            Area::Policy => "policy",
            Area::IncompleteScan => "incomplete-scan",
        }
    }

    /// A key where it must not be: in an answer file, a file of the image, or its registry.
    fn is_key_exposure(self) -> bool {
        matches!(self, Area::AnswerFile | Area::ImageFile | Area::Registry)
    }
}

/// GitHub code scanning's `security-severity` for a rule, from its area and default severity
/// (GitHub reads 9.0 and up as critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low):
///
/// | rule | error | warning | note |
/// | --- | --- | --- | --- |
/// | a key installed in the image's registry (`MG3xx`) | 9.5 critical | 5.0 medium | 2.0 low |
/// | a key in an answer file or an image file (`MG1xx`, `MG2xx`) | 8.5 high | 5.0 medium | 2.0 low |
/// | the scan is incomplete (MG9xx): the image is not known to be clean | 7.5 high | 5.0 medium | 2.0 low |
/// | fix and policy (`MG4xx`, `MG5xx`) | 5.5 medium | 4.0 medium | 2.0 low |
///
/// Documented in docs/output-formats.md; a property of the rule, so it moves onto the rule
/// declaration when that carries a category.
pub(crate) fn security_severity(rule: &Rule) -> &'static str {
    match (Area::of(rule), rule.default_severity) {
        (_, Severity::Note) => "2.0",
        (area, Severity::Warning) if area.is_key_exposure() || area == Area::IncompleteScan => "5.0",
        (_, Severity::Warning) => "4.0",
        (Area::Registry, Severity::Error) => "9.5",
        (area, Severity::Error) if area.is_key_exposure() => "8.5",
        (Area::IncompleteScan, Severity::Error) => "7.5",
        (_, Severity::Error) => "5.5",
    }
}

/// `makguard`, the rule's area, and `security` for what GitHub should list as a security alert:
/// keys where they must not be, and scans that could not finish.
fn tags(rule: &Rule) -> Vec<&'static str> {
    let area = Area::of(rule);
    let mut tags = vec!["makguard", area.tag()];
    if area.is_key_exposure() || area == Area::IncompleteScan {
        tags.push("security");
    }
    tags
}

fn describe_rule(rule: &'static Rule) -> RuleDescriptor {
    let rationale = rule.doc.rationale();
    let plain_doc = rationale.replace('`', "");
    RuleDescriptor {
        id: rule.code,
        name: pascal_case(rule.name),
        short_description: Message {
            text: sentence(rule.summary),
        },
        full_description: Message {
            text: sentence(&plain_doc),
        },
        help: Help {
            text: format!("{} {}", sentence(rule.summary), sentence(&plain_doc)),
            markdown: format!(
                "**{code} `{name}`**: {summary}\n\n{doc}\n\n[Rule reference]({uri})",
                code = rule.code,
                name = rule.name,
                summary = sentence(rule.summary),
                doc = rationale,
                uri = rule_help_uri(rule.code)
            ),
        },
        help_uri: rule_help_uri(rule.code),
        default_configuration: DefaultConfiguration {
            level: level(rule.default_severity),
        },
        properties: RuleProperties {
            makguard_name: rule.name,
            fixable: rule.is_fixable(),
            tags: tags(rule),
            security_severity: security_severity(rule),
        },
    }
}

/// What a URI path keeps literal: RFC 3986's unreserved characters and `/`. Everything else,
/// `:` included (so a first segment never reads as a scheme), is percent-encoded.
const URI_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes bytes (UTF-8 or not) for a relative URI reference.
pub(crate) fn encode_uri_path(bytes: &[u8]) -> String {
    percent_encode(bytes, URI_PATH).to_string()
}

/// How a root's findings are addressed: a base id and the URI prefix below it.
struct RootAddress {
    base_id: String,
    /// `/`-separated prefix joined before each finding's path (empty for none).
    prefix: String,
    /// For a root that is a single file: its URI below the base, used as is.
    file: Option<String>,
}

/// Relative roots sit below `%SRCROOT%` (where makguard ran, normally the repository
/// checkout); an absolute root, such as a mounted image, gets its own base id `ROOTn` whose
/// absolute file URI is in `originalUriBaseIds`, so every result URI stays relative.
fn root_addresses(report: &ScanReport, bases: &mut BTreeMap<String, BaseId>) -> Vec<RootAddress> {
    bases.insert(
        SRCROOT.to_string(),
        BaseId {
            uri: None,
            description: Message {
                text: "The directory makguard ran in; relative scan roots are relative to it.".to_string(),
            },
        },
    );
    let mut addresses = Vec::new();
    for (index, root) in report.roots.iter().enumerate() {
        let normalised = normalise_root(&root.path);
        let (directory, file_name) = if root.is_file {
            match normalised.rsplit_once('/') {
                Some(("", name)) => ("/".to_string(), Some(name.to_string())),
                Some((dir, name)) => (dir.to_string(), Some(name.to_string())),
                None => (String::new(), Some(normalised.clone())),
            }
        } else {
            (normalised.clone(), None)
        };
        if is_absolute(&directory) {
            let base_id = format!("ROOT{index}");
            let uri = directory_uri(&directory);
            bases.insert(
                base_id.clone(),
                BaseId {
                    uri: Some(uri),
                    description: Message {
                        text: format!("Scan root {index}."),
                    },
                },
            );
            addresses.push(RootAddress {
                base_id,
                prefix: String::new(),
                file: file_name.map(|name| encode_uri_path(name.as_bytes())),
            });
        } else {
            let file = file_name.map(|_| encode_uri_path(normalised.as_bytes()));
            addresses.push(RootAddress {
                base_id: SRCROOT.to_string(),
                prefix: encode_uri_path(directory.as_bytes()),
                file,
            });
        }
    }
    addresses
}

/// The `file:` URI of an absolute directory as [`normalise_root`] leaves it, ending in `/`:
/// `/mnt/wim` -> `file:///mnt/wim/`, `C:/Mount` -> `file:///C:/Mount/`, and a UNC path
/// `//server/share/img` -> `file://server/share/img/` (the server is the URI's host).
fn directory_uri(directory: &str) -> String {
    let mut uri = if let Some(unc) = directory.strip_prefix("//") {
        let (server, path) = unc.split_once('/').unwrap_or((unc, ""));
        format!(
            "file://{}/{}",
            encode_uri_path(server.as_bytes()),
            encode_uri_path(path.as_bytes())
        )
    } else if let Some((drive, path)) = drive_letter(directory) {
        // A drive letter's colon stays literal in a file URI.
        format!("file:///{drive}:{}", encode_uri_path(path.as_bytes()))
    } else {
        format!("file://{}", encode_uri_path(directory.as_bytes()))
    };
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// `C:/x` -> (`C`, `/x`).
fn drive_letter(path: &str) -> Option<(char, &str)> {
    let mut chars = path.chars();
    match (chars.next(), chars.next()) {
        (Some(drive), Some(':')) if drive.is_ascii_alphabetic() => Some((drive, &path[2..])),
        _ => None,
    }
}

fn artifact_location(
    addresses: &[RootAddress],
    bases: &mut BTreeMap<String, BaseId>,
    report: &ScanReport,
    finding: &Finding,
) -> ArtifactLocation {
    let relative = match &finding.path().raw_bytes {
        Some(bytes) => encode_uri_path(bytes),
        None => encode_uri_path(finding.path().display.as_bytes()),
    };
    if let Some(address) = addresses
        .get(finding.location.root)
        .filter(|_| root_of(report, finding).is_some())
    {
        return ArtifactLocation {
            uri: address
                .file
                .clone()
                .unwrap_or_else(|| join_root(&address.prefix, &relative)),
            uri_base_id: address.base_id.clone(),
        };
    }
    // Outside every root (a policy file given with --config): an absolute path gets a base of
    // its own directory, so the URI stays relative as GitHub requires.
    let path = normalise_root(&finding.path().display);
    match path.rsplit_once('/') {
        Some((directory, name)) if is_absolute(&path) && finding.path().raw_bytes.is_none() => {
            let directory = if directory.is_empty() { "/" } else { directory };
            let uri = directory_uri(directory);
            let existing = bases
                .iter()
                .find(|(_, base)| base.uri.as_deref() == Some(uri.as_str()))
                .map(|(id, _)| id.clone());
            let base_id = existing.unwrap_or_else(|| {
                let id = format!("OUTSIDE{}", bases.keys().filter(|k| k.starts_with("OUTSIDE")).count());
                bases.insert(
                    id.clone(),
                    BaseId {
                        uri: Some(uri),
                        description: Message {
                            text: "A directory outside the scanned roots.".to_string(),
                        },
                    },
                );
                id
            });
            ArtifactLocation {
                uri: encode_uri_path(name.as_bytes()),
                uri_base_id: base_id,
            }
        }
        _ => ArtifactLocation {
            uri: relative,
            uri_base_id: SRCROOT.to_string(),
        },
    }
}

/// The first 16 hex digits of SHA-256 over `code|uri|key fingerprint`: stable across edits
/// that move the key to another line.
fn line_hash(code: &str, location: &ArtifactLocation, finding: &Finding) -> String {
    let fingerprint = finding.key.as_ref().map(|k| k.key.fingerprint()).unwrap_or_default();
    let material = format!("{code}|{}|{}|{fingerprint}", location.uri_base_id, location.uri);
    hex(&Sha256::digest(material.as_bytes())[..8])
}

/// Whether a finding becomes a SARIF result: note-level findings ("this GVLK is fine") only
/// with `--fail-on note`, since GitHub code scanning opens an alert for every result whatever
/// its level (and does not document `kind: "pass"`).
fn is_reported(finding: &Finding, options: &RenderOptions) -> bool {
    finding.severity > Severity::Note || options.fail_on == Severity::Note
}

/// The order results are kept in when over [`SarifLimits`]: unsuppressed first, then by
/// level, then by the rule's security severity; ties keep the report's order.
fn keep_order(finding: &Finding) -> impl Ord {
    let security_tenths: u32 = security_severity(finding.rule).replace('.', "").parse().unwrap_or(0);
    (
        finding.suppressed.is_some(),
        Reverse(finding.severity),
        Reverse(security_tenths),
    )
}

/// True when even incompressible gzip output of `document` (deflate's stored blocks: 5 bytes
/// per 64 KiB, plus an 18-byte header and trailer) stays within `max_gzip_bytes`, so the
/// ordinary report is never compressed just to be measured.
fn fits_uncompressed(document: &str, max_gzip_bytes: usize) -> bool {
    let worst_case = document.len() + 5 * (document.len() / 65_535 + 1) + 18;
    worst_case <= max_gzip_bytes
}

fn gzip_len(document: &str) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(document.as_bytes());
    encoder.finish().map(|bytes| bytes.len()).unwrap_or(usize::MAX)
}

fn to_json(log: &Log<'_>) -> String {
    match serde_json::to_string_pretty(log) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        Err(error) => format!(
            "{{\"version\": \"2.1.0\", \"runs\": [], \"error\": {}}}\n",
            serde_json::Value::String(error.to_string())
        ),
    }
}

/// One result per reported finding, in the report's order, and one notification per
/// unsuppressed finding that made the scan incomplete.
struct Built {
    /// (index in the report, result).
    results: Vec<(usize, SarifResult)>,
    incomplete: Vec<Notification>,
    notes_omitted: usize,
}

fn build_results(
    report: &ScanReport,
    options: &RenderOptions,
    addresses: &[RootAddress],
    bases: &mut BTreeMap<String, BaseId>,
) -> Built {
    let rule_index: HashMap<&str, usize> = rules::ALL.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    // GitHub's convention: the suffix counts earlier results with the same hash, so two
    // identical keys in one file stay two alerts.
    let mut occurrences: HashMap<String, u32> = HashMap::new();
    let mut built = Built {
        results: Vec::new(),
        incomplete: Vec::new(),
        notes_omitted: 0,
    };
    for (index, finding) in report.findings.iter().enumerate() {
        let reported = is_reported(finding, options);
        let incomplete = finding.rule.is_incomplete_scan() && finding.suppressed.is_none();
        if !reported && !incomplete {
            built.notes_omitted += 1;
            continue;
        }
        let result = build_result(report, finding, addresses, bases, &rule_index, &mut occurrences);
        if incomplete {
            built.incomplete.push(Notification {
                level: "error",
                message: Message {
                    text: format!("{} {}: {}", finding.rule.code, finding.rule.name, result.message.text),
                },
                locations: result.locations.clone(),
                associated_rule: Some(RuleReference {
                    id: finding.rule.code,
                    index: result.rule_index,
                }),
            });
        }
        if reported {
            built.results.push((index, result));
        } else {
            built.notes_omitted += 1;
        }
    }
    built
}

fn build_result(
    report: &ScanReport,
    finding: &Finding,
    addresses: &[RootAddress],
    bases: &mut BTreeMap<String, BaseId>,
    rule_index: &HashMap<&str, usize>,
    occurrences: &mut HashMap<String, u32>,
) -> SarifResult {
    let location = artifact_location(addresses, bases, report, finding);
    // Inside an image file the artifact is the file itself: the member and its line go
    // into the message, and into the fingerprint so members stay apart.
    let member = root_of(report, finding)
        .filter(|root| root.container.is_some())
        .map(|_| format!("{}{}", file_location(report, finding), position_suffix(finding)));
    let hash = location_hash(finding, &location, member.as_deref());
    let occurrence = occurrences.entry(hash.clone()).or_insert(0);
    *occurrence += 1;
    let logical_locations = finding
        .xml()
        .map(|xml| LogicalLocation {
            fully_qualified_name: describe_xml(xml),
            kind: "element",
        })
        .into_iter()
        .collect();
    SarifResult {
        rule_id: finding.rule.code,
        rule_index: rule_index.get(finding.rule.code).copied(),
        level: level(finding.severity),
        message: Message {
            text: match &member {
                Some(member) => sentence(&format!("In {member}: {}", finding.message)),
                None => sentence(&finding.message),
            },
        },
        locations: vec![Location {
            physical_location: PhysicalLocation {
                artifact_location: location,
                region: region(finding, member.is_some()),
            },
            logical_locations,
        }],
        partial_fingerprints: BTreeMap::from([("primaryLocationLineHash", format!("{hash}:{occurrence}"))]),
        suppressions: suppressions(finding),
        properties: result_properties(finding),
    }
}

/// The fingerprint's hash: the rule, the artifact and the key, plus the member of an image
/// file when the artifact is one.
fn location_hash(finding: &Finding, location: &ArtifactLocation, member: Option<&str>) -> String {
    let hash = line_hash(finding.rule.code, location, finding);
    match member {
        Some(member) => hash + &hex(&Sha256::digest(member.as_bytes())[..4]),
        None => hash,
    }
}

/// Where the result is in its artifact. GitHub needs a line, so a finding without one gets
/// line 1 (and `lineKnown: false`); inside an image file the member's position is in the
/// message, not here.
fn region(finding: &Finding, in_image_file: bool) -> Region {
    if in_image_file {
        return Region {
            start_line: 1,
            start_column: None,
        };
    }
    Region {
        start_line: finding.line().unwrap_or(1).max(1),
        start_column: finding.column().map(|c| c.max(1)),
    }
}

fn suppressions(finding: &Finding) -> Vec<SarifSuppression> {
    finding
        .suppressed
        .iter()
        .map(|s| SarifSuppression {
            kind: "external",
            justification: s.justification.clone(),
            properties: SuppressionProperties {
                origin: s.origin.clone(),
            },
        })
        .collect()
}

fn result_properties(finding: &Finding) -> ResultProperties {
    ResultProperties {
        path: finding.path().display.clone(),
        root: finding.location.root,
        path_bytes_hex: finding.path().raw_bytes.as_deref().map(hex),
        line_known: finding.line().is_some(),
        key: finding.key.as_ref().map(|info| ResultKey {
            masked: info.key.masked(),
            fingerprint: info.key.fingerprint(),
            class: info.class().as_str(),
            checksum: info.classification.checksum.as_str(),
        }),
        xml: finding.xml().map(describe_xml),
        remediation: finding.remediation().map(str::to_string),
        fix: finding.fix.as_ref().map(|fix| ResultFix {
            applicability: fix.applicability.as_str(),
            new_key: fix.new_key.display_form(),
            chosen_by: fix.chosen_by.clone(),
        }),
    }
}

fn truncation_notice(omitted: usize, total: usize, limits: SarifLimits) -> Notification {
    Notification {
        level: "warning",
        message: Message {
            text: format!(
                "{omitted} of {total} results were left out to stay within {} results and {} bytes of gzip-compressed SARIF per upload (GitHub code scanning's limits); the most severe were kept, and every finding is in makguard's JSON report.",
                limits.max_results, limits.max_gzip_bytes
            ),
        },
        locations: Vec::new(),
        associated_rule: None,
    }
}

fn tool(options: &RenderOptions) -> Tool {
    Tool {
        driver: Driver {
            name: TOOL_NAME,
            full_name: format!("{TOOL_NAME} {}", options.tool_version),
            information_uri: INFORMATION_URI,
            version: options.tool_version.to_string(),
            semantic_version: options.tool_version.to_string(),
            rules: rules::ALL.iter().map(|rule| describe_rule(rule)).collect(),
        },
    }
}

fn run_properties<'a>(report: &'a ScanReport, addresses: &[RootAddress], verdict: &Verdict) -> RunProperties<'a> {
    RunProperties {
        image: report.image().map(Image::new),
        roots: report
            .roots
            .iter()
            .zip(addresses)
            .map(|(root, address)| RunRoot {
                path: &root.path,
                uri_base_id: address.base_id.clone(),
                image: root.image.as_ref().map(Image::new),
            })
            .collect(),
        summary: RunSummary {
            files_walked: report.summary.files_walked,
            files_scanned: report.summary.files_scanned,
            files_skipped: &report.summary.skipped,
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            notes: report.count(Severity::Note),
            suppressed: report.suppressed_count(),
            incomplete: report.incomplete(),
            verdict: verdict.word,
            exit_code: verdict.status as i32,
        },
    }
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let mut bases = BTreeMap::new();
    let addresses = root_addresses(report, &mut bases);
    let built = build_results(report, options, &addresses, &mut bases);

    let verdict = verdict(report, options.fail_on);
    let tool = tool(options);
    let properties = run_properties(report, &addresses, &verdict);

    // Positions into `built.results`, most important first.
    let mut ranked: Vec<usize> = (0..built.results.len()).collect();
    ranked.sort_by_key(|&n| (keep_order(&report.findings[built.results[n].0]), n));
    let limits = options.sarif_limits;
    let total = built.results.len();
    let mut keep = total.min(limits.max_results);
    loop {
        let mut kept: Vec<usize> = ranked[..keep].to_vec();
        kept.sort_unstable();
        let notice = (keep < total).then(|| truncation_notice(total - keep, total, limits));
        let log = Log {
            schema: SCHEMA,
            version: "2.1.0",
            runs: vec![Run {
                tool: &tool,
                invocations: [Invocation {
                    execution_successful: !report.incomplete(),
                    exit_code: options.exit_code.unwrap_or(verdict.status as i32),
                    tool_execution_notifications: built.incomplete.iter().chain(notice.as_ref()).collect(),
                }],
                original_uri_base_ids: &bases,
                column_kind: "unicodeCodePoints",
                results: kept.iter().map(|&n| &built.results[n].1).collect(),
                properties: RunPropertiesOut {
                    report: &properties,
                    omitted: Omitted {
                        notes: built.notes_omitted,
                        over_limits: total - keep,
                    },
                },
            }],
        };
        let document = to_json(&log);
        if keep == 0 || fits_uncompressed(&document, limits.max_gzip_bytes) {
            return document;
        }
        let size = gzip_len(&document);
        if size <= limits.max_gzip_bytes {
            return document;
        }
        // Shrink in proportion, with a margin, and always by at least one result.
        let estimate = (keep as u128 * limits.max_gzip_bytes as u128 / size as u128) as usize;
        keep = (estimate * 9 / 10).min(keep - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_of_rule_names() {
        assert_eq!(pascal_case("unattend-non-kms-key"), "UnattendNonKmsKey");
        assert_eq!(pascal_case("office-c2r-non-kms-key"), "OfficeC2rNonKmsKey");
        assert_eq!(pascal_case("x"), "X");
    }

    #[test]
    fn uri_paths_are_percent_encoded() {
        assert_eq!(encode_uri_path(b"a b/c:d.xml"), "a%20b/c%3Ad.xml");
        assert_eq!(encode_uri_path(b"caf\xe9/x"), "caf%E9/x");
        assert_eq!(encode_uri_path("é".as_bytes()), "%C3%A9");
    }

    #[test]
    fn directory_uris_of_every_root_shape() {
        let uri = |root: &str| directory_uri(&normalise_root(root));
        assert_eq!(uri("/mnt/wim"), "file:///mnt/wim/");
        assert_eq!(uri("/"), "file:///");
        assert_eq!(uri(r"C:\Mount\Win 11"), "file:///C:/Mount/Win%2011/");
        assert_eq!(uri(r"C:\"), "file:///C:/");
        assert_eq!(uri(r"\\server\share\images"), "file://server/share/images/");
        assert_eq!(uri(r"\\server\share"), "file://server/share/");
        assert_eq!(uri(r"\\?\C:\Mount\x"), "file:///C:/Mount/x/");
        assert_eq!(uri(r"\\?\UNC\server\share\img"), "file://server/share/img/");
        // Only a drive letter's colon stays literal.
        assert_eq!(uri("/mnt/a:b#c?d%e"), "file:///mnt/a%3Ab%23c%3Fd%25e/");
    }

    #[test]
    fn security_severity_follows_the_documented_table() {
        let of = |rule: &Rule| security_severity(rule).parse::<f32>().unwrap();
        assert_eq!(
            of(&rules::MAK_INSTALLED),
            9.5,
            "a MAK installed in an image is critical"
        );
        assert_eq!(of(&rules::UNATTEND_NON_KMS_KEY), 8.5, "a MAK in an answer file is high");
        assert_eq!(of(&rules::FILE_UNREADABLE), 7.5);
        assert_eq!(of(&rules::UNATTEND_PARTIAL_KEY), 5.0);
        assert_eq!(of(&rules::ALLOW_EXPIRED), 5.5);
        assert_eq!(of(&rules::ALLOW_UNUSED), 4.0);
        assert_eq!(of(&rules::UNATTEND_GVLK), 2.0);
        for rule in rules::ALL {
            let severity = of(rule);
            let band = match rule.default_severity {
                Severity::Error => 4.0..=10.0,
                Severity::Warning => 4.0..=6.9,
                Severity::Note => 0.1..=3.9,
            };
            assert!(band.contains(&severity), "{}: {severity}", rule.code);
        }
    }

    #[test]
    fn sentences_end_with_a_period() {
        assert_eq!(sentence("A key"), "A key.");
        assert_eq!(sentence("Done. "), "Done.");
    }
}
