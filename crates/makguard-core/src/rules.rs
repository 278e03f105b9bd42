//! The rule registry: every rule's stable code and name, and what it is, as data: default
//! severity, category, product, how `makguard fix` repairs it, status, and its documentation
//! in sections.
//!
//! Code asks a rule what it is (`rule.category`, `rule.product`, `rule.fixability`) or which
//! rule it is (`finding.rule == &rules::UNATTEND_GVLK`), never what its code string looks
//! like. Codes are never reused: a retired rule keeps its declaration with
//! `status: Retired("VERSION")`. The rules reference in `docs/rules.md` is generated from this
//! table (`makguard rules --markdown`) and a test keeps it current. Code ranges: `MG1xx`
//! answer files, `MG2xx` other files in an image or its build inputs, `MG3xx` the image's
//! registry and licensing data, `MG4xx` fixes, `MG5xx` policy, `MG9xx` files that could not be
//! read or parsed.

use std::fmt;

use crate::finding::Severity;

/// A rule: what it flags, what kind of problem that is, and why it matters.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// The stable code, e.g. `MG101`; never reused.
    pub code: &'static str,
    /// The stable kebab-case name, e.g. `unattend-non-kms-key`.
    pub name: &'static str,
    /// The severity findings get unless a policy overrides it.
    pub default_severity: Severity,
    /// What kind of problem the rule reports.
    pub category: Category,
    /// The product whose keys the rule is about; the fixer picks a replacement from it.
    pub product: Product,
    /// Whether, and how safely, `makguard fix` repairs its findings.
    pub fixability: Fixability,
    /// The release that added the rule or last changed what it reports.
    pub changed_in: &'static str,
    /// Whether the rule still reports findings.
    pub status: Status,
    /// One line, shown in listings and as SARIF `shortDescription`.
    pub summary: &'static str,
    /// The rule's documentation for the rules reference.
    pub doc: RuleDoc,
}

/// What kind of problem a rule reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// A product key that is not a KMS client key (or most of one) in a file, or a file name,
    /// that ships with the image.
    KeyInImage,
    /// A key installed in the image's registry or licensing data, or a copy or trace of one
    /// there.
    InstalledKey,
    /// A KMS client key for another edition than the image's, found while planning fixes.
    EditionMismatch,
    /// The policy in makguard.toml itself: an exception that expired or matches nothing.
    Policy,
    /// Part of the input could not be read, parsed or understood: any unsuppressed finding
    /// makes the scan incomplete (exit 3).
    IncompleteScan,
    /// Nothing leaks, but the user should know: a GVLK, a placeholder, a link not followed.
    Informational,
}

/// The product line a rule's keys belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// Windows product keys.
    Windows,
    /// Microsoft Office product keys.
    Office,
    /// Any product, or no product key at all.
    Any,
}

/// Whether, and how safely, `makguard fix` repairs a rule's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fixability {
    /// No file edit repairs it; `makguard fix` leaves it alone.
    Never,
    /// A safe fix when the replacement GVLK is certain (`--edition`, `--gvlk`, the image's
    /// edition, the key's group in the key configuration, the Office product); an unsafe one
    /// when it is only inferred from the answer file's image name.
    SafeWhenCertain,
    /// Always an unsafe fix, applied only with `--unsafe-fixes`.
    UnsafeOnly,
}

/// Where a rule looks, as its code range says (`MG1xx` answer files, … `MG9xx` inputs that
/// could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// `MG1xx`: answer files.
    AnswerFile,
    /// `MG2xx`: other files in an image or its build inputs.
    ImageFile,
    /// `MG3xx`: the image's registry and licensing data.
    Registry,
    /// `MG4xx`: fixes.
    Fix,
    /// `MG5xx`: the policy file.
    Policy,
    /// `MG9xx`: files that could not be read or parsed.
    Unreadable,
}

/// Whether a rule still reports findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Reports findings.
    Active,
    /// No longer reported since this release; its code stays taken.
    Retired {
        /// The release that retired the rule, e.g. `0.2.0`.
        since: &'static str,
    },
}

/// A rule's documentation, in the sections of the rules reference. Markdown.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleDoc {
    /// The "What it does" section: what the rule reports.
    pub what_it_does: &'static str,
    /// The "Why is this bad?" section: the risk behind a finding.
    pub why_is_this_bad: &'static str,
    /// The "Example" section; `None` when the rule has none.
    pub example: Option<&'static str>,
    /// `None` only for informational rules: there is nothing to fix.
    pub how_to_fix: Option<&'static str>,
    /// `None` when the standard text for the rule's [`Fixability`] says it all.
    pub fix_safety: Option<&'static str>,
}

impl Rule {
    /// True for the rules that say a file could not be read, parsed or understood: any
    /// unsuppressed one makes the scan incomplete (exit 3).
    pub fn is_incomplete_scan(&self) -> bool {
        self.category == Category::IncompleteScan
    }

    /// True when `makguard fix` can repair some of its findings by editing a file.
    pub fn is_fixable(&self) -> bool {
        self.fixability != Fixability::Never
    }

    /// The area of its code range; the ranges are this module's to interpret.
    pub fn area(&self) -> Area {
        match self.code.as_bytes().get(2) {
            Some(b'1') => Area::AnswerFile,
            Some(b'2') => Area::ImageFile,
            Some(b'3') => Area::Registry,
            Some(b'4') => Area::Fix,
            Some(b'5') => Area::Policy,
            _ => Area::Unreadable,
        }
    }

    /// True when the rule no longer reports findings.
    pub fn is_retired(&self) -> bool {
        matches!(self.status, Status::Retired { .. })
    }

    /// The Fix safety section: the rule's own text, or the standard one for its fixability.
    pub fn fix_safety(&self) -> &'static str {
        self.doc.fix_safety.unwrap_or(self.fixability.description())
    }

    /// The documentation sections in reference order, each with its title; an absent
    /// optional section is left out.
    pub fn doc_sections(&self) -> Vec<(&'static str, &'static str)> {
        let doc = &self.doc;
        [
            ("What it does", Some(doc.what_it_does)),
            ("Why is this bad?", Some(doc.why_is_this_bad)),
            ("Example", doc.example),
            ("How to fix", doc.how_to_fix),
            ("Fix safety", Some(self.fix_safety())),
        ]
        .into_iter()
        .filter_map(|(title, text)| Some((title, text?)))
        .collect()
    }
}

impl RuleDoc {
    /// Why it matters and how to fix it, as one paragraph (SARIF `fullDescription`).
    pub fn rationale(&self) -> String {
        match self.how_to_fix {
            Some(how) => format!("{} {how}", self.why_is_this_bad),
            None => self.why_is_this_bad.to_string(),
        }
    }
}

impl Category {
    /// The name used in listings and reports, e.g. `key in image`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::KeyInImage => "key in image",
            Category::InstalledKey => "installed key",
            Category::EditionMismatch => "edition mismatch",
            Category::Policy => "policy",
            Category::IncompleteScan => "incomplete scan",
            Category::Informational => "informational",
        }
    }
}

impl Product {
    /// The name used in listings, e.g. `Windows`.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Windows => "Windows",
            Product::Office => "Office",
            Product::Any => "any",
        }
    }
}

