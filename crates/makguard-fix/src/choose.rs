//! Choosing the GVLK that replaces each fixable key, and recording how it was chosen.
//!
//! The order is fixed and never guesses: the user's `--edition`/`--gvlk`, then the image's
//! `EditionID` and build, then the edition of the key's own group in the image's key
//! configuration, then (Office) the Click-to-Run product ID or the MSI product, and last,
//! only with `--unsafe-fixes`, the answer file's `/IMAGE/NAME`. A finding no step decides
//! stays unfixed with a reason that names what to pass.

use makguard_core::catalog::{self, Family, GvlkEntry, GvlkLookupError};
use makguard_core::rules::{Category, Fixability, Product};
use makguard_core::{
    Applicability, ClassSource, Detail, Edit, Finding, Fix, ImageInfo, KeyClass, ProductKey, ScanReport, TextRange,
    rules,
};
use thiserror::Error;

/// The user's explicit choice of replacement key (`--edition`, `--gvlk`, `--unsafe-fixes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChoice {
    /// `--edition EDITIONID`: a Windows `EditionID` (`Enterprise`) or an Office Click-to-Run
    /// product ID (`ProPlus2021Volume`) the catalog knows.
    pub edition: Option<String>,
    /// `--gvlk KEY`: a key from the catalog.
    pub gvlk: Option<ProductKey>,
    /// `--unsafe-fixes`: also choose keys from weak hints (the answer file's image name).
    pub unsafe_fixes: bool,
    /// `--build N`: the Windows build to pick a release by when the image does not say
    /// (loose answer files); it wins over the image's own build.
    pub build: Option<u32>,
}

/// Why the user's `--edition`/`--gvlk` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyChoiceError {
    /// `--gvlk` is not a product key at all.
    #[error("--gvlk: {0}")]
    GvlkUnparsable(#[from] makguard_core::KeyParseError),
    /// Carries the masked form only: a key that is not a GVLK may be a secret.
    #[error("--gvlk {masked} ({fingerprint}) is not a KMS client key (GVLK) in the catalog")]
    NotAGvlk {
        /// The key masked to its last group.
        masked: String,
        /// The key's `sha256:` fingerprint.
        fingerprint: String,
    },
    #[error(
        "--edition {0}: no KMS client key is published for this edition (expected a Windows EditionID such as Enterprise or an Office product ID such as ProPlus2021Volume)"
    )]
    /// `--edition` names an edition the catalog has no GVLK for (the name as given).
    UnknownEdition(String),
    /// `--gvlk` is the GVLK of another edition than `--edition`.
    #[error("--edition {edition} and --gvlk {gvlk} name different editions; give one of them")]
    Conflict {
        /// The `--edition` given.
        edition: String,
        /// The GVLK given (a GVLK is public, shown in full).
        gvlk: String,
    },
}

impl KeyChoice {
    /// Validates `--edition` and `--gvlk` against the catalog.
    ///
    /// # Errors
    ///
    /// A [`KeyChoiceError`] when `--gvlk` does not parse or is no GVLK in the catalog,
    /// `--edition` is unknown, or the two name different editions.
    pub fn new(edition: Option<&str>, gvlk: Option<&str>, unsafe_fixes: bool) -> Result<KeyChoice, KeyChoiceError> {
        let gvlk = match gvlk {
            Some(text) => {
                let key = ProductKey::parse(text.trim())?;
                if catalog::lookup_key(&key).is_none() {
                    return Err(KeyChoiceError::NotAGvlk {
                        masked: key.masked(),
                        fingerprint: key.fingerprint(),
                    });
                }
                Some(key)
            }
            None => None,
        };
        let edition = match edition.map(str::trim) {
            Some(name) => {
                if !edition_is_known(name) {
                    return Err(KeyChoiceError::UnknownEdition(name.to_string()));
                }
                Some(name.to_string())
            }
            None => None,
        };
        if let (Some(name), Some(key)) = (&edition, &gvlk)
            && catalog::lookup_key(key).is_none_or(|entry| !entry.edition_id.eq_ignore_ascii_case(name))
        {
            return Err(KeyChoiceError::Conflict {
                edition: name.clone(),
                gvlk: key.reveal_unmasked().to_string(),
            });
        }
        Ok(KeyChoice {
            edition,
            gvlk,
            unsafe_fixes,
            build: None,
        })
    }

