//! The rule registry: every rule's stable code, name, default severity and documentation.
//!
//! Codes are never reused: a retired rule keeps its entry with `retired: true`. The rules
//! reference in `docs/rules.md` is generated from this table (`makguard rules --markdown`)
//! and a test keeps it current. Code ranges: `MG1xx` answer files, `MG2xx` other files in an
//! image or its build inputs, `MG3xx` the image's registry and licensing data, `MG4xx` fixes,
//! `MG5xx` policy, `MG9xx` files that could not be read or parsed.

use crate::finding::Severity;

/// A rule: what it flags and why that matters.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub default_severity: Severity,
    /// One line, shown in listings and as SARIF `shortDescription`.
    pub summary: &'static str,
    /// Markdown: why it matters and how to fix it.
    pub doc: &'static str,
    /// True when `makguard fix` can repair it by editing the file.
    pub fixable: bool,
    pub retired: bool,
}

impl Rule {
    /// True for the rules that say a file could not be read, parsed or understood: any
    /// unsuppressed one makes the scan incomplete (exit 3).
    pub fn is_incomplete_scan(&self) -> bool {
        self.code.starts_with("MG9")
    }
}

macro_rules! rules {
    ($($ident:ident = $code:literal $name:literal $severity:ident fixable=$fixable:literal
        summary: $summary:literal
        doc: $doc:literal;)*) => {
        $(
            pub static $ident: Rule = Rule {
                code: $code,
                name: $name,
                default_severity: Severity::$severity,
                summary: $summary,
                doc: $doc,
                fixable: $fixable,
                retired: false,
            };
        )*
        /// Every rule, in code order.
        pub static ALL: &[&Rule] = &[$(&$ident),*];
    };
}