impl Fixability {
    /// `fixable by `makguard fix` (safe when certain)`, for a rule's line of facts.
    pub fn phrase(self) -> String {
        match self {
            Fixability::Never => "not fixable by editing files".to_string(),
            fixable => format!("fixable by `makguard fix` ({fixable})"),
        }
    }

    /// The short name used in listings, e.g. `safe when certain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fixability::Never => "no",
            Fixability::SafeWhenCertain => "safe when certain",
            Fixability::UnsafeOnly => "unsafe only",
        }
    }

    /// The standard Fix safety section for rules of this fixability.
    pub fn description(self) -> &'static str {
        match self {
            Fixability::Never => "None: `makguard fix` leaves these findings as they are.",
            Fixability::SafeWhenCertain => {
                "`makguard fix` replaces the key with a GVLK, changing only the key's bytes. The fix is \
safe when the GVLK is certain: named by `--edition` or `--gvlk`, or taken from the image's `EditionID` \
and build, from the key's own group in the image's key configuration, or from the Office product. A GVLK \
inferred from the answer file's image name (`/IMAGE/NAME`) makes the fix unsafe: it is applied only with \
`--unsafe-fixes`. When nothing decides, the finding stays unfixed and `makguard fix` says what to pass."
            }
            Fixability::UnsafeOnly => "The fix is always unsafe: `makguard fix` applies it only with `--unsafe-fixes`.",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Fixability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when `rust_name` is `kebab_name` upper-cased with `_` for `-` (`MAK_INSTALLED` for
/// `mak-installed`). `rules!` checks every declaration with it at compile time.
pub const fn rust_name_matches(rust_name: &str, kebab_name: &str) -> bool {
    let (rust, kebab) = (rust_name.as_bytes(), kebab_name.as_bytes());
    if rust.len() != kebab.len() {
        return false;
    }
    let mut i = 0;
    while i < rust.len() {
        let expected = match kebab[i] {
            b'-' => b'_',
            b => b.to_ascii_uppercase(),
        };
        if rust[i] != expected {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares the rules. Each entry:
///
/// ```text
/// RULE_NAME = "MG123" "rule-name" {
///     severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
///     changed_in: "0.1.0", status: Active,            // or status: Retired("0.3.0")
///     summary: "One line, no final period",
///     what_it_does: "…",
///     why_is_this_bad: "…",
///     example: "…",                                   // optional
///     how_to_fix: "…",                                // optional for Informational rules
///     fix_safety: "…",                                // optional: else the fixability's text
/// }
/// ```
///
/// The Rust name must be the kebab name upper-cased with `_` (checked at compile time).
macro_rules! rules {
    (@status Active) => { Status::Active };
    (@status Retired $since:literal) => { Status::Retired { since: $since } };
    (@optional) => { None };
    (@optional $text:literal) => { Some($text) };
    ($($ident:ident = $code:literal $name:literal {
        severity: $severity:ident, category: $category:ident, product: $product:ident, fix: $fix:ident,
        changed_in: $changed_in:literal, status: $status:ident $(($retired_in:literal))?,
        summary: $summary:literal,
        what_it_does: $what:literal,
        why_is_this_bad: $why:literal,
        $(example: $example:literal,)?
        $(how_to_fix: $how:literal,)?
        $(fix_safety: $safety:literal,)?
    })*) => {
        $(
            #[doc = concat!("`", $code, "` `", $name, "`: ", $summary, ".")]
            // Summaries are plain text: `[scan]` there names the policy table, not a link.
            #[allow(rustdoc::broken_intra_doc_links)]
            pub static $ident: Rule = Rule {
                code: $code,
                name: $name,
                default_severity: Severity::$severity,
                category: Category::$category,
                product: Product::$product,
                fixability: Fixability::$fix,
                changed_in: $changed_in,
                status: rules!(@status $status $($retired_in)?),
                summary: $summary,
                doc: RuleDoc {
                    what_it_does: $what,
                    why_is_this_bad: $why,
                    example: rules!(@optional $($example)?),
                    how_to_fix: rules!(@optional $($how)?),
                    fix_safety: rules!(@optional $($safety)?),
                },
            };
            const _: () = assert!(
                rust_name_matches(stringify!($ident), $name),
                concat!(stringify!($ident), " must be named after ", $name, " (upper case, `_` for `-`)")
            );
        )*
        /// Every rule, retired ones included, in declaration order.
        pub static ALL: &[&Rule] = &[$(&$ident),*];
        /// The Rust name of each rule in [`ALL`], in the same order.
        #[cfg(test)]
        static RUST_NAMES: &[&str] = &[$(stringify!($ident)),*];
    };
}

rules! {
    UNATTEND_GVLK = "MG100" "unattend-gvlk" {
        severity: Note, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "An answer file holds a public KMS client key (GVLK)",
        what_it_does: "Reports each product key in an answer file that is a GVLK, the public key a \
volume-licensed image activates against KMS with.",
        why_is_this_bad: "A GVLK is public and activates only against your KMS host, so it is what an image \
should carry. The finding is informational: it shows which edition the answer file selects. \
If the GVLK is for another edition than the image's, rule MG401 reports that.",
    }

    UNATTEND_NON_KMS_KEY = "MG101" "unattend-non-kms-key" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An answer file holds a product key that is not a KMS client key",
        what_it_does: "Reports a key setting of an answer file (`unattend.xml`, `autounattend.xml`) \
whose value is a MAK, a retail, OEM or KMS host key, or any other product key that is not a GVLK.",
        why_is_this_bad: "A Multiple Activation Key (MAK) has a fixed number of activations. Baked into \
an answer file, every install, reinstall or reimage built from it uses one, and the key \
leaks with the image. Retail, OEM and KMS host keys do not belong in an image either.",
        example: "```xml\n<component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\">\n  <ProductKey>{MAK}</ProductKey>\n</component>\n```",
        how_to_fix: "Replace the key with the GVLK for the image's edition (`makguard fix` does this) and \
activate against your KMS host; apply a MAK after deployment, outside the image, if a \
machine cannot reach KMS.",
    }

    UNATTEND_KEY_IN_COMMENT = "MG102" "unattend-key-in-comment" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An XML comment in an answer file holds a product key that is not a KMS client key",
        what_it_does: "Reports a product key that is not a GVLK inside an XML comment (`<!-- … -->`) of an \
answer file.",
        why_is_this_bad: "Setup ignores comments, but the file ships with the image and the key leaks with \
it.",
        example: "```xml\n<!-- old key: {MAK} -->\n<ProductKey>{GVLK}</ProductKey>\n```",
        how_to_fix: "Remove the comment or replace the key with the GVLK (`makguard fix` replaces it).",
    }

    UNATTEND_COMMAND_INSTALLS_KEY = "MG103" "unattend-command-installs-key" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An answer-file command installs a product key that is not a KMS client key",
        what_it_does: "Reports a command in an answer file that installs a product key that is not a \
GVLK.",
        why_is_this_bad: "`slmgr /ipk`, `ospp.vbs /inpkey:`, `DISM /Set-ProductKey:` or `changepk.exe \
/ProductKey` in a `RunSynchronous`, `FirstLogonCommands` or `LogonCommands` setting installs \
the key on every machine built from the image, using one MAK activation each time.",
        example: "```xml\n<FirstLogonCommands>\n  <SynchronousCommand wcm:action=\"add\">\n    <CommandLine>cscript //B %windir%\\system32\\slmgr.vbs /ipk {MAK}</CommandLine>\n    <Order>1</Order>\n  </SynchronousCommand>\n</FirstLogonCommands>\n```",
        how_to_fix: "Install the GVLK instead and activate against KMS.",
    }

    UNATTEND_PLACEHOLDER_KEY = "MG104" "unattend-placeholder-key" {
        severity: Note, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "An answer file holds a placeholder where a key belongs",
        what_it_does: "Reports a key setting of an answer file that holds a placeholder instead of a key.",
        why_is_this_bad: "`XXXXX-XXXXX-…`, all zeros, a template variable or Setup's \
`*SENSITIVE*DATA*DELETED*` is not a key.",
        how_to_fix: "Nothing leaks; make sure your build fills in a GVLK, not a MAK.",
    }

    UNATTEND_PARTIAL_KEY = "MG105" "unattend-partial-key" {
        severity: Warning, category: KeyInImage, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "An answer file holds a truncated product key (four groups)",
        what_it_does: "Reports a key setting of an answer file that holds four groups of a product key \
instead of five.",
        why_is_this_bad: "Four groups of a key are most of a secret and Setup cannot use them.",
        how_to_fix: "Remove the \
value or put the GVLK for the edition there.",
    }

    UNATTEND_MALFORMED_KEY = "MG106" "unattend-malformed-key" {
        severity: Warning, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "An answer-file key setting holds something that is not a product key",
        what_it_does: "Reports a key setting of an answer file whose value is neither a product key nor a \
placeholder.",
        why_is_this_bad: "Setup fails on an invalid key in `Microsoft-Windows-Shell-Setup/ProductKey`.",
        how_to_fix: "Put the GVLK for the edition there or remove the setting.",
    }

    SCRIPT_INSTALLS_KEY = "MG201" "script-installs-key" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "A script installs a product key that is not a KMS client key",
        what_it_does: "Reports a command in a script of the image (`.cmd`, `.bat`, `.ps1`, `.vbs`, …) that \
installs a product key that is not a GVLK.",
        why_is_this_bad: "`SetupComplete.cmd` and other scripts in an image run on every machine built \
from it. A MAK installed there (`slmgr /ipk`, `ospp.vbs /inpkey:`, `DISM /Set-ProductKey:`, \
`changepk.exe /ProductKey`, `setup.exe /pkey`, WMI `InstallProductKey`) burns one activation \
per machine and leaks with the image.",
        example: "```bat\nrem Windows\\Setup\\Scripts\\SetupComplete.cmd\ncscript //B %windir%\\system32\\slmgr.vbs /ipk {MAK}\n```",
        how_to_fix: "Install the GVLK and activate against KMS.",
    }

    SCRIPT_KEY_LITERAL = "MG202" "script-key-literal" {
        severity: Error, category: KeyInImage, product: Any, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "A script holds a product key that is not a KMS client key",
        what_it_does: "Reports a product key that is not a GVLK anywhere else in a script: in a variable, \
a comment or a string no install command uses.",
        why_is_this_bad: "A key literal in a script ships with the image whether or not the script uses \
it.",
        how_to_fix: "Remove it or replace it with the GVLK.",
    }

    OFFICE_C2R_NON_KMS_KEY = "MG211" "office-c2r-non-kms-key" {
        severity: Error, category: KeyInImage, product: Office, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An Office Deployment Tool configuration holds a key that is not a KMS client key",
        what_it_does: "Reports a `PIDKEY` attribute of a `Product` in an Office Deployment Tool \
(Click-to-Run) configuration whose key is not a GVLK.",
        why_is_this_bad: "The `PIDKEY` attribute of a Click-to-Run `Product` installs that key with Office.",
        example: "```xml\n<Add OfficeClientEdition=\"64\">\n  <Product ID=\"ProPlus2021Volume\" PIDKEY=\"{MAK}\" />\n</Add>\n```",
        how_to_fix: "For volume-licensed Office in an image use the product's GVLK (`makguard fix` picks it from \
the product `ID`) and activate against KMS.",
    }

    OFFICE_MSI_NON_KMS_KEY = "MG212" "office-msi-non-kms-key" {
        severity: Error, category: KeyInImage, product: Office, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An MSI Office config.xml holds a key that is not a KMS client key",
        what_it_does: "Reports a `PIDKEY` element of an MSI Office `config.xml` whose key is not a GVLK.",
        why_is_this_bad: "`<PIDKEY Value=\"…\"/>` (25 characters, no dashes) installs that key with MSI \
Office.",
        example: "```xml\n<Configuration Product=\"ProPlus\">\n  <PIDKEY Value=\"{MAK, 25 characters}\" />\n</Configuration>\n```",
        how_to_fix: "Use the product's GVLK, written without dashes.",
    }

    DEPLOYMENT_SETTING_NON_KMS_KEY = "MG221" "deployment-setting-non-kms-key" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "An MDT or ConfigMgr setting holds a key that is not a KMS client key",
        what_it_does: "Reports a `ProductKey` or `OverrideProductKey` setting in an MDT or ConfigMgr \
settings file (`CustomSettings.ini`, `Bootstrap.ini`) whose key is not a GVLK.",
        why_is_this_bad: "MDT writes `ProductKey` and `OverrideProductKey` (described by MDT as the MAK to \
apply) from CustomSettings.ini or Bootstrap.ini into every answer file it generates.",
        example: "```ini\n[Default]\nOverrideProductKey={MAK}\n```",
        how_to_fix: "Use the \
GVLK, or apply a MAK after deployment for the few machines that need one.",
    }

    INSTALL_MEDIA_NON_KMS_KEY = "MG231" "install-media-non-kms-key" {
        severity: Error, category: KeyInImage, product: Windows, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "Install media (sources/pid.txt, setupconfig.ini) holds a key that is not a KMS client key",
        what_it_does: "Reports a key that is not a GVLK in the install media's `sources/pid.txt` or in a \
Windows Setup `SetupConfig.ini`.",
        why_is_this_bad: "`sources/pid.txt` `[PID] Value=` chooses the edition at install. A MAK there \
leaks with the media.",
        example: "```ini\n; sources/pid.txt\n[PID]\nValue={MAK}\n```",
        how_to_fix: "Use the GVLK for the edition.",
    }

    EI_CFG_CHANNEL = "MG232" "ei-cfg-channel" {
        severity: Note, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "Install media carries ei.cfg, which sets the edition and channel",
        what_it_does: "Reports a `sources/ei.cfg` on install media, with the edition and channel it sets.",
        why_is_this_bad: "`sources/ei.cfg` holds no key, but its `[Channel]` and `[VL]` decide whether \
Setup asks for one. Informational.",
    }

    TEXT_NON_KMS_KEY = "MG241" "text-non-kms-key" {
        severity: Error, category: KeyInImage, product: Any, fix: SafeWhenCertain,
        changed_in: "0.1.0", status: Active,
        summary: "A text file holds a product key that is not a KMS client key",
        what_it_does: "Reports a product key that is not a GVLK in any other text file of the image.",
        why_is_this_bad: "A checksum-valid post-2009 key, or a well-formed key next to a key word \
(`ProductKey`, `PIDKEY`, `/ipk`, `key=`), in an ini, inf, reg, txt, xml, json or log file \
ships with the image.",
        how_to_fix: "Remove it or replace it with the GVLK.",
    }

    PATH_NAME_HOLDS_KEY = "MG242" "path-name-holds-key" {
        severity: Error, category: KeyInImage, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A file or folder name in the image holds a product key that is not a KMS client key",
        what_it_does: "Reports a file or folder whose name holds a product key that is not a GVLK.",
        why_is_this_bad: "A name ships with the image like any content: a folder called after a MAK \
(`<key>/unattend.xml`, dashed or not, in any case) leaks the key to everyone who lists the \
image. Any dashed key, and any 25-character key whose checksum validates, counts; GVLKs and \
placeholders do not.",
        how_to_fix: "makguard does not rename files: rename the file or folder, then scan \
again. Reports show the name masked, like every key.",
    }

    BINARY_NON_KMS_KEY = "MG251" "binary-non-kms-key" {
        severity: Error, category: KeyInImage, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A binary file holds a product key that is not a KMS client key (--deep)",
        what_it_does: "With `--deep`, reports a product key that is not a GVLK in the bytes of a binary \
file.",
        why_is_this_bad: "Found by `--deep` in ASCII or UTF-16 inside a binary file (an OCT .msp, a \
provisioning package, a tool).",
        how_to_fix: "makguard does not edit binaries: rebuild the file with the \
GVLK, or remove it from the image.",
    }

    LINK_OUTSIDE_ROOT = "MG261" "link-outside-root" {
        severity: Note, category: Informational, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A symbolic link or junction points outside the scanned tree and was not followed",
        what_it_does: "Reports a symbolic link or junction in the scanned tree whose target lies outside \
it.",
        why_is_this_bad: "makguard never follows links, so whatever the link points to was not scanned.",
        how_to_fix: "Scan that target separately if it belongs to the image.",
    }

    INSTALLED_GVLK = "MG300" "installed-gvlk" {
        severity: Note, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The image's registry holds an installed KMS client key (GVLK)",
        what_it_does: "Reports the key installed in the image's registry when it is a GVLK.",
        why_is_this_bad: "This is what a volume-licensed image should carry. Informational.",
    }

    MAK_INSTALLED = "MG301" "mak-installed" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The image has a Multiple Activation Key (MAK) installed",
        what_it_does: "Reports the key installed in the image's registry (`DigitalProductId`, \
`DigitalProductId4`) when it is a MAK.",
        why_is_this_bad: "A technician ran `slmgr /ipk <MAK>` before capture: every machine built from \
the image activates with that MAK and uses one activation.",
        how_to_fix: "No file edit fixes this. Offline, \
run `DISM /Image:<mount> /Set-ProductKey:<GVLK>`; or in the reference machine before capture \
run `slmgr /ipk <GVLK>` and then `slmgr /cpky`. The finding spells out the GVLK for the \
image's edition.",
    }

    CSVLK_INSTALLED = "MG302" "csvlk-installed" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The image has a KMS host key (CSVLK) installed",
        what_it_does: "Reports the key installed in the image's registry when it is a KMS host key.",
        why_is_this_bad: "A KMS host key turns every machine built from the image into a KMS host and \
leaks your organisation's most valuable key.",
        how_to_fix: "Install the GVLK as for MG301.",
    }

    RETAIL_OR_OEM_INSTALLED = "MG303" "retail-or-oem-installed" {
        severity: Warning, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The image has a retail or OEM key installed",
        what_it_does: "Reports the key installed in the image's registry when it is a retail or OEM key.",
        why_is_this_bad: "A retail or OEM key does not activate a volume-licensed deployment and may not \
be used on other machines.",
        how_to_fix: "Install the GVLK as for MG301.",
    }

    INSTALLED_NON_KMS_KEY = "MG304" "installed-non-kms-key" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The key decoded from the image's DigitalProductId is not a KMS client key",
        what_it_does: "Reports the key decoded from the image's `DigitalProductId` when it is not a GVLK \
and no more specific rule (MG301–MG303) names its type.",
        why_is_this_bad: "The registry's `DigitalProductId` holds the installed key. It is not a GVLK, so \
every machine built from the image carries it.",
        how_to_fix: "Install the GVLK as for MG301.",
    }

    BACKUP_PRODUCT_KEY = "MG305" "backup-product-key" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "The image's SoftwareProtectionPlatform keeps a non-KMS key in BackupProductKeyDefault",
        what_it_does: "Reports the `BackupProductKeyDefault` value of the image's \
`SoftwareProtectionPlatform` key when it holds a key that is not a GVLK.",
        why_is_this_bad: "`BackupProductKeyDefault` stores the installed key in plain text; anyone with \
the image can read it.",
        how_to_fix: "Installing the GVLK (as for MG301) replaces it.",
    }

    RUN_KEY_INSTALLS_KEY = "MG306" "run-key-installs-key" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A Run, RunOnce or RunOnceEx value installs a product key that is not a KMS client key",
        what_it_does: "Reports a command in the image's registry that runs at logon and installs a \
product key that is not a GVLK.",
        why_is_this_bad: "A command under `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run`, `RunOnce` or \
`RunOnceEx` (its numbered subkeys and their `Depend` subkeys included), their `WOW6432Node` \
twins, or `Run`/`RunOnce` in the Default user's `Users/Default/NTUSER.DAT` (copied into every \
new user's profile) that runs `slmgr /ipk <key>`, `ospp.vbs /inpkey:`, `changepk.exe \
/ProductKey`, `DISM /Set-ProductKey:` or WMI `InstallProductKey` installs the key at logon on \
every machine built from the image.",
        how_to_fix: "Remove the value from the image's registry.",
    }

    HIVE_DIRTY = "MG307" "hive-dirty" {
        severity: Warning, category: Informational, product: Windows, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A registry hive was not cleanly closed; its transaction logs were replayed",
        what_it_does: "Reports a registry hive whose pending writes makguard replayed from its \
transaction logs before reading it.",
        why_is_this_bad: "Its sequence numbers differ or its base block checksum is wrong: a write never \
finished. makguard replayed the new-format transaction log entries (`.LOG1`, `.LOG2`) in \
memory, so what it read is what Windows would see, and it searched the logs themselves for \
keys. When no log can be replayed the state is unknown and MG913 is reported instead.",
        how_to_fix: "Unmount \
the image cleanly (or boot it once) and scan again.",
    }

    INSTALLED_GVLK_UNVERIFIED = "MG308" "installed-gvlk-unverified" {
        severity: Warning, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "DigitalProductId4 says a KMS client key is installed, but no source knows the key as one",
        what_it_does: "Reports an installed key that the registry's `DigitalProductId4` calls a GVLK when \
neither the built-in catalog nor the image's key configuration confirms it.",
        why_is_this_bad: "The registry's `DigitalProductId4` says `Volume:GVLK`, but the key decoded from \
`DigitalProductId` is neither in the built-in GVLK catalog nor in a GVLK group of the image's \
own key configuration (or it could not be decoded).",
        how_to_fix: "The key type string is only a claim written \
beside the key: check which key is installed (`slmgr /dli` on the reference machine), and \
install the GVLK for the image's edition as for MG301. When the image's key configuration puts \
the key in a MAK, KMS host, retail or OEM group, MG301, MG302 or MG309 is reported instead.",
    }

    INSTALLED_KEY_TYPE_CONTRADICTED = "MG309" "installed-key-type-contradicted" {
        severity: Error, category: InstalledKey, product: Windows, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "DigitalProductId4 says a KMS client key is installed, but the image's key configuration puts the key in a retail or OEM group",
        what_it_does: "Reports an installed key that `DigitalProductId4` calls a GVLK while the image's own \
key configuration puts it in a retail or OEM group.",
        why_is_this_bad: "The two sources disagree: the key decoded from `DigitalProductId` belongs to a \
retail or OEM group of the image's own `pkeyconfig*.xrm-ms`, while `DigitalProductId4` claims \
`Volume:GVLK`. A registry that lies about its key type is treated as an error, not as the \
retail-key warning MG303.",
        how_to_fix: "Install the GVLK for the image's edition as for MG301.",
    }

    DIGITAL_PRODUCT_ID_ELSEWHERE = "MG310" "digital-product-id-elsewhere" {
        severity: Error, category: InstalledKey, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A DigitalProductId outside CurrentVersion holds a key that is not a KMS client key",
        what_it_does: "Reports a copy of a `DigitalProductId` (or a `DigitalProductId4` type) anywhere in \
the image's hives outside `Microsoft\\Windows NT\\CurrentVersion` whose key is not a GVLK.",
        why_is_this_bad: "Windows and Office copy the installed key's `DigitalProductId` to other keys: in \
SOFTWARE `Microsoft\\Internet Explorer\\Registration` and Office `Registration\\{GUID}`, in \
SYSTEM `Setup\\Source OS (Updated on …)` (the previous OS's key, kept after an in-place \
upgrade), and others; every hive read is searched. Decoded the same way as the installed one (key bytes at offset 52), a key that is not \
a GVLK leaks with the image even where the installed key was cleared. A copy of the key \
already reported as installed (MG301–MG304) is not reported again. A `DigitalProductId4` \
elsewhere that says `Volume:MAK` or `Volume:CSVLK` is reported the same way.",
        how_to_fix: "Install the GVLK \
(as for MG301) and remove or rewrite the copy; the message names the key and value.",
    }

    REGISTRY_STRING_KEY = "MG311" "registry-string-key" {
        severity: Error, category: InstalledKey, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A registry string value holds a product key that is not a KMS client key",
        what_it_does: "Reports a string value of the image's registry, or the name of a key or value, \
that holds a product key that is not a GVLK.",
        why_is_this_bad: "Every string value (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ) of the SOFTWARE and \
SYSTEM hives and of the Default user's NTUSER.DAT is searched with the text rule (MG241): a \
post-2009 key whose checksum validates is reported anywhere; any other well-formed key only \
after a key word, or in a value whose name is one (`ProductKey`, `PIDKEY`, …). A key in a \
`Run`, `RunOnce` or `RunOnceEx` command that no install command precedes is reported here too. \
The names of keys and values are searched the same way, and any key in a name is masked in \
every message. GVLKs (built-in catalog or the image's key configuration) and placeholders are \
not reported. A value already reported by a more specific rule (MG305, MG306) is not reported \
again.",
        how_to_fix: "Delete or \
rewrite the value in the image's registry; the message names the hive, key and value.",
    }

    HIVE_LOG_KEY = "MG312" "hive-log-key" {
        severity: Error, category: InstalledKey, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A registry hive's transaction log holds a product key that is not a KMS client key",
        what_it_does: "Reports a product key that is not a GVLK in the transaction logs beside a registry \
hive.",
        why_is_this_bad: "The logs beside a hive (`<hive>.LOG`, `.LOG1`, `.LOG2`) hold the hive's recent writes, \
some of which may never have reached the hive file, and older data the hive no longer has. The \
default scan searches them as raw bytes, as `--deep` searches binaries (MG251): a post-2009 key \
whose checksum validates anywhere, other keys after a key word, in ASCII or UTF-16. A key there \
was written to the image's registry.",
        how_to_fix: "Install the GVLK (as for MG301), remove the value, and let \
Windows flush the hive (unmount cleanly or boot the image once) so the logs are rewritten.",
    }

    GVLK_EDITION_MISMATCH = "MG401" "gvlk-edition-mismatch" {
        severity: Error, category: EditionMismatch, product: Windows, fix: UnsafeOnly,
        changed_in: "0.1.0", status: Active,
        summary: "A KMS client key is for another edition than the image's",
        what_it_does: "Reports a GVLK in an answer file of an image whose edition (or release) is not the \
GVLK's.",
        why_is_this_bad: "Setup uses the key to choose the edition, and KMS activation fails when the GVLK \
does not match the installed edition. `scan` and `fix` report it alike, for answer files in \
the image's own installation (under `Windows`, `Program Files`, `ProgramData`, `Users`, \
`Recovery`, or at the image root); a file beside the image, such as a deployment share's \
`Control/SRV2022/Unattend.xml`, serves other installs and is never judged by the image's \
edition.",
        how_to_fix: "A GVLK is public, so rewriting it is never a safe fix: `makguard fix \
--unsafe-fixes` writes the GVLK for the image's edition.",
        fix_safety: "Always unsafe: the GVLK where it is leaks nothing, and the file may serve another \
install. `makguard fix` writes the GVLK for the image's edition only with `--unsafe-fixes`.",
    }

    ALLOW_EXPIRED = "MG501" "allow-expired" {
        severity: Error, category: Policy, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A policy exception has expired",
        what_it_does: "Reports an `[[allow]]` entry of makguard.toml whose `expires` date has passed.",
        why_is_this_bad: "An `[[allow]]` entry in makguard.toml has passed its `expires` date and no longer \
applies.",
        how_to_fix: "Remove the key from the image, or renew the exception with a new justification.",
    }

    ALLOW_UNUSED = "MG502" "allow-unused" {
        severity: Warning, category: Policy, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A policy exception matches nothing",
        what_it_does: "Reports an `[[allow]]` entry of makguard.toml that matched no finding of the scan.",
        why_is_this_bad: "Stale exceptions hide future mistakes.",
        how_to_fix: "Remove the entry from makguard.toml.",
    }

    POLICY_GLOB_UNMATCHED = "MG503" "policy-glob-unmatched" {
        severity: Warning, category: Policy, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A [scan] include or exclude glob in the policy matched no file or folder",
        what_it_does: "Reports a `[scan]` `include` or `exclude` glob in the policy that matched no \
file or folder in a scanned tree, at its line and column in the policy file.",
        why_is_this_bad: "A glob that matches nothing does nothing, and usually means a typo or a path \
written for another layout: an `exclude` that silently excludes nothing scans what you meant \
to skip, an `include` that matches nothing leaves binary files unsearched.",
        how_to_fix: "Globs are matched case-insensitively against the path relative to the scanned \
root, with `\\` and `/` alike as separators. Fix the glob, or remove it.",
    }

    FILE_UNREADABLE = "MG901" "file-unreadable" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A file that may hold a key could not be read",
        what_it_does: "Reports a file that may hold a key but could not be opened or read.",
        why_is_this_bad: "makguard could not look inside it, so it cannot say the image is clean; the scan \
exits 3.",
        how_to_fix: "Fix the permissions or the file and scan again, or pass `--allow-incomplete` to \
accept the gap knowingly.",
    }

    XML_MALFORMED = "MG902" "xml-malformed" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "An XML file (answer file or Office configuration) could not be parsed",
        what_it_does: "Reports an answer file or Office configuration that is not well-formed XML, with \
the position where parsing failed.",
        why_is_this_bad: "Setup and the Office Deployment Tool reject malformed XML, and makguard cannot \
say which settings it holds.",
        how_to_fix: "Fix the XML at the position given.",
    }

    HIVE_CORRUPT = "MG903" "hive-corrupt" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A registry hive could not be parsed",
        what_it_does: "Reports a registry hive of the image that could not be parsed.",
        why_is_this_bad: "makguard could not read the image's registry, so installed keys could not be \
checked.",
        how_to_fix: "Re-capture the image or repair the hive.",
    }

    KEY_CONFIGURATION_UNREADABLE = "MG904" "key-configuration-unreadable" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.1.0", status: Active,
        summary: "A key-configuration file (pkeyconfig*.xrm-ms) could not be parsed",
        what_it_does: "Reports a key-configuration file (`pkeyconfig*.xrm-ms`) of the image, or given with \
`--pkeyconfig`, that could not be parsed.",
        why_is_this_bad: "Keys are then classified from the built-in catalog only: a MAK stays \
`non-kms`.",
        how_to_fix: "Repair or replace the file.",
    }

    HIVE_STATE_UNKNOWN = "MG913" "hive-state-unknown" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A registry hive was not cleanly closed and no transaction log could bring it up to date",
        what_it_does: "Reports a registry hive that was not cleanly closed and that no transaction log \
beside it could bring up to date.",
        why_is_this_bad: "The hive's sequence numbers differ (or its base block checksum is wrong) and there \
is no usable new-format log beside it to replay: no log, an empty or damaged one, or an \
old-format (`DIRT`) log. What the hive file holds is older than what Windows would see, so keys \
installed by the writes that never reached it cannot be ruled out. The logs themselves are \
still searched for keys.",
        how_to_fix: "Unmount the image cleanly (or boot it once), or supply its complete \
`.LOG1`/`.LOG2` files, and scan again.",
    }

    HIVE_WALK_INCOMPLETE = "MG914" "hive-walk-incomplete" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "The search of every value in a registry hive stopped before the end",
        what_it_does: "Reports a registry hive whose search for keys stopped before every value was read.",
        why_is_this_bad: "The hive reader's work budget (proportional to the hive's size, far above what a \
real hive needs) ran out, so part of the hive was not searched for keys.",
        how_to_fix: "The hive's structure \
multiplies work; repair or re-capture it.",
    }

    INSTALLED_KEY_UNCHECKED = "MG915" "installed-key-unchecked" {
        severity: Error, category: IncompleteScan, product: Windows, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "The SOFTWARE hive has no Microsoft\\Windows NT\\CurrentVersion key, so the installed key could not be checked",
        what_it_does: "Reports an image whose SOFTWARE hive lacks `Microsoft\\Windows NT\\CurrentVersion`, \
so its installed key was not checked.",
        why_is_this_bad: "Every Windows SOFTWARE hive has `Microsoft\\Windows NT\\CurrentVersion`, where the \
installed key (`DigitalProductId`, `DigitalProductId4`) and the image's edition live. A hive \
without it is another hive in SOFTWARE's place (a SYSTEM, NTUSER or test hive) or a damaged \
one: the image's installed key was not checked.",
        how_to_fix: "Put the image's own SOFTWARE hive back.",
    }

    XML_ENTITY_UNRESOLVED = "MG910" "xml-entity-unresolved" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "An XML file refers to an entity whose value makguard cannot know",
        what_it_does: "Reports an XML file with a reference to an entity makguard does not expand: an \
external entity, one that may be declared in an external DTD, a parameter entity, or one that \
holds markup.",
        why_is_this_bad: "makguard reads every value as an XML parser would, expanding character references, the predefined entities and the entities of the document's internal DTD subset. It never expands an external entity (`<!ENTITY x SYSTEM \"file\">`) and never reads the file one names, so a reference to one, to an entity that may be declared in an external DTD or a parameter entity, or to an entity that holds markup leaves part of the text unknown: it may be a key. The scan exits 3.",
        how_to_fix: "Write the value into the file itself.",
    }

    XML_ENTITY_EXPANSION_LIMIT = "MG911" "xml-entity-expansion-limit" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "An XML file's entities expand beyond makguard's limit",
        what_it_does: "Reports an XML file whose entity references expand to more than 1,048,576 \
characters or nest more than 32 deep.",
        why_is_this_bad: "A document's entity references together may expand to at most 1,048,576 characters, nested at most 32 deep; beyond that (the \"billion laughs\" attack) makguard stops expanding, so the rest of the value is unknown and the scan exits 3.",
        how_to_fix: "No real answer file comes near the limit: remove the entities.",
    }

    XML_ENCODING_UNSUPPORTED = "MG912" "xml-encoding-unsupported" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "An XML file is in an encoding makguard does not decode",
        what_it_does: "Reports an XML file whose encoding makguard cannot read keys in: EBCDIC, UTF-7, \
ISO-2022, or a UTF-32 declaration the bytes do not match.",
        why_is_this_bad: "makguard reads UTF-8, UTF-16 and UTF-32 (either byte order, with or without a BOM), and code pages in which every ASCII character is its ASCII byte (ISO 8859, Windows and DOS code pages, EUC, Shift_JIS, GBK/GB18030, Big5): product keys are ASCII, so they are found in those byte for byte. A file whose XML declaration names any other encoding (EBCDIC such as `IBM037`, UTF-7, ISO-2022), whose first bytes are XML in EBCDIC, or that declares UTF-32 but is not, cannot be read for keys: the scan exits 3.",
        how_to_fix: "Save the file as UTF-8 or UTF-16.",
    }

    CONTAINER_NOT_OPENED = "MG905" "container-not-opened" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A disk or image container (pipable WIM, ISO, VHD, VHDX) was found and not looked inside",
        what_it_does: "Reports a disk or image container (pipable WIM, ISO 9660 or UDF image, VHD, VHDX) \
that makguard found and did not open.",
        why_is_this_bad: "Recognised by its magic bytes whatever its name: a pipable WIM (`WLPWM`), an ISO \
9660 or UDF disc image, a VHDX or VHD virtual disk. makguard does not read these formats yet, \
so every answer file, script and registry hive inside is unscanned and the scan exits 3. (Normal \
WIMs are read directly, nested ones included; see MG920.)",
        how_to_fix: "Scan the contents through a mount: \
mount the ISO or virtual disk read-only and scan the mount; convert a pipable WIM with \
`wimlib-imagex export FILE all NEW.wim`. If the container is deliberately out of scope, exclude \
it in makguard.toml or pass `--allow-incomplete`.",
    }

    WIM_UNREADABLE = "MG920" "wim-unreadable" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A WIM file, or one image in it, could not be read",
        what_it_does: "Reports a WIM file, or an image in one, that makguard could not read.",
        why_is_this_bad: "makguard reads WIM files itself (uncompressed, XPRESS and LZX resources, every \
image, nested WIMs such as `Windows/System32/Recovery/Winre.wim`) and checks every blob against \
its SHA-1. This finding means the file or one image's metadata could not be read: a damaged \
header, blob table or metadata resource, or a kind of WIM makguard does not read yet: solid \
resources (`.esd`, `wimlib-imagex capture --solid`, LZMS), split WIMs (`.swm`), pipable WIMs, \
encrypted ESDs. Nothing in the affected image was scanned, so the scan exits 3.",
        how_to_fix: "The message says \
what to do; for solid WIMs and ESDs, convert with `DISM /Export-Image /Compress:max` or \
`wimlib-imagex export SRC INDEX DEST --compress=LZX` and scan the result.",
    }

    WIM_ENTRY_REFUSED = "MG921" "wim-entry-refused" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A WIM image holds an entry makguard refused to read",
        what_it_does: "Reports an entry of a WIM image that makguard refused to read: a name no safe \
extraction allows, data missing from the blob table, or a stream it cannot place.",
        why_is_this_bad: "A name that is `.` or `..`, holds `/`, `\\` or NUL, or repeats another in the same \
folder, an entry whose data is missing from the blob table, or a stream makguard cannot place: \
careful readers (wimlib among them) skip such entries, so what Windows would extract there was \
not scanned. The scan exits 3.",
        how_to_fix: "Recapture the image from a clean tree.",
    }

    NOT_A_REGULAR_FILE = "MG906" "not-a-regular-file" {
        severity: Error, category: IncompleteScan, product: Any, fix: Never,
        changed_in: "0.2.0", status: Active,
        summary: "A link or special file stands where makguard must read a file",
        what_it_does: "Reports a symbolic link, junction, FIFO, socket or device where makguard looks for \
a key.",
        why_is_this_bad: "makguard never follows links and never opens FIFOs, sockets or devices (a FIFO \
would hang the scan). When such an entry stands where a key is looked for (an answer file \
such as `Windows/Panther/unattend.xml`, a setup script, `Windows/System32` or the \
`config/SOFTWARE` hive and its logs, a file given on the command line), what Windows would read \
there was not checked, so the scan exits 3.",
        how_to_fix: "Scan the tree the link points into, or replace the \
link with the file itself. Links elsewhere are `MG261` notes.",
    }
}

