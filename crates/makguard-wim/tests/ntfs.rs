//! Windows-like WIMs: an NTFS volume made with `mkntfs`, filled through ntfs-3g with an
//! alternate data stream, hard links, a reparse point and security descriptors, captured with
//! `wimlib-imagex capture VOLUME.img`. Needs root and FUSE (skips without them).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use makguard_testkit::{fuse_available, require_tool_for, run_tool};

/// Unmounts the ntfs-3g volume on drop, so a failing test leaves no mount behind.
struct NtfsMount(PathBuf);

impl Drop for NtfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("run id");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn tools_present() -> bool {
    if !is_root() {
        println!("skipped: mounting an NTFS image with ntfs-3g needs root");
        return false;
    }
    fuse_available()
        && have_wimlib()
        && require_tool_for("mkntfs", "formats the NTFS test volume")
        && require_tool_for("ntfs-3g", "mounts the NTFS test volume")
        && require_tool_for("setfattr", "sets reparse data through ntfs-3g (package attr)")
}

/// A symbolic-link reparse buffer (tag 0xA000000C, relative) pointing at `target`.
fn symlink_reparse_data(target: &str) -> Vec<u8> {
    let name: Vec<u8> = target.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let len = name.len() as u16;
    let mut body = Vec::new();
    for field in [0u16, len, len, len] {
        body.extend_from_slice(&field.to_le_bytes());
    }
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&name);
    body.extend_from_slice(&name);
    let mut buffer = 0xA000_000Cu32.to_le_bytes().to_vec();
    buffer.extend_from_slice(&(body.len() as u16).to_le_bytes());
    buffer.extend_from_slice(&0u16.to_le_bytes());
    buffer.extend_from_slice(&body);
    buffer
}

fn fill_volume(mnt: &Path) {
    std::fs::create_dir(mnt.join("Windows")).unwrap();
    let file = mnt.join("Windows/setup.cmd");
    std::fs::write(&file, b"echo main stream\r\n").unwrap();
    std::fs::write(mnt.join("Windows/setup.cmd:hidden"), b"the alternate stream's bytes").unwrap();
    std::fs::write(mnt.join("Windows/setup.cmd:big"), noise(100_000, 5)).unwrap();
    std::fs::hard_link(&file, mnt.join("linked.cmd")).unwrap();
    std::fs::write(mnt.join("reparse"), b"").unwrap();
    let hex = symlink_reparse_data("Windows\\setup.cmd")
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    let reparse = mnt.join("reparse");
    run_tool(
        "setfattr",
        &[
            "-n".as_ref(),
            "system.ntfs_reparse_data".as_ref(),
            "-v".as_ref(),
            format!("0x{hex}").as_ref(),
            reparse.as_os_str(),
        ],
    );
}

/// A fresh 16 MiB NTFS volume image at `image`.
fn make_volume(image: &Path) {
    std::fs::File::create(image).unwrap().set_len(16 * 1024 * 1024).unwrap();
    run_tool(
        "mkntfs",
        &["-F".as_ref(), "-f".as_ref(), "-q".as_ref(), image.as_os_str()],
    );
}

/// Mounts the volume `image` at `mnt` (created) with Windows-style stream names.
fn mount_volume(image: &Path, mnt: &Path) -> NtfsMount {
    std::fs::create_dir_all(mnt).unwrap();
    run_tool(
        "ntfs-3g",
        &[
            "-o".as_ref(),
            "streams_interface=windows".as_ref(),
            image.as_os_str(),
            mnt.as_os_str(),
        ],
    );
    NtfsMount(mnt.to_path_buf())
}

/// A volume filled by [`fill_volume`], in `dir`.
fn filled_volume(dir: &Path) -> PathBuf {
    let image = dir.join("volume.img");
    make_volume(&image);
    let mnt = dir.join("mnt");
    let mount = mount_volume(&image, &mnt);
    fill_volume(&mnt);
    drop(mount);
    image
}

