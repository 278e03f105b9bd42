//! Issue 9 §1, §2, §3, §6 and §8: what the walk must never pass. Containers by their magic
//! whatever their name, text of any name and any size searched to its end, links and special
//! files where makguard must read, and makguard's own temporaries.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use makguard_core::{ExitStatus, ScanReport, Severity};
use makguard_scan::{ScanOptions, scan_paths};
use makguard_testkit::tools::require_tool;

fn scan(root: &Path, options: &ScanOptions) -> ScanReport {
    scan_paths(&[root.to_path_buf()], options)
}

fn deep() -> ScanOptions {
    ScanOptions {
        deep: true,
        ..ScanOptions::default()
    }
}

fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    path
}

fn codes_at<'a>(report: &'a ScanReport, rel: &str) -> Vec<&'a str> {
    report
        .findings
        .iter()
        .filter(|f| f.path().display == rel)
        .map(|f| f.rule.code)
        .collect()
}

fn finds_key_at(report: &ScanReport, rel: &str, key: &str) -> bool {
    let wanted = fingerprint(key);
    report
        .findings
        .iter()
        .any(|f| f.path().display == rel && f.key.as_ref().is_some_and(|k| k.key.fingerprint() == wanted))
}

#[cfg(unix)]
fn mkfifo(path: &Path) -> bool {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// A file of `len` bytes with `magic` at `offset` and zeros elsewhere.
fn with_magic(len: usize, offset: usize, magic: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[offset..offset + magic.len()].copy_from_slice(magic);
    bytes
}

fn unattend_with(key: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n<settings pass=\"specialize\">\n\
<component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\">\n<ProductKey>{key}</ProductKey>\n\
</component>\n</settings>\n</unattend>\n"
    )
}

// §1 -------------------------------------------------------------------------------------

#[test]
fn containers_are_errors_by_their_magic_whatever_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("sources/install.wim", with_magic(4096, 0, b"MSWIM\0\0\0")),
        ("sources/install.esd", with_magic(4096, 0, b"MSWIM\0\0\0")),
        (
            "Windows/System32/Recovery/Winre.wim",
            with_magic(100, 0, b"MSWIM\0\0\0"),
        ),
        ("payload", with_magic(8, 0, b"MSWIM\0\0\0")),
        ("notes.txt", with_magic(4096, 0, b"WLPWM\0\0\0")),
        ("media/disc.bin", with_magic(0x9000, 0x8001, b"CD001")),
        ("media/disc2", with_magic(0x9800, 0x8801, b"CD001")),
        ("media/udf.dat", with_magic(0xA000, 0x8001, b"BEA01")),
        ("media/udf3.dat", with_magic(0xA000, 0x9001, b"NSR03")),
        ("vm/disk.avhdx", with_magic(1 << 16, 0, b"vhdxfile")),
        ("vm/dynamic.vhd", with_magic(4096, 0, b"conectix")),
        ("vm/fixed", with_magic(1 << 20, (1 << 20) - 512, b"conectix")),
        // Renamed to a binary extension, but large enough to be sniffed.
        ("Windows/System32/big.dll", with_magic(2 << 20, 0, b"MSWIM\0\0\0")),
    ];
    for (rel, bytes) in &cases {
        put(root, rel, bytes);
    }
    // WIMs are read (these have nothing behind the magic: MG920); the rest are MG905.
    let is_wim = |bytes: &[u8]| bytes.starts_with(b"MSWIM\0\0\0");
    for options in [ScanOptions::default(), deep()] {
        let report = scan(root, &options);
        for (rel, bytes) in &cases {
            let expected = if is_wim(bytes) { "MG920" } else { "MG905" };
            assert_eq!(codes_at(&report, rel), [expected], "{rel}");
        }
        assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    }
    let report = scan(root, &ScanOptions::default());
    let wim = report
        .findings
        .iter()
        .find(|f| f.path().display == "sources/install.wim")
        .unwrap();
    assert!(wim.message.contains("WIM could not be read"), "{}", wim.message);
    let how = wim.remediation().unwrap();
    assert!(how.contains("wimlib-imagex verify"), "{how}");
    let iso = report
        .findings
        .iter()
        .find(|f| f.path().display == "media/disc.bin")
        .unwrap();
    assert!(iso.message.contains("ISO 9660"), "{}", iso.message);
    assert_eq!(
        report.summary.skipped.get("container-not-opened"),
        Some(&(cases.iter().filter(|(_, bytes)| !is_wim(bytes)).count() as u64))
    );
}

