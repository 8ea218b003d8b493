//! What an upload really is, from its first bytes (magic numbers): the declared content type and the
//! file name are never trusted. Images (JPEG, PNG, WebP, HEIC/HEIF, GIF, TIFF) and PDF are accepted; executables and
//! scripts are named as such in the refusal, anything else is refused as unknown.

use serde::Serialize;
use utoipa::ToSchema;

/// Bytes [`sniff`] needs to decide.
pub const SNIFF_BYTES: usize = 64;

/// The content types an attachment may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub enum MediaType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
    #[serde(rename = "image/heic")]
    Heic,
    /// What older phones and messaging apps save (probe p44 L8).
    #[serde(rename = "image/gif")]
    Gif,
    /// What document scanners and fax-to-mail save a scanned receipt as (probe p44 L8).
    #[serde(rename = "image/tiff")]
    Tiff,
    #[serde(rename = "application/pdf")]
    Pdf,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
            MediaType::Heic => "image/heic",
            MediaType::Gif => "image/gif",
            MediaType::Tiff => "image/tiff",
            MediaType::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
            MediaType::Webp => "webp",
            MediaType::Heic => "heic",
            MediaType::Gif => "gif",
            MediaType::Tiff => "tiff",
            MediaType::Pdf => "pdf",
        }
    }
}

/// Why content was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the content is {0}, not an image or a PDF, whatever its name or declared type says")]
    Executable(&'static str),
    #[error(
        "the content is not a JPEG, PNG, WebP, HEIC, GIF or TIFF image nor a PDF (judged by its first bytes, \
         not its name or declared type)"
    )]
    Unknown,
    #[error("the file is empty")]
    Empty,
}

/// Decides from the first bytes (at least [`SNIFF_BYTES`] when the file has them).
pub fn sniff(head: &[u8]) -> Result<MediaType, Refusal> {
    if head.is_empty() {
        return Err(Refusal::Empty);
    }
    let starts = |magic: &[u8]| head.starts_with(magic);
    // Executables first: a refusal that names them is clearer, and none of them is a valid image anyway.
    if starts(b"\x7fELF") {
        return Err(Refusal::Executable("an ELF executable"));
    }
    if starts(b"MZ") {
        return Err(Refusal::Executable("a Windows (MZ/PE) executable"));
    }
    if [
        &[0xfe, 0xed, 0xfa, 0xce][..],
        &[0xfe, 0xed, 0xfa, 0xcf],
        &[0xce, 0xfa, 0xed, 0xfe],
        &[0xcf, 0xfa, 0xed, 0xfe],
        &[0xca, 0xfe, 0xba, 0xbe],
    ]
    .iter()
    .any(|m| starts(m))
    {
        return Err(Refusal::Executable("a Mach-O executable or Java class"));
    }
    if starts(b"#!") {
        return Err(Refusal::Executable("a script (#!)"));
    }
    if starts(b"PK\x03\x04") {
        return Err(Refusal::Executable("a ZIP archive (or JAR/APK)"));
    }
    if starts(&[0xff, 0xd8, 0xff]) {
        return Ok(MediaType::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(MediaType::Png);
    }
    if starts(b"%PDF-") {
        return Ok(MediaType::Pdf);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(MediaType::Gif);
    }
    // TIFF: the byte order (`II` little-endian, `MM` big-endian), then 42 in that order.
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(MediaType::Tiff);
    }
    if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WEBP" {
        return Ok(MediaType::Webp);
    }
    // ISO base media file: size, `ftyp`, then the major brand (ISO/IEC 23008-12 for HEIF).
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        if [
            b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Ok(MediaType::Heic);
        }
    }
    Err(Refusal::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_pdfs_are_told_by_their_magic_bytes() {
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Ok(MediaType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(MediaType::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok(MediaType::Pdf));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Ok(MediaType::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Ok(MediaType::Heic));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Ok(MediaType::Gif));
        assert_eq!(sniff(b"GIF87a\x01\0\x01\0"), Ok(MediaType::Gif));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Ok(MediaType::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Ok(MediaType::Tiff));
        assert_eq!(sniff(b"GIF90a"), Err(Refusal::Unknown));
        assert_eq!(
            sniff(b"II+\0"),
            Err(Refusal::Unknown),
            "BigTIFF is not taken"
        );
    }

    #[test]
    fn executables_scripts_and_unknown_bytes_are_refused() {
        assert!(matches!(
            sniff(b"\x7fELF\x02\x01\x01"),
            Err(Refusal::Executable(_))
        ));
        assert!(matches!(sniff(b"MZ\x90\0"), Err(Refusal::Executable(_))));
        assert!(matches!(
            sniff(b"#!/bin/sh\nrm -rf /"),
            Err(Refusal::Executable(_))
        ));
        assert_eq!(sniff(b"hello, I am a PDF"), Err(Refusal::Unknown));
        assert_eq!(sniff(b" %PDF-1.7"), Err(Refusal::Unknown));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Err(Refusal::Unknown));
        assert_eq!(sniff(b""), Err(Refusal::Empty));
    }
}
