//! Where Microsoft's SARIF Multitool is (`MAKGUARD_SARIF_MULTITOOL`, else the npm install in
//! the target directory) and the validation config the report crate's SARIF tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::tools::{external_tool, workspace_target};

/// How to install the Multitool where [`sarif_multitool`] looks for it.
pub const SARIF_MULTITOOL_INSTALL: &str = "npm install --prefix target/sarif-tools @microsoft/sarif-multitool-linux";

/// The Multitool's executable: `MAKGUARD_SARIF_MULTITOOL` if set and present, else
/// `<target>/sarif-tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool`. When
/// neither exists, follows [`external_tool`]'s policy (fail, or `None` after `skipped: …`).
pub fn sarif_multitool() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("MAKGUARD_SARIF_MULTITOOL") {
        candidates.push(PathBuf::from(path));
    }
    candidates
        .push(workspace_target().join("sarif-tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"));
    external_tool("SARIF Multitool", &candidates, SARIF_MULTITOOL_INSTALL)
}

/// The Multitool rule configuration (`--config`): SARIF and GitHub ingestion rules as
/// makguard holds them, kept in the report crate's test data.
pub fn sarif_multitool_config() -> PathBuf {
    crate::workspace_root().join("crates/makguard-report/tests/data/sarif-multitool-config.xml")
}

/// A problem the Multitool reports: level, rule id, message (as JSON text).
pub type MultitoolProblem = (String, String, String);

/// Validates `inputs` in one Multitool run (it starts slowly) with SARIF and GitHub ingestion
/// rules ([`sarif_multitool_config`]), writing its log into `work`. Fails the test if the
/// Multitool cannot run, fails, does not scan every input or reports an error notification.
/// Returns every result as (artifact uri, problem); a result without a level takes its rule's
/// configured level, then "warning".
///
/// # Panics
///
/// When the Multitool cannot run or fails, scans fewer files than `inputs`, writes no JSON
/// log, or reports an error notification.
pub fn run_multitool(tool: &Path, inputs: &[PathBuf], work: &Path) -> Vec<(String, MultitoolProblem)> {
    let output = work.join("validation.sarif");
    let run = Command::new(tool)
        .arg("validate")
        .args(inputs)
        .args(["--rule-kind", "Sarif;Ghas", "--log", "ForceOverwrite", "--config"])
        .arg(sarif_multitool_config())
        .arg("--output")
        .arg(&output)
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e} (is it executable? chmod u+x it)", tool.display()));
    let console = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the Multitool failed:\n{console}");
    assert!(
        console.contains(&format!("{} files scanned", inputs.len())),
        "the Multitool did not scan every log:\n{console}"
    );
    let log: Value = serde_json::from_str(
        &std::fs::read_to_string(&output).unwrap_or_else(|e| panic!("no validation log ({e}):\n{console}")),
    )
    .unwrap_or_else(|e| panic!("the validation log is not JSON ({e}):\n{console}"));
    let run = &log["runs"][0];
    for invocation in run["invocations"].as_array().into_iter().flatten() {
        for kind in ["toolExecutionNotifications", "toolConfigurationNotifications"] {
            for notification in invocation[kind].as_array().into_iter().flatten() {
                assert_ne!(
                    notification["level"], "error",
                    "the Multitool reports a problem: {notification}\n{console}"
                );
            }
        }
    }
    let rules = run["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default();
    run["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|result| {
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let id = result["ruleId"].as_str().unwrap_or_default().to_string();
            let level = result["level"]
                .as_str()
                .or_else(|| {
                    rules
                        .iter()
                        .find(|r| r["id"] == id.as_str())
                        .and_then(|r| r["defaultConfiguration"]["level"].as_str())
                })
                .unwrap_or("warning")
                .to_string();
            (uri, (level, id, result["message"].to_string()))
        })
        .collect()
}
