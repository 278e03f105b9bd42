//! Keeps a rewritten WIM's XML data true: each changed image's `<TOTALBYTES>` and
//! `<HARDLINKBYTES>` move by the size its files changed by, and the WIM's own `<TOTALBYTES>`
//! (the offset of the XML data, as wimlib writes it) follows the XML's new place. Everything
//! else in the XML (names, editions, times) is kept as it was, character for character.

use crate::error::WimError;

const BOM: [u8; 2] = [0xFF, 0xFE];

/// How one image's byte counts change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ImageSizeDelta {
    pub(crate) total_bytes: i128,
    pub(crate) hard_link_bytes: i128,
}

/// The XML data `raw` (UTF-16LE with a BOM) with the changes applied.
pub(crate) fn patch(raw: &[u8], deltas: &[(u32, ImageSizeDelta)], new_xml_offset: u64) -> Result<Vec<u8>, WimError> {
    let bad = |message: &str| WimError::BadXml(message.to_owned());
    let body = raw
        .strip_prefix(&BOM)
        .ok_or_else(|| bad("no UTF-16LE byte-order mark"))?;
    if !body.len().is_multiple_of(2) {
        return Err(bad("an odd number of bytes"));
    }
    let units: Vec<u16> = body.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    let mut text = String::from_utf16(&units).map_err(|_| bad("not valid UTF-16"))?;
    for &(image, delta) in deltas {
        let (start, end) = image_span(&text, image).ok_or_else(|| bad("an image element is missing"))?;
        let mut element = text[start..end].to_owned();
        element = shift_number(&element, "TOTALBYTES", delta.total_bytes);
        element = shift_number(&element, "HARDLINKBYTES", delta.hard_link_bytes);
        text.replace_range(start..end, &element);
    }
    text = set_wim_total_bytes(&text, new_xml_offset);
    let mut out = BOM.to_vec();
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    Ok(out)
}

/// The byte range of `<IMAGE INDEX="n">…</IMAGE>`.
fn image_span(text: &str, image: u32) -> Option<(usize, usize)> {
    let start = text.find(&format!("<IMAGE INDEX=\"{image}\""))?;
    let end = start + text[start..].find("</IMAGE>")? + "</IMAGE>".len();
    Some((start, end))
}

/// `element` with the first `<tag>n</tag>` directly in it (not in a nested image) moved by
/// `delta`; unchanged when the tag is absent or not a number.
fn shift_number(element: &str, tag: &str, delta: i128) -> String {
    if delta == 0 {
        return element.to_owned();
    }
    let Some((start, end, value)) = number_at(element, tag, 0) else {
        return element.to_owned();
    };
    let shifted = (i128::from(value) + delta).max(0);
    format!("{}{shifted}{}", &element[..start], &element[end..])
}

/// The WIM-level `<TOTALBYTES>`: the one after the last `</IMAGE>` (or the only one when there
/// are no images), set to `value`.
fn set_wim_total_bytes(text: &str, value: u64) -> String {
    let from = text.rfind("</IMAGE>").unwrap_or(0);
    match number_at(text, "TOTALBYTES", from) {
        Some((start, end, _)) => format!("{}{value}{}", &text[..start], &text[end..]),
        None => text.to_owned(),
    }
}

/// The first `<tag>digits</tag>` at or after `from`: where the digits start and end, and
/// their value.
fn number_at(text: &str, tag: &str, from: usize) -> Option<(usize, usize, u64)> {
    let open = format!("<{tag}>");
    let start = from + text[from..].find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{tag}>"))?;
    let value = text[start..end].trim().parse().ok()?;
    Some((start, end, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        let mut out = BOM.to_vec();
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    #[test]
    fn only_the_changed_image_and_the_wim_total_move() {
        let xml = "<WIM><TOTALBYTES>1</TOTALBYTES><IMAGE INDEX=\"1\"><TOTALBYTES>100</TOTALBYTES></IMAGE>\
<IMAGE INDEX=\"2\"><NAME>é</NAME><TOTALBYTES>200</TOTALBYTES><HARDLINKBYTES>6</HARDLINKBYTES></IMAGE>\
<TOTALBYTES>999</TOTALBYTES></WIM>";
        let delta = ImageSizeDelta {
            total_bytes: -3,
            hard_link_bytes: 4,
        };
        let out = patch(&utf16(xml), &[(2, delta)], 4242).unwrap();
        let expected = "<WIM><TOTALBYTES>1</TOTALBYTES><IMAGE INDEX=\"1\"><TOTALBYTES>100</TOTALBYTES></IMAGE>\
<IMAGE INDEX=\"2\"><NAME>é</NAME><TOTALBYTES>197</TOTALBYTES><HARDLINKBYTES>10</HARDLINKBYTES></IMAGE>\
<TOTALBYTES>4242</TOTALBYTES></WIM>";
        assert_eq!(out, utf16(expected));
    }

    #[test]
    fn xml_without_a_bom_is_refused() {
        assert!(patch(b"<\0W\0", &[], 0).is_err());
    }
}
