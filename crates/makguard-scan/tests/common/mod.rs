//! The test-image builder: a temporary directory shaped like a mounted Windows image, with a
//! key planted in every candidate kind (odd-case paths included), a UTF-16 script, a FIFO where
//! Setup looks for an answer file, a link to a folder outside the tree, a long path, a name that
//! is not UTF-8, a key deep inside a large binary and a key across the `--deep` chunk boundary.
//!
//! Every planted key is synthetic (../shared/reference/synthetic-keys.tsv) or a public GVLK.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use makguard_core::{Finding, ProductKey, ScanReport};
use makguard_scan::testing::BINARY_CHUNK_SIZE;

pub(crate) const K_AUTOUNATTEND: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
pub(crate) const K_PANTHER: &str = "NMVQ8-C6P9M-GWX2J-9G4QJ-H82QC";
pub(crate) const K_SETUPCOMPLETE: &str = "7N3Q7-T3FJC-Y4CMG-YH7G8-H82QC";
pub(crate) const K_UTF16_SCRIPT: &str = "N626J-X9XJH-63FFJ-PM9DV-W8QKP";
pub(crate) const K_C2R: &str = "9GNTF-JW8PJ-FYX6B-3D7CM-JFRG2";
pub(crate) const K_MSI: &str = "FKV9N-PQMDY-2VWBR-MMT4X-GCYT2";
pub(crate) const K_MDT: &str = "YNTHT-YF2BV-TTMDY-RHH7J-VCPQD";
pub(crate) const K_MDT_UNATTEND: &str = "X8JHN-BMPRJ-29XJM-7MC4J-69BT3";
pub(crate) const K_PID_TXT: &str = "WNP6R-TTVTX-Q8QKV-3GBRW-H82QD";
pub(crate) const K_SETUPCONFIG: &str = "VCVN8-VKDGP-W4927-FCYPC-JXKXQ";
pub(crate) const K_LOG: &str = "9G4BR-NKWJV-XC3WT-FMHYF-FYHFV";
pub(crate) const K_BINARY: &str = "HBJN8-DQ2DB-VP47J-YMFCH-W8QRV";
pub(crate) const K_SPLIT: &str = "2NHJ4-R82GQ-HDKFD-MYKBC-CDWB7";
pub(crate) const K_OUTSIDE: &str = "NCV9B-6GGCB-W848Q-QTQJW-BP992";
pub(crate) const K_NON_UTF8_NAME: &str = "H4XMC-NWQYC-QW6WQ-PHXBJ-2BHK2";
/// Legacy (pre-2009) keys: reported in text only beside a key word, in scripts always.
pub(crate) const LEGACY_SCRIPT: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
pub(crate) const LEGACY_LOG: &str = "YG7PW-CVM7C-HMGPG-WC3TR-XQ3WX";
pub(crate) const LEGACY_LONG_PATH: &str = "CX4HW-9YWPM-FHVVF-YFXT7-M6JRF";
/// Checksum fails and no key word: never reported in text.
pub(crate) const BAD_CHECKSUM: &str = "8PK8C-NPFMR-3GQGB-RY3DQ-TX762";
pub(crate) const GVLK_ENTERPRISE: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";
/// Installed by the `$OEM$` copy of SetupComplete.cmd.
pub(crate) const LEGACY_OEM: &str = "88H3M-G9QW9-DDTJC-PCKYD-8QPWD";

/// Where the large binary holds its key, and where the split key starts (across the first
/// chunk boundary).
pub(crate) const BINARY_KEY_OFFSET: usize = 2 * BINARY_CHUNK_SIZE + 4096 + 1;
pub(crate) const SPLIT_KEY_OFFSET: usize = BINARY_CHUNK_SIZE - 13;

pub(crate) fn fingerprint(key: &str) -> String {
    ProductKey::parse(key).expect("test key parses").fingerprint()
}

