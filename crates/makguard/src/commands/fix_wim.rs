//! `makguard fix` on a WIM file: the files of each image are read through the WIM reader, the
//! fixer rewrites them in memory, and `makguard-wim`'s writer puts their new contents into the
//! WIM (or `--output`) in one atomic write, every other byte of the WIM kept as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use makguard_core::{FindingPath, ScanReport};
use makguard_fix::{ChangeLog, FileStatus, ImageFiles, ImageRewrite};
use makguard_scan::SourcePath;
use makguard_scan::WimImageSource;
use makguard_wim::{Replacement, Wim, WriteTarget};

/// The images of the report's WIM roots, opened for reading.
pub(crate) struct WimImages {
    sources: BTreeMap<usize, WimImageSource>,
}

impl WimImages {
    /// Opens every root of `report` that is an image of a WIM (`None` when there is none).
    pub(crate) fn open(report: &ScanReport) -> Option<WimImages> {
        let mut wims: BTreeMap<String, Arc<Wim>> = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for (index, root) in report.roots.iter().enumerate() {
            let Some(container) = &root.container else {
                continue;
            };
            let wim = if let Some(wim) = wims.get(&root.path) {
                Arc::clone(wim)
            } else {
                let Ok((file, _)) = makguard_scan::open_regular(Path::new(&root.path)) else {
                    continue;
                };
                let Ok(wim) = Wim::open(file) else { continue };
                let wim = Arc::new(wim);
                wims.insert(root.path.clone(), Arc::clone(&wim));
                wim
            };
            if let Ok(source) = WimImageSource::open(wim, container.index, &root.path) {
                sources.insert(index, source);
            }
        }
        (!sources.is_empty()).then_some(WimImages { sources })
    }
}

impl ImageFiles for WimImages {
    fn read(&self, root: usize, path: &FindingPath) -> Result<Vec<u8>, String> {
        let source = self.sources.get(&root).ok_or("the WIM image could not be opened")?;
        let path = SourcePath::from_names(path.display.split('/').filter(|name| !name.is_empty()));
        makguard_scan::ImageSource::read_all(source, &path).map_err(|error| error.to_string())
    }
}

/// Writes each WIM's rewritten files into it (or into `output`); on failure, marks that WIM's
/// files as failed in `log` and returns the message.
pub(crate) fn write_wims(
    report: &ScanReport,
    rewrites: Vec<ImageRewrite>,
    output: Option<&Path>,
    log: &mut ChangeLog,
) -> Vec<String> {
    let mut by_wim: BTreeMap<PathBuf, Vec<Replacement>> = BTreeMap::new();
    for rewrite in rewrites {
        let root = &report.roots[rewrite.root];
        let Some(container) = &root.container else { continue };
        by_wim.entry(PathBuf::from(&root.path)).or_default().push(Replacement {
            image: container.index,
            path: format!("/{}", rewrite.path.trim_start_matches('/')),
            contents: rewrite.new_bytes,
        });
    }
    let mut failures = Vec::new();
    if output.is_some() && by_wim.len() > 1 {
        failures
            .push("--output names one file, but more than one WIM needs fixing; fix them one at a time".to_string());
        mark_failed(log, by_wim.keys(), "--output names one file for several WIMs");
        return failures;
    }
    for (wim, replacements) in &by_wim {
        let target = output.map_or(WriteTarget::InPlace, WriteTarget::NewFile);
        if let Err(error) = makguard_wim::write_replacements(wim, replacements, target) {
            let message = format!("cannot write the fixed WIM for {}: {error}", wim.display());
            mark_failed(log, std::iter::once(wim), &message);
            failures.push(message);
        }
    }
    failures
}

fn mark_failed<'a>(log: &mut ChangeLog, wims: impl Iterator<Item = &'a PathBuf>, reason: &str) {
    let wims: Vec<String> = wims.map(|wim| wim.to_string_lossy().into_owned()).collect();
    for file in &mut log.files {
        if wims.contains(&file.root) && matches!(file.status, FileStatus::Written) {
            file.status = FileStatus::Failed(reason.to_string());
        }
    }
}
