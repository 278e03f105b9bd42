//! The image's key configuration: finding and parsing `pkeyconfig*.xrm-ms` files into a
//! [`KeyConfigIndex`] (key-format.md §6).
//!
//! Each file is an `XrML` licence whose `infoBin` named `pkeyConfigData` holds, in base64, a
//! UTF-8 `ProductKeyConfiguration` document. Its `Configuration` elements map a key group
//! (`RefGroupId`) to a channel (`ProductKeyType`) and an edition, which is how a post-2009
//! key is told apart as a MAK, retail, OEM, KMS host or KMS client key. Elements are matched by
//! local name so that any namespace prefix works.

use std::path::{Path, PathBuf};

use crate::fs_source::FsSource;
use crate::source::{EntryType, ImageSource, Resolved, SourcePath, resolve_case_insensitive as resolve_in};

use makguard_core::{Finding, FindingPath, KeyConfigIndex, KeyGroupInfo, rules};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use thiserror::Error;

/// The `infoBin` `name` that carries the key configuration.
const PAYLOAD_NAME: &str = "pkeyConfigData";
const PAYLOAD_ROOT: &str = "ProductKeyConfiguration";

/// Why a key-configuration file could not be used.
#[derive(Debug, Error)]
pub enum KeyConfigError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// How the file is named in messages.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The licence around the payload is not well-formed XML.
    #[error("{path}: the licence is not well-formed XML ({message})")]
    LicenceXml {
        /// How the file is named in messages.
        path: String,
        /// The parser's complaint and where, with any key masked.
        message: String,
    },
    /// The licence holds no `infoBin` named `pkeyConfigData`.
    #[error("{path}: the licence has no infoBin named '{PAYLOAD_NAME}'")]
    NoPayload {
        /// How the file is named in messages.
        path: String,
    },
    /// The payload is not valid base64.
    #[error("{path}: the '{PAYLOAD_NAME}' infoBin is not valid base64 ({source})")]
    Base64 {
        /// How the file is named in messages.
        path: String,
        /// What is wrong with the base64 text.
        #[source]
        source: Base64Error,
    },
    /// The decoded payload is neither UTF-8 nor UTF-16 text.
    #[error("{path}: the decoded '{PAYLOAD_NAME}' is not UTF-8 or UTF-16 text")]
    PayloadEncoding {
        /// How the file is named in messages.
        path: String,
    },
    /// The decoded payload is not well-formed XML.
    #[error("{path}: the decoded ProductKeyConfiguration is not well-formed XML ({message})")]
    PayloadXml {
        /// How the file is named in messages.
        path: String,
        /// The parser's complaint and where, with any key masked.
        message: String,
    },
    /// The decoded payload's root element is not `ProductKeyConfiguration`.
    #[error("{path}: the decoded payload's root element is '{found}', not '{PAYLOAD_ROOT}'")]
    NotProductKeyConfiguration {
        /// How the file is named in messages.
        path: String,
        /// The local name of the root element found instead.
        found: String,
    },
    /// A `Configuration`'s `RefGroupId` is not a key group number (a decimal up to `0xFFFFF`).
    #[error("{path}: Configuration #{index} has no usable RefGroupId ('{value}')")]
    BadGroup {
        /// How the file is named in messages.
        path: String,
        /// Which `Configuration` element, counting from 1 in document order.
        index: usize,
        /// The `RefGroupId` text, trimmed.
        value: String,
    },
    /// The `ProductKeyConfiguration` has no `Configuration` elements.
    #[error("{path}: the ProductKeyConfiguration defines no key groups")]
    NoConfigurations {
        /// How the file is named in messages.
        path: String,
    },
}

impl KeyConfigError {
    /// The finding for a key-configuration file named `display` that could not be used: `MG901`
    /// when it could not be read, `MG904` when it could not be parsed.
    pub(crate) fn finding(&self, display: &str) -> Finding {
        let rule = match self {
            KeyConfigError::Io { .. } => &rules::FILE_UNREADABLE,
            _ => &rules::KEY_CONFIGURATION_UNREADABLE,
        };
        Finding::new(
            rule,
            FindingPath::new(display),
            format!("{self}; keys are classified without this file"),
        )
    }
}

/// Why a base64 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base64Error {
    /// A byte that is neither a base64 symbol, `=` nor ASCII whitespace.
    #[error("byte {position} ({byte:#04x}) is not a base64 symbol")]
    Symbol {
        /// Its offset in the text, in bytes.
        position: usize,
        /// The byte itself.
        byte: u8,
    },
    /// The symbols and padding do not make whole 4-symbol quanta.
    #[error("its length ({0} symbols) is not a whole number of base64 quanta")]
    Length(usize),
    /// A symbol follows `=` padding.
    #[error("padding '=' appears before the end")]
    Padding,
}

