//! Applying one policy to the findings of the roots it governs, as cargo-deny applies its
//! overrides in its diagnostic sink: severity overrides, justified exceptions with expiry, and
//! the policy's own findings (`MG501` expired, `MG502` unused, `MG503` a glob that matched
//! nothing).

use makguard_core::rules::{self, Rule};
use makguard_core::{Finding, FindingPath, LineColumn, ScanReport, Span, Suppression};
use makguard_scan::GlobHits;

use crate::date::CivilDate;
use crate::policy::{AllowEntry, Policy, PolicyGlob};

/// Where findings about a policy file go: the scan root the file lies in, with its path
/// relative to that root, or an index past the last root (reports then print the path as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHome {
    /// The index of the scan root holding the policy file, or the number of roots when no
    /// root holds it.
    pub root: usize,
    /// The policy file's path: relative to that root, or as messages name it.
    pub display: String,
}

/// One policy's application to a report.
pub(crate) struct Application<'a> {
    pub policy: &'a Policy,
    pub home: &'a PolicyHome,
    /// True for the roots this policy governs.
    pub governs: &'a dyn Fn(usize) -> bool,
    /// Which `[scan]` globs matched during the scan; `None`: not known, no `MG503`.
    pub hits: Option<&'a GlobHits>,
    pub today: CivilDate,
}

impl Application<'_> {
    /// Changes the findings of the governed roots and returns the policy's own findings, which
    /// the caller adds once every policy has been applied (so no policy suppresses another's).
    pub(crate) fn run(&self, report: &mut ScanReport) -> Vec<Finding> {
        self.override_severities(report);
        let mut own = Vec::new();
        for entry in &self.policy.allow {
            own.extend(self.apply_entry(entry, report));
        }
        if let Some(hits) = self.hits {
            let scan = &self.policy.scan;
            for (kind, glob) in scan
                .include
                .iter()
                .map(|g| ("include", g))
                .chain(scan.exclude.iter().map(|g| ("exclude", g)))
            {
                if !hits.matched(&glob.pattern) {
                    own.push(self.unmatched_glob(kind, glob));
                }
            }
        }
        own.retain_mut(|finding| self.override_severity(finding));
        own
    }

    fn override_severities(&self, report: &mut ScanReport) {
        report
            .findings
            .retain_mut(|finding| !(self.governs)(finding.location.root) || self.override_severity(finding));
    }

    /// Applies `[severity]` to one finding; false when the rule is turned off.
    fn override_severity(&self, finding: &mut Finding) -> bool {
        match self.policy.severity.get(finding.rule.code) {
            Some(None) => false,
            Some(Some(severity)) => {
                finding.severity = *severity;
                true
            }
            None => true,
        }
    }

    fn apply_entry(&self, entry: &AllowEntry, report: &mut ScanReport) -> Option<Finding> {
        if let Some(expires) = entry.expires
            && self.today > expires
        {
            return Some(self.own_finding(
                &rules::ALLOW_EXPIRED,
                (entry.line, entry.column),
                format!(
                    "exception ({}) expired on {expires} and no longer applies; justification was: {}",
                    entry.describe(),
                    entry.justification
                ),
            ));
        }
        let origin = format!("{}:{}", self.home.display, entry.line);
        let mut used = false;
        for finding in report
            .findings
            .iter_mut()
            .filter(|f| (self.governs)(f.location.root) && entry.matches(f))
        {
            used = true;
            if finding.suppressed.is_none() {
                finding.suppressed = Some(Suppression {
                    justification: entry.justification.clone(),
                    origin: origin.clone(),
                });
            }
        }
        (!used).then(|| {
            self.own_finding(
                &rules::ALLOW_UNUSED,
                (entry.line, entry.column),
                format!("exception ({}) matches no finding; remove it", entry.describe()),
            )
        })
    }

    fn unmatched_glob(&self, kind: &str, glob: &PolicyGlob) -> Finding {
        self.own_finding(
            &rules::POLICY_GLOB_UNMATCHED,
            (glob.line, glob.column),
            format!(
                "[scan] {kind} glob '{}' matched no file or folder in this scan; fix or remove it",
                glob.written
            ),
        )
    }

    fn own_finding(&self, rule: &'static Rule, (line, column): (u32, u32), message: String) -> Finding {
        let mut finding = Finding::new(rule, FindingPath::new(self.home.display.clone()), message);
        finding.location.root = self.home.root;
        finding.location.span = Span::Point(LineColumn { line, column });
        finding
    }
}
