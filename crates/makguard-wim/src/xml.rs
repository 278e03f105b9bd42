//! The XML data: per-image names and the Windows edition, architecture and version the
//! capturing tool copied from the image's registry (a convenience: the hive is the authority).

use quick_xml::events::Event;

use crate::error::WimError;

/// What the XML data says about one image. Every field is `None` when the XML omits it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image's index (1-based), as in `wimlib-imagex dir X.wim INDEX`.
    pub index: u32,
    /// `NAME`.
    pub name: Option<String>,
    /// `DESCRIPTION`.
    pub description: Option<String>,
    /// `DISPLAYNAME`.
    pub display_name: Option<String>,
    /// `WINDOWS/EDITIONID`, e.g. `Professional`.
    pub edition_id: Option<String>,
    /// `WINDOWS/ARCH`: 0 x86, 5 ARM, 6 IA64, 9 x64, 12 ARM64.
    pub arch: Option<String>,
    /// `WINDOWS/PRODUCTNAME`.
    pub product_name: Option<String>,
    /// `WINDOWS/INSTALLATIONTYPE`, e.g. `Client`, `Server`.
    pub installation_type: Option<String>,
    /// `WINDOWS/VERSION/MAJOR`.
    pub major: Option<u32>,
    /// `WINDOWS/VERSION/MINOR`.
    pub minor: Option<u32>,
    /// `WINDOWS/VERSION/BUILD`.
    pub build: Option<u32>,
    /// `WINDOWS/VERSION/SPBUILD`.
    pub sp_build: Option<u32>,
    /// `FILECOUNT`.
    pub file_count: Option<u64>,
    /// `DIRCOUNT`.
    pub dir_count: Option<u64>,
}

/// The parsed XML data.
#[derive(Debug, Default)]
pub(crate) struct XmlData {
    pub(crate) images: Vec<ImageInfo>,
    pub(crate) encrypted_esd: bool,
}

