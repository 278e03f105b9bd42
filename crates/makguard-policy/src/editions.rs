//! Planning fixes with each root's `[editions]`: a root whose policy names the GVLK for its
//! image's `EditionID` is planned with that key, the other roots with the user's choice.
//!
//! The planner takes one choice per call, so findings are grouped by the choice that applies
//! to them and each group is planned on its own; the roots are moved into each group's view
//! and back, never cloned.

use std::collections::BTreeMap;

use makguard_core::{ProductKey, ScanReport};
use makguard_fix::{KeyChoice, plan};

use crate::workspace::JudgedScan;

/// One line per fixable finding that could not be planned: where, which rule, and why.
pub type UnfixableReason = String;

/// The `[editions]` entry that decides a group: policy index and edition name.
type EditionsEntry = (usize, String);

impl<'w> JudgedScan<'w> {
    /// Plans a fix for every fixable finding. Unless the user chose a key (`--edition`,
    /// `--gvlk`), each root's `[editions]` choice for its image wins over the image's own
    /// edition, and the fix says which policy entry chose it.
    pub fn plan_fixes(&mut self, choice: &KeyChoice) -> Vec<UnfixableReason> {
        let user_chose = choice.edition.is_some() || choice.gvlk.is_some();
        let has_choice = (0..self.report.roots.len()).any(|root| self.edition_choice(root).is_some());
        if user_chose || !has_choice {
            let unfixable = plan(&mut self.report, choice);
            return unfixable
                .iter()
                .map(|u| describe(&self.report, u.finding, &u.reason))
                .collect();
        }
        let mut groups: BTreeMap<Option<EditionsEntry>, Vec<_>> = BTreeMap::new();
        for finding in std::mem::take(&mut self.report.findings) {
            groups
                .entry(self.editions_entry(finding.location.root))
                .or_default()
                .push(finding);
        }
        let mut reasons = Vec::new();
        let mut roots = std::mem::take(&mut self.report.roots);
        for (entry, findings) in groups {
            let key = entry
                .as_ref()
                .and_then(|(policy, name)| self.editions_key(*policy, name));
            let mut group = ScanReport {
                roots,
                findings,
                ..ScanReport::default()
            };
            let mut group_choice = choice.clone();
            if let Some(key) = key {
                group_choice.gvlk = Some(key.clone());
            }
            let unfixable = plan(&mut group, &group_choice);
            reasons.extend(unfixable.iter().map(|u| describe(&group, u.finding, &u.reason)));
            if let (Some((policy, name)), Some(key)) = (&entry, key) {
                let label = format!("{} [editions] {name}", self.home(*policy).display);
                for fix in group.findings.iter_mut().filter_map(|f| f.fix.as_mut()) {
                    if fix.new_key == *key {
                        fix.chosen_by.clone_from(&label);
                    }
                }
            }
            roots = std::mem::take(&mut group.roots);
            self.report.findings.append(&mut group.findings);
        }
        self.report.roots = roots;
        self.report.sort();
        reasons
    }

    fn editions_entry(&self, root: usize) -> Option<EditionsEntry> {
        let (name, _) = self.edition_choice(root)?;
        Some((self.policy_index_of_root(root)?, name.clone()))
    }

    fn editions_key(&self, policy: usize, name: &str) -> Option<&'w ProductKey> {
        self.workspace().policies().get(policy)?.editions.get(name)
    }
}

fn describe(report: &ScanReport, index: usize, reason: &str) -> UnfixableReason {
    report.findings.get(index).map_or_else(
        || reason.to_string(),
        |f| format!("{}:{} {}: {reason}", f.path(), f.line().unwrap_or(0), f.rule.code),
    )
}
