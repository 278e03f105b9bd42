//! The change log of a fix run: per file, every key replaced, how its GVLK was chosen, the
//! byte ranges changed and the file's SHA-256 before and after; as JSON (`--report FILE`) and
//! as a redacted unified diff (`--dry-run`).

use makguard_core::key::mask_keys_in;
use makguard_core::{Applicability, ByteRange, Edit, Fix, ProductKey, Rule};
use serde_json::{Value, json};

/// The change-log JSON format version. Later versions only add fields.
pub const CHANGE_LOG_FORMAT_VERSION: u32 = 1;

/// One key replacement in one file: a finding's [`Edit`], carried with what the change log
/// says about it. The old key shows only masked and as its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReplacement {
    /// The rule whose finding this replacement fixes.
    pub rule: &'static Rule,
    /// The key the scan saw in the edit's range; the text must still parse to it.
    pub old_key: ProductKey,
    /// The edit of the file's decoded text.
    pub edit: Edit,
    /// The GVLK written.
    pub new_key: ProductKey,
    /// How the GVLK was chosen, from the finding's [`Fix::chosen_by`].
    pub chosen_by: String,
    /// How safe the fix is, from the finding's [`Fix::applicability`]; the run applies it only
    /// at or above its threshold.
    pub applicability: Applicability,
    /// The bytes replaced, as a range of the ORIGINAL file's bytes (BOM and UTF-16 included);
    /// `None` when the file was not rewritten or this edit was not applied.
    pub byte_range: Option<ByteRange>,
    /// Why this edit was left out while the file's others were made (below the run's
    /// applicability, or overlapping an edit made before it).
    pub not_applied: Option<String>,
}

impl KeyReplacement {
    /// The replacement `fix` makes with `edit` for `finding`'s key, not applied yet.
    pub fn new(rule: &'static Rule, old_key: ProductKey, edit: Edit, fix: &Fix) -> KeyReplacement {
        KeyReplacement {
            rule,
            old_key,
            edit,
            new_key: fix.new_key.clone(),
            chosen_by: fix.chosen_by.clone(),
            applicability: fix.applicability,
            byte_range: None,
            not_applied: None,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "rule": self.rule.code,
            "rule_name": self.rule.name,
            "old_key_fingerprint": self.old_key.fingerprint(),
            "old_key_masked": self.old_key.masked(),
            "new_gvlk": self.new_key.reveal_unmasked(),
            "chosen_by": self.chosen_by,
            "applicability": self.applicability.as_str(),
            "text_range": { "start": self.edit.range.start, "end": self.edit.range.end },
            "byte_range": self.byte_range.map(byte_range_json),
            "not_applied": self.not_applied,
        })
    }
}

fn byte_range_json(range: ByteRange) -> Value {
    json!({ "start": range.start, "end": range.end })
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// The new content replaced the original.
    Written,
    /// `--dry-run`: the new content was computed and checked, not written.
    DryRun,
    /// The rewrite was made in memory and failed a check (bytes outside the keys would change,
    /// or the result no longer parses); the file was not written.
    RolledBack(String),
    /// The file was not touched: a link, outside the root, changed since the scan, not
    /// decodable losslessly, and so on.
    Skipped(String),
    /// An I/O error; the original is intact (the rename is the only step that changes it).
    Failed(String),
}

impl FileStatus {
    /// The status's name in the change-log JSON (`written`, `dry-run`, `rolled-back`,
    /// `skipped`, `failed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            FileStatus::Written => "written",
            FileStatus::DryRun => "dry-run",
            FileStatus::RolledBack(_) => "rolled-back",
            FileStatus::Skipped(_) => "skipped",
            FileStatus::Failed(_) => "failed",
        }
    }

    /// Why the file was rolled back, skipped or failed; `None` when written or in a dry run.
    pub fn reason(&self) -> Option<&str> {
        match self {
            FileStatus::Written | FileStatus::DryRun => None,
            FileStatus::RolledBack(r) | FileStatus::Skipped(r) | FileStatus::Failed(r) => Some(r),
        }
    }
}

