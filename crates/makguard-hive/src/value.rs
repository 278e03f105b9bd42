//! [`Value`] and [`ValueData`]: value (`vk`) parsing, data resolution
//! (inline, single cell, big data `db` segments) and typed interpretation.

use crate::error::{HiveError, corrupt};
use crate::hive::Hive;
use crate::text::{decode_latin1, decode_multi_sz, decode_utf16le_all, decode_utf16le_lossy};

const VK_FIXED: usize = 0x14;
const VK_FLAG_COMP_NAME: u16 = 0x0001;
const DATA_INLINE: u32 = 0x8000_0000;
/// Payload bytes carried by each big-data segment but the last.
const DB_SEGMENT: usize = 16344;

/// REG_* type numbers, for matching on [`Value::value_type`].
pub mod reg_type {
    /// No defined type.
    pub const NONE: u32 = 0;
    /// NUL-terminated UTF-16LE string.
    pub const SZ: u32 = 1;
    /// String with unexpanded `%VAR%` references.
    pub const EXPAND_SZ: u32 = 2;
    /// Arbitrary bytes.
    pub const BINARY: u32 = 3;
    /// 32-bit little-endian number.
    pub const DWORD: u32 = 4;
    /// 32-bit big-endian number.
    pub const DWORD_BIG_ENDIAN: u32 = 5;
    /// Symbolic link target (UTF-16LE).
    pub const LINK: u32 = 6;
    /// List of strings.
    pub const MULTI_SZ: u32 = 7;
    /// Device resource list.
    pub const RESOURCE_LIST: u32 = 8;
    /// Full resource descriptor.
    pub const FULL_RESOURCE_DESCRIPTOR: u32 = 9;
    /// Resource requirements list.
    pub const RESOURCE_REQUIREMENTS_LIST: u32 = 10;
    /// 64-bit little-endian number.
    pub const QWORD: u32 = 11;
}

/// A value of a [`crate::Key`]. Cheap to clone; borrows the [`Hive`].
#[derive(Debug, Clone)]
pub struct Value<'h> {
    hive: &'h Hive,
    offset: u32,
    name: String,
    value_type: u32,
    size_field: u32,
    data_offset: u32,
}

/// Value data interpreted according to its type.
///
/// Data that does not fit its declared type (a DWORD that is not 4 bytes, a
/// `REG_NONE` that carries bytes, any unknown type) is returned as
/// [`ValueData::Other`] with the raw bytes, so nothing is hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueData {
    /// `REG_SZ`, decoded up to the first NUL.
    Sz(String),
    /// `REG_EXPAND_SZ`, decoded up to the first NUL (not expanded).
    ExpandSz(String),
    /// `REG_MULTI_SZ`; trailing empty strings dropped, inner ones kept.
    MultiSz(Vec<String>),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
    /// `REG_DWORD` with exactly 4 bytes.
    Dword(u32),
    /// `REG_DWORD_BIG_ENDIAN` with exactly 4 bytes.
    DwordBigEndian(u32),
    /// `REG_QWORD` with exactly 8 bytes.
    Qword(u64),
    /// `REG_NONE` without data.
    None,
    /// Any other type, or data that does not fit its type.
    Other {
        /// The raw REG_* number.
        value_type: u32,
        /// The raw data.
        data: Vec<u8>,
    },
}

impl ValueData {
    /// Interprets raw bytes as a value of type `value_type`.
    pub fn from_raw(value_type: u32, data: Vec<u8>) -> ValueData {
        match value_type {
            reg_type::SZ => ValueData::Sz(decode_utf16le_lossy(&data)),
            reg_type::EXPAND_SZ => ValueData::ExpandSz(decode_utf16le_lossy(&data)),
            reg_type::MULTI_SZ => ValueData::MultiSz(decode_multi_sz(&data)),
            reg_type::BINARY => ValueData::Binary(data),
            reg_type::DWORD => match <[u8; 4]>::try_from(data.as_slice()) {
                Ok(b) => ValueData::Dword(u32::from_le_bytes(b)),
                Err(_) => ValueData::Other { value_type, data },
            },
            reg_type::DWORD_BIG_ENDIAN => match <[u8; 4]>::try_from(data.as_slice()) {
                Ok(b) => ValueData::DwordBigEndian(u32::from_be_bytes(b)),
                Err(_) => ValueData::Other { value_type, data },
            },
            reg_type::QWORD => match <[u8; 8]>::try_from(data.as_slice()) {
                Ok(b) => ValueData::Qword(u64::from_le_bytes(b)),
                Err(_) => ValueData::Other { value_type, data },
            },
            reg_type::NONE if data.is_empty() => ValueData::None,
            _ => ValueData::Other { value_type, data },
        }
    }
}