/// The rule with this code (`MG101`) or name (`unattend-non-kms-key`), any case.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name))
}

/// The rules reference as Markdown (the content of `docs/rules.md`).
pub fn reference_markdown() -> String {
    reference_markdown_of(ALL)
}

const REFERENCE_INTRO: &str = "# Rules reference\n\n<!-- Generated by `makguard rules --markdown` from \
crates/makguard-core/src/rules.rs. Do not edit. -->\n\n\
Codes are stable and never reused. `MG1xx` answer files, `MG2xx` other files, `MG3xx` the \
image's registry and licensing data, `MG4xx` fixes, `MG5xx` policy, `MG9xx` files that could \
not be read or parsed (these make the scan incomplete: exit 3).\n\n\
Each rule names its category (what kind of problem it reports), the product whose keys it is \
about, and whether `makguard fix` repairs it: `no`, `safe when certain` (a safe fix when the \
replacement GVLK is certain, an unsafe one when it is inferred) or `unsafe only` (applied only \
with `--unsafe-fixes`). In the examples, `{MAK}` stands for a key that is not a KMS client key \
and `{GVLK}` for a KMS client key.\n\n";

/// The rules reference for `rules`, active ones first in code order, then the retired ones.
fn reference_markdown_of(rules: &[&Rule]) -> String {
    let mut sorted = rules.to_vec();
    sorted.sort_by_key(|rule| rule.code);
    let (retired, active): (Vec<&Rule>, Vec<&Rule>) = sorted.into_iter().partition(|rule| rule.is_retired());

    let mut out = String::from(REFERENCE_INTRO);
    out.push_str("| Code | Name | Default severity | Category | Product | Fix | Summary |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for rule in &active {
        out.push_str(&format!(
            "| [{code}](#{anchor}) | `{name}` | {sev} | {category} | {product} | {fix} | {summary} |\n",
            code = rule.code,
            anchor = rule.code.to_ascii_lowercase(),
            name = rule.name,
            sev = rule.default_severity,
            category = rule.category,
            product = rule.product,
            fix = rule.fixability,
            summary = rule.summary
        ));
    }
    for rule in &active {
        out.push_str(&rule_section(rule, "##"));
    }

    out.push_str(
        "\n## Retired rules\n\nA retired rule no longer reports findings; its code stays taken and is never reused.\n",
    );
    if retired.is_empty() {
        out.push_str("\nNo rule has been retired.\n");
        return out;
    }
    out.push_str("\n| Code | Name | Retired in | Summary |\n|---|---|---|---|\n");
    for rule in &retired {
        let Status::Retired { since } = rule.status else {
            continue;
        };
        out.push_str(&format!(
            "| [{code}](#{anchor}) | `{name}` | {since} | {summary} |\n",
            code = rule.code,
            anchor = rule.code.to_ascii_lowercase(),
            name = rule.name,
            summary = rule.summary
        ));
    }
    for rule in &retired {
        out.push_str(&rule_section(rule, "###"));
    }
    out
}