/// Everything done (or, in a dry run, planned) to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The root as given on the command line.
    pub root: String,
    /// The path relative to the root, as in the findings.
    pub path: String,
    /// Every replacement planned for the file, applied or not (see
    /// [`KeyReplacement::not_applied`]).
    pub edits: Vec<KeyReplacement>,
    /// The encoding the file was read and written in (`utf-16le-bom`, ...).
    pub encoding: Option<&'static str>,
    /// Lower-case hex SHA-256 of the file as read.
    pub sha256_before: Option<String>,
    /// Lower-case hex SHA-256 of the new content (written, or that would be written).
    pub sha256_after: Option<String>,
    /// Where `--backup` copied the original.
    pub backup: Option<String>,
    /// What happened to the file.
    pub status: FileStatus,
    /// Decoded text before and after, kept for the diff; never serialised.
    pub(crate) texts: Option<(String, String)>,
}

impl FileChange {
    /// The distinct rule codes of this file's edits.
    pub fn rule_codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = self.edits.iter().map(|e| e.rule.code).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// The distinct byte ranges of the original file that were (or would be) replaced.
    pub fn changed_byte_ranges(&self) -> Vec<ByteRange> {
        let mut ranges: Vec<ByteRange> = self.edits.iter().filter_map(|e| e.byte_range).collect();
        ranges.sort_unstable();
        ranges.dedup();
        ranges
    }

    /// The replacements made (or, in a dry run, to be made): the file was rewritten and the
    /// edit was not left out.
    pub fn applied_edits(&self) -> impl Iterator<Item = &KeyReplacement> {
        let rewritten = matches!(self.status, FileStatus::Written | FileStatus::DryRun);
        self.edits.iter().filter(move |e| rewritten && e.not_applied.is_none())
    }

