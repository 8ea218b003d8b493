//! A ZIP archive of stored (uncompressed) files, written as it is sent: each file's local header and
//! content, then the central directory. Receipts and documents are JPEG, PNG, PDF and the like — compressed
//! already —, so the archive stores them as they are, and its length is known before the first byte
//! ([`Archive::length`]), which lets a download show its progress.
//!
//! The format is PKWARE's `APPNOTE.TXT` (version 6.3.10) without ZIP64: at most [`MAX_FILES`] files and
//! every offset and size under 4 GiB ([`Archive::length`] refuses more). Names are UTF-8 (general purpose
//! flag bit 11); times are the DOS fields, in UTC, to the even second.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Files an archive without ZIP64 can list (its end record counts them in 16 bits).
pub const MAX_FILES: usize = 0xFFFF;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0 needed to extract (stored files, names in UTF-8).
const VERSION_NEEDED: u16 = 20;
/// Made by UNIX (3, so the external attributes are a mode) with version 2.0.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// General purpose bit 11: the name is UTF-8.
const UTF8_NAMES: u16 = 1 << 11;
/// A regular file, `rw-r--r--`, in the high half of the external attributes.
const FILE_MODE: u32 = 0o100_644 << 16;
const LOCAL_HEADER_LEN: u64 = 30;
const CENTRAL_HEADER_LEN: u64 = 46;
const END_LEN: u64 = 22;

/// Why an archive cannot hold the files asked of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error("{0} files; a ZIP archive without ZIP64 holds at most {MAX_FILES}")]
    Files(usize),
    #[error("{0} bytes; a ZIP archive without ZIP64 holds under 4 GiB")]
    Bytes(u64),
    #[error("a file name of {0} bytes; at most 65,535")]
    Name(usize),
}

/// A file written, as the central directory lists it.
struct Written {
    name: String,
    crc: u32,
    size: u32,
    time: u16,
    date: u16,
    offset: u32,
}

/// The archive being written: what it has sent so far.
#[derive(Default)]
pub struct Archive {
    written: Vec<Written>,
    offset: u64,
}

impl Archive {
    pub fn new() -> Archive {
        Archive::default()
    }

    /// The archive's length in bytes for files of these names and sizes, or why it cannot hold them.
    pub fn length<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Result<u64, TooLarge> {
        let (mut count, mut length) = (0usize, END_LEN);
        for (name, size) in files {
            if name.len() > usize::from(u16::MAX) {
                return Err(TooLarge::Name(name.len()));
            }
            count += 1;
            let name = name.len() as u64;
            length = length.saturating_add(LOCAL_HEADER_LEN + CENTRAL_HEADER_LEN + 2 * name);
            length = length.saturating_add(size);
        }
        if count > MAX_FILES {
            return Err(TooLarge::Files(count));
        }
        if length > u64::from(u32::MAX) {
            return Err(TooLarge::Bytes(length));
        }
        Ok(length)
    }

    /// The local header of a file and its content, to send next. The archive must have been sized by
    /// [`Archive::length`] (names, count and offsets fit their fields).
    pub fn file(&mut self, name: &str, modified: DateTime<Utc>, content: &[u8]) -> Vec<u8> {
        let mut out = self.header(name, modified, content);
        out.extend_from_slice(content);
        out
    }

    /// The local header of a file, to send next with the file's content right after it (not copied here).
    /// The archive must have been sized by [`Archive::length`].
    pub fn header(&mut self, name: &str, modified: DateTime<Utc>, content: &[u8]) -> Vec<u8> {
        let (time, date) = dos_time(modified);
        let written = Written {
            name: name.to_string(),
            crc: crc32fast::hash(content),
            size: u32::try_from(content.len()).expect("sized by Archive::length"),
            time,
            date,
            offset: u32::try_from(self.offset).expect("sized by Archive::length"),
        };
        let mut out = Vec::with_capacity(LOCAL_HEADER_LEN as usize + name.len());
        put32(&mut out, LOCAL_HEADER);
        put16(&mut out, VERSION_NEEDED);
        put16(&mut out, UTF8_NAMES);
        put16(&mut out, 0); // stored
        put16(&mut out, written.time);
        put16(&mut out, written.date);
        put32(&mut out, written.crc);
        put32(&mut out, written.size); // compressed size: stored, the same
        put32(&mut out, written.size);
        put16(&mut out, name.len() as u16);
        put16(&mut out, 0); // no extra field
        out.extend_from_slice(name.as_bytes());
        self.offset += (out.len() + content.len()) as u64;
        self.written.push(written);
        out
    }