#[test]
fn a_wim_given_on_the_command_line_is_read_and_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    put(&tree, "Windows/Panther/unattend.xml", unattend_with(K_AUTOUNATTEND));
    let wim = dir.path().join("install.wim");
    if require_tool("wimlib-imagex") {
        for compress in ["lzx", "xpress"] {
            let _ = fs::remove_file(&wim);
            let status = std::process::Command::new("wimlib-imagex")
                .args(["capture".as_ref(), tree.as_os_str(), wim.as_os_str()])
                .arg("img")
                .arg(format!("--compress={compress}"))
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            let report = scan_paths(std::slice::from_ref(&wim), &ScanOptions::default());
            // The answer file inside is read: its MAK is found where the image holds it.
            assert_eq!(
                codes_at(&report, "Windows/Panther/unattend.xml"),
                ["MG101"],
                "{compress}"
            );
            assert_eq!(report.roots[0].container.as_ref().map(|c| c.index), Some(1));
            assert_ne!(report.exit_status(Severity::Error), ExitStatus::Clean);
        }
    }
    // Any name: the content decides.
    let renamed = put(dir.path(), "image.data", with_magic(64, 0, b"MSWIM\0\0\0"));
    let report = scan_paths(&[renamed], &deep());
    assert_eq!(codes_at(&report, "image.data"), ["MG920"]);
}

#[test]
fn archives_are_counted_not_opened_and_deep_searches_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A stored (uncompressed) zip member keeps the key's bytes as they are.
    let mut zip = b"PK\x03\x04\x14\0\0\0\0\0".to_vec();
    zip.extend_from_slice(format!("\0\0\0\0ProductKey={K_MDT}\0\0").as_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("drivers/pack.cab", format!("MSCF\0\0\0\0 {K_MDT} ").into_bytes()),
        ("drivers/pack.zip", zip.clone()),
        ("drivers/renamed.txt", zip),
        (
            "office/setup.msi",
            [
                &[0xD0u8, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
                format!("\0 {K_MDT} \0").as_bytes(),
            ]
            .concat(),
        ),
        (
            "tools/a.7z",
            [&b"7z\xBC\xAF\x27\x1C\0\x04"[..], format!("\0 {K_MDT} \0").as_bytes()].concat(),
        ),
    ];
    for (rel, bytes) in &cases {
        put(root, rel, bytes);
    }
    let report = scan(root, &ScanOptions::default());
    assert_eq!(
        report.summary.skipped.get("archive-not-opened"),
        Some(&(cases.len() as u64))
    );
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let report = scan(root, &deep());
    for (rel, _) in &cases {
        assert!(finds_key_at(&report, rel, K_MDT), "{rel}");
    }
}

// §2 -------------------------------------------------------------------------------------

#[test]
fn a_key_at_the_end_of_a_log_larger_than_the_size_cap_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let line = "2026-01-01 10:00:00, Info                  CBS    Progress: nothing to see here at all\r\n";
    let mut log = line.repeat((17 << 20) / line.len());
    assert!(log.len() as u64 > makguard_scan::DEFAULT_SIZE_CAP);
    log.push_str(&format!("2026-01-01 10:00:01, Info  SP  Installing {K_LOG}\r\n"));
    log.push_str(&line.repeat(3));
    put(root, "Windows/Panther/setupact.log", &log);
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(log.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    put(root, "Windows/Logs/CBS/CBS.log", utf16);
    let report = scan(root, &ScanOptions::default());
    let expected_line = (17 << 20) / line.len() + 1;
    for rel in ["Windows/Panther/setupact.log", "Windows/Logs/CBS/CBS.log"] {
        let found: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.path().display == rel)
            .map(|f| (f.rule.code, f.line()))
            .collect();
        assert_eq!(found, [("MG241", Some(expected_line as u32))], "{rel}");
    }
    assert!(!report.summary.skipped.contains_key("over-size-cap"));
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Findings);
}

// §3 -------------------------------------------------------------------------------------