impl<'h> Value<'h> {
    pub(crate) fn parse(hive: &'h Hive, offset: u32) -> Result<Value<'h>, HiveError> {
        let cell = hive.cell(offset)?;
        if cell.signature() != b"vk" {
            return Err(corrupt(offset, "expected a key value (vk)"));
        }
        if cell.data.len() < VK_FIXED {
            return Err(corrupt(offset, "key value shorter than its fixed fields"));
        }
        let name_len = usize::from(cell.u16(0x02, "value name length")?);
        let flags = cell.u16(0x10, "value flags")?;
        let raw_name = cell.bytes(VK_FIXED, name_len, "value name extends beyond its cell")?;
        let name = if flags & VK_FLAG_COMP_NAME != 0 {
            decode_latin1(raw_name)
        } else {
            decode_utf16le_all(raw_name)
        };
        Ok(Value {
            hive,
            offset,
            name,
            size_field: cell.u32(0x04, "value data size")?,
            data_offset: cell.u32(0x08, "value data offset")?,
            value_type: cell.u32(0x0C, "value type")?,
        })
    }

    pub(crate) fn name_ref(&self) -> &str {
        &self.name
    }
}

impl Value<'_> {
    /// The value's name; `""` for the key's default value.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The raw REG_* type number (see [`reg_type`]).
    pub fn value_type(&self) -> u32 {
        self.value_type
    }

    /// How many data bytes the value declares, without reading them: lets a
    /// caller skip data too short to matter.
    pub fn data_len(&self) -> u32 {
        self.size_field & !DATA_INLINE
    }

    /// The data bytes, exactly as many as the value declares, wherever they
    /// are stored: inline in the value record, in one cell, or spread over
    /// big-data (`db`) segments.
    ///
    /// # Errors
    ///
    /// [`HiveError::Corrupt`] when the data cell or a big-data segment is out
    /// of bounds or shorter than the declared length;
    /// [`HiveError::WorkBudgetExhausted`] once the work budget has run out;
    /// [`HiveError::Io`] when a hive read on demand from its file cannot be read.
    pub fn raw_data(&self) -> Result<Vec<u8>, HiveError> {
        let len = self.size_field & !DATA_INLINE;
        let len_usize = usize::try_from(len).map_err(|_| corrupt(self.offset, "value data size out of range"))?;
        if self.size_field & DATA_INLINE != 0 {
            // Up to four bytes live in the data offset field itself.
            return self
                .data_offset
                .to_le_bytes()
                .get(..len_usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| corrupt(self.offset, "inline value data longer than 4 bytes"));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let cell = self.hive.cell(self.data_offset)?;
        if let Some(bytes) = cell.data.get(..len_usize) {
            return Ok(bytes.to_vec());
        }
        // Data larger than its cell can only be big data: a `db` record
        // pointing at segments. Windows writes these from format 1.4 on for
        // data over 16344 bytes; the record is accepted whatever the version
        // because a small cell cannot hold the data any other way.
        if cell.signature() == b"db" {
            return self.big_data(cell.offset, len_usize);
        }
        Err(corrupt(self.data_offset, "value data larger than the cell holding it"))
    }

    fn big_data(&self, db_offset: u32, len: usize) -> Result<Vec<u8>, HiveError> {
        let db = self.hive.cell(db_offset)?;
        let count = usize::from(db.u16(2, "big data segment count")?);
        let list = self.hive.cell(db.u32(4, "big data segment list")?)?;
        // Each segment carries at most DB_SEGMENT bytes, so a count that
        // cannot cover `len` is corrupt; checking first also keeps the
        // allocation below bounded by real cell contents.
        if count.saturating_mul(DB_SEGMENT) < len {
            return Err(corrupt(db_offset, "big data has too few segments"));
        }
        if count.saturating_mul(4) > list.data.len() {
            return Err(corrupt(list.offset, "big data segment list shorter than its count"));
        }
        self.hive.charge(count as u64)?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..count {
            if out.len() >= len {
                break;
            }
            let seg_off = list.u32(i * 4, "big data segment list entry")?;
            if !seen.insert(seg_off) {
                return Err(corrupt(seg_off, "big data uses the same segment twice"));
            }
            let seg = self.hive.cell(seg_off)?;
            let want = (len - out.len()).min(DB_SEGMENT);
            let bytes = seg
                .data
                .get(..want)
                .ok_or_else(|| corrupt(seg_off, "big data segment shorter than its share"))?;
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }

    /// The data interpreted according to the value's type.
    ///
    /// # Errors
    ///
    /// As [`Value::raw_data`].
    pub fn data(&self) -> Result<ValueData, HiveError> {
        Ok(ValueData::from_raw(self.value_type, self.raw_data()?))
    }

    /// The string of a `REG_SZ` or `REG_EXPAND_SZ` value (not expanded);
    /// `None` for other types.
    ///
    /// # Errors
    ///
    /// As [`Value::raw_data`], for a string value.
    pub fn as_string(&self) -> Result<Option<String>, HiveError> {
        match self.value_type {
            reg_type::SZ | reg_type::EXPAND_SZ => Ok(Some(decode_utf16le_lossy(&self.raw_data()?))),
            _ => Ok(None),
        }
    }
}