/// Decodes UTF-16LE (with or without its BOM) to text, replacing unpaired surrogates.
pub(crate) fn decode_utf16le(bytes: &[u8]) -> Result<String, WimError> {
    let bytes = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
    if !bytes.len().is_multiple_of(2) {
        return Err(WimError::BadXml("odd number of bytes in UTF-16 text".to_owned()));
    }
    let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    Ok(char::decode_utf16(units)
        .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

pub(crate) fn parse(bytes: &[u8]) -> Result<XmlData, WimError> {
    if bytes.is_empty() {
        return Ok(XmlData::default());
    }
    let text = decode_utf16le(bytes)?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut data = XmlData::default();
    let mut path: Vec<String> = Vec::new();
    loop {
        match reader.read_event() {
            Err(error) => return Err(WimError::BadXml(error.to_string())),
            Ok(Event::Eof) if path.is_empty() => break,
            Ok(Event::Eof) => return Err(WimError::BadXml(format!("<{}> is not closed", path.join("><")))),
            Ok(Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).to_ascii_uppercase();
                if name == "IMAGE" && path.len() == 1 {
                    data.images.push(ImageInfo {
                        index: image_index(&start)?,
                        ..ImageInfo::default()
                    });
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(text)) => {
                let value = text.unescape().map_err(|error| WimError::BadXml(error.to_string()))?;
                record(&mut data, &path, value.trim());
            }
            Ok(_) => {}
        }
    }
    Ok(data)
}

fn image_index(start: &quick_xml::events::BytesStart<'_>) -> Result<u32, WimError> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| WimError::BadXml(error.to_string()))?;
        if attribute.key.as_ref().eq_ignore_ascii_case(b"INDEX") {
            let value = String::from_utf8_lossy(&attribute.value).into_owned();
            return value
                .trim()
                .parse()
                .map_err(|_| WimError::BadXml(format!("IMAGE INDEX {value:?} is not a number")));
        }
    }
    Err(WimError::BadXml("an IMAGE element without INDEX".to_owned()))
}

fn record(data: &mut XmlData, path: &[String], value: &str) {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    if let ["WIM", "ESD", "ENCRYPTED"] = names.as_slice() {
        data.encrypted_esd = value != "0";
        return;
    }
    let Some(image) = data.images.last_mut() else {
        return;
    };
    let text = Some(value.to_owned());
    let number = value.parse().ok();
    match names.as_slice() {
        ["WIM", "IMAGE", "NAME"] => image.name = text,
        ["WIM", "IMAGE", "DESCRIPTION"] => image.description = text,
        ["WIM", "IMAGE", "DISPLAYNAME"] => image.display_name = text,
        ["WIM", "IMAGE", "FILECOUNT"] => image.file_count = value.parse().ok(),
        ["WIM", "IMAGE", "DIRCOUNT"] => image.dir_count = value.parse().ok(),
        ["WIM", "IMAGE", "WINDOWS", "EDITIONID"] => image.edition_id = text,
        ["WIM", "IMAGE", "WINDOWS", "ARCH"] => image.arch = text,
        ["WIM", "IMAGE", "WINDOWS", "PRODUCTNAME"] => image.product_name = text,
        ["WIM", "IMAGE", "WINDOWS", "INSTALLATIONTYPE"] => image.installation_type = text,
        ["WIM", "IMAGE", "WINDOWS", "VERSION", "MAJOR"] => image.major = number,
        ["WIM", "IMAGE", "WINDOWS", "VERSION", "MINOR"] => image.minor = number,
        ["WIM", "IMAGE", "WINDOWS", "VERSION", "BUILD"] => image.build = number,
        ["WIM", "IMAGE", "WINDOWS", "VERSION", "SPBUILD"] => image.sp_build = number,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect()
    }

    #[test]
    fn windows_fields_come_from_each_image() {
        let xml = "<WIM><TOTALBYTES>1</TOTALBYTES>\
<IMAGE INDEX=\"1\"><NAME>Windows 11 Pro</NAME><DIRCOUNT>3</DIRCOUNT><FILECOUNT>7</FILECOUNT>\
<WINDOWS><ARCH>9</ARCH><PRODUCTNAME>Microsoft&#174; Windows&#174; Operating System</PRODUCTNAME>\
<EDITIONID>Professional</EDITIONID><INSTALLATIONTYPE>Client</INSTALLATIONTYPE>\
<VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>22631</BUILD><SPBUILD>2861</SPBUILD></VERSION>\
</WINDOWS></IMAGE><IMAGE INDEX=\"2\"><NAME>Second &amp; last</NAME></IMAGE></WIM>";
        let data = parse(&utf16(xml)).unwrap();
        assert!(!data.encrypted_esd);
        let first = &data.images[0];
        assert_eq!(first.index, 1);
        assert_eq!(first.name.as_deref(), Some("Windows 11 Pro"));
        assert_eq!(first.edition_id.as_deref(), Some("Professional"));
        assert_eq!(first.arch.as_deref(), Some("9"));
        assert_eq!(
            first.product_name.as_deref(),
            Some("Microsoft® Windows® Operating System")
        );
        assert_eq!(first.installation_type.as_deref(), Some("Client"));
        assert_eq!(
            (first.major, first.minor, first.build, first.sp_build),
            (Some(10), Some(0), Some(22631), Some(2861))
        );
        assert_eq!((first.dir_count, first.file_count), (Some(3), Some(7)));
        assert_eq!(data.images[1].name.as_deref(), Some("Second & last"));
        assert_eq!(data.images[1].edition_id, None);
    }

    #[test]
    fn esd_encryption_marker_and_bad_xml() {
        let data = parse(&utf16("<WIM><ESD><ENCRYPTED>1</ENCRYPTED></ESD></WIM>")).unwrap();
        assert!(data.encrypted_esd);
        assert!(matches!(
            parse(&utf16("<WIM><IMAGE INDEX=\"1\">")),
            Err(WimError::BadXml(_))
        ));
        assert!(matches!(
            parse(&utf16("<WIM><IMAGE INDEX=\"x\"></IMAGE></WIM>")),
            Err(WimError::BadXml(_))
        ));
        assert!(matches!(parse(&[0xFF, 0xFE, 0x41]), Err(WimError::BadXml(_))));
    }
}