#[test]
fn a_key_in_a_text_file_is_found_whatever_the_file_is_called() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let task: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(
            format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task><Actions><Exec><Command>cscript</Command><Arguments>slmgr.vbs /ipk {K_SETUPCOMPLETE}</Arguments></Exec></Actions></Task>\r\n")
                .encode_utf16(),
        )
        .flat_map(u16::to_le_bytes)
        .collect();
    let bomless: Vec<u8> = format!("key: {K_C2R}\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "build/pipeline.yml",
            format!("env:\n  PRODUCT_KEY: {K_MDT}\n").into_bytes(),
            K_MDT,
        ),
        (
            "Modules/Deploy/Deploy.psd1",
            format!("@{{ Key = '{K_MSI}' }}\r\n").into_bytes(),
            K_MSI,
        ),
        ("Windows/System32/Tasks/Foo", task, K_SETUPCOMPLETE),
        (
            "Windows/Temp/README",
            format!("The key is {K_PID_TXT}.\n").into_bytes(),
            K_PID_TXT,
        ),
        (
            "tools/answers.xml.j2",
            format!("<Key>{K_PANTHER}</Key>\n").into_bytes(),
            K_PANTHER,
        ),
        ("x/utf16-no-bom.cfg", bomless, K_C2R),
        (
            "x/latin1.conf",
            [&b"caf\xe9 "[..], K_SETUPCONFIG.as_bytes(), b"\n"].concat(),
            K_SETUPCONFIG,
        ),
        (
            "x/legacy.toml",
            format!("product_key = \"{LEGACY_SCRIPT}\"\n").into_bytes(),
            LEGACY_SCRIPT,
        ),
    ];
    for (rel, bytes, _) in &cases {
        put(root, rel, bytes);
    }
    let report = scan(root, &ScanOptions::default());
    for (rel, _, key) in &cases {
        assert!(finds_key_at(&report, rel, key), "{rel}: {:#?}", codes_at(&report, rel));
        assert!(report.roots[0].searched.contains(&rel.to_string()), "{rel}");
    }
    // Windows/System32 without a SOFTWARE hive is also an MG901: not Findings but Incomplete.
    assert_ne!(report.exit_status(Severity::Error), ExitStatus::Clean);
}

#[test]
fn binary_files_are_left_to_deep() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bin/tool.dll", format!("text-looking {K_MDT}\n").into_bytes()),
        ("bin/en-US/tool.exe.mui", format!("{K_MDT}\n").into_bytes()),
        (
            "data/blob",
            [&b"\0\0\0\x01\x02"[..], format!(" {K_MDT} ").as_bytes()].concat(),
        ),
        (
            "data/pe",
            [&b"MZ\x90\0\x03\0"[..], format!(" {K_MDT} ").as_bytes()].concat(),
        ),
    ];
    for (rel, bytes) in &cases {
        put(root, rel, bytes);
    }
    let report = scan(root, &ScanOptions::default());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(
        report.summary.skipped.get("not-a-candidate"),
        Some(&(cases.len() as u64))
    );
    let report = scan(root, &deep());
    for (rel, _) in &cases {
        assert_eq!(codes_at(&report, rel), ["MG251"], "{rel}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// The class: any name that is not a documented binary or archive extension, any folder,
    /// UTF-8 or UTF-16: a checksum-valid key in text is found by the default scan.
    #[test]
    fn any_text_file_name_is_searched(
        folder in "[A-Za-z][A-Za-z0-9 _-]{0,10}",
        stem in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}",
        extension in proptest::option::of("[a-z0-9]{1,5}"),
        utf16 in proptest::bool::ANY,
        before in "[ -~]{0,40}",
    ) {
        let name = match &extension {
            Some(ext) => format!("{stem}.{ext}"),
            None => stem.clone(),
        };
        let lower = name.to_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default();
        proptest::prop_assume!(!makguard_scan::testing::BINARY_EXTENSIONS.contains(&ext.as_str()));
        proptest::prop_assume!(!makguard_scan::testing::ARCHIVE_EXTENSIONS.contains(&ext.as_str()));
        proptest::prop_assume!(!makguard_scan::testing::CONTAINER_EXTENSIONS.contains(&ext.as_str()));
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{before}\n{K_LOG}\n");
        let bytes: Vec<u8> = if utf16 {
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            text.into_bytes()
        };
        let rel = format!("{folder}/{name}");
        put(dir.path(), &rel, bytes);
        let report = scan(dir.path(), &ScanOptions::default());
        proptest::prop_assert!(finds_key_at(&report, &rel, K_LOG), "{rel}: {:?}", report.findings);
        proptest::prop_assert_ne!(report.exit_status(Severity::Error), ExitStatus::Clean);
    }
}

// §6 -------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn links_and_special_files_where_makguard_must_read_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let Some(clean) = build_clean(dir.path()) else {
        return;
    };
    let scan_clean = |root: &Path| scan(root, &ScanOptions::default());
    assert_eq!(scan_clean(&clean).exit_status(Severity::Error), ExitStatus::Clean);

    // An answer-file path that is a link, to anything (here: a harmless file inside the tree).
    put(&clean, "Windows/Panther/real.xml", "<x/>");
    std::os::unix::fs::symlink("real.xml", clean.join("Windows/Panther/unattend.xml")).unwrap();
    let report = scan_clean(&clean);
    assert_eq!(codes_at(&report, "Windows/Panther/unattend.xml"), ["MG906"]);
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    fs::remove_file(clean.join("Windows/Panther/unattend.xml")).unwrap();

    // A link elsewhere stays a note.
    std::os::unix::fs::symlink("/etc", clean.join("Windows/Temp-link")).unwrap();
    let report = scan_clean(&clean);
    assert_eq!(codes_at(&report, "Windows/Temp-link"), ["MG261"]);
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Clean);
}

