//! WIM files in a scan: a `.wim` named on the command line becomes one scan root per image,
//! and a WIM found inside a tree or an image (`sources/install.wim` on install media,
//! `Windows/System32/Recovery/Winre.wim` in every image) is scanned image by image in place,
//! its findings named `sources/install.wim:1:/Windows/...`, to a fixed depth of nesting.
//!
//! Each image is walked through [`WimImageSource`] by the same walk, image discovery, registry
//! reader and scanners as a mounted tree. Whatever the reader cannot read is an `MG920`
//! (`wim-unreadable`) or `MG921` (`wim-entry-refused`) finding: never a silent skip.

use std::path::Path;
use std::sync::Arc;

use makguard_core::rules::{WIM_ENTRY_REFUSED, WIM_UNREADABLE};
use makguard_core::{ContainerImage, Detail, Finding, FindingPath, RootReport};
use makguard_wim::{TreeProblemKind, Wim, WimError};

use super::{Tally, TreeSetup, scan_tree};
use crate::fs_source::open_regular;
use crate::source::ReadAt;
use crate::wim_source::WimImageSource;

/// How deep WIMs inside WIMs are followed (install.wim → Winre.wim is depth 2).
pub(crate) const MAX_WIM_NESTING: usize = 3;

/// The magic at the start of every (non-pipable) WIM.
const WIM_MAGIC: &[u8; 8] = b"MSWIM\0\0\0";

/// True when the regular file at `path` is to be read as a WIM: it starts with the WIM magic,
/// or it is named like one (`.wim`, `.esd`, `.swm`). A file named on the command line as a WIM
/// that is not one (empty, truncated, a mis-download) is an `MG920` error, never a text file
/// that passes.
pub(crate) fn is_wim_file(path: &Path) -> bool {
    let named_like_one = path
        .extension()
        .is_some_and(|ext| ["wim", "esd", "swm"].iter().any(|e| ext.eq_ignore_ascii_case(e)));
    named_like_one || has_wim_magic(path)
}

fn has_wim_magic(path: &Path) -> bool {
    use std::io::Read;
    let Ok((mut file, _)) = open_regular(path) else {
        return false;
    };
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic).is_ok() && &magic == WIM_MAGIC
}

/// One root per selected image of the WIM file at `path` (named `display`).
pub(crate) fn scan_wim_file_roots(path: &Path, display: &str, setup: &TreeSetup<'_>) -> Vec<(RootReport, Tally)> {
    let file_root = || RootReport {
        path: display.to_string(),
        is_file: true,
        ..RootReport::default()
    };
    let opened = open_regular(path)
        .map_err(|error| WimError::Io(error.into_io()))
        .and_then(|(file, _)| Wim::open(file));
    let wim = match opened {
        Ok(wim) => Arc::new(wim),
        Err(error) => {
            let mut tally = Tally::default();
            tally.files_walked += 1;
            tally.skip(super::SkipReason::Unreadable);
            tally.findings.push(wim_error_finding(&file_name(display), &error));
            return vec![(file_root(), tally)];
        }
    };
    let mut roots = Vec::new();
    for index in selected_images(&wim, setup, display, &mut roots) {
        let mut root = file_root();
        root.container = Some(container_image(&wim, index));
        let mut tally = Tally::default();
        match WimImageSource::open(Arc::clone(&wim), index, display) {
            Ok(source) => {
                tally.findings.extend(problem_findings(&source, ""));
                let mut options = setup.options.clone();
                options.wim_depth += 1;
                let nested = TreeSetup {
                    options: &options,
                    ..*setup
                };
                scan_tree(&source, display, &nested, &mut root, &mut tally);
            }
            Err(error) => tally.findings.push(wim_error_finding(&FindingPath::new(""), &error)),
        }
        roots.push((root, tally));
    }
    roots
}

/// The images `--index` picked (all by default); an index the file does not have becomes a
/// root of its own with an `MG920` finding.
fn selected_images(wim: &Wim, setup: &TreeSetup<'_>, display: &str, roots: &mut Vec<(RootReport, Tally)>) -> Vec<u32> {
    let count = u32::try_from(wim.images().len()).unwrap_or(u32::MAX);
    if setup.options.wim_indexes.is_empty() {
        return (1..=count).collect();
    }
    let mut picked = Vec::new();
    for &index in &setup.options.wim_indexes {
        if (1..=count).contains(&index) {
            picked.push(index);
            continue;
        }
        let mut tally = Tally::default();
        tally.findings.push(Finding::new(
            &WIM_UNREADABLE,
            file_name(display),
            format!("--index {index}: the WIM has {count} image(s), so image {index} was not scanned"),
        ));
        roots.push((
            RootReport {
                path: display.to_string(),
                is_file: true,
                ..RootReport::default()
            },
            tally,
        ));
    }
    picked
}

fn container_image(wim: &Wim, index: u32) -> ContainerImage {
    let info = wim.images().iter().find(|info| info.index == index);
    ContainerImage {
        format: "wim".to_string(),
        index,
        image_count: u32::try_from(wim.images().len()).unwrap_or(u32::MAX),
        name: info.and_then(|info| info.name.clone()),
        edition_id: info.and_then(|info| info.edition_id.clone()),
        build: info.and_then(|info| info.build),
    }
}