/// The relative path of the long-path file (more than 260 characters).
pub(crate) fn long_path() -> String {
    let segment = "LongFolderName_".repeat(4);
    let mut path = String::from("WINDOWS/Temp");
    for i in 0..5 {
        path.push_str(&format!("/{segment}{i}"));
    }
    path.push_str("/Deploy.ini");
    assert!(path.len() > 260);
    path
}

/// The non-UTF-8 file name's raw bytes, relative to the image root.
pub(crate) const NON_UTF8_NAME: &[u8] = b"WINDOWS/Temp/notes-\xff\xfe.txt";

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("has parent")).expect("create dirs");
    fs::write(&path, bytes).expect("write file");
}

fn unattend(settings: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\r\n{settings}</unattend>\r\n"
    )
}

fn shell_setup_key(key: &str) -> String {
    format!(
        "  <settings pass=\"specialize\">\r\n    <component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\r\n      <ProductKey>{key}</ProductKey>\r\n    </component>\r\n  </settings>\r\n"
    )
}

fn setup_user_data_key(key: &str) -> String {
    format!(
        "  <settings pass=\"windowsPE\">\r\n    <component name=\"Microsoft-Windows-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\">\r\n      <UserData>\r\n        <ProductKey>\r\n          <Key>{key}</Key>\r\n        </ProductKey>\r\n      </UserData>\r\n    </component>\r\n  </settings>\r\n"
    )
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// A test image under `dir/image`, with a folder `dir/outside` the image links to.
pub(crate) struct TestImage {
    pub root: PathBuf,
    pub outside: PathBuf,
}

/// `require_tool(tool, why)`: true when `tool` is on the PATH; otherwise fails, or with
/// outside CI prints `skipped: <tool> is not installed (<why>)`.
#[allow(unused_imports)]
pub(crate) use makguard_testkit::require_tool_for as require_tool;

const CORPUS_MINIMAL_HIVE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/hives/libguestfs__hivex__images__minimal"
);

/// Writes a SOFTWARE hive naming the image (Windows Enterprise, build 22631) with hivex's own
/// `hivexregedit --merge` into hivex's minimal hive. `None` when the tool is missing and skipping
/// is allowed.
pub(crate) fn write_software_hive(path: &Path) -> Option<()> {
    if !require_tool("hivexregedit", "the test image needs a SOFTWARE hive") {
        return None;
    }
    fs::create_dir_all(path.parent().expect("has parent")).expect("config dir");
    fs::write(path, fs::read(CORPUS_MINIMAL_HIVE).expect("corpus minimal hive")).expect("copy hive");
    let reg = path.with_extension("reg");
    fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\r\n\r\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\r\n\r\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n\
\"EditionID\"=\"Enterprise\"\r\n\"ProductName\"=\"Windows 10 Enterprise\"\r\n\"CurrentBuild\"=\"22631\"\r\n\
\"DisplayVersion\"=\"23H2\"\r\n\"InstallationType\"=\"Client\"\r\n",
    )
    .expect("write .reg");
    let status = std::process::Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE"])
        .arg(path)
        .arg(&reg)
        .status()
        .expect("run hivexregedit");
    assert!(status.success(), "hivexregedit --merge failed");
    fs::remove_file(&reg).expect("remove .reg");
    Some(())
}