/// Decodes standard base64 (RFC 4648 §4) with optional padding, ignoring ASCII whitespace
/// (`XrML` wraps the payload across lines). Twenty lines do not earn a dependency.
///
/// # Errors
///
/// A [`Base64Error`] naming the first byte that is not a base64 symbol, a symbol after
/// padding, or a length that is not whole quanta.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quantum: u32 = 0;
    let mut symbols = 0usize;
    let mut padding = 0usize;
    for (position, byte) in text.bytes().enumerate() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(Base64Error::Symbol { position, byte }),
        };
        if padding > 0 {
            return Err(Base64Error::Padding);
        }
        quantum = (quantum << 6) | u32::from(sextet);
        symbols += 1;
        if symbols.is_multiple_of(4) {
            out.extend_from_slice(&[(quantum >> 16) as u8, (quantum >> 8) as u8, quantum as u8]);
            quantum = 0;
        }
    }
    match symbols % 4 {
        0 if padding == 0 => {}
        2 if padding == 0 || padding == 2 => out.push((quantum >> 4) as u8),
        3 if padding == 0 || padding == 1 => {
            out.extend_from_slice(&[(quantum >> 10) as u8, (quantum >> 2) as u8]);
        }
        _ => return Err(Base64Error::Length(symbols + padding)),
    }
    Ok(out)
}

/// Reads one loose `pkeyconfig*.xrm-ms` file (`--pkeyconfig FILE`, or one file of an image).
/// `display` is how the file is named in messages and in [`KeyGroupInfo::source_file`].
/// Opened through [`crate::fs_source::open_regular`]: a FIFO or device is refused, never read.
///
/// # Errors
///
/// [`KeyConfigError::Io`] when the file is not a regular file or cannot be read; otherwise
/// as [`parse_key_config`].
pub fn load_key_config_file(path: &Path, display: &str) -> Result<KeyConfigIndex, KeyConfigError> {
    let bytes = crate::fs_source::read_regular(path).map_err(|source| KeyConfigError::Io {
        path: display.to_string(),
        source: source.into_io(),
    })?;
    parse_key_config(&bytes, display)
}

/// Parses the bytes of a `pkeyconfig*.xrm-ms` licence.
///
/// # Errors
///
/// A [`KeyConfigError`] other than `Io` saying which layer could not be parsed: the licence
/// XML, its payload's base64, text encoding or XML, or a key group in it.
pub fn parse_key_config(bytes: &[u8], display: &str) -> Result<KeyConfigIndex, KeyConfigError> {
    let licence = makguard_core::text::decode(bytes);
    let payload_base64 = extract_payload(&licence.text, display)?;
    let payload = decode_base64(&payload_base64).map_err(|source| KeyConfigError::Base64 {
        path: display.to_string(),
        source,
    })?;
    let payload_text = decode_payload_text(&payload).ok_or_else(|| KeyConfigError::PayloadEncoding {
        path: display.to_string(),
    })?;
    parse_product_key_configuration(&payload_text, display)
}

fn local_name_is(element: &BytesStart<'_>, name: &str) -> bool {
    element.local_name().as_ref() == name.as_bytes()
}

fn xml_error(reader: &Reader<&[u8]>, error: impl std::fmt::Display) -> String {
    makguard_core::key::mask_keys_in(&format!("{error} near byte {}", reader.error_position()))
}

/// The base64 text of the `infoBin` whose `name` is `pkeyConfigData`.
fn extract_payload(licence: &str, display: &str) -> Result<String, KeyConfigError> {
    let licence_error = |message: String| KeyConfigError::LicenceXml {
        path: display.to_string(),
        message,
    };
    let mut reader = Reader::from_str(licence);
    let mut payload: Option<String> = None;
    let mut inside_payload = false;
    // A licence cut short must not pass just because its payload came early.
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| licence_error(xml_error(&reader, e)))?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(element)
                if !inside_payload
                    && payload.is_none()
                    && local_name_is(&element, "infoBin")
                    && has_name_attribute(&element, PAYLOAD_NAME) =>
            {
                inside_payload = true;
                payload = Some(String::new());
            }
            Event::Text(text) if inside_payload => {
                let text = text.unescape().map_err(|e| licence_error(xml_error(&reader, e)))?;
                if let Some(payload) = payload.as_mut() {
                    payload.push_str(&text);
                }
            }
            Event::CData(data) if inside_payload => {
                if let Some(payload) = payload.as_mut() {
                    payload.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) if inside_payload => inside_payload = false,
            Event::Eof => break,
            _ => {}
        }
    }
    if inside_payload || depth != 0 {
        return Err(licence_error(
            "the licence ends before its elements are closed".to_string(),
        ));
    }
    payload.ok_or_else(|| KeyConfigError::NoPayload {
        path: display.to_string(),
    })
}