/// One rule's part of the reference: a heading (`#mg101` is the SARIF `helpUri` anchor), a
/// line of facts, the summary and the doc sections one level below.
fn rule_section(rule: &Rule, heading: &str) -> String {
    let fix = rule.fixability.phrase();
    let status = match rule.status {
        Status::Active => format!("since {}", rule.changed_in),
        Status::Retired { since } => format!("retired in {since} (last changed in {})", rule.changed_in),
    };
    let mut out = format!(
        "\n{heading} {code}\n\n`{name}` · default severity **{sev}** · {category} · product: {product} · {fix} · {status}\n\n{summary}.\n",
        code = rule.code,
        name = rule.name,
        sev = rule.default_severity,
        category = rule.category,
        product = rule.product,
        summary = rule.summary
    );
    for (title, text) in rule.doc_sections() {
        out.push_str(&format!("\n{heading}# {title}\n\n{text}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every code ever issued. A code stays here for good: retire its rule
    /// (`status: Retired("VERSION")`) instead of deleting it, so the code is never reused.
    const ISSUED_CODES: &[&str] = &[
        "MG100", "MG101", "MG102", "MG103", "MG104", "MG105", "MG106", "MG201", "MG202", "MG211", "MG212", "MG221",
        "MG231", "MG232", "MG241", "MG242", "MG251", "MG261", "MG300", "MG301", "MG302", "MG303", "MG304", "MG305",
        "MG306", "MG307", "MG308", "MG309", "MG310", "MG311", "MG312", "MG401", "MG501", "MG502", "MG503", "MG901",
        "MG902", "MG903", "MG904", "MG905", "MG906", "MG910", "MG911", "MG912", "MG913", "MG914", "MG915", "MG920",
        "MG921",
    ];

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for rule in ALL {
            assert!(codes.insert(rule.code), "duplicate code {}", rule.code);
            assert!(names.insert(rule.name), "duplicate name {}", rule.name);
            assert!(
                rule.code.len() == 5
                    && rule.code.starts_with("MG")
                    && rule.code[2..].bytes().all(|b| b.is_ascii_digit())
            );
            assert!(
                rule.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
            );
            assert!(!rule.summary.ends_with('.'), "{}", rule.code);
        }
    }

    #[test]
    fn issued_codes_stay_in_the_table() {
        for code in ISSUED_CODES {
            assert!(
                ALL.iter().any(|rule| rule.code == *code),
                "{code} was issued and must stay declared (retire it, never delete it)"
            );
        }
    }

    #[test]
    fn rust_names_are_the_kebab_names_upper_cased() {
        assert_eq!(RUST_NAMES.len(), ALL.len());
        for (rust_name, rule) in RUST_NAMES.iter().zip(ALL) {
            assert!(rust_name_matches(rust_name, rule.name), "{rust_name} for {}", rule.name);
        }
        assert!(rust_name_matches("MAK_INSTALLED", "mak-installed"));
        assert!(!rust_name_matches("MDT_KEY", "deployment-setting-non-kms-key"));
        assert!(!rust_name_matches("MAK_INSTALLE", "mak-installed"));
        assert!(!rust_name_matches("MAK-INSTALLED", "mak-installed"));
    }

    #[test]
    fn every_rule_documents_each_section() {
        for rule in ALL {
            let doc = &rule.doc;
            assert!(
                !doc.what_it_does.is_empty() && !doc.why_is_this_bad.is_empty(),
                "{}",
                rule.code
            );
            assert!(
                doc.how_to_fix.is_some() || rule.category == Category::Informational,
                "{} must say how to fix it",
                rule.code
            );
            for text in [
                Some(doc.what_it_does),
                Some(doc.why_is_this_bad),
                doc.how_to_fix,
                Some(rule.fix_safety()),
            ]
            .into_iter()
            .flatten()
            {
                assert!(text == text.trim() && !text.contains("  "), "{}: {text:?}", rule.code);
            }
            // The released version, or the next one for rules added since (CHANGELOG.md).
            assert!(["0.1.0", "0.2.0"].contains(&rule.changed_in), "{}", rule.code);
        }
    }

    #[test]
    fn incomplete_scan_rules_are_the_9xx_errors() {
        for rule in ALL {
            assert_eq!(rule.is_incomplete_scan(), rule.code.starts_with("MG9"), "{}", rule.code);
            if rule.is_incomplete_scan() {
                assert_eq!(rule.default_severity, Severity::Error, "{}", rule.code);
                assert!(!rule.is_fixable(), "{}", rule.code);
            }
        }
    }

    #[test]
    fn areas_follow_the_code_ranges() {
        for rule in ALL {
            let digit = rule.code.as_bytes()[2];
            assert!(matches!(digit, b'1'..=b'5' | b'9'), "{} is in no range", rule.code);
            assert_eq!(
                rule.area() == Area::Unreadable,
                rule.is_incomplete_scan(),
                "{}",
                rule.code
            );
            assert_eq!(
                rule.area() == Area::Policy,
                rule.category == Category::Policy,
                "{}",
                rule.code
            );
        }
        assert_eq!(HIVE_LOG_KEY.area(), Area::Registry);
        assert_eq!(EI_CFG_CHANNEL.area(), Area::ImageFile);
    }

    #[test]
    fn categories_agree_with_severity() {
        for rule in ALL {
            match rule.category {
                Category::KeyInImage
                | Category::InstalledKey
                | Category::EditionMismatch
                | Category::IncompleteScan => {
                    assert_ne!(rule.default_severity, Severity::Note, "{}", rule.code);
                }
                Category::Informational => assert_ne!(rule.default_severity, Severity::Error, "{}", rule.code),
                Category::Policy => {}
            }
            if rule.is_fixable() {
                assert!(
                    matches!(rule.category, Category::KeyInImage | Category::EditionMismatch),
                    "{}",
                    rule.code
                );
            }
        }
    }

    /// A retired rule declared as a real one would be.
    // The macro declares the registry's statics `pub`; here they only need to reach the tests.
    #[allow(unreachable_pub)]
    mod retired {
        use super::super::*;

        rules! {
            RETIRED_EXAMPLE = "MG199" "retired-example" {
                severity: Warning, category: KeyInImage, product: Windows, fix: Never,
                changed_in: "0.1.0", status: Retired("0.2.0"),
                summary: "A rule that no longer reports findings",
                what_it_does: "Nothing any more.",
                why_is_this_bad: "It was replaced.",
                example: "`example`",
            }
        }

        #[test]
        fn the_declaration_says_retired_with_its_version() {
            assert_eq!(RETIRED_EXAMPLE.status, Status::Retired { since: "0.2.0" });
            assert!(RETIRED_EXAMPLE.is_retired() && !MAK_INSTALLED.is_retired());
            assert_eq!((ALL.len(), RUST_NAMES), (1, &["RETIRED_EXAMPLE"][..]));
            assert_eq!(RETIRED_EXAMPLE.doc.how_to_fix, None);
        }
    }
    use retired::RETIRED_EXAMPLE;

    #[test]
    fn the_reference_lists_retired_rules_in_their_own_section() {
        let markdown = reference_markdown_of(&[&UNATTEND_NON_KMS_KEY, &RETIRED_EXAMPLE, &UNATTEND_GVLK]);
        let (active, retired) = markdown.split_once("\n## Retired rules\n").unwrap();
        assert!(active.contains("\n## MG101\n") && active.contains("\n## MG100\n"));
        assert!(active.find("## MG100").unwrap() < active.find("## MG101").unwrap());
        assert!(!active.contains("MG199"), "{active}");
        assert!(
            retired.contains("| [MG199](#mg199) | `retired-example` | 0.2.0 |"),
            "{retired}"
        );
        assert!(retired.contains("\n### MG199\n") && retired.contains("retired in 0.2.0"));
        assert!(retired.contains("\n#### Example\n\n`example`\n"));
        assert!(reference_markdown().contains("No rule has been retired."));
    }

    #[test]
    fn every_section_of_a_rule_is_in_the_reference() {
        let markdown = reference_markdown();
        for rule in ALL {
            let start = markdown.find(&format!("\n## {}\n", rule.code)).unwrap();
            let section = &markdown[start..];
            let end = section[1..].find("\n## ").map_or(section.len(), |i| i + 1);
            let section = &section[..end];
            for text in [rule.doc.what_it_does, rule.doc.why_is_this_bad, rule.fix_safety()] {
                assert!(section.contains(text), "{}", rule.code);
            }
            if let Some(how) = rule.doc.how_to_fix {
                assert!(section.contains(&format!("### How to fix\n\n{how}\n")), "{}", rule.code);
            }
        }
    }

    #[test]
    fn rationale_joins_why_and_how() {
        assert_eq!(
            UNATTEND_KEY_IN_COMMENT.doc.rationale(),
            "Setup ignores comments, but the file ships with the image and the key leaks with it. Remove the \
comment or replace the key with the GVLK (`makguard fix` replaces it)."
        );
        assert_eq!(INSTALLED_GVLK.doc.rationale(), INSTALLED_GVLK.doc.why_is_this_bad);
    }

    #[test]
    fn lookup_by_code_or_name() {
        assert_eq!(find("mg101").map(|r| r.name), Some("unattend-non-kms-key"));
        assert_eq!(find("mak-installed").map(|r| r.code), Some("MG301"));
        assert!(find("MG999").is_none());
    }
}
