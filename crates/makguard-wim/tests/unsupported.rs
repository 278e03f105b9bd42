//! WIMs this reader does not handle: each gives its own typed error, with advice.

mod common;

use std::path::Path;

use common::*;
use makguard_wim::{Wim, WimError};

fn small_tree(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("src");
    std::fs::create_dir_all(source.join("sub")).unwrap();
    std::fs::write(source.join("a.txt"), b"some text to compress, some text to compress").unwrap();
    std::fs::write(source.join("sub/b.bin"), noise(100_000, 3)).unwrap();
    source
}

fn open_bytes(bytes: Vec<u8>) -> Result<Wim, WimError> {
    Wim::from_reader(bytes)
}

fn captured(args: &[&str]) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !have_wimlib() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = small_tree(dir.path());
    let wim = dir.path().join("x.wim");
    capture(&source, &wim, "img", args);
    Some((dir, wim))
}

#[test]
fn solid_wim_is_refused_with_conversion_advice() {
    let Some((_dir, wim)) = captured(&["--solid"]) else {
        return;
    };
    let error = open(&wim).unwrap_err();
    assert!(matches!(error, WimError::Solid { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("DISM /Export-Image /Compress:max"), "{message}");
    assert!(message.contains("--compress=LZX"), "{message}");
}

#[test]
fn lzms_compressed_wim_is_refused_as_solid() {
    let Some((_dir, wim)) = captured(&["--compress=lzms"]) else {
        return;
    };
    let error = open(&wim).unwrap_err();
    assert!(
        matches!(error, WimError::Solid { reason } if reason.contains("LZMS")),
        "{error:?}"
    );
}

#[test]
fn solid_blob_in_an_ordinary_wim_is_refused() {
    let Some((_dir, wim)) = captured(&["--compress=none"]) else {
        return;
    };
    let mut bytes = std::fs::read(&wim).unwrap();
    let (table, _) = blob_table(&bytes);
    let first_file_blob = (0..table.len() / 50)
        .find(|i| bytes[table.start + i * 50 + 7] & 0x2 == 0)
        .unwrap();
    bytes[table.start + first_file_blob * 50 + 7] |= 0x10;
    let error = open_bytes(bytes).unwrap_err();
    assert!(matches!(error, WimError::Solid { .. }), "{error:?}");
}

#[test]
fn pipable_wim_is_refused() {
    let Some((_dir, wim)) = captured(&["--pipable"]) else {
        return;
    };
    let error = open(&wim).unwrap_err();
    assert!(matches!(error, WimError::Pipable), "{error:?}");
    assert!(error.to_string().contains("wimlib-imagex export"));
}

#[test]
fn split_wim_parts_are_refused() {
    if !have_wimlib() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = small_tree(dir.path());
    std::fs::write(source.join("big1"), noise(1_500_000, 11)).unwrap();
    std::fs::write(source.join("big2"), noise(1_500_000, 12)).unwrap();
    let wim = dir.path().join("x.wim");
    capture(&source, &wim, "img", &["--compress=none"]);
    let swm = dir.path().join("x.swm");
    makguard_testkit::wimlib(&["split".as_ref(), wim.as_os_str(), swm.as_os_str(), "1".as_ref()]);
    let error = open(&swm).unwrap_err();
    assert!(
        matches!(error, WimError::Split { part: 1, total } if total > 1),
        "{error:?}"
    );
    let second = dir.path().join("x2.swm");
    let error = open(&second).unwrap_err();
    assert!(matches!(error, WimError::Split { part: 2, .. }), "{error:?}");
}

#[test]
fn write_in_progress_is_refused() {
    let Some((_dir, wim)) = captured(&["--compress=none"]) else {
        return;
    };
    let mut bytes = std::fs::read(&wim).unwrap();
    bytes[0x10] |= 0x40;
    let error = open_bytes(bytes).unwrap_err();
    assert!(matches!(error, WimError::WriteInProgress), "{error:?}");
    assert!(error.to_string().contains("half-written"));
}

/// The byte range of the blob table, and of the XML data.
fn blob_table(bytes: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let range = |at: usize| {
        let mut size = [0u8; 8];
        size[..7].copy_from_slice(&bytes[at..at + 7]);
        let offset = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
        offset..offset + u64::from_le_bytes(size) as usize
    };
    (range(0x30), range(0x48))
}

#[test]
fn encrypted_esd_marker_is_refused() {
    let Some((_dir, wim)) = captured(&["--compress=none"]) else {
        return;
    };
    let mut bytes = std::fs::read(&wim).unwrap();
    let (_, xml) = blob_table(&bytes);
    let units: Vec<u16> = bytes[xml.start + 2..xml.end]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    let marked = text.replacen("<WIM>", "<WIM><ESD><ENCRYPTED>1</ENCRYPTED></ESD>", 1);
    assert_ne!(marked, text);
    let mut new_xml = vec![0xFF, 0xFE];
    new_xml.extend(marked.encode_utf16().flat_map(u16::to_le_bytes));
    let offset = bytes.len() as u64;
    let size = new_xml.len() as u64;
    bytes.extend_from_slice(&new_xml);
    bytes[0x48..0x4F].copy_from_slice(&size.to_le_bytes()[..7]);
    bytes[0x50..0x58].copy_from_slice(&offset.to_le_bytes());
    bytes[0x58..0x60].copy_from_slice(&size.to_le_bytes());
    let error = open_bytes(bytes.clone()).unwrap_err();
    assert!(matches!(error, WimError::EncryptedEsd), "{error:?}");

    // The same surgery without the marker opens: the test proves the marker is what fails.
    let plain: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    bytes.truncate(offset as usize);
    bytes.extend_from_slice(&plain);
    let size = plain.len() as u64;
    bytes[0x48..0x4F].copy_from_slice(&size.to_le_bytes()[..7]);
    bytes[0x58..0x60].copy_from_slice(&size.to_le_bytes());
    assert_eq!(open_bytes(bytes).unwrap().images()[0].name.as_deref(), Some("img"));
}

#[test]
fn blob_in_another_part_fails_that_blob_only() {
    let Some((_dir, wim)) = captured(&["--compress=none"]) else {
        return;
    };
    let mut bytes = std::fs::read(&wim).unwrap();
    let (table, _) = blob_table(&bytes);
    let entry = (0..table.len() / 50)
        .map(|i| table.start + i * 50)
        .find(|&at| bytes[at + 7] & 0x2 == 0)
        .unwrap();
    bytes[entry + 24..entry + 26].copy_from_slice(&2u16.to_le_bytes());
    let moved: [u8; 20] = bytes[entry + 30..entry + 50].try_into().unwrap();
    let wim = open_bytes(bytes).unwrap();
    let tree = wim.image_tree(1).unwrap();
    let mut failed = 0;
    for (_, _, stream) in tree.stream_refs() {
        match wim.read_blob(stream.hash) {
            Err(WimError::BlobInOtherPart { part: 2, hash }) => {
                assert_eq!(hash.0, moved);
                failed += 1;
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => assert_ne!(stream.hash.0, moved),
        }
    }
    assert_eq!(failed, 1);
}

#[test]
fn not_a_wim_and_truncated_headers() {
    assert!(matches!(open_bytes(b"hello".to_vec()), Err(WimError::NotAWim)));
    assert!(matches!(open_bytes(Vec::new()), Err(WimError::NotAWim)));
    assert!(matches!(
        open_bytes(b"MSWIM\0\0\0 short".to_vec()),
        Err(WimError::Truncated(_))
    ));
}

#[test]
fn metadata_claiming_more_than_512_times_the_file_is_refused() {
    let Some((_dir, wim)) = captured(&["--compress=none"]) else {
        return;
    };
    let mut bytes = std::fs::read(&wim).unwrap();
    let (table, _) = blob_table(&bytes);
    let metadata = (0..table.len() / 50)
        .map(|i| table.start + i * 50)
        .find(|&at| bytes[at + 7] & 0x2 != 0)
        .unwrap();
    let claim = bytes.len() as u64 * 512 + 1;
    bytes[metadata + 16..metadata + 24].copy_from_slice(&claim.to_le_bytes());
    let wim = open_bytes(bytes).unwrap();
    let error = wim.image_tree(1).unwrap_err();
    assert!(
        matches!(error, WimError::MetadataTooLarge { image: 1, size } if size == claim),
        "{error:?}"
    );
    assert!(matches!(
        wim.image_tree(2),
        Err(WimError::NoSuchImage { index: 2, count: 1 })
    ));
    assert!(matches!(
        wim.image_tree(0),
        Err(WimError::NoSuchImage { index: 0, count: 1 })
    ));
}
