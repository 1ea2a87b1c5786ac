//! Bytes → text: encoding detection and the checks that reject input
//! which is not a text page at all.
//!
//! Policy:
//! - UTF-8 (with or without a BOM) is taken as is.
//! - UTF-16 with a BOM is decoded.
//! - Invalid UTF-8 is decoded as Windows-1251 when the result reads as
//!   Cyrillic text (mostly Cyrillic letters, mostly lower case); a file
//!   that is UTF-8 except for a few corrupt bytes is decoded as UTF-8
//!   with U+FFFD in their place. Anything else is an error.
//! - NUL bytes, or control bytes making up more than 1 % of the file,
//!   mean binary data: an error. Fewer stray control bytes are kept and
//!   later treated as whitespace.
//! - Empty or whitespace-only input is an error.
use crate::error::{Error, Result};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1251};
use std::path::Path;

/// Text decoded from a file, with the name of the encoding it was in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// `utf-8`, `utf-16le`, `utf-16be` or `windows-1251`.
    pub encoding: &'static str,
}

/// Decode the bytes of the file at `path` (used only in error messages).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Decoded> {
    let decoded = decode_any(path, bytes)?;
    if decoded.text.chars().all(crate::segment::is_space) {
        return Err(Error::article(path, "empty file (no text)"));
    }
    Ok(decoded)
}

fn decode_any(path: &Path, bytes: &[u8]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::article(path, "empty file"));
    }
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        if encoding == UTF_16LE || encoding == UTF_16BE {
            let (text, had_errors) = encoding.decode_without_bom_handling(body);
            if had_errors {
                return Err(Error::article(
                    path,
                    "invalid UTF-16 despite its byte-order mark",
                ));
            }
            check_controls(path, text.as_bytes())?;
            let name = if encoding == UTF_16LE {
                "utf-16le"
            } else {
                "utf-16be"
            };
            return Ok(Decoded {
                text: text.into_owned(),
                encoding: name,
            });
        }
        // UTF-8 BOM: drop it and go on.
        return decode_8bit(path, body);
    }
    decode_8bit(path, bytes)
}

fn decode_8bit(path: &Path, bytes: &[u8]) -> Result<Decoded> {
    check_controls(path, bytes)?;
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: text.to_owned(),
            encoding: "utf-8",
        });
    }
    if is_mostly_utf8(bytes) {
        return Ok(Decoded {
            text: String::from_utf8_lossy(bytes).into_owned(),
            encoding: "utf-8",
        });
    }
    let (text, _, _) = WINDOWS_1251.decode(bytes);
    if reads_as_cyrillic(&text) {
        return Ok(Decoded {
            text: text.into_owned(),
            encoding: "windows-1251",
        });
    }
    Err(Error::article(
        path,
        "unknown text encoding: not UTF-8, and not Windows-1251 Cyrillic text",
    ))
}

/// Reject binary data: any NUL byte, or more than 1 % control bytes
/// (other than tab, line feed, carriage return and form feed).
fn check_controls(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::article(
            path,
            format!("binary data, not text (NUL byte at offset {at})"),
        ));
    }
    let controls = bytes
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)) || b == 0x7f)
        .count();
    if controls * 100 > bytes.len() {
        return Err(Error::article(
            path,
            format!(
                "binary data, not text ({controls} control bytes in {} bytes)",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// UTF-8 with a few corrupt bytes: valid multi-byte characters outnumber
/// invalid sequences at least 20 to 1.
fn is_mostly_utf8(bytes: &[u8]) -> bool {
    let mut multibyte = 0usize;
    let mut invalid = 0usize;
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    multibyte >= 20 * invalid.max(1)
}

/// Text decoded as Windows-1251 is plausible when at least 85 % of its
/// non-ASCII characters are Cyrillic letters or typographic marks, and
/// most Cyrillic letters are lower case (KOI8-U or UTF-8 read as
/// Windows-1251 gives mostly capitals or symbols).
fn reads_as_cyrillic(text: &str) -> bool {
    let mut non_ascii = 0usize;
    let mut cyrillic = 0usize;
    let mut lower = 0usize;
    let mut marks = 0usize;
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if ('\u{400}'..='\u{4ff}').contains(&c) {
            cyrillic += 1;
            if c.is_lowercase() {
                lower += 1;
            }
        } else if matches!(
            c,
            '«' | '»'
                | '–'
                | '—'
                | '’'
                | '‘'
                | '“'
                | '”'
                | '„'
                | '…'
                | '№'
                | '\u{a0}'
                | '°'
                | '€'
        ) {
            marks += 1;
        }
    }
    cyrillic > 0 && (cyrillic + marks) * 100 >= non_ascii * 85 && lower * 2 >= cyrillic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_bom() {
        let p = Path::new("a.txt");
        let d = decode(p, "Привіт".as_bytes()).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Привіт", "utf-8"));
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice("Привіт".as_bytes());
        assert_eq!(decode(p, &bom).unwrap().text, "Привіт");
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "Київ".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode(Path::new("a.txt"), &bytes).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("Київ", "utf-16le"));
    }

    #[test]
    fn koi8_is_not_taken_for_windows_1251() {
        let (bytes, _, _) = encoding_rs::KOI8_U.encode("Міністр оборони провів зустріч у Брюсселі");
        let err = decode(Path::new("k.txt"), &bytes).unwrap_err();
        assert!(err.to_string().contains("unknown text encoding"), "{err}");
    }
}
