//! Full-text search over an organisation's records (`GET /v1/search`): titles, notes, vendors and parts,
//! ranked by BM25 (`vwc-search`, the chat historian's ranking) with the matched words highlighted.
//! `docs/search.md` says what is searched and how.

pub mod http;

use serde::Serialize;
use utoipa::ToSchema;

/// The fields a record is searched by, in the order highlights are listed.
pub const FIELDS: [&str; 4] = ["title", "notes", "vendor", "parts"];

/// Characters of context a notes highlight keeps on each side of its first match.
const CONTEXT: usize = 60;

/// One record's searchable text, read from its JSON (DESIGN §4.2 shape): `(field, text)` pairs.
pub fn searchable_fields(event: &serde_json::Value) -> Vec<(&'static str, String)> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let mut fields = Vec::new();
    if let Some(t) = text(&event["title"]) {
        fields.push(("title", t));
    }
    if let Some(t) = text(&event["notes"]) {
        fields.push(("notes", t));
    }
    if let Some(t) = text(&event["vendor"]["name"]) {
        fields.push(("vendor", t));
    }
    if let Some(parts) = event["details"]["parts"].as_array() {
        let parts: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
        if !parts.is_empty() {
            fields.push(("parts", parts.join(", ")));
        }
    }
    fields
}

/// The document BM25 indexes: every field, one per line.
pub fn document(fields: &[(&'static str, String)]) -> String {
    fields
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A matched word, as character offsets (Unicode scalar values) into `fragment`, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MatchRange {
    pub start: usize,
    pub end: usize,
}

/// Where a record matched: the field, its text (notes cut to the neighbourhood of the first match, with
/// `…` where cut) and the matched words in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Highlight {
    /// `title`, `notes`, `vendor` or `parts`.
    pub field: String,
    pub fragment: String,
    pub ranges: Vec<MatchRange>,
}

/// The highlights of a record for the query terms: one per field with a match.
pub fn highlights(fields: &[(&'static str, String)], terms: &[String]) -> Vec<Highlight> {
    let mut out = Vec::new();
    for (field, text) in fields {
        let found = vwc_search::matches(text, terms);
        let Some(&(first, _)) = found.first() else {
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        let (from, to) = if *field == "notes" && chars.len() > 2 * CONTEXT + 40 {
            let from = first.saturating_sub(CONTEXT);
            (from, (first + CONTEXT + 40).min(chars.len()))
        } else {
            (0, chars.len())
        };
        let lead = if from > 0 { "…" } else { "" };
        let tail = if to < chars.len() { "…" } else { "" };
        let shift = lead.chars().count();
        let fragment = format!("{lead}{}{tail}", chars[from..to].iter().collect::<String>());
        let ranges = found
            .into_iter()
            .filter(|&(s, e)| s >= from && e <= to)
            .map(|(s, e)| MatchRange {
                start: s - from + shift,
                end: e - from + shift,
            })
            .collect();
        out.push(Highlight {
            field: field.to_string(),
            fragment,
            ranges,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn titles_notes_vendors_and_parts_are_searched_and_highlighted() {
        let event = json!({"title": "Brake job", "notes": "Replaced front brake pads.",
            "vendor": {"name": "Main St Brakes"}, "details": {"parts": ["Brake pads", "Rotor"]}});
        let fields = searchable_fields(&event);
        assert_eq!(
            fields.iter().map(|f| f.0).collect::<Vec<_>>(),
            ["title", "notes", "vendor", "parts"]
        );
        let terms = vwc_search::terms("brakes");
        let h = highlights(&fields, &terms);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].ranges, [MatchRange { start: 0, end: 5 }]);
        assert_eq!(&h[1].fragment, "Replaced front brake pads.");
        assert_eq!(h[1].ranges, [MatchRange { start: 15, end: 20 }]);
        assert_eq!(h[3].fragment, "Brake pads, Rotor");
    }

    #[test]
    fn long_notes_are_cut_around_the_first_match_and_ranges_follow() {
        let notes = format!(
            "{}alternator replaced{}",
            "x ".repeat(100),
            " y".repeat(100)
        );
        let fields = vec![("notes", notes)];
        let h = highlights(&fields, &vwc_search::terms("alternator"));
        let fragment: Vec<char> = h[0].fragment.chars().collect();
        assert_eq!(fragment[0], '…');
        assert_eq!(*fragment.last().unwrap(), '…');
        let r = &h[0].ranges[0];
        assert_eq!(
            fragment[r.start..r.end].iter().collect::<String>(),
            "alternator"
        );
    }
}
