//! World manufacturer identifiers: a selection of common WMIs with their manufacturer, and the ISO 3780
//! country and region ranges of positions 1–2. Facts gathered from the public sources `docs/vin.md` cites
//! (NHTSA's vPIC WMI data, ISO 3780 as summarised publicly); not exhaustive. Both tables are data files in
//! `contracts/data/` (tab-separated, one row a line, `#` starts a comment line), read once on first use.

use std::sync::LazyLock;

pub(super) struct Wmi {
    pub wmi: &'static str,
    pub manufacturer: &'static str,
    /// `None` where the WMI is shared by several brands.
    pub make: Option<&'static str>,
    /// Where it differs from what positions 1–2 say.
    pub country: Option<&'static str>,
}

/// Grouped by position 1 in ISO 3780 order (`contracts/data/wmi.tsv`: WMI, manufacturer, make, country).
static TABLE: LazyLock<Vec<Wmi>> = LazyLock::new(|| {
    rows(include_str!("../../data/wmi.tsv"))
        .map(|cells| Wmi {
            wmi: cells[0],
            manufacturer: cells[1],
            make: optional(&cells, 2),
            country: optional(&cells, 3),
        })
        .collect()
});

/// The VIN alphabet in ISO 3780 order: the ranges below run through it (A…Z, then 1…9, 0).
const ORDER: &str = "ABCDEFGHJKLMNPRSTUVWXYZ1234567890";

/// (position 1, first and last position 2, country), from `contracts/data/vin-countries.tsv`.
static COUNTRIES: LazyLock<Vec<(char, char, char, &'static str)>> = LazyLock::new(|| {
    rows(include_str!("../../data/vin-countries.tsv"))
        .map(|cells| (one(cells[0]), one(cells[1]), one(cells[2]), cells[3]))
        .collect()
});

/// The rows of a tab-separated table, each as its cells; comment lines (`#`) and blank lines left out.
fn rows(table: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

/// Cell `i`, `None` when it is empty or the row ends before it.
fn optional(cells: &[&'static str], i: usize) -> Option<&'static str> {
    cells.get(i).copied().filter(|cell| !cell.is_empty())
}

/// A one-character cell (a VIN position).
fn one(cell: &str) -> char {
    let mut chars = cell.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => panic!("{cell:?} is not one VIN position"),
    }
}

pub(super) fn lookup(wmi: &str) -> Option<&'static Wmi> {
    TABLE.iter().find(|e| e.wmi == wmi)
}

pub(super) fn country(first: char, second: char) -> Option<&'static str> {
    let at = ORDER.find(second)?;
    COUNTRIES
        .iter()
        .find(|(p1, from, to, _)| {
            *p1 == first
                && ORDER.find(*from).is_some_and(|f| f <= at)
                && ORDER.find(*to).is_some_and(|t| at <= t)
        })
        .map(|(.., name)| *name)
}

/// ISO 3780 regions of position 1.
pub(super) fn region(first: char) -> Option<&'static str> {
    Some(match first {
        'A'..='H' => "Africa",
        'J'..='R' => "Asia",
        'S'..='Z' => "Europe",
        '1'..='5' => "North America",
        '6' | '7' => "Oceania",
        '8' | '9' | '0' => "South America",
        _ => return None,
    })
}

#[cfg(test)]
pub(super) fn check_table() {
    // Reading the tables panics on a malformed row; then each row is checked against the VIN alphabet.
    assert!(TABLE.len() > 100, "wmi.tsv lost rows: {}", TABLE.len());
    let mut seen = std::collections::BTreeSet::new();
    for e in TABLE.iter() {
        assert!(seen.insert(e.wmi), "{} twice", e.wmi);
        assert_eq!(e.wmi.len(), 3, "{}", e.wmi);
        assert!(
            e.wmi.chars().all(|c| ORDER.contains(c)),
            "{} has a character no VIN uses",
            e.wmi
        );
        assert!(!e.manufacturer.is_empty(), "{} has no manufacturer", e.wmi);
    }
    for (first, from, to, name) in COUNTRIES.iter() {
        assert!(
            [first, from, to].iter().all(|c| ORDER.contains(**c)),
            "{name}: a position no VIN uses"
        );
    }
    assert_eq!(lookup("1C4").map(|e| e.make), Some(None));
    assert_eq!(lookup("7SA").and_then(|e| e.country), Some("United States"));
    assert_eq!(country('3', 'C'), Some("Mexico"));
    assert_eq!(country('K', 'M'), Some("South Korea"));
    assert_eq!(country('K', 'A'), None);
}
