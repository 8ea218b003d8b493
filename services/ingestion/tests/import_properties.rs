//! The CSV import's reading of a file, over generated input: any bytes are decoded or refused with a message,
//! never a panic; UTF-16 with its byte-order mark decodes to the text it encodes; any text is read or refused
//! whole; and a file separated by semicolons or tabs maps to the same events (and idempotency keys) as the
//! same file separated by commas.

use proptest::prelude::*;
use vwc_contracts::{EventKind, OdometerUnit, VolumeUnit};
use vwc_ingestion::import::{AskedBy, ImportOptions, read, text_of};

fn options() -> ImportOptions {
    ImportOptions {
        kind: EventKind::Repair,
        currency: "EUR".into(),
        volume_unit: VolumeUnit::L,
        odometer_unit: OdometerUnit::Km,
        asked_by: AskedBy::Http,
    }
}

/// A LubeLogger repair row's values: none holds a delimiter, a quote or a line break, so the same row can be
/// written with any of the three delimiters.
fn row() -> impl Strategy<Value = [String; 5]> {
    (
        (2000u32..2030, 1u32..13, 1u32..29),
        proptest::option::of(0u32..400_000),
        "[A-Za-z][A-Za-z0-9 ./-]{0,30}",
        "[A-Za-z0-9 ./-]{0,30}",
        proptest::option::of((0u32..100_000, 0u32..100)),
    )
        .prop_map(|((y, m, d), odometer, title, notes, cost)| {
            [
                format!("{y:04}-{m:02}-{d:02}"),
                odometer.map(|o| o.to_string()).unwrap_or_default(),
                title,
                notes,
                cost.map(|(units, cents)| format!("{units}.{cents:02}"))
                    .unwrap_or_default(),
            ]
        })
}

/// The file with `delimiter` between fields (and the decimal comma a semicolon file writes, for costs).
fn file(rows: &[[String; 5]], delimiter: char) -> String {
    let mut text =
        ["Date", "Odometer", "Description", "Notes", "Cost"].join(&delimiter.to_string());
    text.push('\n');
    for r in rows {
        let mut cells = r.clone();
        if delimiter == ';' {
            cells[4] = cells[4].replace('.', ",");
        }
        text.push_str(&cells.join(&delimiter.to_string()));
        text.push('\n');
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_decode_or_are_refused_and_utf8_stays_as_it_is(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        match text_of(&bytes) {
            Ok(text) => {
                if let Ok(utf8) = std::str::from_utf8(&bytes) && !bytes.starts_with(&[0xFF, 0xFE]) && !bytes.starts_with(&[0xFE, 0xFF]) {
                    prop_assert_eq!(text.as_ref(), utf8);
                }
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn utf16_with_its_byte_order_mark_decodes_to_the_text(text in "\\PC{0,80}", big_endian in any::<bool>()) {
        let mut bytes = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
        for unit in text.encode_utf16() {
            bytes.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
        }
        let decoded = text_of(&bytes).unwrap();
        prop_assert_eq!(decoded.as_ref(), text.as_str());
    }

    #[test]
    fn any_text_is_read_or_refused_whole(text in "(?s).{0,400}") {
        let _ = read(&text, &options());
    }

    #[test]
    fn semicolons_and_tabs_read_as_the_comma_file(rows in prop::collection::vec(row(), 1..12)) {
        let keys = |text: String| {
            let (_, rows, errors) = read(&text, &options()).expect("a known header");
            // Messages quote the value as written (`12,50` or `12.50`); the row and column must agree.
            let refused: Vec<_> = errors.into_iter().map(|e| (e.row, e.field)).collect();
            (rows.into_iter().map(|r| (r.row, r.key)).collect::<Vec<_>>(), refused)
        };
        let comma = keys(file(&rows, ','));
        prop_assert_eq!(&keys(file(&rows, ';')), &comma);
        prop_assert_eq!(&keys(file(&rows, '\t')), &comma);
    }
}