    /// The central directory and its end record: the archive's last bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        for w in &self.written {
            put32(&mut out, CENTRAL_HEADER);
            put16(&mut out, VERSION_MADE_BY);
            put16(&mut out, VERSION_NEEDED);
            put16(&mut out, UTF8_NAMES);
            put16(&mut out, 0);
            put16(&mut out, w.time);
            put16(&mut out, w.date);
            put32(&mut out, w.crc);
            put32(&mut out, w.size);
            put32(&mut out, w.size);
            put16(&mut out, w.name.len() as u16);
            put16(&mut out, 0); // extra field
            put16(&mut out, 0); // comment
            put16(&mut out, 0); // disk number
            put16(&mut out, 0); // internal attributes
            put32(&mut out, FILE_MODE);
            put32(&mut out, w.offset);
            out.extend_from_slice(w.name.as_bytes());
        }
        let entries = self.written.len() as u16;
        let directory = out.len() as u32;
        put32(&mut out, END_OF_CENTRAL_DIRECTORY);
        put16(&mut out, 0); // this disk
        put16(&mut out, 0); // the directory's disk
        put16(&mut out, entries);
        put16(&mut out, entries);
        put32(&mut out, directory);
        put32(&mut out, self.offset as u32);
        put16(&mut out, 0); // comment
        out
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// MS-DOS time and date fields: seconds halved, years from 1980 (a time outside 1980–2107 is clamped to
/// the range's ends).
fn dos_time(at: DateTime<Utc>) -> (u16, u16) {
    let year = at.year();
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    if year > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let time = (at.hour() << 11) | (at.minute() << 5) | (at.second() / 2);
    let date = ((year as u32 - 1980) << 9) | (at.month() << 5) | at.day();
    (time as u16, date as u16)
}