#[test]
fn a_file_with_named_streams_and_links_is_fixed_and_keeps_its_streams() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let volume = filled_volume(dir.path());
    let wim_path = dir.path().join("ntfs.wim");
    capture(&volume, &wim_path, "ntfs", &["--compress=lzx"]);
    let new_main: &[u8] = b"echo new main stream\r\n";
    let summary = makguard_wim::write_replacements(
        &wim_path,
        &[makguard_wim::Replacement {
            image: 1,
            path: "/Windows/setup.cmd".to_owned(),
            contents: new_main.to_vec(),
        }],
        makguard_wim::WriteTarget::InPlace,
    )
    .unwrap();
    assert_eq!(summary.changed.len(), 2, "the file and its hard link");
    makguard_testkit::wimlib(&["verify".as_ref(), wim_path.as_os_str()]);

    // Applied to a fresh NTFS volume (wimlib's NTFS mode keeps streams, links and security).
    let target = dir.path().join("applied.img");
    make_volume(&target);
    makguard_testkit::wimlib(&["apply".as_ref(), wim_path.as_os_str(), "1".as_ref(), target.as_os_str()]);
    let mnt = dir.path().join("applied");
    let _mount = mount_volume(&target, &mnt);
    assert_eq!(std::fs::read(mnt.join("Windows/setup.cmd")).unwrap(), new_main);
    assert_eq!(std::fs::read(mnt.join("linked.cmd")).unwrap(), new_main);
    assert_eq!(
        std::fs::read(mnt.join("Windows/setup.cmd:hidden")).unwrap(),
        b"the alternate stream's bytes"
    );
    assert_eq!(
        std::fs::read(mnt.join("Windows/setup.cmd:big")).unwrap(),
        noise(100_000, 5)
    );
    let tree = open(&wim_path).unwrap().image_tree(1).unwrap();
    let (index, _) = tree.walk().find(|(_, p)| p == "/reparse").unwrap();
    assert!(tree.entries[index].is_reparse(), "the reparse point is untouched");
}

#[test]
fn ntfs_volume_streams_links_and_reparse_points() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = filled_volume(dir.path());

    for compress in ["none", "xpress", "lzx"] {
        let wim_path = dir.path().join(format!("{compress}.wim"));
        capture(&image, &wim_path, "ntfs", &[&format!("--compress={compress}")]);
        let wim = open(&wim_path).unwrap();
        let tree = wim.image_tree(1).unwrap();
        assert!(tree.problems.is_empty(), "{:?}", tree.problems);
        assert_eq!(our_paths(&tree), wimlib_dir(&wim_path, 1));
        let find = |path: &str| {
            let (index, _) = tree.walk().find(|(_, p)| p == path).unwrap();
            &tree.entries[index]
        };

        let setup = find("/Windows/setup.cmd");
        assert_eq!(wim.read_blob(setup.data.hash).unwrap(), b"echo main stream\r\n");
        let mut streams: Vec<_> = setup
            .named_streams
            .iter()
            .map(|named| (named.name.clone(), wim.read_blob(named.stream.hash).unwrap()))
            .collect();
        streams.sort();
        assert_eq!(
            streams,
            [
                ("big".to_owned(), noise(100_000, 5)),
                ("hidden".to_owned(), b"the alternate stream's bytes".to_vec())
            ]
        );
        assert_eq!(setup.streams().count(), 3, "unnamed + two named streams");

        let linked = find("/linked.cmd");
        assert!(setup.hard_link_group.is_some());
        assert_eq!(linked.hard_link_group, setup.hard_link_group);
        assert_eq!(linked.data.hash, setup.data.hash);

        let reparse = find("/reparse");
        assert!(reparse.is_reparse());
        let point = reparse.reparse.unwrap();
        assert_eq!(point.tag, 0xA000_000C);
        // Reparse data is stored without its 8-byte header.
        assert_eq!(
            wim.read_blob(point.data.hash).unwrap(),
            symlink_reparse_data("Windows\\setup.cmd")[8..]
        );
        assert!(reparse.data.hash.is_zero());
        assert_eq!(reparse.hard_link_group, None);

        assert!(tree.security_descriptor_count >= 1);
        assert!(setup.security_id.is_some_and(|id| id < tree.security_descriptor_count));
    }
}