#[cfg(unix)]
#[test]
fn a_linked_system32_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let Some(clean) = build_clean(dir.path()) else {
        return;
    };
    let elsewhere = dir.path().join("elsewhere");
    fs::rename(clean.join("Windows/System32"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, clean.join("Windows/System32")).unwrap();
    let report = scan(&clean, &ScanOptions::default());
    assert!(report.roots[0].image.is_some(), "still an image root");
    assert!(
        codes_at(&report, "Windows/System32").contains(&"MG906"),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
}

#[cfg(unix)]
#[test]
fn a_fifo_or_link_at_the_software_hive_never_hangs_and_is_an_error() {
    for plant in ["fifo", "link-to-device", "link"] {
        let dir = tempfile::tempdir().unwrap();
        let Some(clean) = build_clean(dir.path()) else {
            return;
        };
        let hive = clean.join("Windows/System32/config/SOFTWARE");
        let saved = dir.path().join("SOFTWARE.saved");
        fs::rename(&hive, &saved).unwrap();
        match plant {
            "fifo" => {
                if !mkfifo(&hive) {
                    return;
                }
            }
            "link-to-device" => std::os::unix::fs::symlink("/dev/zero", &hive).unwrap(),
            _ => std::os::unix::fs::symlink(&saved, &hive).unwrap(),
        }
        // Reaching the assertions proves nothing blocked.
        for options in [ScanOptions::default(), deep()] {
            let report = scan(&clean, &options);
            assert!(
                codes_at(&report, "Windows/System32/config/SOFTWARE").contains(&"MG906"),
                "{plant}: {:#?}",
                report.findings
            );
            assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete, "{plant}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_log_beside_a_dirty_hive_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(clean) = build_clean(dir.path()) else {
        return;
    };
    let hive = clean.join("Windows/System32/config/SOFTWARE");
    let mut bytes = fs::read(&hive).unwrap();
    // Primary and secondary sequence numbers differ: a write did not complete.
    bytes[4] = bytes[4].wrapping_add(1);
    fs::write(&hive, bytes).unwrap();
    if !mkfifo(&clean.join("Windows/System32/config/SOFTWARE.LOG1")) {
        return;
    }
    let report = scan(&clean, &ScanOptions::default());
    assert_eq!(
        codes_at(&report, "Windows/System32/config/SOFTWARE.LOG1"),
        ["MG906"],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    // Hive::open, the plain-path wrapper, refuses it too instead of blocking.
    let opened = makguard_hive::Hive::open(&hive).unwrap();
    assert!(
        opened
            .dirty()
            .log_problem
            .as_deref()
            .is_some_and(|p| p.contains("not a regular file"))
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_named_on_the_command_line_or_as_key_configuration_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("unattend.xml");
    if !mkfifo(&fifo) {
        return;
    }
    let report = scan_paths(std::slice::from_ref(&fifo), &ScanOptions::default());
    assert_eq!(codes_at(&report, "unattend.xml"), ["MG906"]);
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    assert!(makguard_scan::load_key_config_file(&fifo, "fifo").is_err());
    let options = ScanOptions {
        key_config_files: vec![fifo.clone()],
        ..ScanOptions::default()
    };
    let report = scan_paths(&[dir.path().to_path_buf()], &options);
    assert_eq!(report.exit_status(Severity::Error), ExitStatus::Incomplete);
    assert!(makguard_scan::open_regular(&fifo).is_err());
    assert!(makguard_scan::open_regular(Path::new("/dev/zero")).is_err());
}

// §8 -------------------------------------------------------------------------------------

#[test]
fn makguard_temporaries_and_backups_are_searched_as_their_original() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cases = [
        "Windows/Panther/.unattend.xml.makguard-orig.makguard-tmp-4242-1",
        "Windows/Panther/.unattend.xml.makguard-tmp-4242-2",
        "Windows/Panther/unattend.xml.makguard-orig",
    ];
    for rel in cases {
        put(root, rel, unattend_with(K_AUTOUNATTEND));
    }
    let report = scan(root, &ScanOptions::default());
    for rel in cases {
        assert_eq!(codes_at(&report, rel), ["MG101"], "{rel}");
    }
}
