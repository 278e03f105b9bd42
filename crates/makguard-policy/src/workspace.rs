//! The policies of one run (ruff keeps its per-file settings in `ruff_workspace`): which policy
//! governs which command-line path, the scan of each path with its own policy's `[scan]`
//! settings, and the judgement of each root's findings by its own policy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use makguard_core::{Finding, ProductKey, RootReport, ScanReport};
use makguard_fix::edition_mismatches;
use makguard_scan::{GlobHits, ScanOptions, scan_paths};

use crate::apply::{Application, PolicyHome};
use crate::date::CivilDate;
use crate::discover::{Discovery, Origin};
use crate::error::PolicyError;
use crate::policy::Policy;

/// Every policy of a run and the command-line path each governs.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    policies: Vec<Policy>,
    /// Per command-line path, its policy (index into `policies`).
    path_policy: Vec<Option<usize>>,
}

/// What the command line asks of a scan; the policy of each path fills in the rest.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The command line's options. `deep` and `key_config_files` add to the policy's;
    /// the globs come from the policy alone.
    pub options: ScanOptions,
    /// `--size-cap`, which wins over the policy's `size_cap`.
    pub size_cap: Option<u64>,
}

/// A scan whose findings each root's policy has judged.
#[derive(Debug)]
pub struct JudgedScan<'w> {
    /// The scan's report with every root's policy applied: severities overridden, exceptions
    /// marked, and the policies' own findings added.
    pub report: ScanReport,
    workspace: &'w Workspace,
    /// Per root, its policy (index into the workspace's policies).
    root_policy: Vec<Option<usize>>,
    /// Per policy, where findings about the file go.
    homes: Vec<PolicyHome>,
}

impl Workspace {
    /// Finds and loads the policy of every path. A file named by `--config` or
    /// `MAKGUARD_CONFIG` must exist; every file must parse and validate.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Missing`] when the file `--config` or `MAKGUARD_CONFIG` names is not
    /// there; [`PolicyError::Config`] when a policy cannot be read or does not validate.
    pub fn load(paths: &[PathBuf], discovery: &Discovery) -> Result<Workspace, PolicyError> {
        let mut workspace = Workspace::default();
        let mut by_identity: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for path in paths {
            let Some(location) = discovery.for_path(path) else {
                workspace.path_policy.push(None);
                continue;
            };
            if location.origin != Origin::Discovered && !location.file.is_file() {
                return Err(PolicyError::Missing {
                    path: location.display.clone(),
                    origin: location.origin.describe(),
                });
            }
            let index = if let Some(&index) = by_identity.get(&location.identity()) {
                index
            } else {
                workspace.policies.push(Policy::load(&location)?);
                by_identity.insert(location.identity(), workspace.policies.len() - 1);
                workspace.policies.len() - 1
            };
            workspace.path_policy.push(Some(index));
        }
        Ok(workspace)
    }

    /// A workspace where one policy governs every path (library callers, tests).
    pub fn single(policy: Policy, paths: usize) -> Workspace {
        Workspace {
            policies: vec![policy],
            path_policy: vec![Some(0); paths],
        }
    }

    /// The distinct policies, in the order of the first path each governs.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The policy of command-line path `index`.
    pub fn policy_for_path(&self, index: usize) -> Option<&Policy> {
        self.policies.get((*self.path_policy.get(index)?)?)
    }

