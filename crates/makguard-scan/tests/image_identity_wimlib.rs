//! Image identity cross-checked with wimlib: `wimlib-imagex capture` reads the SOFTWARE hive
//! itself when it captures a Windows tree, and `wimlib-imagex info` prints what it found. Our
//! reading of the same hivex-built hive must agree, before capture and after `apply`.

mod common_hive;

use std::collections::HashMap;
use std::path::Path;

use common_hive::build_image_root;
use makguard_scan::testing::scan_image_root;
use makguard_testkit::{wim_capture, wimlib};

/// `Field:   value` lines of `wimlib-imagex info WIM 1`.
fn info_fields(wim: &Path) -> HashMap<String, String> {
    wimlib(&["info".as_ref(), wim.as_os_str(), "1".as_ref()])
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn check(edition: &str, product: &str, build: u32, installation_type: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let reg = format!(
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\
\"EditionID\"=\"{edition}\"\n\"ProductName\"=\"{product}\"\n\"CurrentBuild\"=\"{build}\"\n\
\"CurrentBuildNumber\"=\"{build}\"\n\"CurrentMajorVersionNumber\"=dword:0000000a\n\
\"CurrentMinorVersionNumber\"=dword:00000000\n\"InstallationType\"=\"{installation_type}\"\n\"UBR\"=dword:00000100\n"
    );
    build_image_root(&root, &reg, true);
    let ours = scan_image_root(&root, "root", &[]).info;

    let wim = dir.path().join("test.wim");
    wim_capture(&root, &wim, "makguard test", &[]);
    let theirs = info_fields(&wim);
    assert_eq!(
        theirs.get("Edition ID").map(String::as_str),
        Some(edition),
        "{theirs:#?}"
    );
    assert_eq!(ours.edition_id.as_deref(), theirs.get("Edition ID").map(String::as_str));
    assert_eq!(
        ours.product_name.as_deref(),
        theirs.get("Product Name").map(String::as_str)
    );
    assert_eq!(
        ours.installation_type.as_deref(),
        theirs.get("Installation Type").map(String::as_str)
    );
    assert_eq!(
        ours.build.map(|b| b.to_string()),
        theirs.get("Build").cloned(),
        "{theirs:#?}"
    );

    // What `wimlib-imagex apply` writes back out reads the same.
    let applied = dir.path().join("applied");
    wimlib(&["apply".as_ref(), wim.as_os_str(), "1".as_ref(), applied.as_os_str()]);
    let again = scan_image_root(&applied, "root", &[]).info;
    assert_eq!(again, ours);
}

#[test]
fn wimlib_reads_the_same_identity_from_our_fixture_hive() {
    if !common_hive::require_tool("hivexregedit") || !common_hive::require_tool("wimlib-imagex") {
        return;
    }
    check("Enterprise", "Windows 10 Enterprise", 22631, "Client");
    check("ServerDatacenter", "Windows Server 2022 Datacenter", 20348, "Server");
}
