//! wimlib's malicious and odd WIMs from `../shared/corpus/wim/`: each gives a specific typed
//! error or tree problem, never a panic and never unverified bytes.

mod common;

use std::path::PathBuf;

use makguard_wim::{ImageTree, TreeProblemKind, Wim, WimError};

fn corpus(name: &str) -> PathBuf {
    makguard_testkit::shared_dir()
        .join("corpus/wim")
        .join(format!("ebiggers__wimlib__tests__wims__{name}.wim"))
}

fn open(name: &str) -> Wim {
    common::open(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Reads every stream of the tree; returns the errors, by path.
fn read_all(wim: &Wim, tree: &ImageTree) -> Vec<(String, WimError)> {
    let mut errors = Vec::new();
    for (index, path) in tree.walk() {
        for (_, stream) in tree.entries[index].streams() {
            if let Err(error) = wim.read_blob(stream.hash) {
                errors.push((path.clone(), error));
            }
        }
    }
    errors
}

fn tree(name: &str) -> (Wim, ImageTree) {
    let wim = open(name);
    let tree = wim.image_tree(1).unwrap_or_else(|e| panic!("{name}: {e}"));
    (wim, tree)
}

fn kinds(tree: &ImageTree) -> Vec<(&str, &TreeProblemKind)> {
    tree.problems.iter().map(|p| (p.path.as_str(), &p.kind)).collect()
}

/// The path list equals wimlib's for the WIMs wimlib lists (it skips the same bad entries).
fn assert_paths_match_wimlib(name: &str, tree: &ImageTree) {
    if common::have_wimlib() {
        assert_eq!(common::our_paths(tree), common::wimlib_dir(&corpus(name), 1), "{name}");
    }
}

#[test]
fn cyclic_directory_fails_the_image() {
    let wim = open("cyclic");
    let error = wim.image_tree(1).unwrap_err();
    assert!(matches!(error, WimError::Cycle { image: 1, .. }), "{error:?}");
}

#[test]
fn dotdot_entry_is_a_problem_not_a_path() {
    let (wim, tree) = tree("dotdot");
    assert_eq!(kinds(&tree), [("/..", &TreeProblemKind::DotName)]);
    assert!(
        tree.walk()
            .all(|(_, path)| !path.split('/').any(|c| c == ".." || c == "."))
    );
    assert!(read_all(&wim, &tree).is_empty());
    assert_paths_match_wimlib("dotdot", &tree);
}

#[test]
fn duplicate_names_keep_the_first_and_report_the_rest() {
    let (wim, tree) = tree("duplicate_names");
    assert_eq!(
        kinds(&tree),
        [
            ("/1", &TreeProblemKind::DuplicateName),
            ("/1", &TreeProblemKind::DuplicateName)
        ]
    );
    assert_eq!(tree.root().children.len(), 1);
    assert!(read_all(&wim, &tree).is_empty());
    // The refused duplicates' streams are listed, so a scanner can still look inside (here
    // wimlib's test file names blobs its blob table lacks: that is an error, not silence).
    for problem in &tree.problems {
        assert!(!problem.streams.is_empty(), "{problem:?}");
        for stream in &problem.streams {
            match wim.read_blob(stream.hash) {
                Ok(bytes) => assert_eq!(bytes.len() as u64, stream.size),
                Err(WimError::BlobNotFound(hash)) => assert!(hash == stream.hash && wim.blob(hash).is_none()),
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert_paths_match_wimlib("duplicate_names", &tree);
}

#[test]
fn corrupted_file_1_fails_its_sha1_on_every_reader() {
    let (wim, tree) = tree("corrupted_file_1");
    let errors = read_all(&wim, &tree);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "/file");
    assert!(
        matches!(errors[0].1, WimError::HashMismatch { .. }),
        "{:?}",
        errors[0].1
    );

    let hash = tree.entries[tree.root().children[0]].data.hash;
    let io_error = common::stream_blob(&wim, hash).unwrap_err();
    assert_eq!(io_error.kind(), std::io::ErrorKind::InvalidData);
    assert!(matches!(
        WimError::from_io(&io_error),
        Some(WimError::HashMismatch { .. })
    ));
    let verify = wim.verify_blob(hash).unwrap_err();
    assert!(matches!(verify, WimError::HashMismatch { .. }), "{verify:?}");
    let random = wim.blob_random_access(hash).unwrap();
    assert!(matches!(random.verify(), Err(WimError::HashMismatch { .. })));
}

#[test]
fn corrupted_file_2_fails_to_decompress() {
    let (wim, tree) = tree("corrupted_file_2");
    let errors = read_all(&wim, &tree);
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(errors[0].1, WimError::Decompress { chunk: 0, .. }),
        "{:?}",
        errors[0].1
    );
    let hash = tree.entries[tree.root().children[0]].data.hash;
    let io_error = common::stream_blob(&wim, hash).unwrap_err();
    assert!(matches!(
        WimError::from_io(&io_error),
        Some(WimError::Decompress { .. })
    ));
}

#[test]
fn long_paths_are_read_whole() {
    let (_, tree) = tree("longpaths");
    assert!(tree.problems.is_empty());
    let deepest = tree.walk().map(|(_, path)| path.matches('/').count()).max().unwrap();
    assert!(deepest >= 200, "deepest {deepest}");
    let longest = tree.walk().map(|(_, path)| path.len()).max().unwrap();
    assert!(longest > 260, "longest path {longest} is not past MAX_PATH");
    assert_paths_match_wimlib("longpaths", &tree);
}

#[test]
fn empty_dacl_and_old_xattrs_read_cleanly() {
    for name in ["empty_dacl", "linux_xattrs_old"] {
        let (wim, tree) = tree(name);
        assert!(tree.problems.is_empty(), "{name}: {:?}", tree.problems);
        assert!(read_all(&wim, &tree).is_empty(), "{name}");
        assert_paths_match_wimlib(name, &tree);
    }
    let (_, tree) = tree("empty_dacl");
    assert!(tree.security_descriptor_count >= 1);
    let file = &tree.entries[tree.root().children[0]];
    assert!(file.security_id.is_some_and(|id| id < tree.security_descriptor_count));
    assert_eq!(file.data.size, 2);
}
