//! A source holding one file in memory at its root: standard input for `makguard scan -`, read
//! whole by the CLI and searched like a single file named on the command line.

use std::io::Cursor;
use std::sync::Arc;

use crate::source::{Entry, EntryType, ImageSource, OpenedFile, ReadAt, SourceError, SourcePath};

/// One regular file, its bytes in memory, at the source's root.
pub(crate) struct MemoryFile {
    name: String,
    bytes: Arc<Vec<u8>>,
}

impl MemoryFile {
    /// The file `name` (what reports call it) holding `bytes`.
    pub(crate) fn new(name: impl Into<String>, bytes: Vec<u8>) -> MemoryFile {
        MemoryFile {
            name: name.into(),
            bytes: Arc::new(bytes),
        }
    }

    fn the_file(path: &SourcePath) -> Result<(), SourceError> {
        if path.is_root() {
            Ok(())
        } else {
            Err(SourceError::Io(std::io::Error::from(std::io::ErrorKind::NotFound)))
        }
    }
}

/// Shared bytes with random access, so the source can hand out readers without copying.
struct SharedBytes(Arc<Vec<u8>>);

impl ReadAt for SharedBytes {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        ReadAt::read_at(&*self.0, offset, buf)
    }
}

impl ImageSource for MemoryFile {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn entry(&self, path: &SourcePath) -> Result<Entry, SourceError> {
        MemoryFile::the_file(path)?;
        Ok(Entry {
            name: self.name.clone().into(),
            entry_type: EntryType::File,
            size: self.bytes.len() as u64,
        })
    }

    fn list(&self, _dir: &SourcePath) -> Result<Vec<Entry>, SourceError> {
        Err(SourceError::NotRegular(EntryType::File))
    }

    fn open(&self, path: &SourcePath) -> Result<OpenedFile, SourceError> {
        MemoryFile::the_file(path)?;
        Ok(OpenedFile {
            reader: Box::new(Cursor::new(SharedVec(Arc::clone(&self.bytes)))),
            len: self.bytes.len() as u64,
        })
    }

    fn open_random(&self, path: &SourcePath) -> Result<Box<dyn ReadAt>, SourceError> {
        MemoryFile::the_file(path)?;
        Ok(Box::new(SharedBytes(Arc::clone(&self.bytes))))
    }
}

/// The shared bytes as a slice, for a `Cursor`.
struct SharedVec(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedVec {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_root_is_the_file_and_nothing_else_exists() {
        let source = MemoryFile::new("unattend.xml", b"<unattend/>".to_vec());
        let mut text = String::new();
        source
            .open(&SourcePath::root())
            .unwrap()
            .reader
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "<unattend/>");
        assert_eq!(source.open_random(&SourcePath::root()).unwrap().len(), 11);
        assert!(source.open(&SourcePath::from_names(["other"])).is_err());
    }
}
