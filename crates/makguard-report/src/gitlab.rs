//! GitLab's Code Quality report (`artifacts:reports:codequality`): a JSON array with one issue
//! per finding, in the subset of the Code Climate format GitLab reads, shown in the merge
//! request widget and the pipeline's Code Quality tab.
//!
//! GitLab keys issues by `fingerprint` (two issues with one fingerprint become one) and stops
//! reading the file at the first issue its schema rejects, so every issue here is complete and
//! every fingerprint unique. Paths are relative to the project directory, as GitLab resolves
//! them (`location.path` joined to the commit's tree): a relative root is taken as relative to
//! the job's directory, which is the project directory (`CI_PROJECT_DIR`) in GitLab; an
//! absolute path under `CI_PROJECT_DIR` is made relative to it.
//!
//! Code Quality has no "passed" or "suppressed" issue: every entry reads as a defect. So
//! suppressed findings are left out, and notes (a correct GVLK, `MG100`, is a note) are in only
//! with `--fail-on note`, as `info`.

use std::collections::HashMap;

use makguard_core::{Finding, ScanReport, Severity};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{RenderOptions, TOOL_NAME, file_location, hex, is_absolute, normalise_root};

/// Code Quality's severity for a finding: `blocker` for a file makguard could not read (the
/// scan, and so the image, is not known to be clean), `critical` for an error (a key that must
/// not ship), `minor` for a warning, `info` for a note.
fn severity(finding: &Finding) -> &'static str {
    if finding.rule.is_incomplete_scan() {
        return "blocker";
    }
    match finding.severity {
        Severity::Error => "critical",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

fn reported(finding: &Finding, fail_on: Severity) -> bool {
    finding.suppressed.is_none() && (finding.severity > Severity::Note || fail_on == Severity::Note)
}

/// `location` relative to `project_dir` when it lies under it (compared `/`-separated, and
/// case-insensitively for a drive-letter path, as Windows runners give them); otherwise as is.
pub(crate) fn project_relative(location: &str, project_dir: Option<&str>) -> String {
    let location = location.replace('\\', "/");
    let Some(project) = project_dir.map(normalise_root).filter(|p| is_absolute(p)) else {
        return location;
    };
    let project = project.trim_end_matches('/');
    let drive_letter = project.as_bytes().get(1) == Some(&b':');
    let head = location.get(..project.len());
    let under = head.is_some_and(|head| {
        if drive_letter {
            head.eq_ignore_ascii_case(project)
        } else {
            head == project
        }
    });
    match location.get(project.len()..) {
        Some(rest) if under && rest.starts_with('/') => rest.trim_start_matches('/').to_string(),
        _ => location,
    }
}

/// A stable identity for the finding: sha256 over the rule code, path, position and the key's
/// own `sha256:` fingerprint (never the key), plus how many identical findings came before it.
fn fingerprint(finding: &Finding, path: &str, seen: &mut HashMap<String, usize>) -> String {
    let material = format!(
        "{TOOL_NAME}-codequality\0{}\0{path}\0{}\0{}\0{}",
        finding.rule.code,
        finding.line().map(|l| l.to_string()).unwrap_or_default(),
        finding.column().map(|c| c.to_string()).unwrap_or_default(),
        finding.key.as_ref().map(|k| k.key.fingerprint()).unwrap_or_default(),
    );
    let occurrence = seen.entry(material.clone()).or_insert(0);
    *occurrence += 1;
    hex(&Sha256::digest(format!("{material}\0{occurrence}").as_bytes()))
}

fn issue(finding: &Finding, path: &str, fingerprint: &str) -> Value {
    let mut description = format!("{} {}: {}", finding.rule.code, finding.rule.name, finding.message);
    if let Some(info) = &finding.key {
        description.push_str(&format!(
            " [key {} {}]",
            info.key.display_form(),
            info.key.fingerprint()
        ));
    }
    json!({
        "type": "issue",
        "check_name": finding.rule.code,
        "description": description,
        "categories": ["Security"],
        "engine_name": TOOL_NAME,
        "fingerprint": fingerprint,
        "severity": severity(finding),
        "location": {
            "path": path,
            // GitLab requires a line; a finding without one (a registry value, an unreadable
            // file) is on the file's first line.
            "lines": { "begin": finding.line().unwrap_or(1).max(1) },
        },
    })
}

/// The report, with absolute paths made relative to `project_dir` where they lie under it.
pub(crate) fn render_for_project(report: &ScanReport, options: &RenderOptions, project_dir: Option<&str>) -> String {
    let mut seen = HashMap::new();
    let issues: Vec<Value> = report
        .findings
        .iter()
        .filter(|finding| reported(finding, options.fail_on))
        .map(|finding| {
            let path = project_relative(&file_location(report, finding), project_dir);
            let fingerprint = fingerprint(finding, &path, &mut seen);
            issue(finding, &path, &fingerprint)
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&issues).expect("JSON values serialise");
    out.push('\n');
    out
}

pub(crate) fn render(report: &ScanReport, options: &RenderOptions) -> String {
    let project_dir = std::env::var("CI_PROJECT_DIR").ok();
    render_for_project(report, options, project_dir.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_under_the_project_become_relative() {
        let project = Some("/builds/group/proj");
        assert_eq!(
            project_relative("/builds/group/proj/out/mnt/a.xml", project),
            "out/mnt/a.xml"
        );
        assert_eq!(
            project_relative("/builds/group/project2/a.xml", project),
            "/builds/group/project2/a.xml"
        );
        assert_eq!(project_relative("out/a.xml", project), "out/a.xml");
        assert_eq!(project_relative("/mnt/wim/a.xml", None), "/mnt/wim/a.xml");
        assert_eq!(
            project_relative("c:/Builds/proj/a.xml", Some("C:\\builds\\proj\\")),
            "a.xml"
        );
        assert_eq!(project_relative("a.xml", Some("relative/dir")), "a.xml");
    }
}