    /// Sets `--build`: the release to pick when an edition has one GVLK per release.
    pub fn with_build(mut self, build: Option<u32>) -> KeyChoice {
        self.build = build;
        self
    }
}

fn edition_is_known(name: &str) -> bool {
    !matches!(
        catalog::windows_gvlk_for(name, None),
        Err(GvlkLookupError::UnknownEdition(_))
    ) || catalog::office_gvlk_for_product_id(name).is_some()
}

fn is_windows_edition(name: &str) -> bool {
    !matches!(
        catalog::windows_gvlk_for(name, None),
        Err(GvlkLookupError::UnknownEdition(_))
    )
}

/// A fixable finding that [`plan`] could not choose a key for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfixable {
    /// Index into `ScanReport::findings`.
    pub finding: usize,
    /// Why, and what to pass (`--edition EDITIONID` or `--gvlk KEY`).
    pub reason: String,
}

/// The product the finding's key belongs to, as far as the finding tells: its Office
/// detail, its key's group or catalog entry, then the rule's own product. [`Product::Any`]
/// is a key literal whose product no scanner could tell (a script literal, a text file).
fn key_product(finding: &Finding) -> Product {
    if matches!(finding.detail, Detail::Office { .. }) || finding.rule.product == Product::Office {
        return Product::Office;
    }
    if let Some(info) = &finding.key {
        let edition_id = info.classification.edition_id.as_deref().unwrap_or("");
        if !edition_id.is_empty() && catalog::office_gvlk_for_product_id(edition_id).is_some() {
            return Product::Office;
        }
        if let Some(entry) = catalog::lookup_key(&info.key) {
            return match entry.family {
                Family::Windows => Product::Windows,
                Family::Office => Product::Office,
            };
        }
    }
    finding.rule.product
}

/// The top-level folders of a Windows installation: files there are the image's own.
const INSTALLATION_FOLDERS: [&str; 6] = [
    "windows",
    "program files",
    "program files (x86)",
    "programdata",
    "users",
    "recovery",
];

/// True when `rel` (relative to an image root, `/`-separated) is part of the installed
/// Windows: under one of its top-level folders, or a file at the root of the system drive
/// (where Setup also looks for an answer file). Anything else beside an image (a deployment
/// share's `Control/SRV2022/Unattend.xml`, a build folder) belongs to other installs.
pub fn in_installation_tree(rel: &str) -> bool {
    match rel.split_once('/') {
        None => true,
        Some((top, _)) => INSTALLATION_FOLDERS.iter().any(|f| top.eq_ignore_ascii_case(f)),
    }
}

/// The image a finding is judged by: the image of its root, only when the finding's file is
/// in that image's own installation tree ([`in_installation_tree`]). Files outside it, or in
/// another image of a folder of images, are never judged by this image's edition.
pub fn image_for<'a>(report: &'a ScanReport, finding: &Finding) -> Option<&'a ImageInfo> {
    let root = report.roots.get(finding.location.root)?;
    let image = root.image.as_ref()?;
    // An image found below the root (a folder of mounted images) is named by the root joined
    // with its folder; anything else is the root itself.
    let prefix = std::path::Path::new(&image.root)
        .strip_prefix(&root.path)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let path = finding.path().display.as_str();
    let inside = if prefix.is_empty() {
        path
    } else {
        let cut = prefix.len() + 1;
        let head = path.get(..cut)?;
        if !head.eq_ignore_ascii_case(&format!("{prefix}/")) {
            return None;
        }
        &path[cut..]
    };
    in_installation_tree(inside).then_some(image)
}

/// What a chooser step decided.
enum Choice {
    Key {
        entry: &'static GvlkEntry,
        applicability: Applicability,
        chosen_by: String,
    },
    /// This step applies but cannot decide; stop with this reason.
    Stop(String),
}

fn build_text(build: Option<u32>) -> String {
    build.map_or_else(String::new, |b| format!(", build {b}"))
}

fn windows_by_edition(edition: &str, build: Option<u32>, origin: &str) -> Choice {
    match catalog::windows_gvlk_for(edition, build) {
        Ok(entry) => Choice::Key {
            entry,
            applicability: Applicability::Safe,
            chosen_by: format!("{origin} {edition}{}", build_text(build)),
        },
        Err(GvlkLookupError::NeedsBuild { products, .. }) => Choice::Stop(format!(
            "{origin} {edition} has KMS client keys for several releases ({products}) and the image's build is unknown: pass --build BUILD (e.g. 22631) or --gvlk KEY"
        )),
        Err(error) => Choice::Stop(format!("{origin}: {error}: pass --edition EDITIONID or --gvlk KEY")),
    }
}