/// Builds the full test image; `None` when a tool it needs is missing and skipping is allowed.
pub(crate) fn build(dir: &Path) -> Option<TestImage> {
    let root = dir.join("image");
    let outside = dir.join("outside");
    write_software_hive(&root.join("WINDOWS/system32/config/SOFTWARE"))?;
    write(&outside, "secret.txt", format!("ProductKey={K_OUTSIDE}\n"));

    write(
        &root,
        "WINDOWS/system32/kernel32.dll",
        b"MZ\x90\x00not a real binary\x00\x01\x02",
    );
    write(&root, "AUTOUNATTEND.xml", unattend(&shell_setup_key(K_AUTOUNATTEND)));
    write(
        &root,
        "WINDOWS/panther/Unattend.XML",
        unattend(&setup_user_data_key(K_PANTHER)),
    );
    write(
        &root,
        "WINDOWS/Setup/Scripts/SetupComplete.CMD",
        format!(
            "@echo off\r\ncscript //b %windir%\\system32\\slmgr.vbs /ipk {K_SETUPCOMPLETE}\r\nrem old {LEGACY_SCRIPT}\r\ncscript //b %windir%\\system32\\slmgr.vbs /ato\r\n"
        ),
    );
    write(
        &root,
        "WINDOWS/Setup/Scripts/Activate.PS1",
        utf16le_with_bom(&format!(
            "# Activation\r\n$service = Get-WmiObject SoftwareLicensingService\r\n$service.InstallProductKey(\"{K_UTF16_SCRIPT}\")\r\n"
        )),
    );
    write(
        &root,
        "WINDOWS/Setup/Scripts/gvlk.cmd",
        format!("slmgr.vbs /ipk {GVLK_ENTERPRISE}\r\nslmgr.vbs /skms kms.example.invalid\r\n"),
    );
    write(
        &root,
        "Program Files/Office Setup/Configuration.XML",
        format!(
            "<Configuration>\n  <Add OfficeClientEdition=\"64\" Channel=\"PerpetualVL2021\">\n    <Product ID=\"ProPlus2021Volume\" PIDKEY=\"{K_C2R}\">\n      <Language ID=\"en-us\" />\n    </Product>\n  </Add>\n</Configuration>\n"
        ),
    );
    write(
        &root,
        "Program Files/Office Setup/ProPlus.WW/config.xml",
        format!(
            "<Configuration Product=\"ProPlus\">\r\n  <Display Level=\"none\" AcceptEula=\"yes\" />\r\n  <PIDKEY Value=\"{}\" />\r\n</Configuration>\r\n",
            K_MSI.replace('-', "")
        ),
    );
    write(
        &root,
        "DeploymentShare/Control/CustomSettings.INI",
        format!(
            "[Settings]\r\nPriority=Default\r\n\r\n[Default]\r\nSkipProductKey=YES\r\nOverrideProductKey={K_MDT}\r\n"
        ),
    );
    write(
        &root,
        "DeploymentShare/Control/W11ENT/unattend.xml",
        unattend(&shell_setup_key(K_MDT_UNATTEND)),
    );
    write(
        &root,
        "WINDOWS/system32/Sysprep/unattend.xml",
        unattend(&shell_setup_key(GVLK_ENTERPRISE)),
    );
    write(
        &root,
        "$WINDOWS.~BT/Sources/Panther/answers.xml",
        unattend(&setup_user_data_key(K_PANTHER)),
    );
    write(
        &root,
        "sources/$OEM$/$$/Setup/Scripts/SetupComplete.cmd",
        format!("slmgr.vbs -ipk {LEGACY_OEM}\r\n"),
    );
    write(&root, "sources/PID.TXT", format!("[PID]\r\nValue={K_PID_TXT}\r\n"));
    write(
        &root,
        "sources/EI.cfg",
        "[EditionID]\r\nEnterprise\r\n[Channel]\r\nVolume\r\n[VL]\r\n1\r\n",
    );
    write(
        &root,
        "Users/Default/AppData/Local/Microsoft/Windows/WSUS/SetupConfig.ini",
        format!("[SetupConfig]\r\nNoReboot\r\nPKey={K_SETUPCONFIG}\r\n"),
    );
    write(
        &root,
        "WINDOWS/Logs/Deploy.LOG",
        format!(
            "2026-11-01 10:00 installed {K_LOG}\n2026-11-01 10:01 build id {BAD_CHECKSUM}\n2026-11-01 10:02 ProductKey: {LEGACY_LOG}\n2026-11-01 10:03 kms {GVLK_ENTERPRISE}\n"
        ),
    );
    write(&root, "WINDOWS/Logs/clean.xml", "<root><id>not a key</id></root>\n");
    write(
        &root,
        &long_path(),
        format!("[Deploy]\r\nProductKey={LEGACY_LONG_PATH}\r\n"),
    );

    let mut large = vec![0xA5u8; BINARY_KEY_OFFSET + 4096];
    let encoded: Vec<u8> = K_BINARY.encode_utf16().flat_map(u16::to_le_bytes).collect();
    large[BINARY_KEY_OFFSET - 2..BINARY_KEY_OFFSET].fill(0);
    large[BINARY_KEY_OFFSET..BINARY_KEY_OFFSET + encoded.len()].copy_from_slice(&encoded);
    large[BINARY_KEY_OFFSET + encoded.len()..BINARY_KEY_OFFSET + encoded.len() + 2].fill(0);
    write(&root, "WINDOWS/system32/Licensing.dat", &large);

    let mut split = vec![0x01u8; BINARY_CHUNK_SIZE * 2];
    split[SPLIT_KEY_OFFSET..SPLIT_KEY_OFFSET + K_SPLIT.len()].copy_from_slice(K_SPLIT.as_bytes());
    write(&root, "WINDOWS/system32/split.bin", &split);

    plant_unix_specials(&root);
    Some(TestImage { root, outside })
}