fn has_name_attribute(element: &BytesStart<'_>, wanted: &str) -> bool {
    element.attributes().flatten().any(|attribute| {
        attribute.key.local_name().as_ref() == b"name"
            && attribute
                .unescape_value()
                .is_ok_and(|value| value.trim().eq_ignore_ascii_case(wanted))
    })
}

/// The payload is documented as UTF-8; a BOM (UTF-8 or UTF-16) is honoured, anything that
/// does not decode losslessly is refused rather than guessed at.
fn decode_payload_text(payload: &[u8]) -> Option<String> {
    if let Some(rest) = payload.strip_prefix(b"\xFF\xFE") {
        return decode_utf16le(rest);
    }
    let rest = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    String::from_utf8(rest.to_vec()).ok()
}

fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

/// One `Configuration` as read, before its group is validated.
#[derive(Default)]
struct RawConfiguration {
    act_config_id: String,
    ref_group_id: String,
    edition_id: String,
    description: String,
    product_key_type: String,
}

impl RawConfiguration {
    /// The field a child element of `Configuration` named `element` fills, if any.
    fn field_mut(&mut self, element: &str) -> Option<&mut String> {
        match element {
            "ActConfigId" => Some(&mut self.act_config_id),
            "RefGroupId" => Some(&mut self.ref_group_id),
            "EditionId" => Some(&mut self.edition_id),
            "ProductDescription" => Some(&mut self.description),
            "ProductKeyType" => Some(&mut self.product_key_type),
            _ => None,
        }
    }
}

/// Parses the decoded `ProductKeyConfiguration` document.
pub(crate) fn parse_product_key_configuration(xml: &str, display: &str) -> Result<KeyConfigIndex, KeyConfigError> {
    index_configurations(read_configurations(xml, display)?, display)
}

/// The `Configuration` elements of a `ProductKeyConfiguration` document, as written; an
/// error when the document is not one, does not parse, or holds none.
fn read_configurations(xml: &str, display: &str) -> Result<Vec<RawConfiguration>, KeyConfigError> {
    let payload_error = |message: String| KeyConfigError::PayloadXml {
        path: display.to_string(),
        message,
    };
    let mut reader = Reader::from_str(xml);
    // Local names of the open elements, from the root down.
    let mut open: Vec<String> = Vec::new();
    let mut seen_root = false;
    let mut configurations: Vec<RawConfiguration> = Vec::new();
    let mut current: Option<RawConfiguration> = None;
    loop {
        let event = reader.read_event().map_err(|e| payload_error(xml_error(&reader, e)))?;
        match event {
            Event::Start(element) => {
                let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                if !seen_root {
                    seen_root = true;
                    if name != PAYLOAD_ROOT {
                        return Err(KeyConfigError::NotProductKeyConfiguration {
                            path: display.to_string(),
                            found: name,
                        });
                    }
                }
                open.push(name);
                if is_configuration_path(&open) {
                    current = Some(RawConfiguration::default());
                }
            }
            Event::Empty(element) if !seen_root => {
                let found = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                if found == PAYLOAD_ROOT {
                    return Err(KeyConfigError::NoConfigurations {
                        path: display.to_string(),
                    });
                }
                return Err(KeyConfigError::NotProductKeyConfiguration {
                    path: display.to_string(),
                    found,
                });
            }
            Event::Text(text) if open.len() == 4 && current.is_some() => {
                let text = text.unescape().map_err(|e| payload_error(xml_error(&reader, e)))?;
                if let (Some(configuration), Some(element)) = (current.as_mut(), open.last())
                    && let Some(field) = configuration.field_mut(element)
                {
                    field.push_str(&text);
                }
            }
            Event::End(_) => {
                if is_configuration_path(&open)
                    && let Some(configuration) = current.take()
                {
                    configurations.push(configuration);
                }
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(KeyConfigError::NotProductKeyConfiguration {
            path: display.to_string(),
            found: "(no element)".to_string(),
        });
    }
    if !open.is_empty() {
        return Err(payload_error(format!("element '{}' is not closed", open.join("/"))));
    }
    if configurations.is_empty() {
        return Err(KeyConfigError::NoConfigurations {
            path: display.to_string(),
        });
    }
    Ok(configurations)
}

/// The key groups of `configurations`; an error for the first without a usable group number.
fn index_configurations(
    configurations: Vec<RawConfiguration>,
    display: &str,
) -> Result<KeyConfigIndex, KeyConfigError> {
    let mut index = KeyConfigIndex::default();
    for (position, raw) in configurations.into_iter().enumerate() {
        let group = raw
            .ref_group_id
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&group| group <= 0xF_FFFF)
            .ok_or_else(|| KeyConfigError::BadGroup {
                path: display.to_string(),
                index: position + 1,
                value: raw.ref_group_id.trim().to_string(),
            })?;
        index.insert(KeyGroupInfo {
            group,
            act_config_id: raw.act_config_id.trim().to_string(),
            edition_id: raw.edition_id.trim().to_string(),
            description: raw.description.trim().to_string(),
            product_key_type: raw.product_key_type.trim().to_string(),
            source_file: display.to_string(),
        });
    }
    Ok(index)
}

fn is_configuration_path(open: &[String]) -> bool {
    open.len() == 3 && open[1] == "Configurations" && open[2] == "Configuration"
}

/// A key-configuration file found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfigFile {
    /// Where the file is on this machine (under the image root).
    pub path: PathBuf,
    /// Relative to the image root, `/`-separated, with the file's own letter case.
    pub display: String,
}