/// The replacement for `finding`'s key, by the first source that decides it, strongest
/// first; `None` when no source applies.
fn choose(finding: &Finding, choice: &KeyChoice, image: Option<&ImageInfo>) -> Option<Choice> {
    let family = key_product(finding);
    let build = choice.build.or_else(|| image.and_then(|i| i.build));
    by_user_choice(family, choice, build)
        .or_else(|| by_image_edition(family, image, build))
        .or_else(|| by_key_group(finding, family, build))
        .or_else(|| by_office_hints(finding, family))
        .or_else(|| by_image_name(finding, family, choice, build))
}

/// 1. The user's `--gvlk` or `--edition`, for keys of the family it names.
fn by_user_choice(family: Product, choice: &KeyChoice, build: Option<u32>) -> Option<Choice> {
    if let Some(gvlk) = &choice.gvlk
        && let Some(entry) = catalog::lookup_key(gvlk)
    {
        let applies = match entry.family {
            Family::Windows => family != Product::Office,
            Family::Office => family != Product::Windows,
        };
        if applies {
            return Some(Choice::Key {
                entry,
                applicability: Applicability::Safe,
                chosen_by: format!("--gvlk given by the user ({})", entry.edition),
            });
        }
    }
    if let Some(edition) = &choice.edition {
        if is_windows_edition(edition) {
            if family != Product::Office {
                return Some(windows_by_edition(edition, build, "--edition"));
            }
        } else if family != Product::Windows
            && let Some(entry) = catalog::office_gvlk_for_product_id(edition)
        {
            return Some(Choice::Key {
                entry,
                applicability: Applicability::Safe,
                chosen_by: format!("--edition {edition} (Office product ID)"),
            });
        }
    }
    None
}

/// 2. The image's `EditionID` and build, for Windows keys only.
fn by_image_edition(family: Product, image: Option<&ImageInfo>, build: Option<u32>) -> Option<Choice> {
    if family == Product::Windows
        && let Some(edition) = image.and_then(|i| i.edition_id.as_deref())
    {
        return Some(windows_by_edition(edition, build, "image EditionID"));
    }
    None
}

/// 3. The edition of the key's own group in the image's key configuration.
fn by_key_group(finding: &Finding, family: Product, build: Option<u32>) -> Option<Choice> {
    if let Some(info) = &finding.key
        && info.classification.source == ClassSource::ImageKeyConfiguration
        && let Some(edition) = info.classification.edition_id.as_deref()
    {
        let group = info.key.decode().map(|d| d.group);
        let origin = match group {
            Some(group) => format!("EditionId of key group {group} in the image's key configuration:"),
            None => "EditionId in the image's key configuration:".to_string(),
        };
        if let Some(entry) = catalog::office_gvlk_for_product_id(edition) {
            return Some(Choice::Key {
                entry,
                applicability: Applicability::Safe,
                chosen_by: format!("{origin} {edition}"),
            });
        }
        if family != Product::Office && is_windows_edition(edition) {
            return Some(windows_by_edition(edition, build, &origin));
        }
    }
    None
}

/// 4. Office: the Click-to-Run product ID, or the MSI product; else stop and ask.
fn by_office_hints(finding: &Finding, family: Product) -> Option<Choice> {
    if family != Product::Office {
        return None;
    }
    if let Some(id) = finding.detail.click_to_run_product_id() {
        return Some(match catalog::office_gvlk_for_product_id(id) {
            Some(entry) => Choice::Key {
                entry,
                applicability: Applicability::Safe,
                chosen_by: format!("Office Click-to-Run product ID {id}"),
            },
            None => Choice::Stop(format!(
                "Office product ID {id} has no KMS client key in the catalog (not a volume product?): pass --gvlk KEY"
            )),
        });
    }
    if let Some(product) = finding.detail.msi_product() {
        return Some(match catalog::office_gvlk_for_edition_name(product) {
            Some(entry) => Choice::Key {
                entry,
                applicability: Applicability::Safe,
                chosen_by: format!("MSI Office product {product}"),
            },
            None => Choice::Stop(format!(
                "MSI Office product '{product}' has no KMS client key in the catalog: pass --gvlk KEY"
            )),
        });
    }
    Some(Choice::Stop(
        "the Office product this key belongs to is unknown: pass --gvlk KEY (the product's GVLK) or --edition PRODUCTID (e.g. ProPlus2021Volume)"
            .to_string(),
    ))
}