    fn to_json(&self) -> Value {
        json!({
            "root": self.root,
            "path": self.path,
            "status": self.status.as_str(),
            "reason": self.status.reason(),
            "encoding": self.encoding,
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "backup": self.backup,
            "rules": self.rule_codes(),
            "changed_byte_ranges": self.changed_byte_ranges().into_iter().map(byte_range_json).collect::<Vec<_>>(),
            "edits": self.edits.iter().map(KeyReplacement::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The result of [`crate::apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeLog {
    /// The run was `--dry-run`: nothing was written.
    pub dry_run: bool,
    /// Every file with a fix to apply, applied or not, ordered by root, then path.
    pub files: Vec<FileChange>,
}

impl ChangeLog {
    /// Files in `status` (compared by kind, ignoring the reason).
    pub fn count(&self, status: &str) -> usize {
        self.files.iter().filter(|f| f.status.as_str() == status).count()
    }

    /// True when writing some file failed (an I/O error such as a read-only mount): the run
    /// itself failed, which `makguard fix` reports as exit 2, not as findings.
    pub fn has_write_failures(&self) -> bool {
        self.files.iter().any(|f| matches!(f.status, FileStatus::Failed(_)))
    }

    /// True when some file could not be fixed (skipped, rolled back or failed).
    pub fn has_failures(&self) -> bool {
        self.files
            .iter()
            .any(|f| !matches!(f.status, FileStatus::Written | FileStatus::DryRun))
    }

    /// The `--report FILE` JSON (see docs/fixing.md).
    pub fn to_json(&self) -> String {
        let value = json!({
            "version": CHANGE_LOG_FORMAT_VERSION,
            "dry_run": self.dry_run,
            "summary": {
                "files": self.files.len(),
                "written": self.count("written"),
                "dry_run": self.count("dry-run"),
                "rolled_back": self.count("rolled-back"),
                "skipped": self.count("skipped"),
                "failed": self.count("failed"),
                "keys_replaced": self.files.iter().map(|f| f.applied_edits().count()).sum::<usize>(),
            },
            "files": self.files.iter().map(FileChange::to_json).collect::<Vec<_>>(),
        });
        let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
        out.push('\n');
        // Paths and reasons come from the image; the one masking step covers them too.
        mask_keys_in(&out)
    }

    /// A unified diff (3 lines of context) of every file written or, in a dry run, to be
    /// written, over the decoded text. Every key that is not a GVLK is masked in every line;
    /// the new GVLKs show in full.
    pub fn unified_diff(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            if let Some((old, new)) = &file.texts {
                out.push_str(&unified_diff(&file.path, old, new));
            }
        }
        out
    }
}

fn display_line(line: &str) -> String {
    mask_keys_in(line.trim_end_matches('\n').trim_end_matches('\r'))
}

/// A unified diff of `old` and `new` for `path`, masked. Fixes never add or remove line
/// breaks, so lines pair up one to one; if they ever do not, the whole file is one hunk.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    if old == new {
        return String::new();
    }
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let path = mask_keys_in(path);
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    if old_lines.len() != new_lines.len() {
        out.push_str(&format!("@@ -1,{} +1,{} @@\n", old_lines.len(), new_lines.len()));
        for line in &old_lines {
            out.push_str(&format!("-{}\n", display_line(line)));
        }
        for line in &new_lines {
            out.push_str(&format!("+{}\n", display_line(line)));
        }
        return out;
    }
    let changed: Vec<usize> = (0..old_lines.len()).filter(|&i| old_lines[i] != new_lines[i]).collect();
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(CONTEXT);
        let end = (i + CONTEXT + 1).min(old_lines.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        let count = end - start;
        out.push_str(&format!("@@ -{},{count} +{},{count} @@\n", start + 1, start + 1));
        for i in start..end {
            if old_lines[i] == new_lines[i] {
                out.push_str(&format!(" {}\n", display_line(old_lines[i])));
            } else {
                out.push_str(&format!("-{}\n", display_line(old_lines[i])));
            }
            // Changed lines print as a block: all removals, then all additions.
            if old_lines[i] != new_lines[i] && (i + 1 == end || old_lines[i + 1] == new_lines[i + 1]) {
                let mut j = i;
                while j > start && old_lines[j - 1] != new_lines[j - 1] {
                    j -= 1;
                }
                for line in &new_lines[j..=i] {
                    out.push_str(&format!("+{}\n", display_line(line)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    #[test]
    fn diff_lines_use_the_one_masking_step() {
        let bare = MAK.replace('-', "");
        let old = format!("a {MAK}\nb ={bare};\nc {}\n", MAK.to_lowercase());
        let new = old.replace("b =", "b:=");
        let diff = unified_diff("f.txt", &old, &new);
        assert!(
            !diff.contains(&bare[..20]) && !diff.to_uppercase().contains(&MAK[..11]),
            "{diff}"
        );
        assert_eq!(diff.matches("*****-*****-*****-*****-3PPQC").count(), 4, "{diff}");
        assert_eq!(mask_keys_in(GVLK), GVLK);
    }

    #[test]
    fn diff_hunks_have_context_and_block_changes() {
        let old: String = (1..=12).fold(String::new(), |mut text, i| {
            let _ = write!(text, "line {i}\r\n");
            text
        });
        let new = old
            .replace("line 2\r\n", &format!("key {GVLK}\r\n"))
            .replace("line 11", "eleven");
        let diff = unified_diff("f.txt", &old, &new);
        let expected = format!(
            "--- a/f.txt\n+++ b/f.txt\n@@ -1,5 +1,5 @@\n line 1\n-line 2\n+key {GVLK}\n line 3\n line 4\n line 5\n@@ -8,5 +8,5 @@\n line 8\n line 9\n line 10\n-line 11\n+eleven\n line 12\n"
        );
        assert_eq!(diff, expected);
        assert_eq!(unified_diff("f", "same", "same"), "");
    }
}
