//! The cache file format (K3): a fixed header, then the segment as a
//! MessagePack map. The body is exactly what goes on the wire on upload.
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"TCSEG\r\n\x1a" (catches text-mode mangling, like PNG's)
//!      8     2  format version, little-endian (currently 1)
//!     10     2  reserved, zero
//!     12     8  body length in bytes, little-endian
//!     20     4  CRC-32 of bytes 0..20 followed by the body, little-endian
//!     24     …  body: the segment, MessagePack with field names
//! ```

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::domain::Segment;

pub const MAGIC: [u8; 8] = *b"TCSEG\r\n\x1a";
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 24;
/// The largest a segment file can be: a body larger than the biggest batch
/// the server reads could never be uploaded, so such a file is not one of
/// ours (and is never read whole).
pub const MAX_FILE_BYTES: u64 = (HEADER_LEN + crate::protocol::MAX_BATCH_BYTES) as u64;

/// Why the bytes of a cache file are not a segment.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("file is {0} bytes, shorter than the {HEADER_LEN}-byte header (truncated?)")]
    TooShort(usize),
    #[error("not a Timecard segment file (wrong magic bytes)")]
    BadMagic,
    #[error(
        "segment file format version {0} is not supported by this version of Timecard (it reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u16),
    #[error("body is {actual} bytes but the header says {expected} (truncated or appended to)")]
    LengthMismatch { expected: u64, actual: u64 },
    #[error(
        "checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is corrupted"
    )]
    Checksum { stored: u32, computed: u32 },
    #[error("checksum is right but the segment does not decode: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("segment could not be encoded: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Encodes the body alone: what the uploader sends.
pub fn encode_body(segment: &Segment) -> Result<Vec<u8>, FormatError> {
    Ok(rmp_serde::to_vec_named(segment)?)
}

/// Decodes a body as it came off the wire or out of a file.
pub fn decode_body(body: &[u8]) -> Result<Segment, FormatError> {
    Ok(rmp_serde::from_slice(body)?)
}

/// The id of a segment body, without decoding its other fields (they are
/// skipped, not copied): for a body too large to decode whole.
pub fn body_id(body: &[u8]) -> Result<crate::domain::SegmentId, FormatError> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: crate::domain::SegmentId,
    }
    Ok(rmp_serde::from_slice::<Id>(body)?.id)
}

/// Encodes a whole cache file: header, checksum, body.
pub fn encode_file(segment: &Segment) -> Result<Vec<u8>, FormatError> {
    let body = encode_body(segment)?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[..20]);
    crc.update(&body);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Checks header, length and checksum and returns the body, undecoded.
pub fn verified_body(file: &[u8]) -> Result<&[u8], FormatError> {
    if file.len() < HEADER_LEN {
        return Err(FormatError::TooShort(file.len()));
    }
    if file[..8] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = u16::from_le_bytes([file[8], file[9]]);
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    let expected = u64::from_le_bytes(file[12..20].try_into().expect("8 bytes"));
    let body = &file[HEADER_LEN..];
    if body.len() as u64 != expected {
        return Err(FormatError::LengthMismatch {
            expected,
            actual: body.len() as u64,
        });
    }
    let stored = u32::from_le_bytes(file[20..24].try_into().expect("4 bytes"));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&file[..20]);
    crc.update(body);
    let computed = crc.finalize();
    if stored != computed {
        return Err(FormatError::Checksum { stored, computed });
    }
    Ok(body)
}

/// The start and end of the segment in a whole cache file, without
/// copying its screenshot (the other fields are skipped, not decoded).
pub fn segment_span(file: &[u8]) -> Result<(DateTime<Utc>, DateTime<Utc>), FormatError> {
    #[derive(serde::Deserialize)]
    struct Span {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    }
    let span: Span = rmp_serde::from_slice(verified_body(file)?)?;
    Ok((span.start, span.end))
}

/// Checks and decodes a whole cache file.
pub fn decode_file(file: &[u8]) -> Result<Segment, FormatError> {
    decode_body(verified_body(file)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Activity, Screenshot, SegmentId};

    fn sample() -> Segment {
        Segment {
            id: SegmentId::random(),
            contract_id: "c1".into(),
            device_id: "dev".into(),
            start: "2026-11-25T09:10:00Z".parse().unwrap(),
            end: "2026-11-25T09:20:00Z".parse().unwrap(),
            memo: "API work".into(),
            activity: Activity(0b1010101010),
            screenshot: Some(Screenshot {
                taken_at: "2026-11-25T09:14:12Z".parse().unwrap(),
                jpeg: vec![0xff, 0xd8, 1, 2, 3],
                thumbnail: vec![0xff, 0xd8, 4],
            }),
            capture_note: None,
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        assert_eq!(decode_file(&encode_file(&s).unwrap()).unwrap(), s);
        assert_eq!(
            segment_span(&encode_file(&s).unwrap()).unwrap(),
            (s.start, s.end)
        );
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let bytes = encode_file(&sample()).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(
                decode_file(&bad).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
    }

    #[test]
    fn every_truncation_is_caught() {
        let bytes = encode_file(&sample()).unwrap();
        for len in 0..bytes.len() {
            assert!(
                decode_file(&bytes[..len]).is_err(),
                "truncation to {len} went unnoticed"
            );
        }
    }

    #[test]
    fn foreign_and_future_files_are_named_as_such() {
        assert!(matches!(
            decode_file(b"hello, this is a text file"),
            Err(FormatError::BadMagic)
        ));
        let mut future = encode_file(&sample()).unwrap();
        future[8] = 9;
        assert!(matches!(
            decode_file(&future),
            Err(FormatError::UnsupportedVersion(9))
        ));
    }
}