/// 5. The answer file's image name, only when the user accepts unsafe fixes.
fn by_image_name(finding: &Finding, family: Product, choice: &KeyChoice, build: Option<u32>) -> Option<Choice> {
    if family == Product::Windows
        && let Some(name) = finding.detail.install_image_name()
    {
        if !choice.unsafe_fixes {
            return Some(Choice::Stop(format!(
                "the image's edition is unknown; the answer file names image \"{name}\", which --unsafe-fixes would use; otherwise pass --edition EDITIONID or --gvlk KEY"
            )));
        }
        return Some(match edition_from_image_name(name, build) {
            Some(entry) => Choice::Key {
                entry,
                applicability: Applicability::Unsafe,
                chosen_by: format!("answer file /IMAGE/NAME \"{name}\" ({})", entry.edition),
            },
            None => Choice::Stop(format!(
                "the answer file's image name \"{name}\" does not name one edition for certain: pass --edition EDITIONID or --gvlk KEY"
            )),
        });
    }
    None
}

/// Maps a WIM image name to one catalog entry, or `None` when it does not name exactly one
/// GVLK. Accepts Microsoft's display names (`Windows 11 Enterprise`, `Windows Server 2022
/// Datacenter`) and the install-media form with an edition ID (`Windows Server 2022
/// SERVERDATACENTER`, `... SERVERSTANDARDCORE`).
pub fn edition_from_image_name(name: &str, build: Option<u32>) -> Option<&'static GvlkEntry> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let windows = || {
        catalog::entries()
            .iter()
            .filter(|e| e.family == Family::Windows && e.official)
    };

    let mut matches: Vec<&'static GvlkEntry> = windows()
        .filter(|e| e.edition.split(" / ").any(|alt| alt.trim().eq_ignore_ascii_case(&name)))
        .collect();

    if matches.is_empty() {
        // `Windows Server 2022 SERVERDATACENTER`: a product name followed by an edition ID.
        let (product_part, last) = name.rsplit_once(' ')?;
        let edition_id = strip_suffix_ignore_case(last, "Core").unwrap_or(last);
        let product_part = product_part.trim();
        matches = windows()
            .filter(|e| e.edition_id.eq_ignore_ascii_case(edition_id))
            .filter(|e| {
                e.product.eq_ignore_ascii_case(product_part)
                    || e.edition
                        .to_ascii_lowercase()
                        .starts_with(&product_part.to_ascii_lowercase())
            })
            .collect();
    }
    if let Some(build) = build {
        let in_build: Vec<_> = matches.iter().copied().filter(|e| e.covers_build(build)).collect();
        if !in_build.is_empty() {
            matches = in_build;
        }
    }
    let first = *matches.first()?;
    matches.iter().all(|e| e.key == first.key).then_some(first)
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case(suffix) && cut > 0).then(|| &text[..cut])
}

/// The replacement text for the key at `range`: without dashes when the key was written
/// without them, always upper case.
fn replacement_for(finding: &Finding, range: TextRange, key: &ProductKey) -> String {
    let bare = range.len() == 25 || (finding.spelling().bare && range.len() != 29);
    if bare {
        key.reveal_unmasked().replace('-', "")
    } else {
        key.reveal_unmasked().to_string()
    }
}

fn needs_fix(finding: &Finding) -> bool {
    if finding.suppressed.is_some() || !finding.rule.is_fixable() {
        return false;
    }
    match &finding.key {
        // An edition mismatch is about a GVLK, which is otherwise never rewritten.
        Some(info) => info.class().is_forbidden_key() || finding.rule.category == Category::EditionMismatch,
        None => true,
    }
}