/// Reads an archive of stored files back (the tests' check of what [`Archive`] wrote): every file's name
/// and content, each checked against its CRC and its local header.
pub fn read(archive: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let u16_at = |at: usize| -> Result<u16, String> {
        archive
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(format!("truncated at {at}"))
    };
    let u32_at = |at: usize| -> Result<u32, String> {
        archive
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(format!("truncated at {at}"))
    };
    let end = archive
        .len()
        .checked_sub(END_LEN as usize)
        .ok_or("shorter than an end record")?;
    if u32_at(end)? != END_OF_CENTRAL_DIRECTORY {
        return Err("no end record at the end".into());
    }
    let entries = usize::from(u16_at(end + 10)?);
    let (size, start) = (u32_at(end + 12)? as usize, u32_at(end + 16)? as usize);
    if start + size != end {
        return Err("the central directory does not end where the end record begins".into());
    }
    let mut files = Vec::new();
    let mut at = start;
    for _ in 0..entries {
        if u32_at(at)? != CENTRAL_HEADER {
            return Err(format!("no central header at {at}"));
        }
        let (crc, csize, usize_) = (u32_at(at + 16)?, u32_at(at + 20)?, u32_at(at + 24)?);
        let name_len = usize::from(u16_at(at + 28)?);
        let skip = usize::from(u16_at(at + 30)?) + usize::from(u16_at(at + 32)?);
        let local = u32_at(at + 42)? as usize;
        let name = archive
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated name")?;
        let name = String::from_utf8(name.to_vec()).map_err(|e| e.to_string())?;
        if u32_at(local)? != LOCAL_HEADER || u16_at(local + 8)? != 0 || csize != usize_ {
            return Err(format!("{name}: not a stored file's local header"));
        }
        if u32_at(local + 14)? != crc || u32_at(local + 18)? != csize {
            return Err(format!(
                "{name}: the local header disagrees with the directory"
            ));
        }
        let data = local + 30 + usize::from(u16_at(local + 26)?) + usize::from(u16_at(local + 28)?);
        let content = archive
            .get(data..data + csize as usize)
            .ok_or("truncated content")?;
        if crc32fast::hash(content) != crc {
            return Err(format!("{name}: CRC-32 does not match"));
        }
        files.push((name, content.to_vec()));
        at += 46 + name_len + skip;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn archive_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut archive = Archive::new();
        let mut out = Vec::new();
        for (name, content) in files {
            out.extend(archive.file(name, at("2026-12-04T15:30:17Z"), content));
        }
        out.extend(archive.finish());
        out
    }

    /// The archive is as long as [`Archive::length`] said, and reads back file by file.
    #[test]
    fn an_archive_is_as_long_as_sized_and_reads_back() {
        let files: [(&str, &[u8]); 4] = [
            ("history.csv", b"id,kind\nevt_1,repair\n"),
            ("evt_1/reçu d’atelier.pdf", b"%PDF-1.7 ..."),
            ("evt_1/empty.txt", b""),
            ("attachments.json", br#"{"files": []}"#),
        ];
        let bytes = archive_of(&files);
        let length = Archive::length(files.iter().map(|(n, c)| (*n, c.len() as u64))).unwrap();
        assert_eq!(bytes.len() as u64, length);
        let read = read(&bytes).unwrap();
        let expected: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_vec()))
            .collect();
        assert_eq!(read, expected);
        // The empty archive is its end record alone.
        assert_eq!(Archive::new().finish().len() as u64, END_LEN);
        assert_eq!(Archive::length([]).unwrap(), END_LEN);
    }

    /// A changed byte is caught by the CRC (the reader is a check, not a formality).
    #[test]
    fn a_changed_byte_fails_the_crc() {
        let mut bytes = archive_of(&[("a.txt", b"receipt")]);
        bytes[30 + 5] ^= 1;
        assert!(read(&bytes).unwrap_err().contains("CRC"));
    }

    /// Python's `zipfile` — a reader written by others — lists the files and finds each CRC right, when
    /// `python3` is on the path (`scripts/test` needs it for moto); the test says so when it is not.
    #[test]
    fn python_reads_the_archive() {
        let bytes = archive_of(&[
            ("history.csv", b"id\nevt_1\n"),
            ("evt_1/photo.jpg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, &bytes).unwrap();
        let check = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n\
                     print('|'.join(f'{i.filename}:{i.file_size}:{i.date_time}' for i in z.infolist()))";
        let run = std::process::Command::new("python3")
            .args(["-c", check])
            .arg(&path)
            .output();
        let Ok(run) = run else {
            eprintln!("SKIPPED: python3 is not on the path; the archive was not read by zipfile");
            return;
        };
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            "history.csv:9:(2026, 12, 4, 15, 30, 16)|evt_1/photo.jpg:6:(2026, 12, 4, 15, 30, 16)"
        );
    }

    /// More files than the end record can count, or more bytes than its offsets can say, are refused
    /// before anything is written.
    #[test]
    fn too_many_files_or_bytes_are_refused_up_front() {
        let names: Vec<String> = (0..=MAX_FILES).map(|i| format!("{i}")).collect();
        assert_eq!(
            Archive::length(names.iter().map(|n| (n.as_str(), 0))),
            Err(TooLarge::Files(MAX_FILES + 1))
        );
        assert!(Archive::length(names[..MAX_FILES].iter().map(|n| (n.as_str(), 0))).is_ok());
        assert!(matches!(
            Archive::length([("a", u64::from(u32::MAX))]),
            Err(TooLarge::Bytes(_))
        ));
        let long = "x".repeat(70_000);
        assert_eq!(
            Archive::length([(long.as_str(), 1)]),
            Err(TooLarge::Name(70_000))
        );
    }

    #[test]
    fn dos_times_halve_the_seconds_and_clamp_the_years() {
        assert_eq!(
            dos_time(at("2026-12-04T15:30:17Z")),
            ((15 << 11) | (30 << 5) | 8, (46 << 9) | (12 << 5) | 4)
        );
        assert_eq!(dos_time(at("1970-01-01T00:00:00Z")), (0, (1 << 5) | 1));
        assert_eq!(dos_time(at("2200-01-01T00:00:00Z")).1 >> 9, 127);
    }
}