rules! {
    UNATTEND_GVLK = "MG100" "unattend-gvlk" Note fixable=false
        summary: "An answer file holds a public KMS client key (GVLK)"
        doc: "A GVLK is public and activates only against your KMS host, so it is what an image \
should carry. The finding is informational: it shows which edition the answer file selects. \
If the GVLK is for another edition than the image's, rule MG401 reports that.";

    UNATTEND_NON_KMS_KEY = "MG101" "unattend-non-kms-key" Error fixable=true
        summary: "An answer file holds a product key that is not a KMS client key"
        doc: "A Multiple Activation Key (MAK) has a fixed number of activations. Baked into \
an answer file, every install, reinstall or reimage built from it uses one, and the key \
leaks with the image. Retail, OEM and KMS host keys do not belong in an image either. \
Replace the key with the GVLK for the image's edition (`makguard fix` does this) and \
activate against your KMS host; apply a MAK after deployment, outside the image, if a \
machine cannot reach KMS.";

    UNATTEND_KEY_IN_COMMENT = "MG102" "unattend-key-in-comment" Error fixable=true
        summary: "An XML comment in an answer file holds a product key that is not a KMS client key"
        doc: "Setup ignores comments, but the file ships with the image and the key leaks with \
it. Remove the comment or replace the key with the GVLK (`makguard fix` replaces it).";

    UNATTEND_COMMAND_INSTALLS_KEY = "MG103" "unattend-command-installs-key" Error fixable=true
        summary: "An answer-file command installs a product key that is not a KMS client key"
        doc: "`slmgr /ipk`, `ospp.vbs /inpkey:`, `DISM /Set-ProductKey:` or `changepk.exe \
/ProductKey` in a `RunSynchronous`, `FirstLogonCommands` or `LogonCommands` setting installs \
the key on every machine built from the image, using one MAK activation each time. Install \
the GVLK instead and activate against KMS.";

    UNATTEND_PLACEHOLDER_KEY = "MG104" "unattend-placeholder-key" Note fixable=false
        summary: "An answer file holds a placeholder where a key belongs"
        doc: "`XXXXX-XXXXX-…`, all zeros, a template variable or Setup's \
`*SENSITIVE*DATA*DELETED*` is not a key. Nothing leaks; make sure your build fills in a \
GVLK, not a MAK.";

    UNATTEND_PARTIAL_KEY = "MG105" "unattend-partial-key" Warning fixable=false
        summary: "An answer file holds a truncated product key (four groups)"
        doc: "Four groups of a key are most of a secret and Setup cannot use them. Remove the \
value or put the GVLK for the edition there.";

    UNATTEND_MALFORMED_KEY = "MG106" "unattend-malformed-key" Warning fixable=false
        summary: "An answer-file key setting holds something that is not a product key"
        doc: "Setup fails on an invalid key in `Microsoft-Windows-Shell-Setup/ProductKey`. \
Put the GVLK for the edition there or remove the setting.";

    SCRIPT_INSTALLS_KEY = "MG201" "script-installs-key" Error fixable=true
        summary: "A script installs a product key that is not a KMS client key"
        doc: "`SetupComplete.cmd` and other scripts in an image run on every machine built \
from it. A MAK installed there (`slmgr /ipk`, `ospp.vbs /inpkey:`, `DISM /Set-ProductKey:`, \
`changepk.exe /ProductKey`, `setup.exe /pkey`, WMI `InstallProductKey`) burns one activation \
per machine and leaks with the image. Install the GVLK and activate against KMS.";

    SCRIPT_KEY_LITERAL = "MG202" "script-key-literal" Error fixable=true
        summary: "A script holds a product key that is not a KMS client key"
        doc: "A key literal in a script ships with the image whether or not the script uses \
it. Remove it or replace it with the GVLK.";

    OFFICE_C2R_KEY = "MG211" "office-c2r-non-kms-key" Error fixable=true
        summary: "An Office Deployment Tool configuration holds a key that is not a KMS client key"
        doc: "The `PIDKEY` attribute of a Click-to-Run `Product` installs that key with Office. \
For volume-licensed Office in an image use the product's GVLK (`makguard fix` picks it from \
the product `ID`) and activate against KMS.";

    OFFICE_MSI_KEY = "MG212" "office-msi-non-kms-key" Error fixable=true
        summary: "An MSI Office config.xml holds a key that is not a KMS client key"
        doc: "`<PIDKEY Value=\"…\"/>` (25 characters, no dashes) installs that key with MSI \
Office. Use the product's GVLK, written without dashes.";

    MDT_KEY = "MG221" "deployment-setting-non-kms-key" Error fixable=true
        summary: "An MDT or ConfigMgr setting holds a key that is not a KMS client key"
        doc: "MDT writes `ProductKey` and `OverrideProductKey` (described by MDT as the MAK to \
apply) from CustomSettings.ini or Bootstrap.ini into every answer file it generates. Use the \
GVLK, or apply a MAK after deployment for the few machines that need one.";

    PID_TXT_KEY = "MG231" "install-media-non-kms-key" Error fixable=true
        summary: "Install media (sources/pid.txt, setupconfig.ini) holds a key that is not a KMS client key"
        doc: "`sources/pid.txt` `[PID] Value=` chooses the edition at install. A MAK there \
leaks with the media. Use the GVLK for the edition.";

    EI_CFG_CHANNEL = "MG232" "ei-cfg-channel" Note fixable=false
        summary: "Install media carries ei.cfg, which sets the edition and channel"
        doc: "`sources/ei.cfg` holds no key, but its `[Channel]` and `[VL]` decide whether \
Setup asks for one. Informational.";

    TEXT_KEY = "MG241" "text-non-kms-key" Error fixable=true
        summary: "A text file holds a product key that is not a KMS client key"
        doc: "A checksum-valid post-2009 key, or a well-formed key next to a key word \
(`ProductKey`, `PIDKEY`, `/ipk`, `key=`), in an ini, inf, reg, txt, xml, json or log file \
ships with the image. Remove it or replace it with the GVLK.";

    PATH_NAME_KEY = "MG242" "path-name-holds-key" Error fixable=false
        summary: "A file or folder name in the image holds a product key that is not a KMS client key"
        doc: "A name ships with the image like any content: a folder called after a MAK \
(`<key>/unattend.xml`, dashed or not, in any case) leaks the key to everyone who lists the \
image. Any dashed key, and any 25-character key whose checksum validates, counts; GVLKs and \
placeholders do not. makguard does not rename files: rename the file or folder, then scan \
again. Reports show the name masked, like every key.";

    BINARY_KEY = "MG251" "binary-non-kms-key" Error fixable=false
        summary: "A binary file holds a product key that is not a KMS client key (--deep)"
        doc: "Found by `--deep` in ASCII or UTF-16 inside a binary file (an OCT .msp, a \
provisioning package, a tool). makguard does not edit binaries: rebuild the file with the \
GVLK, or remove it from the image.";

    LINK_OUTSIDE_ROOT = "MG261" "link-outside-root" Note fixable=false
        summary: "A symbolic link or junction points outside the scanned tree and was not followed"
        doc: "makguard never follows links, so whatever the link points to was not scanned. \
Scan that target separately if it belongs to the image.";

    INSTALLED_GVLK = "MG300" "installed-gvlk" Note fixable=false
        summary: "The image's registry holds an installed KMS client key (GVLK)"
        doc: "This is what a volume-licensed image should carry. Informational.";

    MAK_INSTALLED = "MG301" "mak-installed" Error fixable=false
        summary: "The image has a Multiple Activation Key (MAK) installed"
        doc: "A technician ran `slmgr /ipk <MAK>` before capture: every machine built from \
the image activates with that MAK and uses one activation. No file edit fixes this. Offline, \
run `DISM /Image:<mount> /Set-ProductKey:<GVLK>`; or in the reference machine before capture \
run `slmgr /ipk <GVLK>` and then `slmgr /cpky`. The finding spells out the GVLK for the \
image's edition.";

    CSVLK_INSTALLED = "MG302" "csvlk-installed" Error fixable=false
        summary: "The image has a KMS host key (CSVLK) installed"
        doc: "A KMS host key turns every machine built from the image into a KMS host and \
leaks your organisation's most valuable key. Install the GVLK as for MG301.";

    RETAIL_OR_OEM_INSTALLED = "MG303" "retail-or-oem-installed" Warning fixable=false
        summary: "The image has a retail or OEM key installed"
        doc: "A retail or OEM key does not activate a volume-licensed deployment and may not \
be used on other machines. Install the GVLK as for MG301.";

    INSTALLED_NON_KMS_KEY = "MG304" "installed-non-kms-key" Error fixable=false
        summary: "The key decoded from the image's DigitalProductId is not a KMS client key"
        doc: "The registry's `DigitalProductId` holds the installed key. It is not a GVLK, so \
every machine built from the image carries it. Install the GVLK as for MG301.";

    BACKUP_PRODUCT_KEY = "MG305" "backup-product-key" Error fixable=false
        summary: "The image's SoftwareProtectionPlatform keeps a non-KMS key in BackupProductKeyDefault"
        doc: "`BackupProductKeyDefault` stores the installed key in plain text; anyone with \
the image can read it. Installing the GVLK (as for MG301) replaces it.";

    RUN_KEY_INSTALLS_KEY = "MG306" "run-key-installs-key" Error fixable=false
        summary: "A Run, RunOnce or RunOnceEx value installs a product key that is not a KMS client key"
        doc: "A command under `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run`, `RunOnce` or \
`RunOnceEx` (its numbered subkeys and their `Depend` subkeys included), their `WOW6432Node` \
twins, or `Run`/`RunOnce` in the Default user's `Users/Default/NTUSER.DAT` (copied into every \
new user's profile) that runs `slmgr /ipk <key>`, `ospp.vbs /inpkey:`, `changepk.exe \
/ProductKey`, `DISM /Set-ProductKey:` or WMI `InstallProductKey` installs the key at logon on \
every machine built from the image. Remove the value from the image's registry.";

    HIVE_DIRTY = "MG307" "hive-dirty" Warning fixable=false
        summary: "A registry hive was not cleanly closed; its transaction logs were replayed"
        doc: "Its sequence numbers differ or its base block checksum is wrong: a write never \
finished. makguard replayed the new-format transaction log entries (`.LOG1`, `.LOG2`) in \
memory, so what it read is what Windows would see, and it searched the logs themselves for \
keys. When no log can be replayed the state is unknown and MG913 is reported instead. Unmount \
the image cleanly (or boot it once) and scan again.";

    INSTALLED_GVLK_UNVERIFIED = "MG308" "installed-gvlk-unverified" Warning fixable=false
        summary: "DigitalProductId4 says a KMS client key is installed, but no source knows the key as one"
        doc: "The registry's `DigitalProductId4` says `Volume:GVLK`, but the key decoded from \
`DigitalProductId` is neither in the built-in GVLK catalog nor in a GVLK group of the image's \
own key configuration (or it could not be decoded). The key type string is only a claim written \
beside the key: check which key is installed (`slmgr /dli` on the reference machine), and \
install the GVLK for the image's edition as for MG301. When the image's key configuration puts \
the key in a MAK, KMS host, retail or OEM group, MG301, MG302 or MG309 is reported instead.";

    INSTALLED_KEY_TYPE_CONTRADICTED = "MG309" "installed-key-type-contradicted" Error fixable=false
        summary: "DigitalProductId4 says a KMS client key is installed, but the image's key configuration puts the key in a retail or OEM group"
        doc: "The two sources disagree: the key decoded from `DigitalProductId` belongs to a \
retail or OEM group of the image's own `pkeyconfig*.xrm-ms`, while `DigitalProductId4` claims \
`Volume:GVLK`. A registry that lies about its key type is treated as an error, not as the \
retail-key warning MG303. Install the GVLK for the image's edition as for MG301.";

    DIGITAL_PRODUCT_ID_ELSEWHERE = "MG310" "digital-product-id-elsewhere" Error fixable=false
        summary: "A DigitalProductId outside CurrentVersion holds a key that is not a KMS client key"
        doc: "Windows and Office copy the installed key's `DigitalProductId` to other keys: in \
SOFTWARE `Microsoft\\Internet Explorer\\Registration` and Office `Registration\\{GUID}`, in \
SYSTEM `Setup\\Source OS (Updated on …)` (the previous OS's key, kept after an in-place \
upgrade), and others; every hive read is searched. Decoded the same way as the installed one (key bytes at offset 52), a key that is not \
a GVLK leaks with the image even where the installed key was cleared. A copy of the key \
already reported as installed (MG301–MG304) is not reported again. A `DigitalProductId4` \
elsewhere that says `Volume:MAK` or `Volume:CSVLK` is reported the same way. Install the GVLK \
(as for MG301) and remove or rewrite the copy; the message names the key and value.";

    REGISTRY_STRING_KEY = "MG311" "registry-string-key" Error fixable=false
        summary: "A registry string value holds a product key that is not a KMS client key"
        doc: "Every string value (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ) of the SOFTWARE and \
SYSTEM hives and of the Default user's NTUSER.DAT is searched with the text rule (MG241): a \
post-2009 key whose checksum validates is reported anywhere; any other well-formed key only \
after a key word, or in a value whose name is one (`ProductKey`, `PIDKEY`, …). A key in a \
`Run`, `RunOnce` or `RunOnceEx` command that no install command precedes is reported here too. \
The names of keys and values are searched the same way, and any key in a name is masked in \
every message. GVLKs (built-in catalog or the image's key configuration) and placeholders are \
not reported. A value already reported by a more specific rule (MG305, MG306) is not reported \
again. Delete or \
rewrite the value in the image's registry; the message names the hive, key and value.";

    HIVE_LOG_KEY = "MG312" "hive-log-key" Error fixable=false
        summary: "A registry hive's transaction log holds a product key that is not a KMS client key"
        doc: "The logs beside a hive (`<hive>.LOG`, `.LOG1`, `.LOG2`) hold the hive's recent writes, \
some of which may never have reached the hive file, and older data the hive no longer has. The \
default scan searches them as raw bytes, as `--deep` searches binaries (MG251): a post-2009 key \
whose checksum validates anywhere, other keys after a key word, in ASCII or UTF-16. A key there \
was written to the image's registry. Install the GVLK (as for MG301), remove the value, and let \
Windows flush the hive (unmount cleanly or boot the image once) so the logs are rewritten.";

    GVLK_EDITION_MISMATCH = "MG401" "gvlk-edition-mismatch" Error fixable=true
        summary: "A KMS client key is for another edition than the image's"
        doc: "Setup uses the key to choose the edition, and KMS activation fails when the GVLK \
does not match the installed edition. `scan` and `fix` report it alike, for answer files in \
the image's own installation (under `Windows`, `Program Files`, `ProgramData`, `Users`, \
`Recovery`, or at the image root); a file beside the image, such as a deployment share's \
`Control/SRV2022/Unattend.xml`, serves other installs and is never judged by the image's \
edition. A GVLK is public, so rewriting it is never a safe fix: `makguard fix \
--unsafe-fixes` writes the GVLK for the image's edition.";

    ALLOW_EXPIRED = "MG501" "allow-expired" Error fixable=false
        summary: "A policy exception has expired"
        doc: "An `[[allow]]` entry in makguard.toml has passed its `expires` date and no longer \
applies. Remove the key from the image, or renew the exception with a new justification.";

    ALLOW_UNUSED = "MG502" "allow-unused" Warning fixable=false
        summary: "A policy exception matches nothing"
        doc: "Stale exceptions hide future mistakes. Remove the entry from makguard.toml.";

    POLICY_GLOB_UNMATCHED = "MG503" "policy-glob-unmatched" Warning fixable=false
        summary: "A [scan] include or exclude glob in the policy matched no file or folder"
        doc: "A glob that matches nothing does nothing, and usually means a typo or a path \
written for another layout: an `exclude` that silently excludes nothing scans what you meant \
to skip, an `include` that matches nothing leaves binary files unsearched. Globs are matched \
case-insensitively against the path relative to the scanned root, with `\\` and `/` alike \
as separators. Fix the glob, or remove it.";

    FILE_UNREADABLE = "MG901" "file-unreadable" Error fixable=false
        summary: "A file that may hold a key could not be read"
        doc: "makguard could not look inside it, so it cannot say the image is clean; the scan \
exits 3. Fix the permissions or the file and scan again, or pass `--allow-incomplete` to \
accept the gap knowingly.";

    XML_MALFORMED = "MG902" "xml-malformed" Error fixable=false
        summary: "An XML file (answer file or Office configuration) could not be parsed"
        doc: "Setup and the Office Deployment Tool reject malformed XML, and makguard cannot \
say which settings it holds. Fix the XML at the position given.";

    HIVE_CORRUPT = "MG903" "hive-corrupt" Error fixable=false
        summary: "A registry hive could not be parsed"
        doc: "makguard could not read the image's registry, so installed keys could not be \
checked. Re-capture the image or repair the hive.";

    KEY_CONFIGURATION_UNREADABLE = "MG904" "key-configuration-unreadable" Error fixable=false
        summary: "A key-configuration file (pkeyconfig*.xrm-ms) could not be parsed"
        doc: "Keys are then classified from the built-in catalog only: a MAK stays \
`non-kms`. Repair or replace the file.";

    HIVE_STATE_UNKNOWN = "MG913" "hive-state-unknown" Error fixable=false
        summary: "A registry hive was not cleanly closed and no transaction log could bring it up to date"
        doc: "The hive's sequence numbers differ (or its base block checksum is wrong) and there \
is no usable new-format log beside it to replay: no log, an empty or damaged one, or an \
old-format (`DIRT`) log. What the hive file holds is older than what Windows would see, so keys \
installed by the writes that never reached it cannot be ruled out. The logs themselves are \
still searched for keys. Unmount the image cleanly (or boot it once), or supply its complete \
`.LOG1`/`.LOG2` files, and scan again.";

    HIVE_WALK_INCOMPLETE = "MG914" "hive-walk-incomplete" Error fixable=false
        summary: "The search of every value in a registry hive stopped before the end"
        doc: "The hive reader's work budget (proportional to the hive's size, far above what a \
real hive needs) ran out, so part of the hive was not searched for keys. The hive's structure \
multiplies work; repair or re-capture it.";

    INSTALLED_KEY_UNCHECKED = "MG915" "installed-key-unchecked" Error fixable=false
        summary: "The SOFTWARE hive has no Microsoft\\Windows NT\\CurrentVersion key, so the installed key could not be checked"
        doc: "Every Windows SOFTWARE hive has `Microsoft\\Windows NT\\CurrentVersion`, where the \
installed key (`DigitalProductId`, `DigitalProductId4`) and the image's edition live. A hive \
without it is another hive in SOFTWARE's place (a SYSTEM, NTUSER or test hive) or a damaged \
one: the image's installed key was not checked. Put the image's own SOFTWARE hive back.";
    XML_ENTITY_UNRESOLVED = "MG910" "xml-entity-unresolved" Error fixable=false
        summary: "An XML file refers to an entity whose value makguard cannot know"
        doc: "makguard reads every value as an XML parser would, expanding character references, the predefined entities and the entities of the document's internal DTD subset. It never expands an external entity (`<!ENTITY x SYSTEM \"file\">`) and never reads the file one names, so a reference to one, to an entity that may be declared in an external DTD or a parameter entity, or to an entity that holds markup leaves part of the text unknown: it may be a key. The scan exits 3. Write the value into the file itself.";

    XML_ENTITY_EXPANSION_LIMIT = "MG911" "xml-entity-expansion-limit" Error fixable=false
        summary: "An XML file's entities expand beyond makguard's limit"
        doc: "A document's entity references together may expand to at most 1,048,576 characters, nested at most 32 deep; beyond that (the \"billion laughs\" attack) makguard stops expanding, so the rest of the value is unknown and the scan exits 3. No real answer file comes near the limit: remove the entities.";

    XML_ENCODING_UNSUPPORTED = "MG912" "xml-encoding-unsupported" Error fixable=false
        summary: "An XML file is in an encoding makguard does not decode"
        doc: "makguard reads UTF-8, UTF-16 and UTF-32 (either byte order, with or without a BOM), and code pages in which every ASCII character is its ASCII byte (ISO 8859, Windows and DOS code pages, EUC, Shift_JIS, GBK/GB18030, Big5): product keys are ASCII, so they are found in those byte for byte. A file whose XML declaration names any other encoding (EBCDIC such as `IBM037`, UTF-7, ISO-2022), whose first bytes are XML in EBCDIC, or that declares UTF-32 but is not, cannot be read for keys: the scan exits 3. Save the file as UTF-8 or UTF-16.";
    CONTAINER_NOT_OPENED = "MG905" "container-not-opened" Error fixable=false
        summary: "A disk or image container (pipable WIM, ISO, VHD, VHDX) was found and not looked inside"
        doc: "Recognised by its magic bytes whatever its name: a pipable WIM (`WLPWM`), an ISO \
9660 or UDF disc image, a VHDX or VHD virtual disk. makguard does not read these formats yet, \
so every answer file, script and registry hive inside is unscanned and the scan exits 3. (Normal \
WIMs are read directly, nested ones included; see MG920.) Scan the contents through a mount: \
mount the ISO or virtual disk read-only and scan the mount; convert a pipable WIM with \
`wimlib-imagex export FILE all NEW.wim`. If the container is deliberately out of scope, exclude \
it in makguard.toml or pass `--allow-incomplete`.";

    WIM_UNREADABLE = "MG920" "wim-unreadable" Error fixable=false
        summary: "A WIM file, or one image in it, could not be read"
        doc: "makguard reads WIM files itself (uncompressed, XPRESS and LZX resources, every \
image, nested WIMs such as `Windows/System32/Recovery/Winre.wim`) and checks every blob against \
its SHA-1. This finding means the file or one image's metadata could not be read: a damaged \
header, blob table or metadata resource, or a kind of WIM makguard does not read yet: solid \
resources (`.esd`, `wimlib-imagex capture --solid`, LZMS), split WIMs (`.swm`), pipable WIMs, \
encrypted ESDs. Nothing in the affected image was scanned, so the scan exits 3. The message says \
what to do; for solid WIMs and ESDs, convert with `DISM /Export-Image /Compress:max` or \
`wimlib-imagex export SRC INDEX DEST --compress=LZX` and scan the result.";

    WIM_ENTRY_REFUSED = "MG921" "wim-entry-refused" Error fixable=false
        summary: "A WIM image holds an entry makguard refused to read"
        doc: "A name that is `.` or `..`, holds `/`, `\\` or NUL, or repeats another in the same \
folder, an entry whose data is missing from the blob table, or a stream makguard cannot place: \
careful readers (wimlib among them) skip such entries, so what Windows would extract there was \
not scanned. The scan exits 3. Recapture the image from a clean tree.";

    NOT_A_REGULAR_FILE = "MG906" "not-a-regular-file" Error fixable=false
        summary: "A link or special file stands where makguard must read a file"
        doc: "makguard never follows links and never opens FIFOs, sockets or devices (a FIFO \
would hang the scan). When such an entry stands where a key is looked for (an answer file \
such as `Windows/Panther/unattend.xml`, a setup script, `Windows/System32` or the \
`config/SOFTWARE` hive and its logs, a file given on the command line), what Windows would read \
there was not checked, so the scan exits 3. Scan the tree the link points into, or replace the \
link with the file itself. Links elsewhere are `MG261` notes.";
}