#[cfg(unix)]
fn plant_unix_specials(root: &Path) {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let fifo_dir = root.join("WINDOWS/panther/Unattend");
    fs::create_dir_all(&fifo_dir).expect("fifo dir");
    let fifo = fifo_dir.join("unattend.xml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) must be installed to build the test image");
    assert!(status.success(), "mkfifo failed");

    std::os::unix::fs::symlink("../../outside", root.join("WINDOWS/OutsideLink")).expect("symlink");
    std::os::unix::fs::symlink("Logs", root.join("WINDOWS/LogsLink")).expect("symlink inside");

    let name = root.join(OsStr::from_bytes(NON_UTF8_NAME));
    fs::write(name, format!("key={K_NON_UTF8_NAME}\n")).expect("non-UTF-8 name");
}

#[cfg(not(unix))]
fn plant_unix_specials(_root: &Path) {}

/// A clean image: only a GVLK, in a script.
pub(crate) fn build_clean(dir: &Path) -> Option<PathBuf> {
    let root = dir.join("clean");
    write_software_hive(&root.join("Windows/System32/config/SOFTWARE"))?;
    write(
        &root,
        "Windows/Setup/Scripts/SetupComplete.cmd",
        format!("slmgr /ipk {GVLK_ENTERPRISE}\r\n"),
    );
    write(&root, "Windows/Logs/setup.log", "nothing to see\n");
    Some(root)
}

/// One finding as the tests compare it: code, path, line, key fingerprint.
pub(crate) type Row = (String, String, Option<u32>, Option<String>);

pub(crate) fn rows(report: &ScanReport) -> Vec<Row> {
    report
        .findings
        .iter()
        .map(|f: &Finding| {
            (
                f.rule.code.to_string(),
                f.path().display.clone(),
                f.line(),
                f.key.as_ref().map(|k| k.key.fingerprint()),
            )
        })
        .collect()
}

pub(crate) fn row(code: &str, path: &str, line: Option<u32>, key: Option<&str>) -> Row {
    (code.to_string(), path.to_string(), line, key.map(fingerprint))
}