/// Fills `finding.fix` for every fixable finding it can choose a key for, and returns the
/// fixable findings it could not, each with what to pass. Suppressed findings are left alone.
pub fn plan(report: &mut ScanReport, choice: &KeyChoice) -> Vec<Unfixable> {
    let mut unfixable = Vec::new();
    let images: Vec<Option<ImageInfo>> = report.findings.iter().map(|f| image_for(report, f).cloned()).collect();
    for (index, finding) in report.findings.iter_mut().enumerate() {
        if !needs_fix(finding) {
            continue;
        }
        let (Some(range), Some(info)) = (finding.range(), finding.key.as_ref()) else {
            finding.fix = None;
            unfixable.push(Unfixable {
                finding: index,
                reason: "the finding has no key position in a text file to edit".to_string(),
            });
            continue;
        };
        if let Some(reason) = &finding.spelling().not_rewritable {
            unfixable.push(Unfixable {
                finding: index,
                reason: reason.clone(),
            });
            finding.fix = None;
            continue;
        }
        let image = images[index].as_ref();
        if finding.rule.fixability == Fixability::UnsafeOnly && !choice.unsafe_fixes {
            finding.fix = None;
            unfixable.push(Unfixable {
                finding: index,
                reason: "a KMS client key (GVLK) is never rewritten by a safe fix; pass --unsafe-fixes to write the image's GVLK"
                    .to_string(),
            });
            continue;
        }
        match choose(finding, choice, image) {
            Some(Choice::Key {
                entry,
                applicability,
                chosen_by,
            }) => {
                if entry.key == info.key {
                    // Already the right key (an MG401 re-planned after the user chose this edition).
                    finding.fix = None;
                    continue;
                }
                let replacement = replacement_for(finding, range, &entry.key);
                let applicability = if finding.rule.fixability == Fixability::UnsafeOnly {
                    Applicability::Unsafe
                } else {
                    applicability
                };
                finding.fix = Some(Fix {
                    applicability,
                    edits: vec![Edit { range, replacement }],
                    new_key: entry.key.clone(),
                    chosen_by,
                });
            }
            Some(Choice::Stop(reason)) => {
                finding.fix = None;
                unfixable.push(Unfixable { finding: index, reason });
            }
            None => {
                finding.fix = None;
                unfixable.push(Unfixable {
                    finding: index,
                    reason: "cannot tell which product this key is for: pass --edition EDITIONID or --gvlk KEY"
                        .to_string(),
                });
            }
        }
    }
    unfixable
}

/// `MG401 gvlk-edition-mismatch` findings for GVLK findings (`MG100`) whose key is for another
/// edition (or release) than the image's, each with a fix to the image's GVLK when the
/// catalog names one.
pub fn edition_mismatches(report: &ScanReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for finding in &report.findings {
        if finding.rule != &rules::UNATTEND_GVLK || finding.suppressed.is_some() {
            continue;
        }
        let Some(image) = image_for(report, finding) else {
            continue;
        };
        let Some(image_edition) = image.edition_id.as_deref() else {
            continue;
        };
        let expected = catalog::windows_gvlk_for(image_edition, image.build);
        let Some(info) = &finding.key else { continue };
        if info.class() != KeyClass::Gvlk {
            continue;
        }
        let Some(entry) = catalog::lookup_key(&info.key) else {
            continue;
        };
        if entry.family != Family::Windows {
            continue;
        }
        let mismatch = match &expected {
            Ok(expected) => expected.key != info.key,
            // Without a single expected key, only a different edition ID is certain.
            Err(_) => !entry.edition_id.eq_ignore_ascii_case(image_edition),
        };
        if !mismatch {
            continue;
        }
        let mut mismatch_finding = finding.clone();
        mismatch_finding.rule = &rules::GVLK_EDITION_MISMATCH;
        mismatch_finding.severity = rules::GVLK_EDITION_MISMATCH.default_severity;
        mismatch_finding.fix = None;
        let image_desc = format!("{image_edition}{}", build_text(image.build));
        match &expected {
            Ok(expected) => {
                mismatch_finding.message = format!(
                    "KMS client key {} is for {}, but the image is {image_desc}, whose KMS client key is {}",
                    info.key, entry.edition, expected.key
                );
                if let Some(range) = finding.range() {
                    // A GVLK is public and harmless where it is: changing it is never safe
                    // without the user's word, since the file may serve another install.
                    mismatch_finding.fix = Some(Fix {
                        applicability: Applicability::Unsafe,
                        edits: vec![Edit {
                            range,
                            replacement: replacement_for(finding, range, &expected.key),
                        }],
                        new_key: expected.key.clone(),
                        chosen_by: format!("image EditionID {image_desc}"),
                    });
                }
            }
            Err(error) => {
                mismatch_finding.message = format!(
                    "KMS client key {} is for {}, but the image is {image_desc} ({error})",
                    info.key, entry.edition
                );
            }
        }
        out.push(mismatch_finding);
    }
    out
}