/// The rule with this code (`MG101`) or name (`unattend-non-kms-key`), any case.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name))
}

/// The rules reference as Markdown (the content of `docs/rules.md`).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Rules reference\n\n<!-- Generated by `makguard rules --markdown` from crates/makguard-core/src/rules.rs. Do not edit. -->\n\n\
Codes are stable and never reused. `MG1xx` answer files, `MG2xx` other files, `MG3xx` the \
image's registry and licensing data, `MG4xx` fixes, `MG5xx` policy, `MG9xx` files that could \
not be read or parsed (these make the scan incomplete: exit 3).\n\n\
| Code | Name | Default severity | Fixable | Summary |\n|---|---|---|---|---|\n",
    );
    for rule in ALL {
        out.push_str(&format!(
            "| [{code}](#{anchor}) | `{name}` | {sev} | {fix} | {summary} |\n",
            code = rule.code,
            anchor = rule.code.to_ascii_lowercase(),
            name = rule.name,
            sev = rule.default_severity,
            fix = if rule.fixable { "yes" } else { "no" },
            summary = rule.summary
        ));
    }
    for rule in ALL {
        out.push_str(&format!(
            "\n## {code}\n\n`{name}` · default severity **{sev}** · {fix}\n\n{summary}.\n\n{doc}\n",
            code = rule.code,
            name = rule.name,
            sev = rule.default_severity,
            fix = if rule.fixable {
                "fixable by `makguard fix`"
            } else {
                "not fixable by editing files"
            },
            summary = rule.summary,
            doc = rule.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

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
            assert!(!rule.doc.is_empty() && !rule.summary.ends_with('.'));
        }
    }

    #[test]
    fn unreadable_file_rules_are_in_the_9xx_range() {
        for rule in [
            &FILE_UNREADABLE,
            &XML_MALFORMED,
            &HIVE_CORRUPT,
            &KEY_CONFIGURATION_UNREADABLE,
            &HIVE_STATE_UNKNOWN,
            &HIVE_WALK_INCOMPLETE,
            &INSTALLED_KEY_UNCHECKED,
        ] {
            assert!(rule.code.starts_with("MG9"));
            assert_eq!(rule.default_severity, Severity::Error);
        }
    }

    #[test]
    fn lookup_by_code_or_name() {
        assert_eq!(find("mg101").map(|r| r.name), Some("unattend-non-kms-key"));
        assert_eq!(find("mak-installed").map(|r| r.code), Some("MG301"));
        assert!(find("MG999").is_none());
    }
}