/// Where key-configuration files live, relative to an image root (matched without regard to
/// letter case). Windows' own directory comes first: its groups win over Office's.
const WINDOWS_PKEYCONFIG_DIR: &[&str] = &["Windows", "System32", "spp", "tokens", "pkeyconfig"];
const OFFICE_LICENCE_DIRS: &[&[&str]] = &[
    &["Program Files", "Microsoft Office", "root", "Licenses16"],
    &["Program Files (x86)", "Microsoft Office", "root", "Licenses16"],
];

/// A key-configuration file found in an image source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceKeyConfigFile {
    pub path: SourcePath,
    /// Relative to the image root, `/`-separated, with the file's own letter case.
    pub display: String,
}

/// [`find_key_config_files`] over any image source, for the image whose root is `root`.
pub(crate) fn find_key_config_files_in(source: &dyn ImageSource, root: &SourcePath) -> Vec<SourceKeyConfigFile> {
    let mut files = Vec::new();
    let mut add_dir = |names: &[&str], prefix: &str, windows: bool| {
        let Resolved::Found(dir) = resolve_in(source, root, names) else {
            return;
        };
        let Ok(entries) = source.list(&dir) else {
            return;
        };
        let dir_display = names_below(root, &dir);
        let mut found: Vec<SourceKeyConfigFile> = entries
            .into_iter()
            .filter(|entry| entry.entry_type == EntryType::File)
            .filter_map(|entry| {
                let name = entry.name.into_string().ok()?;
                let lower = name.to_ascii_lowercase();
                (lower.starts_with(prefix) && lower.ends_with(".xrm-ms")).then(|| SourceKeyConfigFile {
                    path: dir.join(name.clone()),
                    display: format!("{dir_display}/{name}"),
                })
            })
            .collect();
        if windows {
            found.sort_by_key(|f| (windows_file_rank(&f.display), f.display.to_ascii_lowercase()));
        } else {
            found.sort_by_key(|f| f.display.to_ascii_lowercase());
        }
        files.extend(found);
    };
    add_dir(WINDOWS_PKEYCONFIG_DIR, "pkeyconfig", true);
    for components in OFFICE_LICENCE_DIRS {
        add_dir(components, "pkeyconfig-office", false);
    }
    files
}

/// `path` relative to `root`, `/`-separated.
fn names_below(root: &SourcePath, path: &SourcePath) -> String {
    path.names()[root.names().len().min(path.names().len())..]
        .iter()
        .map(|n| n.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The key-configuration files of the image at `root`, in load order: Windows'
/// `pkeyconfig.xrm-ms`, then `-downlevel`, then `-csvlk`, then any other `pkeyconfig*.xrm-ms`,
/// then Office's `pkeyconfig-office*.xrm-ms`. Links are not followed.
pub fn find_key_config_files(root: &Path) -> Vec<KeyConfigFile> {
    let source = FsSource::new(root);
    find_key_config_files_in(&source, &SourcePath::root())
        .into_iter()
        .map(|file| KeyConfigFile {
            path: source.path_of(&file.path),
            display: file.display,
        })
        .collect()
}

fn windows_file_rank(display: &str) -> u8 {
    let name = display.rsplit('/').next().unwrap_or(display).to_ascii_lowercase();
    match name.as_str() {
        "pkeyconfig.xrm-ms" => 0,
        "pkeyconfig-downlevel.xrm-ms" => 1,
        "pkeyconfig-csvlk.xrm-ms" => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (encoded, decoded) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9v\r\n YmFy", "foobar"),
            ("Zm9vYg", "foob"),
        ] {
            assert_eq!(decode_base64(encoded).unwrap(), decoded.as_bytes(), "{encoded}");
        }
        assert!(matches!(
            decode_base64("Zm9v!"),
            Err(Base64Error::Symbol { position: 4, .. })
        ));
        assert_eq!(decode_base64("Zg==Zg=="), Err(Base64Error::Padding));
        assert!(matches!(decode_base64("Z"), Err(Base64Error::Length(1))));
        assert!(matches!(decode_base64("Zm9=="), Err(Base64Error::Length(_))));
    }
}