/// The findings the default scan of the test image must produce, in report order.
pub(crate) fn expected_default_rows() -> Vec<Row> {
    let non_utf8 = String::from_utf8_lossy(NON_UTF8_NAME).into_owned();
    let mut rows = vec![
        row(
            "MG101",
            "$WINDOWS.~BT/Sources/Panther/answers.xml",
            Some(7),
            Some(K_PANTHER),
        ),
        row(
            "MG100",
            "WINDOWS/system32/Sysprep/unattend.xml",
            Some(5),
            Some(GVLK_ENTERPRISE),
        ),
        row(
            "MG201",
            "sources/$OEM$/$$/Setup/Scripts/SetupComplete.cmd",
            Some(1),
            Some(LEGACY_OEM),
        ),
        row("MG101", "AUTOUNATTEND.xml", Some(5), Some(K_AUTOUNATTEND)),
        row(
            "MG221",
            "DeploymentShare/Control/CustomSettings.INI",
            Some(6),
            Some(K_MDT),
        ),
        row(
            "MG101",
            "DeploymentShare/Control/W11ENT/unattend.xml",
            Some(5),
            Some(K_MDT_UNATTEND),
        ),
        row(
            "MG211",
            "Program Files/Office Setup/Configuration.XML",
            Some(3),
            Some(K_C2R),
        ),
        row(
            "MG212",
            "Program Files/Office Setup/ProPlus.WW/config.xml",
            Some(3),
            Some(K_MSI),
        ),
        row(
            "MG231",
            "Users/Default/AppData/Local/Microsoft/Windows/WSUS/SetupConfig.ini",
            Some(3),
            Some(K_SETUPCONFIG),
        ),
        row("MG241", "WINDOWS/Logs/Deploy.LOG", Some(1), Some(K_LOG)),
        row("MG241", "WINDOWS/Logs/Deploy.LOG", Some(3), Some(LEGACY_LOG)),
        row("MG261", "WINDOWS/OutsideLink", None, None),
        row(
            "MG201",
            "WINDOWS/Setup/Scripts/Activate.PS1",
            Some(3),
            Some(K_UTF16_SCRIPT),
        ),
        row(
            "MG201",
            "WINDOWS/Setup/Scripts/SetupComplete.CMD",
            Some(2),
            Some(K_SETUPCOMPLETE),
        ),
        row(
            "MG202",
            "WINDOWS/Setup/Scripts/SetupComplete.CMD",
            Some(3),
            Some(LEGACY_SCRIPT),
        ),
        row("MG241", &long_path(), Some(2), Some(LEGACY_LONG_PATH)),
        row("MG241", &non_utf8, Some(1), Some(K_NON_UTF8_NAME)),
        row("MG101", "WINDOWS/panther/Unattend.XML", Some(7), Some(K_PANTHER)),
        // A FIFO where Setup reads an answer file: never opened, and an error, not a skip.
        row("MG906", "WINDOWS/panther/Unattend/unattend.xml", None, None),
        row("MG232", "sources/EI.cfg", Some(3), None),
        row("MG231", "sources/PID.TXT", Some(2), Some(K_PID_TXT)),
    ];
    rows.sort_by(|a, b| (&a.1, a.2.unwrap_or(0), &a.0).cmp(&(&b.1, b.2.unwrap_or(0), &b.0)));
    rows
}

/// The extra findings `--deep` adds.
pub(crate) fn expected_deep_extra_rows() -> Vec<Row> {
    vec![
        row("MG251", "WINDOWS/system32/Licensing.dat", None, Some(K_BINARY)),
        row("MG251", "WINDOWS/system32/split.bin", None, Some(K_SPLIT)),
    ]
}

/// A fixed, key-free rendering of findings for snapshots: every key masked, with its fingerprint.
pub(crate) fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{} {} {}:{}:{}",
            f.rule.code,
            f.severity,
            f.path().display,
            f.line().map_or("-".to_string(), |l| l.to_string()),
            f.column().map_or("-".to_string(), |c| c.to_string())
        ));
        if let Some(key) = &f.key {
            out.push_str(&format!(" {} {} {}", key.key, key.class(), key.key.fingerprint()));
        }
        if let Some(id) = &f.detail.click_to_run_product_id() {
            out.push_str(&format!(" product={id}"));
        }
        if f.spelling().bare {
            out.push_str(" bare");
        }
        out.push_str(&format!("\n    {}\n", f.message));
    }
    out
}