fn file_name(display: &str) -> FindingPath {
    let name = display.rsplit(['/', '\\']).next().unwrap_or(display);
    FindingPath::new(name)
}

/// A WIM found at `rel` inside a source (its bytes readable at random through `reader`):
/// every image scanned in place, or an `MG905`-style refusal past [`MAX_WIM_NESTING`].
pub(crate) fn scan_nested_wim(reader: Box<dyn ReadAt>, rel: &FindingPath, setup: &TreeSetup<'_>) -> Tally {
    let mut tally = Tally::default();
    if setup.options.wim_depth >= MAX_WIM_NESTING {
        tally.findings.push(Finding::new(
            &WIM_UNREADABLE,
            rel.clone(),
            format!(
                "This WIM is nested {} levels deep in WIMs, deeper than makguard follows ({MAX_WIM_NESTING}); it was not scanned",
                setup.options.wim_depth
            ),
        ));
        return tally;
    }
    let wim = match Wim::from_reader(WimBytes(reader)) {
        Ok(wim) => Arc::new(wim),
        Err(error) => {
            tally.findings.push(wim_error_finding(rel, &error));
            return tally;
        }
    };
    let count = u32::try_from(wim.images().len()).unwrap_or(u32::MAX);
    for index in 1..=count {
        let prefix = format!("{}:{index}:/", rel.display);
        let mut image_tally = Tally::default();
        match WimImageSource::open(Arc::clone(&wim), index, &rel.display) {
            Ok(source) => {
                image_tally.findings.extend(problem_findings(&source, ""));
                let mut options = setup.options.clone();
                options.wim_depth += 1;
                // Nested images run inside a worker already: one more worker is enough.
                let nested = TreeSetup {
                    options: &options,
                    jobs: 1,
                    ..*setup
                };
                let mut root = RootReport::default();
                scan_tree(&source, &prefix, &nested, &mut root, &mut image_tally);
            }
            Err(error) => image_tally.findings.push(wim_error_finding(
                &FindingPath::new(format!("{}:{index}:/", rel.display)),
                &error,
            )),
        }
        for finding in &mut image_tally.findings {
            let path = &mut finding.location.path;
            if !path.display.starts_with(&prefix) {
                *path = FindingPath::new(format!("{prefix}{}", path.display));
            }
        }
        image_tally.searched = image_tally.searched.iter().map(|s| format!("{prefix}{s}")).collect();
        tally.merge(image_tally);
    }
    tally
}

/// The findings for entries the reader refused, at their paths (below `prefix`).
fn problem_findings(source: &WimImageSource, prefix: &str) -> Vec<Finding> {
    source
        .problems()
        .iter()
        .map(|problem| {
            let why = match &problem.kind {
                TreeProblemKind::DotName => "its name is `.` or `..`".to_string(),
                TreeProblemKind::ForbiddenCharacter => "its name holds `/`, `\\` or NUL".to_string(),
                TreeProblemKind::EmptyName => "its name is empty".to_string(),
                TreeProblemKind::DuplicateName => "another entry in the folder has the same name".to_string(),
                TreeProblemKind::InvalidUtf16Name => "its name is not valid UTF-16".to_string(),
                TreeProblemKind::MissingBlob(_) => "its data is not in the WIM's blob table".to_string(),
                TreeProblemKind::ChildrenOfNonDirectory => "a file entry claims children".to_string(),
                TreeProblemKind::ExtraUnnamedStream => "it has more than one unnamed data stream".to_string(),
            };
            let path = problem.path.trim_start_matches('/');
            Finding::new(
                &WIM_ENTRY_REFUSED,
                FindingPath::new(format!("{prefix}{path}")),
                format!("The WIM entry was refused ({why}), so what it holds was not scanned"),
            )
        })
        .collect()
}

/// An `MG920` finding for a WIM (or image) that could not be read, saying what to do.
fn wim_error_finding(path: &FindingPath, error: &WimError) -> Finding {
    let mut finding = Finding::new(
        &WIM_UNREADABLE,
        path.clone(),
        format!("The WIM could not be read ({error}); nothing in it was scanned"),
    );
    finding.detail = Detail::Remediation(match error {
        WimError::Solid { .. } | WimError::EncryptedEsd => makguard_wim::CONVERT_ADVICE.to_string(),
        WimError::Pipable => "convert it to a normal WIM with `wimlib-imagex export FILE all NEW.wim` and scan that".into(),
        WimError::Split { .. } => "join the parts first (`wimlib-imagex join NEW.wim FILE.swm FILE*.swm`, or `DISM /Export-Image /SWMFile:...`) and scan the joined WIM".into(),
        _ => "check the file with `wimlib-imagex verify FILE` (or `DISM /Get-WimInfo`), recapture or recopy it, and scan again".into(),
    });
    finding
}

/// A source file's random access as the WIM reader's positioned reader.
struct WimBytes(Box<dyn ReadAt>);

impl makguard_wim::ReadAt for WimBytes {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read_at(offset, buf)
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0.len())
    }
}
