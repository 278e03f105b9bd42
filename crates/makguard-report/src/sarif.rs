//! SARIF 2.1.0 for code-scanning services (GitHub code scanning, Azure DevOps, Sonar, ...).
//!
//! Shaped to pass Microsoft's SARIF Multitool under its SARIF and GitHub rule kinds: every
//! rule in the registry with a PascalCase `name` and help, exactly one location per result
//! with a relative URI and a region that has a `startLine`, and a
//! `partialFingerprints.primaryLocationLineHash` built from the rule, the path and the key's
//! fingerprint, so an alert survives edits that only move lines. Keys appear only masked,
//! whatever `--show-keys` says: SARIF ends up in CI systems.

use std::collections::{BTreeMap, HashMap};

use makguard_core::rules::{self, Area, Rule};
use makguard_core::{Finding, ScanReport, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::json::Image;
use crate::{
    INFORMATION_URI, RenderOptions, TOOL_NAME, describe_xml, hex, is_absolute, join_root, normalise_root, root_of,
    rule_help_uri, verdict,
};
use crate::{file_location, position_suffix};

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
    tool: Tool,
    original_uri_base_ids: BTreeMap<String, BaseId>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
    properties: RunProperties<'a>,
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

#[derive(Serialize)]
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
}

#[derive(Serialize)]
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

/// `unattend-non-kms-key` -> `UnattendNonKmsKey` (the Multitool wants PascalCase names).
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

fn tags(rule: &Rule) -> Vec<&'static str> {
    let area = match rule.area() {
        Area::AnswerFile => "answer-file",
        Area::ImageFile => "image-file",
        Area::Registry => "registry",
        Area::Fix => "fix",
        Area::Policy => "policy",
        Area::Unreadable => "incomplete-scan",
    };
    let mut tags = vec!["makguard", area];
    if rule.default_severity == Severity::Error && matches!(area, "answer-file" | "image-file" | "registry") {
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
        },
    }
}

/// Percent-encodes bytes for a relative URI reference, keeping `/` and unreserved characters.
/// Encoding `:` keeps a first segment from reading as a scheme.
pub(crate) fn encode_uri_path(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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

/// `file:///mnt/wim/` or `file:///C:/Mount/` for an absolute directory (as [`normalise_root`]
/// leaves it).
fn directory_uri(directory: &str) -> String {
    let mut uri = String::from("file://");
    if !directory.starts_with('/') {
        uri.push('/');
    }
    // A drive letter's colon stays literal in a file URI.
    uri.push_str(&encode_uri_path(directory.as_bytes()).replacen("%3A", ":", 1));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn artifact_location(
    addresses: &[RootAddress],
    bases: &mut BTreeMap<String, BaseId>,
    report: &ScanReport,
    finding: &Finding,
) -> ArtifactLocation {
    let relative = match &finding.path.raw_bytes {
        Some(bytes) => encode_uri_path(bytes),
        None => encode_uri_path(finding.path.display.as_bytes()),
    };
    if let Some(address) = addresses
        .get(finding.root)
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
    let path = normalise_root(&finding.path.display);
    match path.rsplit_once('/') {
        Some((directory, name)) if is_absolute(&path) && finding.path.raw_bytes.is_none() => {
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

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let mut bases = BTreeMap::new();
    let addresses = root_addresses(report, &mut bases);
    let rule_index: HashMap<&str, usize> = rules::ALL.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    // GitHub's convention: the suffix counts earlier results with the same hash, so two
    // identical keys in one file stay two alerts.
    let mut occurrences: HashMap<String, u32> = HashMap::new();

    let results = report
        .findings
        .iter()
        .map(|finding| {
            let location = artifact_location(&addresses, &mut bases, report, finding);
            // Inside an image file the artifact is the file itself: the member and its line go
            // into the message, and into the fingerprint so members stay apart.
            let member = root_of(report, finding)
                .filter(|root| root.container.is_some())
                .map(|_| format!("{}{}", file_location(report, finding), position_suffix(finding)));
            let hash = match &member {
                Some(member) => {
                    line_hash(finding.rule.code, &location, finding) + &hex(&Sha256::digest(member.as_bytes())[..4])
                }
                None => line_hash(finding.rule.code, &location, finding),
            };
            let occurrence = occurrences.entry(hash.clone()).or_insert(0);
            *occurrence += 1;
            let logical_locations = finding
                .xml
                .as_ref()
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
                        region: Region {
                            start_line: if member.is_some() {
                                1
                            } else {
                                finding.line.unwrap_or(1).max(1)
                            },
                            start_column: finding
                                .line
                                .and(finding.column)
                                .filter(|_| member.is_none())
                                .map(|c| c.max(1)),
                        },
                    },
                    logical_locations,
                }],
                partial_fingerprints: BTreeMap::from([("primaryLocationLineHash", format!("{hash}:{occurrence}"))]),
                suppressions: finding
                    .suppressed
                    .iter()
                    .map(|s| SarifSuppression {
                        kind: "external",
                        justification: s.justification.clone(),
                        properties: SuppressionProperties {
                            origin: s.origin.clone(),
                        },
                    })
                    .collect(),
                properties: ResultProperties {
                    path: finding.path.display.clone(),
                    root: finding.root,
                    path_bytes_hex: finding.path.raw_bytes.as_deref().map(hex),
                    line_known: finding.line.is_some(),
                    key: finding.key.as_ref().map(|info| ResultKey {
                        masked: info.key.masked(),
                        fingerprint: info.key.fingerprint(),
                        class: info.class().as_str(),
                        checksum: info.classification.checksum.as_str(),
                    }),
                    xml: finding.xml.as_ref().map(describe_xml),
                    remediation: finding.remediation.clone(),
                    fix: finding.fix.as_ref().map(|fix| ResultFix {
                        applicability: fix.applicability.as_str(),
                        new_key: fix.new_key.display_form(),
                        chosen_by: fix.chosen_by.clone(),
                    }),
                },
            }
        })
        .collect();

    let verdict = verdict(report, options.fail_on);
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    full_name: format!("{TOOL_NAME} {}", options.tool_version),
                    information_uri: INFORMATION_URI,
                    version: options.tool_version.to_string(),
                    semantic_version: options.tool_version.to_string(),
                    rules: rules::ALL.iter().map(|rule| describe_rule(rule)).collect(),
                },
            },
            original_uri_base_ids: bases,
            column_kind: "unicodeCodePoints",
            results,
            properties: RunProperties {
                image: report.image().map(Image::new),
                roots: report
                    .roots
                    .iter()
                    .zip(&addresses)
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
            },
        }],
    };
    match serde_json::to_string_pretty(&log) {
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
    fn sentences_end_with_a_period() {
        assert_eq!(sentence("A key"), "A key.");
        assert_eq!(sentence("Done. "), "Done.");
    }
}