    /// Checks that every key-configuration file (the command line's and each policy's) is a
    /// regular file, before anything is scanned.
    ///
    /// # Errors
    ///
    /// [`PolicyError::KeyConfigMissing`] or [`PolicyError::KeyConfigNotAFile`] for the first
    /// file that is missing or not a regular file.
    pub fn check_key_config_files(&self, command_line: &[PathBuf]) -> Result<(), PolicyError> {
        let from_policies = self.policies.iter().flat_map(|p| &p.scan.pkeyconfig);
        for file in command_line.iter().chain(from_policies) {
            match std::fs::metadata(file) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => return Err(PolicyError::KeyConfigNotAFile(file.display().to_string())),
                Err(_) => return Err(PolicyError::KeyConfigMissing(file.display().to_string())),
            }
        }
        Ok(())
    }

    /// The scan options for the paths `policy` governs.
    pub fn options_for(policy: Option<&Policy>, request: &ScanRequest) -> ScanOptions {
        let mut options = request.options.clone();
        let Some(policy) = policy else {
            options.size_cap = request.size_cap.unwrap_or(options.size_cap);
            return options;
        };
        let scan = &policy.scan;
        options.deep |= scan.deep.unwrap_or(false);
        options.size_cap = request.size_cap.or(scan.size_cap).unwrap_or(options.size_cap);
        options.key_config_files.extend(scan.pkeyconfig.iter().cloned());
        options.include_globs = scan.include.iter().map(|g| g.pattern.clone()).collect();
        options.exclude_globs = scan.exclude.iter().map(|g| g.pattern.clone()).collect();
        options
    }

    /// Scans `paths` (the command-line paths, or their replacements in the same order), each
    /// with its own policy's settings; adds the edition-mismatch findings (`MG401`) a root's
    /// `[editions]` does not choose; and judges each root's findings by its policy.
    pub fn scan_and_judge(&self, paths: &[PathBuf], request: &ScanRequest, today: CivilDate) -> JudgedScan<'_> {
        let hits: Vec<Arc<GlobHits>> = self.policies.iter().map(|_| Arc::default()).collect();
        let mut report = ScanReport {
            allow_incomplete: request.options.allow_incomplete,
            ..ScanReport::default()
        };
        let mut root_policy = Vec::new();
        for (policy, run) in self.runs(paths.len()) {
            let mut options = Workspace::options_for(policy.map(|p| &self.policies[p]), request);
            options.glob_hits = policy.map(|p| hits[p].clone());
            let part = scan_paths(&paths[run], &options);
            root_policy.extend(std::iter::repeat_n(policy, part.roots.len()));
            append(&mut report, part);
        }
        for (root, policy) in report.roots.iter_mut().zip(&root_policy) {
            root.policy = policy.map(|p| self.policies[p].display.clone());
        }
        let mut judged = JudgedScan {
            homes: self.homes(&report.roots, &root_policy),
            report,
            workspace: self,
            root_policy,
        };
        judged.add_edition_mismatches();
        judged.judge(&hits, today);
        judged
    }

    /// Judges a report scanned elsewhere (one file read from standard input) by the policy
    /// of the first command-line path. Its roots are files, so `[scan]` globs do not apply.
    pub fn judge_report(&self, report: ScanReport, today: CivilDate) -> JudgedScan<'_> {
        let policy = self.path_policy.first().copied().flatten();
        let root_policy = vec![policy; report.roots.len()];
        let mut report = report;
        for root in &mut report.roots {
            root.policy = policy.map(|p| self.policies[p].display.clone());
        }
        let hits: Vec<Arc<GlobHits>> = self.policies.iter().map(|_| Arc::default()).collect();
        let mut judged = JudgedScan {
            homes: self.homes(&report.roots, &root_policy),
            report,
            workspace: self,
            root_policy,
        };
        judged.judge(&hits, today);
        judged
    }

    /// Consecutive paths under the same policy, scanned together as one run.
    fn runs(&self, paths: usize) -> Vec<(Option<usize>, std::ops::Range<usize>)> {
        let policy_of = |index: usize| self.path_policy.get(index).copied().flatten();
        let mut runs: Vec<(Option<usize>, std::ops::Range<usize>)> = Vec::new();
        for index in 0..paths {
            match runs.last_mut() {
                Some((policy, range)) if *policy == policy_of(index) => range.end = index + 1,
                _ => runs.push((policy_of(index), index..index + 1)),
            }
        }
        runs
    }

    fn homes(&self, roots: &[RootReport], root_policy: &[Option<usize>]) -> Vec<PolicyHome> {
        (0..self.policies.len())
            .map(|policy| {
                let governed = roots
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| root_policy[*index] == Some(policy));
                let file = std::fs::canonicalize(&self.policies[policy].file).ok();
                governed
                    .filter_map(|(index, root)| {
                        let relative = relative_inside(root, file.as_deref()?)?;
                        Some(PolicyHome {
                            root: index,
                            display: relative,
                        })
                    })
                    .next()
                    .unwrap_or_else(|| PolicyHome {
                        root: roots.len(),
                        display: self.policies[policy].display.clone(),
                    })
            })
            .collect()
    }
}

/// `file`'s `/`-separated path inside directory root `root`, if it lies there.
fn relative_inside(root: &RootReport, file: &Path) -> Option<String> {
    if root.is_file || root.container.is_some() {
        return None;
    }
    let dir = std::fs::canonicalize(&root.path).ok()?;
    let relative = file.strip_prefix(&dir).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// Appends the roots, findings and counts of `part` to `report`.
fn append(report: &mut ScanReport, part: ScanReport) {
    let offset = report.roots.len();
    report.roots.extend(part.roots);
    report.findings.extend(part.findings.into_iter().map(|mut finding| {
        finding.location.root += offset;
        finding
    }));
    let summary = &mut report.summary;
    summary.files_walked += part.summary.files_walked;
    summary.files_scanned += part.summary.files_scanned;
    summary.bytes_read += part.summary.bytes_read;
    for (reason, count) in part.summary.skipped {
        *summary.skipped.entry(reason).or_default() += count;
    }
}

impl<'w> JudgedScan<'w> {
    /// The policy governing root `root`.
    pub fn policy_of_root(&self, root: usize) -> Option<&'w Policy> {
        let workspace: &'w Workspace = self.workspace;
        workspace.policies.get((*self.root_policy.get(root)?)?)
    }

    /// Where findings about `policy` (index) go, and how they name the file.
    pub(crate) fn home(&self, policy: usize) -> &PolicyHome {
        &self.homes[policy]
    }

    pub(crate) fn workspace(&self) -> &'w Workspace {
        self.workspace
    }

    pub(crate) fn policy_index_of_root(&self, root: usize) -> Option<usize> {
        self.root_policy.get(root).copied().flatten()
    }

    /// The `[editions]` choice of root `root`'s policy for the `EditionID` of its image.
    pub fn edition_choice(&self, root: usize) -> Option<(&'w String, &'w ProductKey)> {
        let edition = self.report.roots.get(root)?.image.as_ref()?.edition_id.as_deref()?;
        self.policy_of_root(root)?.edition_choice(edition)
    }

    /// `MG401` for GVLKs in an image's own tree that are for another edition, unless they are
    /// what the root's `[editions]` chooses (what the organisation wants is not a mismatch).
    fn add_edition_mismatches(&mut self) {
        let mismatches: Vec<Finding> = edition_mismatches(&self.report)
            .into_iter()
            .filter(|finding| {
                let chosen = self.edition_choice(finding.location.root).map(|(_, key)| key);
                chosen.is_none() || chosen != finding.key.as_ref().map(|info| &info.key)
            })
            .collect();
        self.report.findings.extend(mismatches);
        self.report.sort();
    }

    fn judge(&mut self, hits: &[Arc<GlobHits>], today: CivilDate) {
        let mut own = Vec::new();
        for (index, policy) in self.workspace.policies.iter().enumerate() {
            let root_policy = &self.root_policy;
            let governs = |root: usize| root_policy.get(root).copied().flatten() == Some(index);
            // `[scan]` globs filter walked trees; a file named on the command line is always
            // searched, so a glob matching nothing there says nothing about the glob.
            let walked_a_tree = self
                .report
                .roots
                .iter()
                .enumerate()
                .any(|(root, report)| governs(root) && !report.is_file);
            let application = Application {
                policy,
                home: &self.homes[index],
                governs: &governs,
                hits: walked_a_tree.then(|| &*hits[index]),
                today,
            };
            own.extend(application.run(&mut self.report));
        }
        self.report.findings.extend(own);
        self.report.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic, checksum-valid MAK (synthetic-keys.tsv), built at run time.
    fn synthetic_mak() -> String {
        ["6QWQ4", "8NRCW", "KHGHV", "CR226", "3PPQC"].join("-")
    }

    fn answer_file(key: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n  <settings pass=\"specialize\">\n    <component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\">\n      <ProductKey>{key}</ProductKey>\n    </component>\n  </settings>\n</unattend>\n"
        )
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn today() -> CivilDate {
        CivilDate::new(2026, 11, 29).unwrap()
    }

    struct TwoRoots {
        dir: tempfile::TempDir,
        paths: Vec<PathBuf>,
    }

    /// `a/` and `b/`, each with the same MAK, `a/makguard.toml` allowing every MG101 and
    /// excluding `skip/**` and `nothing/**`, `b/makguard.toml` with an unused exception.
    fn two_roots() -> TwoRoots {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a.join("autounattend.xml"), &answer_file(&synthetic_mak()));
        write(&a.join("skip/autounattend.xml"), &answer_file(&synthetic_mak()));
        write(&b.join("autounattend.xml"), &answer_file(&synthetic_mak()));
        write(
            &a.join("makguard.toml"),
            "[scan]\nexclude = [\"skip\\\\**\", \"nothing/**\"]\n\n[[allow]]\nrule = \"MG101\"\njustification = \"a's lab\"\n",
        );
        write(
            &b.join("makguard.toml"),
            "[[allow]]\nrule = \"MG103\"\njustification = \"stale\"\n",
        );
        TwoRoots { paths: vec![a, b], dir }
    }

    fn load(roots: &TwoRoots) -> Workspace {
        let discovery = Discovery::with(None, None, roots.dir.path().to_path_buf());
        Workspace::load(&roots.paths, &discovery).unwrap()
    }

    #[test]
    fn each_root_is_judged_by_its_own_policy() {
        let roots = two_roots();
        let workspace = load(&roots);
        assert_eq!(workspace.policies().len(), 2);
        let judged = workspace.scan_and_judge(&roots.paths, &ScanRequest::default(), today());
        let report = &judged.report;
        let mak = |root: usize| {
            report
                .findings
                .iter()
                .filter(move |f| f.location.root == root && f.rule.code == "MG101")
        };
        assert_eq!(
            mak(0).count(),
            1,
            "a/skip is excluded by a's policy: {:#?}",
            report.findings
        );
        assert!(mak(0).all(|f| f.suppressed.is_some()));
        assert_eq!(mak(1).count(), 1);
        assert!(mak(1).all(|f| f.suppressed.is_none()), "a's exception does not reach b");
        // Policy findings sit at their own file, inside the root each governs.
        let own: Vec<(&str, usize, &str, Option<u32>)> = report
            .findings
            .iter()
            .filter(|f| f.rule.code.starts_with("MG50"))
            .map(|f| (f.rule.code, f.location.root, f.path().display.as_str(), f.line()))
            .collect();
        assert_eq!(
            own,
            vec![
                ("MG502", 1, "makguard.toml", Some(1)),
                ("MG503", 0, "makguard.toml", Some(2))
            ]
        );
        assert!(judged.policy_of_root(0).unwrap().display.ends_with("a/makguard.toml"));
        assert!(report.roots[1].policy.as_deref().unwrap().ends_with("b/makguard.toml"));
    }

    #[test]
    fn globs_are_not_judged_by_a_scan_of_single_files() {
        let roots = two_roots();
        let workspace = load(&roots);
        let file = vec![roots.paths[0].join("autounattend.xml")];
        let workspace_for_file = Workspace {
            path_policy: vec![Some(0)],
            ..workspace
        };
        let judged = workspace_for_file.scan_and_judge(&file, &ScanRequest::default(), today());
        let codes: Vec<&str> = judged.report.findings.iter().map(|f| f.rule.code).collect();
        assert!(!codes.contains(&"MG503"), "{codes:?}");
        assert!(codes.contains(&"MG101"), "{codes:?}");
    }

    #[test]
    fn a_policy_outside_every_root_is_named_as_found() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("tree/autounattend.xml"),
            &answer_file(&synthetic_mak()),
        );
        write(
            &dir.path().join("makguard.toml"),
            "[[allow]]\nrule = \"MG103\"\njustification = \"stale\"\n",
        );
        let paths = vec![dir.path().join("tree")];
        let discovery = Discovery::with(None, None, dir.path().to_path_buf());
        let workspace = Workspace::load(&paths, &discovery).unwrap();
        let judged = workspace.scan_and_judge(&paths, &ScanRequest::default(), today());
        let unused = judged
            .report
            .findings
            .iter()
            .find(|f| f.rule.code == "MG502")
            .expect("MG502");
        assert_eq!(unused.location.root, 1, "past the last root");
        assert_eq!(unused.path().display, "makguard.toml");
    }

    #[test]
    fn consecutive_paths_under_one_policy_are_one_run() {
        let workspace = Workspace {
            policies: vec![Policy::default(), Policy::default()],
            path_policy: vec![Some(0), Some(0), None, Some(1), Some(0)],
        };
        assert_eq!(
            workspace.runs(5),
            vec![(Some(0), 0..2), (None, 2..3), (Some(1), 3..4), (Some(0), 4..5)]
        );
    }

    #[test]
    fn the_command_line_wins_over_the_policy_scan_settings() {
        let mut policy = Policy::parse(
            "[scan]\nsize_cap = 4096\ndeep = true\npkeyconfig = [\"k.xrm-ms\"]\nexclude = ['a\\b']\n",
            "makguard.toml",
            Path::new("/p"),
        )
        .unwrap();
        policy.file = PathBuf::from("/p/makguard.toml");
        let request = ScanRequest {
            options: ScanOptions {
                key_config_files: vec![PathBuf::from("cli.xrm-ms")],
                ..ScanOptions::default()
            },
            size_cap: Some(100),
        };
        let options = Workspace::options_for(Some(&policy), &request);
        assert_eq!(options.size_cap, 100);
        assert!(options.deep);
        assert_eq!(
            options.key_config_files,
            vec![PathBuf::from("cli.xrm-ms"), PathBuf::from("/p/k.xrm-ms")]
        );
        assert_eq!(options.exclude_globs, vec!["a/b".to_string()]);
        let without_cli = Workspace::options_for(Some(&policy), &ScanRequest::default());
        assert_eq!(without_cli.size_cap, 4096);
        let no_policy = Workspace::options_for(None, &ScanRequest::default());
        assert_eq!(no_policy.size_cap, makguard_scan::DEFAULT_SIZE_CAP);
        assert!(!no_policy.deep);
    }

    #[test]
    fn a_named_policy_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let discovery = Discovery::with(
            None,
            Some(dir.path().join("missing.toml").into_os_string()),
            dir.path().to_path_buf(),
        );
        let err = Workspace::load(&[dir.path().to_path_buf()], &discovery).unwrap_err();
        assert!(
            matches!(
                err,
                PolicyError::Missing {
                    origin: "MAKGUARD_CONFIG",
                    ..
                }
            ),
            "{err}"
        );
    }
}
