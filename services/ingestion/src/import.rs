//! CSV import: LubeLogger's and Fuelly's export files and this API's own export, mapped row by row to
//! timeline events (pure, no I/O). Every row either becomes an event or is reported (row, field, message):
//! nothing is dropped silently. The mapping is documented in `docs/import.md`.

pub mod http;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use vwc_contracts::{EventKind, FieldError, NewVehicleEvent, OdometerUnit, Vendor, VolumeUnit};

/// The formats an import recognises from the header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsvFormat {
    /// `GET /v1/vehicles/{id}/export?format=csv`: the round trip.
    Vwc,
    /// LubeLogger's service, repair and upgrade records (`Date, Odometer, Description, Notes, Cost`).
    LubeloggerRecords,
    /// LubeLogger's odometer records (`Date, Odometer, Notes`).
    LubeloggerOdometer,
    /// LubeLogger's fuel records (`… FuelConsumed … IsFillToFull …`).
    LubeloggerFuel,
    /// Fuelly's fuel-up export (`fuelup_date, … gallons …`).
    Fuelly,
}

/// One row the import refused, by its line number in the file (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    pub row: u64,
    /// The CSV column (or the event field) at fault; `row` for the row as a whole.
    pub field: String,
    pub message: String,
}

/// A row ready to record, with the key that makes importing it again a no-op.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: u64,
    pub event: NewVehicleEvent,
    /// `import:` + SHA-256 of the event (and of how many identical rows came before it in the file).
    pub key: String,
    /// The record's id in this API's export (`id`): a row whose record the vehicle already holds is
    /// skipped, so importing a vehicle's own export back into it adds nothing.
    pub exported_id: Option<String>,
}

/// What the caller chose for columns the file cannot say.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Kind of LubeLogger's generic records (a file per kind there): maintenance, repair or upgrade.
    pub kind: EventKind,
    /// ISO 4217 code of the costs.
    pub currency: String,
    /// Unit of LubeLogger's `FuelConsumed` (its files do not say): US gallons for a vehicle in miles,
    /// litres for one in km, unless the caller says otherwise.
    pub volume_unit: VolumeUnit,
    /// The vehicle's odometer unit: this API's export names the unit of its rows (`odometerUnit`), and a
    /// row of the other unit is refused; Fuelly's `miles` or `kilometers` trip is converted to it.
    pub odometer_unit: OdometerUnit,
    /// How the row messages name the import's options (`kind=repair` or `--kind repair`).
    pub asked_by: AskedBy,
}

/// Who asked for the import, so that a row's message names an option as the caller gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskedBy {
    /// `POST …/imports`: query parameters, `kind=repair`.
    #[default]
    Http,
    /// `vwc import`: options, `--kind repair`.
    Cli,
}

impl AskedBy {
    /// Option `name` (the API's camelCase name) set to `value`, as this caller writes it.
    pub fn option(self, name: &str, value: &str) -> String {
        match self {
            AskedBy::Http => format!("{name}={value}"),
            AskedBy::Cli => {
                let mut flag = String::from("--");
                for c in name.chars() {
                    if c.is_ascii_uppercase() {
                        flag.push('-');
                    }
                    flag.push(c.to_ascii_lowercase());
                }
                format!("{flag} {value}")
            }
        }
    }
}

fn header_index(headers: &csv::StringRecord) -> Vec<String> {
    headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect()
}

pub fn detect(headers: &[String]) -> Option<CsvFormat> {
    let has = |h: &str| headers.iter().any(|x| x == h);
    if has("kind") && has("occurredat") {
        Some(CsvFormat::Vwc)
    } else if has("fuelup_date") || (has("gallons") && has("miles")) {
        Some(CsvFormat::Fuelly)
    } else if has("date") && (has("fuelconsumed") || has("isfilltofull")) {
        Some(CsvFormat::LubeloggerFuel)
    } else if has("date") && has("odometer") && has("description") {
        Some(CsvFormat::LubeloggerRecords)
    } else if has("date") && has("odometer") {
        Some(CsvFormat::LubeloggerOdometer)
    } else {
        None
    }
}

/// How a file writes dates with slashes: LubeLogger's US `3/2/2024` (month first), or — exports made in
/// most of the world — `2/3/2024` (day first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateOrder {
    MonthFirst,
    DayFirst,
}

/// The order of a file's slash dates, from every value of its date column: day first when one starts
/// with a day over 12 (`31/12/2024`) and none has a month over 12 in its second place; month first
/// otherwise (LubeLogger's). A file that has both (`31/12/2024` and `12/31/2024`) is refused: its other dates
/// (`3/2/2024`) cannot be read either way with confidence.
fn date_order(
    headers: &[String],
    records: &[Result<csv::StringRecord, csv::Error>],
) -> Result<DateOrder, String> {
    let Some(column) = (headers.iter()).position(|h| h == "date" || h == "fuelup_date") else {
        return Ok(DateOrder::MonthFirst);
    };
    let (mut day_first, mut month_first) = (None, None);
    for value in records.iter().flatten().filter_map(|r| r.get(column)) {
        let parts: Vec<u32> = value
            .trim()
            .split('/')
            .map_while(|p| p.parse().ok())
            .collect();
        if let [a, b, _] = parts[..] {
            if a > 12 && b <= 12 {
                day_first.get_or_insert(value.trim().to_string());
            } else if b > 12 && a <= 12 {
                month_first.get_or_insert(value.trim().to_string());
            }
        }
    }
    match (day_first, month_first) {
        (Some(d), Some(m)) => Err(format!(
            "the dates mix day-first ({d:?}) and month-first ({m:?}) writing, so a date like 3/2/2024 cannot \
             be read with confidence: write them as 2024-03-02"
        )),
        (Some(_), None) => Ok(DateOrder::DayFirst),
        _ => Ok(DateOrder::MonthFirst),
    }
}

/// `2024-03-02`, `2024-03-02T09:30:00Z` (RFC 3339) or LubeLogger's US `3/2/2024`; a bare date is noon UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    parse_date_in(s, DateOrder::MonthFirst)
}

/// [`parse_date`] in a file that writes its slash dates in `order`; a dotted date (`2.3.2024`) is day first.
/// A two-digit year (`3/2/24`, `2.3.24`) is refused, not read as the year 24.
pub fn parse_date_in(s: &str, order: DateOrder) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let noon = NaiveTime::from_hms_opt(12, 0, 0)?;
    let slashed = match order {
        DateOrder::MonthFirst => "%m/%d/%Y",
        DateOrder::DayFirst => "%d/%m/%Y",
    };
    // The year last and short (`3/2/24`); a year written first (`2024/03/02`) is read as it stands.
    let parts = || s.split(['/', '.']);
    if s.contains(['/', '.'])
        && parts().next().is_some_and(|first| first.len() < 4)
        && parts().next_back().is_some_and(|year| year.len() < 4)
    {
        return None;
    }
    // Dotted dates (`2.3.2024`, Germany and its neighbours) are day first wherever they are written.
    ["%Y-%m-%d", slashed, "%Y/%m/%d", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
        .map(|d| d.and_time(noon).and_utc())
}

/// How a lone separator followed by exactly three digits ("1,899", "12.345") reads: a thousands separator
/// or a decimal mark cannot be told apart, so each column says what it takes it for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lone {
    /// A comma groups thousands ("1,899" is 1899: US spreadsheets); a dot is refused.
    CommaGroups,
    /// Either is a decimal mark: a price a litre or gallon has three decimals ("3.459", "1,899").
    Decimal,
}

/// A number as spreadsheets of either convention write it — `1,234.56`, `1.234,56`, `1 234,56`, `45,99`,
/// `12.5`, `€45.99` — as its whole and fractional digits (`None` when empty). The last separator is the
/// decimal mark unless three digits follow it alone ([`Lone`]); the separators before it must group
/// thousands (`1,2,3` is refused, never read as 123).
fn number_parts(s: &str, lone: Lone) -> Result<Option<(String, String)>, String> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '$' | '€' | '£' | '¥' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\''
            )
        })
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    let not_a_number = || format!("{s:?} is not a number");
    if !cleaned
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return Err(not_a_number());
    }
    let separators: Vec<(usize, char)> = cleaned
        .char_indices()
        .filter(|(_, c)| !c.is_ascii_digit())
        .collect();
    let Some(&(last_at, last)) = separators.last() else {
        return Ok(Some((cleaned, String::new())));
    };
    let kinds: std::collections::BTreeSet<char> = separators.iter().map(|(_, c)| *c).collect();
    let tail = &cleaned[last_at + 1..];
    // Where the decimal mark is, if any: the last separator, unless it is one of several alike (thousands
    // all through: "1,234,567") or a lone one before exactly three digits.
    let decimal_at = if kinds.len() == 2 {
        Some(last_at)
    } else if separators.len() > 1 {
        None
    } else if tail.len() != 3 {
        Some(last_at)
    } else {
        match (lone, last) {
            (Lone::CommaGroups, ',') => None,
            (Lone::Decimal, _) => Some(last_at),
            _ => {
                return Err(format!(
                    "{s:?} could be a thousand-something or a decimal ({last} before three digits): write it \
                     without a thousands separator, or with both marks (1,234.5 or 1.234,5)"
                ));
            }
        }
    };
    let (grouped, frac) = match decimal_at {
        Some(at) => (&cleaned[..at], &cleaned[at + 1..]),
        None => (cleaned.as_str(), ""),
    };
    if frac.contains(['.', ',']) {
        return Err(not_a_number());
    }
    let groups: Vec<&str> = grouped.split(['.', ',']).collect();
    let group_mark: std::collections::BTreeSet<char> =
        grouped.chars().filter(|c| !c.is_ascii_digit()).collect();
    let grouped_well = group_mark.len() <= 1
        && (groups.len() == 1
            || ((1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3)));
    if !grouped_well || (groups.concat().is_empty() && frac.is_empty()) {
        return Err(format!(
            "{s:?} is not a number: thousands separators group three digits (1,234,567)"
        ));
    }
    Ok(Some((groups.concat(), frac.to_string())))
}

/// `89.99`, `$1,234.50`, `45,99 €`, `1.234,50`, `1234` → cents. Either decimal mark (the last separator,
/// unless three digits follow a lone comma: `1,234` is 1234.00); at most two decimals.
pub fn parse_money(s: &str) -> Result<Option<u64>, String> {
    let Some((whole, frac)) = number_parts(s, Lone::CommaGroups)
        .map_err(|_| format!("{s:?} is not an amount like 89.99"))?
    else {
        return Ok(None);
    };
    if frac.len() > 2 {
        return Err(format!(
            "{s:?} is not an amount like 89.99 (at most two decimals)"
        ));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| format!("{s:?} is too large"))?
    };
    let frac: u64 = format!("{frac:0<2}").parse().unwrap_or(0);
    whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac))
        .map(Some)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The currencies a symbol written beside an amount stands for (`$` for any dollar, `¥` for yen or yuan).
fn symbol_currencies(symbol: char) -> Option<&'static [&'static str]> {
    Some(match symbol {
        '€' => &["EUR"],
        '£' => &["GBP"],
        '¥' => &["JPY", "CNY"],
        '$' => &[
            "USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD", "ARS", "CLP", "COP",
        ],
        _ => return None,
    })
}

/// Refuses an amount whose symbol says another currency than the import's (`€45.99` in a USD import):
/// its amount would be recorded in the wrong currency.
fn symbol_agrees(s: &str, options: &ImportOptions) -> Result<(), String> {
    let currency = options.currency.as_str();
    match s
        .chars()
        .find_map(|c| symbol_currencies(c).map(|cs| (c, cs)))
    {
        Some((symbol, currencies)) if !currencies.contains(&currency) => Err(format!(
            "{s:?} is written in {symbol} ({}), and this import records {currency}: import the file with \
             {} (costs are never converted)",
            currencies.join(" or "),
            options.asked_by.option("currency", currencies[0])
        )),
        _ => Ok(()),
    }
}

/// [`parse_money`] in an import recording `options.currency`, refusing an amount whose symbol says another.
fn money_in(s: &str, options: &ImportOptions) -> Result<Option<u64>, String> {
    symbol_agrees(s, options)?;
    parse_money(s)
}

/// An odometer: digits, optionally with thousands separators or a decimal part (dropped). `12.345` (a dot
/// before three digits alone) is refused as ambiguous: twelve or twelve thousand.
pub fn parse_odometer(s: &str) -> Result<Option<u64>, String> {
    let parts = number_parts(s, Lone::CommaGroups).map_err(|e| {
        if e.contains("could be") {
            e
        } else {
            format!("{s:?} is not an odometer reading")
        }
    })?;
    let Some((whole, _)) = parts else {
        return Ok(None);
    };
    whole
        .parse::<u64>()
        .map(Some)
        .map_err(|_| format!("{s:?} is not an odometer reading"))
}

/// Task codes a LubeLogger service description names (its records carry free text, not codes): whole
/// words, longest phrase first. A bare "oil" or "inspection" is a task only when nothing else says what was
/// done ("Oil", "Oil & filter"; "Inspection"), never a word inside another ("coil", "spoiler").
const TASK_WORDS: &[(&str, &str)] = &[
    ("oil change", "oil_change"),
    ("oil changed", "oil_change"),
    ("change oil", "oil_change"),
    ("changed oil", "oil_change"),
    ("oil and filter", "oil_change"),
    ("oil filter", "oil_change"),
    ("oil service", "oil_change"),
    ("lube oil filter", "oil_change"),
    ("synthetic oil", "oil_change"),
    ("engine oil", "oil_change"),
    ("oil", "oil_change"),
    ("tire rotation", "tire_rotation"),
    ("tyre rotation", "tire_rotation"),
    ("rotate tires", "tire_rotation"),
    ("rotate tyres", "tire_rotation"),
    ("tires rotated", "tire_rotation"),
    ("cabin air filter", "cabin_air_filter"),
    ("cabin filter", "cabin_air_filter"),
    ("pollen filter", "cabin_air_filter"),
    ("engine air filter", "engine_air_filter"),
    ("air filter", "engine_air_filter"),
    ("brake fluid", "brake_fluid"),
    ("brake inspection", "brake_inspection"),
    ("coolant", "coolant"),
    ("antifreeze", "coolant"),
    ("battery", "battery_check"),
    ("wiper", "wiper_blades"),
    ("wipers", "wiper_blades"),
    ("wiper blades", "wiper_blades"),
    ("transmission fluid", "transmission_fluid"),
    ("transmission flush", "transmission_fluid"),
    ("transmission service", "transmission_fluid"),
    ("atf", "transmission_fluid"),
    ("spark plug", "spark_plugs"),
    ("spark plugs", "spark_plugs"),
    ("annual inspection", "annual_inspection"),
    ("state inspection", "annual_inspection"),
    ("safety inspection", "annual_inspection"),
    ("vehicle inspection", "annual_inspection"),
    ("emissions inspection", "annual_inspection"),
    ("emissions test", "annual_inspection"),
    ("smog check", "annual_inspection"),
    ("mot", "annual_inspection"),
    ("inspection", "annual_inspection"),
];

/// Words that, right after a task's phrase, say it names a fault or a look, not the work done ("oil leak",
/// "coolant leak inspection", "battery light").
const NOT_DONE_AFTER: &[&str] = &[
    "leak",
    "leaks",
    "leaking",
    "light",
    "warning",
    "sensor",
    "pressure",
    "level",
    "smell",
    "noise",
    "pan",
    "cooler",
    "seal",
    "gasket",
    "consumption",
    "inspection",
    "check",
    "cap",
    "line",
    "lines",
];

/// Words a bare "oil" or "inspection" may follow and still be the task itself ("Full inspection", "Changed
/// the oil").
const BARE_AFTER: &[&str] = &[
    "the", "and", "full", "general", "yearly", "new", "fresh", "changed", "change",
];

/// Words that, right before a task's phrase, say it was not done ("No oil change needed", "skipped the
/// inspection").
const NOT_DONE_BEFORE: &[&str] = &[
    "no",
    "not",
    "without",
    "skip",
    "skipped",
    "declined",
    "postponed",
];

/// Task codes from the description (each phrase as whole words, the longest first, never one the words
/// around it say was not done) and from the tags of a `Tags` column that name a task (`tags_of`).
pub fn tasks_of(description: &str, tags: &str) -> Vec<String> {
    let mut tasks = phrase_tasks(description);
    for task in tags_of(tags).0 {
        if !tasks.contains(&task) {
            tasks.push(task);
        }
    }
    tasks
}

/// A `Tags` cell (LubeLogger writes its labels space-separated; commas and semicolons are read too) split
/// into the task codes its tags name and the other tags, as written. A tag names a task when it is a code
/// of the maintenance catalogue in any case (`oil_change`, `Coolant`) or reads as a task's phrase with its
/// `_`/`-` as spaces (`tire-rotation`, `Oil`); any other label (`warranty`, `diy`, `dealer`) is no task —
/// it would otherwise start a maintenance schedule of its own (probe p44 L1).
pub fn tags_of(tags: &str) -> (Vec<String>, Vec<&str>) {
    let catalogue = vwc_contracts::catalogue::Catalogue::standard();
    let mut tasks: Vec<String> = Vec::new();
    let mut other: Vec<&str> = Vec::new();
    for tag in split_tags(tags) {
        let code = tag.to_ascii_lowercase();
        let named = if catalogue.get(&code).is_some() {
            vec![code]
        } else {
            phrase_tasks(&code.replace(['_', '-'], " "))
        };
        if named.is_empty() {
            other.push(tag);
        }
        for task in named {
            if !tasks.contains(&task) {
                tasks.push(task);
            }
        }
    }
    (tasks, other)
}

/// A `Tags` cell's tags, each once, in their order.
fn split_tags(tags: &str) -> Vec<&str> {
    let mut each: Vec<&str> = Vec::new();
    for tag in tags.split([' ', ',', ';']).filter(|t| !t.is_empty()) {
        if !each.contains(&tag) {
            each.push(tag);
        }
    }
    each
}

/// The task codes a text names, in the order it names them.
fn phrase_tasks(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let mut taken = vec![false; words.len()];
    let mut by_length: Vec<&(&str, &str)> = TASK_WORDS.iter().collect();
    by_length.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.split(' ').count()));
    let mut found: Vec<(usize, String)> = Vec::new();
    for (phrase, task) in by_length {
        let phrase: Vec<&str> = phrase.split(' ').collect();
        let n = phrase.len();
        for at in 0..words.len().saturating_sub(n - 1) {
            if taken[at..at + n].iter().any(|t| *t) || (0..n).any(|i| words[at + i] != phrase[i]) {
                continue;
            }
            taken[at..at + n].iter_mut().for_each(|t| *t = true);
            let after = words.get(at + n).map(String::as_str);
            let before = at.checked_sub(1).map(|i| words[i].as_str());
            // A bare "oil" or "inspection" after another word is about that ("transmission oil", "leak
            // inspection"), not an oil change or the yearly inspection.
            let about_another = n == 1
                && matches!(phrase[0], "oil" | "inspection")
                && before.is_some_and(|w| !BARE_AFTER.contains(&w));
            let not_done = about_another
                || after.is_some_and(|w| NOT_DONE_AFTER.contains(&w))
                || before.is_some_and(|w| NOT_DONE_BEFORE.contains(&w))
                || (at >= 2 && NOT_DONE_BEFORE.contains(&words[at - 2].as_str()));
            if !not_done && !found.iter().any(|(_, t)| t == task) {
                found.push((at, task.to_string()));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, t)| t).collect()
}

fn key_of(event: &NewVehicleEvent, occurrence: usize) -> String {
    let json = serde_json::to_string(event).expect("an event serialises");
    let digest = Sha256::digest(format!("{json}\n{occurrence}"));
    format!(
        "import:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The line of a byte of the file (the header is line 1); a line ends at `\n`, `\r\n` or a lone `\r`. The
/// csv reader's own line count leaves out blank lines and counts every row of a CRLF file one short.
struct Lines<'t> {
    text: &'t [u8],
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t str) -> Lines<'t> {
        let text = text.as_bytes();
        let mut starts = vec![0];
        for (i, b) in text.iter().enumerate() {
            let ends_line = *b == b'\n' || (*b == b'\r' && text.get(i + 1) != Some(&b'\n'));
            if ends_line {
                starts.push(i + 1);
            }
        }
        Lines { text, starts }
    }

    /// The line a record starting at `byte` is on: the reader may place the start on the line break
    /// before it (the `\n` of a `\r\n`), which no record starts with.
    fn line(&self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while self
            .text
            .get(at)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            at += 1;
        }
        self.starts.partition_point(|&s| s <= at).max(1) as u64
    }
}

/// A file's bytes as text: UTF-8 (a leading byte-order mark is left for the reader, which skips it), or
/// UTF-16 in either byte order when the file starts with its byte-order mark — what Excel's "Unicode Text"
/// and some Windows tools write. Anything else is refused naming the line of the first byte that is not
/// UTF-8, so nothing is read garbled.
pub fn text_of(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        if rest.len() % 2 == 1 {
            return Err("the file starts as UTF-16 text (its byte-order mark) but has an odd number of bytes: \
                        it is cut short; save it again, as CSV UTF-8"
                .to_string());
        }
        let units = rest.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(std::borrow::Cow::Owned)
            .map_err(|_| {
                "the file starts as UTF-16 text (its byte-order mark) but holds a broken character: save it \
                 again, as CSV UTF-8"
                    .to_string()
            })
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => std::str::from_utf8(bytes)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|e| {
                let before = &bytes[..e.valid_up_to()];
                let line = 1 + before.iter().filter(|b| **b == b'\n').count();
                format!(
                    "line {line} is not UTF-8 text (byte 0x{:02X}): the file was saved in another encoding \
                     (a Windows or Mac code page); save it as CSV UTF-8 and import it again",
                    bytes[e.valid_up_to()]
                )
            }),
    }
}

/// The character between a file's fields: a comma, or — when the header row reads as a known format only
/// that way — a semicolon (spreadsheets in locales whose decimal mark is a comma) or a tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delimiter(u8);

impl Delimiter {
    const CANDIDATES: [Delimiter; 3] = [Delimiter(b','), Delimiter(b';'), Delimiter(b'\t')];

    /// The delimiter of `text`, from its first line that is not blank; a comma when no candidate makes the
    /// header a known format (the error then says so for the comma, CSV's own).
    fn of(text: &str) -> Delimiter {
        let header = text
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("");
        Self::CANDIDATES
            .into_iter()
            .find(|d| {
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(d.0)
                    .flexible(true)
                    .from_reader(header.as_bytes());
                reader
                    .headers()
                    .is_ok_and(|h| detect(&header_index(h)).is_some())
            })
            .unwrap_or(Delimiter(b','))
    }

    /// How a row's message names it.
    fn name(self) -> &'static str {
        match self.0 {
            b';' => "semicolon",
            b'\t' => "tab",
            _ => "comma",
        }
    }
}

/// Where a quoted field that the file never closes opens (a byte offset), read as the csv reader reads
/// fields: a quote opens one only as a field's first character, and `""` inside it is a quote. The reader
/// itself takes such a field to the end of the file, rows and all, and reports nothing.
fn unclosed_quote(text: &str, delimiter: Delimiter) -> Option<usize> {
    enum State {
        FieldStart,
        Unquoted,
        Quoted(usize),
        QuoteInQuoted(usize),
    }
    let mut state = State::FieldStart;
    for (i, b) in text.bytes().enumerate() {
        let ends_field = b == delimiter.0 || matches!(b, b'\n' | b'\r');
        state = match state {
            State::FieldStart if b == b'"' => State::Quoted(i),
            State::FieldStart | State::Unquoted if ends_field => State::FieldStart,
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted(at) if b == b'"' => State::QuoteInQuoted(at),
            State::Quoted(at) => State::Quoted(at),
            State::QuoteInQuoted(at) if b == b'"' => State::Quoted(at),
            State::QuoteInQuoted(_) if ends_field => State::FieldStart,
            State::QuoteInQuoted(_) => State::Unquoted,
        };
    }
    match state {
        State::Quoted(at) => Some(at),
        _ => None,
    }
}

/// Reads the file: the rows to record and the rows refused. Header problems refuse the whole file.
pub fn read(
    csv_text: &str,
    options: &ImportOptions,
) -> Result<(CsvFormat, Vec<ImportRow>, Vec<RowError>), String> {
    let lines = Lines::of(csv_text);
    let delimiter = Delimiter::of(csv_text);
    if let Some(at) = unclosed_quote(csv_text, delimiter) {
        return Err(format!(
            "line {}: a quoted field opens here and is never closed, so every line after it would be read \
             as part of that one field; close the quote (a quote inside a quoted field is written twice: \"\")",
            lines.line(at as u64)
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter.0)
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(csv_text.as_bytes());
    let headers = header_index(
        reader
            .headers()
            .map_err(|e| format!("the header row is not CSV: {e}"))?,
    );
    let format = detect(&headers).ok_or_else(|| {
        if matches!(csv_text.trim_start_matches('\u{feff}').trim_start().chars().next(), Some('{' | '[')) {
            return "the file is JSON, and the import reads CSV: export the vehicle with format=csv \
                    (GET /v1/vehicles/{id}/export?format=csv, or `vwc export --format csv`) and import that"
                .to_string();
        }
        "the header row matches no known format: expected LubeLogger (Date, Odometer, Description, \
         Notes, Cost), Fuelly (fuelup_date, miles, gallons, price) or this API's export (occurredAt, kind, …), \
         its fields separated by commas, semicolons or tabs"
            .to_string()
    })?;
    if let Some(twice) = (headers.iter().enumerate())
        .find(|(i, h)| !h.is_empty() && headers[..*i].contains(h))
        .map(|(_, h)| h)
    {
        return Err(format!(
            "the header row names the column {twice:?} twice: which one holds the values cannot be told; \
             rename or remove one"
        ));
    }
    let records: Vec<Result<csv::StringRecord, csv::Error>> = reader.records().collect();
    let dates = date_order(&headers, &records)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map_or(0, |p| lines.line(p.byte()));
                errors.push(RowError {
                    row,
                    field: "row".into(),
                    message: format!("not CSV: {e}"),
                });
                continue;
            }
        };
        let row = record.position().map_or(0, |p| lines.line(p.byte()));
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        // A row of another width than the header is cut short (a truncated file's last line) or holds
        // values no column names (an unquoted comma): either way its values cannot be placed.
        if record.len() != headers.len() {
            errors.push(RowError {
                row,
                field: "row".into(),
                message: match delimiter.name() {
                    "comma" => format!(
                        "{} fields, and the header has {}: a row cut short, or a comma inside a value that is \
                         not quoted (\"1,234\" or \"Oil, filter\")",
                        record.len(),
                        headers.len()
                    ),
                    name => format!(
                        "{} fields, and the header has {}: a row cut short, or a {name} inside a value that \
                         is not quoted",
                        record.len(),
                        headers.len()
                    ),
                },
            });
            continue;
        }
        let get = Row {
            headers: &headers,
            record: &record,
            dates,
        };
        let mut fail = |field: &str, message: String| {
            errors.push(RowError {
                row,
                field: field.into(),
                message,
            })
        };
        let event = match format {
            CsvFormat::LubeloggerFuel => lubelogger_fuel_row(&get, options, &mut fail),
            CsvFormat::Fuelly => fuelly_row(&get, options, &mut fail),
            CsvFormat::Vwc => vwc_row(&get, options, &mut fail),
            CsvFormat::LubeloggerRecords | CsvFormat::LubeloggerOdometer => {
                lubelogger_row(format, &get, options, &mut fail)
            }
        };
        let Some(event) = event else { continue };
        let fingerprint = serde_json::to_string(&event).expect("an event serialises");
        let occurrence = seen.entry(fingerprint).or_default();
        let key = key_of(&event, *occurrence);
        *occurrence += 1;
        let exported_id = (format == CsvFormat::Vwc)
            .then(|| get.get("id").to_string())
            .filter(|id| !id.is_empty());
        rows.push(ImportRow {
            row,
            event,
            key,
            exported_id,
        });
    }
    Ok((format, rows, errors))
}

/// One CSV record with its header row: a column's value by its (lower-case) name, `""` when absent.
struct Row<'a> {
    headers: &'a [String],
    record: &'a csv::StringRecord,
    /// How this file writes dates with slashes (decided once for the whole file).
    dates: DateOrder,
}

/// Reports a refused cell: the column's name as the file spells it, and why.
type Fail<'f> = &'f mut dyn FnMut(&str, String);

impl<'a> Row<'a> {
    /// Trimmed, but for the notes: they are kept as written (an export's notes that begin or end with
    /// spaces come back the same). Without the `'` the export puts before text a spreadsheet would read as
    /// a formula ([`vwc_contracts::spreadsheet`]).
    fn get(&self, name: &str) -> &'a str {
        let value = self
            .headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| self.record.get(i))
            .unwrap_or("");
        let value = match name {
            "notes" if !value.trim().is_empty() => value,
            _ => value.trim(),
        };
        vwc_contracts::spreadsheet::unguarded(value)
    }

    /// The column `name` read by `parse`; a refusal is reported against `label` and ends the row (`None`).
    fn parse<T>(
        &self,
        name: &str,
        label: &str,
        fail: Fail<'_>,
        parse: impl FnOnce(&'a str) -> Result<T, String>,
    ) -> Option<T> {
        parse(self.get(name)).map_err(|m| fail(label, m)).ok()
    }

    /// The date or time in `name`; `expected` says what it should look like when it does not read.
    fn date(
        &self,
        name: &str,
        label: &str,
        expected: &str,
        fail: Fail<'_>,
    ) -> Option<DateTime<Utc>> {
        let order = self.dates;
        self.parse(name, label, fail, |v| {
            parse_date_in(v, order).ok_or_else(|| match order {
                DateOrder::DayFirst => {
                    format!("{v:?} is not {expected} (this file writes the day first)")
                }
                DateOrder::MonthFirst => format!("{v:?} is not {expected}"),
            })
        })
    }

    /// A yes/no column ([`parse_flag`]); `default` when empty.
    fn flag(&self, name: &str, label: &str, default: bool, fail: Fail<'_>) -> Option<bool> {
        self.parse(name, label, fail, |v| parse_flag(v, default))
    }

    /// A fill-up's volume in `name`: a number above 0.
    fn volume(&self, name: &str, label: &str, fail: Fail<'_>) -> Option<f64> {
        self.parse(name, label, fail, |v| match parse_decimal(v)? {
            Some(v) if v > 0.0 => Ok(v),
            _ => Err("a fill-up needs a volume above 0".into()),
        })
    }
}

/// The `Date` and `Odometer` every LubeLogger record has.
fn lubelogger_when(row: &Row<'_>, fail: Fail<'_>) -> Option<(DateTime<Utc>, Option<u64>)> {
    let expected = "a date like 2024-03-02 or 3/2/2024";
    let occurred_at = row.date("date", "Date", expected, fail)?;
    let odometer = row.parse("odometer", "Odometer", fail, parse_odometer)?;
    Some((occurred_at, odometer))
}

fn lubelogger_row(
    format: CsvFormat,
    row: &Row<'_>,
    options: &ImportOptions,
    fail: Fail<'_>,
) -> Option<NewVehicleEvent> {
    let (occurred_at, odometer) = lubelogger_when(row, fail)?;
    // A maintenance record's tags that name a task are its tasks (below); every other tag is kept.
    let tags = if format == CsvFormat::LubeloggerRecords && options.kind == EventKind::Maintenance {
        tags_of(row.get("tags")).1
    } else {
        split_tags(row.get("tags"))
    };
    let notes = notes_with_tags(row.get("notes"), &tags);
    if format == CsvFormat::LubeloggerOdometer {
        return Some(NewVehicleEvent {
            kind: EventKind::OdometerReading,
            occurred_at,
            odometer,
            cost_cents: None,
            currency: None,
            title: None,
            notes,
            vendor: None,
            details: serde_json::Value::Null,
        });
    }
    let cost_cents = row.parse("cost", "Cost", fail, |v| money_in(v, options))?;
    let description = row.get("description");
    let details = match options.kind {
        EventKind::Maintenance => {
            let tasks = tasks_of(description, row.get("tags"));
            if tasks.is_empty() {
                fail(
                    "Description",
                    format!(
                        "no maintenance task recognised in {description:?}: name task codes (e.g. \
                         oil_change) in a Tags column, or import the file with {}",
                        options.asked_by.option("kind", "repair")
                    ),
                );
                return None;
            }
            serde_json::json!({"tasks": tasks})
        }
        _ => serde_json::json!({}),
    };
    Some(NewVehicleEvent {
        kind: options.kind,
        occurred_at,
        odometer,
        currency: cost_cents.map(|_| options.currency.clone()),
        cost_cents,
        title: Some(description.to_string()).filter(|d| !d.is_empty()),
        notes,
        vendor: None,
        details,
    })
}

/// A LubeLogger row's notes, with its tags that name no task on a last line (`Tags: warranty diy`), so
/// the labels a user gave the record are kept.
fn notes_with_tags(notes: &str, other_tags: &[&str]) -> Option<String> {
    let tags = (!other_tags.is_empty()).then(|| format!("Tags: {}", other_tags.join(" ")));
    match (notes.is_empty(), tags) {
        (true, tags) => tags,
        (false, None) => Some(notes.to_string()),
        (false, Some(tags)) => Some(format!("{notes}\n{tags}")),
    }
}

/// `True`/`False` as LubeLogger writes them, `1`/`0`, `yes`/`no`; `default` when empty.
fn parse_flag(s: &str, default: bool) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        _ => Err(format!("{s:?} is not True or False")),
    }
}

/// A positive decimal such as `11.2` (thousands commas ignored).
/// A volume, a price a unit or a distance: either decimal mark (`11.2`, `11,2`, `3.459`, `1,899`: a lone
/// separator before three digits is a decimal mark here, as prices a unit are written), thousands grouped
/// with the other (`1.234,5`).
fn parse_decimal(s: &str) -> Result<Option<f64>, String> {
    let parts =
        number_parts(s, Lone::Decimal).map_err(|_| format!("{s:?} is not a number like 11.2"))?;
    let Some((whole, frac)) = parts else {
        return Ok(None);
    };
    match format!("{}.{frac}", if whole.is_empty() { "0" } else { &whole }).parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!("{s:?} is not a number like 11.2")),
    }
}

/// A fill-up as the fuel files describe it; `details` of the `fuel` event it becomes.
struct FillUp {
    volume: f64,
    unit: VolumeUnit,
    full_tank: bool,
    missed_previous: bool,
    /// Distance driven since the previous fill-up, when the file says.
    trip: Option<f64>,
}

impl FillUp {
    fn event(
        self,
        row: &Row<'_>,
        occurred_at: DateTime<Utc>,
        odometer: Option<u64>,
        cost_cents: Option<u64>,
        options: &ImportOptions,
    ) -> NewVehicleEvent {
        let mut details = serde_json::json!({"volume": self.volume, "volumeUnit": self.unit,
            "fullTank": self.full_tank});
        if let Some(t) = self.trip {
            details["tripDistance"] = t.into();
        }
        if self.missed_previous {
            details["missedPrevious"] = true.into();
        }
        NewVehicleEvent {
            kind: EventKind::Fuel,
            occurred_at,
            odometer,
            currency: cost_cents.map(|_| options.currency.clone()),
            cost_cents,
            title: None,
            notes: notes_with_tags(row.get("notes"), &split_tags(row.get("tags"))),
            vendor: None,
            details,
        }
    }
}

/// LubeLogger's fuel record: `FuelConsumed` in `options.volume_unit`, `Cost` the fill's total,
/// `IsFillToFull` and `MissedFuelUp` as flags; its `FuelEconomy` column is recomputed, not read.
fn lubelogger_fuel_row(
    row: &Row<'_>,
    options: &ImportOptions,
    fail: Fail<'_>,
) -> Option<NewVehicleEvent> {
    let (occurred_at, odometer) = lubelogger_when(row, fail)?;
    let volume = row.volume("fuelconsumed", "FuelConsumed", fail)?;
    let cost_cents = row.parse("cost", "Cost", fail, |v| money_in(v, options))?;
    let full = row.flag("isfilltofull", "IsFillToFull", true, fail)?;
    let missed = row.flag("missedfuelup", "MissedFuelUp", false, fail)?;
    let fill = FillUp {
        volume,
        unit: options.volume_unit,
        full_tank: full,
        missed_previous: missed,
        trip: None,
    };
    Some(fill.event(row, occurred_at, odometer, cost_cents, options))
}

/// Fuelly's fuel-up: `gallons` (or `litres`/`liters`), `price` per unit of volume, `miles` (or
/// `kilometers`) driven since the previous fill-up, and, when the file has them, `odometer`,
/// `partial_fuelup` and `missed_fuelup`.
fn fuelly_row(row: &Row<'_>, options: &ImportOptions, fail: Fail<'_>) -> Option<NewVehicleEvent> {
    let occurred_at = row.date("fuelup_date", "fuelup_date", "a date like 2024-03-02", fail)?;
    let (column, unit) = if !row.get("gallons").is_empty() {
        ("gallons", VolumeUnit::Gal)
    } else if !row.get("litres").is_empty() {
        ("litres", VolumeUnit::L)
    } else if !row.get("liters").is_empty() {
        ("liters", VolumeUnit::L)
    } else {
        fail("gallons", "a fill-up needs a volume".into());
        return None;
    };
    let volume = row.volume(column, column, fail)?;
    let price = row.parse("price", "price", fail, |v| {
        symbol_agrees(v, options)?;
        parse_decimal(v)
    })?;
    let cost_cents = price.map(|p| (p * volume * 100.0).round() as u64);
    let distance_column = if row.get("miles").is_empty() {
        "kilometers"
    } else {
        "miles"
    };
    let trip = row.parse(distance_column, distance_column, fail, parse_decimal)?;
    // The column names its unit: a trip in the other one is converted (1 mi = 1.609344 km).
    let trip = trip.map(|t| match (distance_column, options.odometer_unit) {
        ("miles", OdometerUnit::Km) => t * vwc_contracts::KM_PER_MILE,
        ("kilometers", OdometerUnit::Mi) => t / vwc_contracts::KM_PER_MILE,
        _ => t,
    });
    let odometer = row.parse("odometer", "odometer", fail, parse_odometer)?;
    let partial = row.flag("partial_fuelup", "partial_fuelup", false, fail)?;
    let missed = row.flag("missed_fuelup", "missed_fuelup", false, fail)?;
    let fill = FillUp {
        volume,
        unit,
        full_tank: !partial,
        missed_previous: missed,
        trip: trip.filter(|t| *t > 0.0),
    };
    Some(fill.event(row, occurred_at, odometer, cost_cents, options))
}

fn vwc_row(row: &Row<'_>, options: &ImportOptions, fail: Fail<'_>) -> Option<NewVehicleEvent> {
    let kind: EventKind = row.parse("kind", "kind", fail, |k| {
        serde_json::from_value(serde_json::json!(k))
            .map_err(|_| format!("{k:?} is not an event kind"))
    })?;
    let occurred_at = row.date("occurredat", "occurredAt", "an RFC 3339 time", fail)?;
    // An export names its vehicle's unit: miles are never read as kilometres, nor the other way round (its
    // details hold distances too — a fill-up's trip, an interval — so the row is refused, not converted).
    row.parse("odometerunit", "odometerUnit", fail, |u| match u {
        "" => Ok(()),
        u => match serde_json::from_value::<OdometerUnit>(serde_json::json!(u)) {
            Ok(unit) if unit == options.odometer_unit => Ok(()),
            Ok(unit) => Err(format!(
                "this row's distances are in {}, and the vehicle records {}: import the file into a vehicle \
                 in {} (distances are not converted)",
                unit.as_str(),
                options.odometer_unit.as_str(),
                unit.as_str()
            )),
            Err(_) => Err(format!("{u:?} is not an odometer unit (mi or km)")),
        },
    })?;
    let odometer = row.parse("odometer", "odometer", fail, parse_odometer)?;
    let cost_cents = row.parse("costcents", "costCents", fail, |c| match c {
        "" => Ok(None),
        c => c
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{c:?} is not a whole number of cents")),
    })?;
    let details = row.parse("details", "details", fail, |d| match d {
        "" => Ok(serde_json::Value::Null),
        d => serde_json::from_str(d).map_err(|e| format!("not JSON: {e}")),
    })?;
    let text = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
    Some(NewVehicleEvent {
        kind,
        occurred_at,
        odometer,
        cost_cents,
        currency: text(row.get("currency"))
            .or_else(|| cost_cents.map(|_| options.currency.clone())),
        title: text(row.get("title")),
        notes: text(row.get("notes")),
        vendor: text(row.get("vendor")).map(|name| Vendor {
            name,
            dealer_id: None,
        }),
        details,
    })
}

/// What the vehicle's records as they now read and the file's other rows make doubtful about each row's
/// odometer ([`crate::odometer`]: lower than an earlier reading, higher than later ones, further than a
/// vehicle is driven), by row; the rows are recorded as read all the same. Read before the rows are
/// recorded; a row imported before meets its own copy, which is no other reading (the same value). Of the
/// file's rows only those up to a row's time count for it: a typo is the row lower than the ones before
/// it, not also each earlier row it is lower than.
pub async fn odometer_warnings(
    ingestion: &crate::Ingestion,
    vehicle: &vwc_contracts::Vehicle,
    rows: &[ImportRow],
) -> Result<Vec<RowError>, vwc_store::StoreError> {
    let file: Vec<Option<(DateTime<Utc>, u64)>> = rows
        .iter()
        .map(|r| r.event.odometer.map(|v| (r.event.occurred_at, v)))
        .collect();
    if file.iter().all(Option::is_none) {
        return Ok(Vec::new());
    }
    let held: Vec<(DateTime<Utc>, u64)> = ingestion
        .current_events(vehicle)
        .await?
        .iter()
        .filter_map(|e| e.odometer.map(|v| (e.occurred_at, v)))
        .collect();
    let warnings = crate::odometer::file_warnings(&file, held, vehicle.odometer_unit);
    Ok(warnings
        .into_iter()
        .map(|(i, message)| RowError {
            row: rows[i].row,
            field: "odometer".into(),
            message,
        })
        .collect())
}

/// `warnings` without those of a refused row (in `errors`): a row not recorded has no odometer to doubt.
pub fn without_refused(mut warnings: Vec<RowError>, errors: &[RowError]) -> Vec<RowError> {
    let refused: std::collections::HashSet<u64> = errors.iter().map(|e| e.row).collect();
    warnings.retain(|w| !refused.contains(&w.row));
    warnings
}

/// What recording the rows came to.
#[derive(Debug, Default)]
pub struct Applied {
    pub imported: u64,
    pub skipped: u64,
    pub errors: Vec<RowError>,
}

/// Rows of one import recorded at once: their writes reach the store's writer together and commit in
/// one transaction (the SQLite writer groups up to 128 jobs), and the bus hands the consumers their events
/// in batches (each ledger consumer decides once per batch of a vehicle's events: docs/vehicle-ledger.md)
/// instead of one by one. 128 against 64: a 2,000-row import published 2,530–2,584 valuation points
/// instead of 2,894–3,059, and 58–63 notifications instead of 101–122 (docs/bench.md).
pub const ROWS_IN_FLIGHT: usize = 128;

/// Records `rows` on `vehicle` (or, with `dry_run`, only validates them), each under its import key, so
/// a row imported before is `skipped`. Up to [`ROWS_IN_FLIGHT`] rows are recorded at once (a row's
/// validation reads only the row, the vehicle and the clock, so the order they commit in changes no
/// outcome); `progress` is called after each row, in file order (the CLI's progress bar).
pub async fn apply(
    ingestion: &crate::Ingestion,
    vehicle: &vwc_contracts::Vehicle,
    rows: Vec<ImportRow>,
    dry_run: bool,
    traceparent: Option<String>,
    mut progress: impl FnMut(u64),
) -> Result<Applied, vwc_store::StoreError> {
    use crate::service::RecordError;
    use futures::StreamExt;
    use vwc_contracts::EventSource;
    let mut out = Applied::default();
    // A row of this vehicle's own export: its record is here already (a voided one included, which stays
    // voided), so it is skipped rather than recorded a second time under another id.
    let held = |row: &ImportRow| {
        let id = row.exported_id.clone();
        async move {
            let Some(id) = id else { return Ok(false) };
            Ok::<_, vwc_store::StoreError>(
                ingestion
                    .store()
                    .event(&vehicle.org_id, &id.as_str().into())
                    .await?
                    .is_some_and(|e| e.vehicle_id == vehicle.id),
            )
        }
    };
    if dry_run {
        for row in rows {
            if held(&row).await? {
                out.skipped += 1;
                progress(row.row);
                continue;
            }
            match row.event.validate(
                "evt_dry_run".into(),
                vehicle,
                EventSource::User,
                ingestion.now(),
            ) {
                Ok(_) => out.imported += 1,
                Err(e) => out.errors.extend(validation_errors(row.row, e)),
            }
            progress(row.row);
        }
        return Ok(out);
    }
    let traceparent = traceparent.as_deref();
    let mut recorded = futures::stream::iter(rows)
        .map(|row| async move {
            let record = |key: String| {
                ingestion.record_event(
                    vehicle,
                    row.event.clone(),
                    EventSource::User,
                    Some(crate::store::IdempotencyKey {
                        key: key.clone(),
                        request_hash: key,
                    }),
                    traceparent.map(str::to_string),
                )
            };
            match held(&row).await {
                Ok(true) => return (row.row, Ok(None)),
                Ok(false) => {}
                Err(e) => return (row.row, Err(RecordError::Store(e))),
            }
            // A row's key says what the row is, not where it went (the keys of imports before this
            // rule), so the same row imported into another vehicle of the organisation finds it — that
            // is not this vehicle's replay: such a row is keyed again with this vehicle in its key.
            let recorded = match record(row.key.clone()).await {
                Ok(r) if r.replayed && r.event.vehicle_id != vehicle.id => {
                    record(format!("{}:{}", row.key, vehicle.id)).await
                }
                other => other,
            };
            (row.row, recorded.map(Some))
        })
        .buffered(ROWS_IN_FLIGHT);
    while let Some((line, recorded)) = recorded.next().await {
        match recorded {
            Ok(None) => out.skipped += 1,
            Ok(Some(r)) if r.replayed => out.skipped += 1,
            Ok(Some(_)) => out.imported += 1,
            Err(RecordError::Invalid(e)) => out.errors.extend(validation_errors(line, e)),
            Err(RecordError::KeyReused) => out.errors.push(RowError {
                row: line,
                field: "row".into(),
                message: "an earlier import used this row's key for another row".into(),
            }),
            Err(RecordError::Store(e)) => return Err(e),
        }
        progress(line);
    }
    Ok(out)
}

/// Field errors of a row's event (from validation), reported against the row.
pub fn validation_errors(row: u64, errors: Vec<FieldError>) -> Vec<RowError> {
    errors
        .into_iter()
        .map(|e| RowError {
            row,
            field: e.field,
            message: e.message,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ImportOptions {
        ImportOptions {
            odometer_unit: OdometerUnit::Mi,
            kind: EventKind::Maintenance,
            currency: "USD".into(),
            volume_unit: VolumeUnit::Gal,
            asked_by: AskedBy::Http,
        }
    }

    fn error_rows(csv_text: &str) -> Vec<u64> {
        let (_, _, errors) = read(csv_text, &options()).unwrap();
        errors.iter().map(|e| e.row).collect()
    }

    #[test]
    fn a_rows_number_is_its_line_with_crlf_blank_lines_and_a_bom() {
        let header = "Date,Odometer,Description,Notes,Cost";
        let good = "2024-03-02,100,Oil change,a,1";
        let bad = "2024-13-40,200,Oil change,b,2";
        for (text, line) in [
            (format!("{header}\n{good}\n{bad}\n"), 3),
            (format!("{header}\r\n{good}\r\n{bad}\r\n"), 3),
            (format!("{header}\n{good}\n\n{bad}\n"), 4),
            (format!("{header}\n{good}\n\n\n{bad}\n"), 5),
            (format!("{header}\r\n{good}\r\n\r\n{bad}\r\n"), 4),
            (format!("{header}\r{good}\r\r{bad}\r"), 4),
            (format!("\u{feff}{header}\r\n{bad}"), 2),
            (
                format!("{header}\n2024-03-02,100,Oil change,\"two\nlines\",1\n{bad}\n"),
                4,
            ),
        ] {
            assert_eq!(error_rows(&text), [line], "{text:?}");
        }
    }

    /// The events a file maps to, as JSON (the idempotency keys hash the same).
    fn events_of(text: &str) -> Vec<String> {
        let (_, rows, errors) = read(text, &options()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        rows.iter().map(|r| r.key.clone()).collect()
    }

    #[test]
    fn a_semicolon_or_tab_file_reads_as_the_comma_file_it_stands_for() {
        let comma = "Date,Odometer,Description,Notes,Cost\n2024-03-02,41250,Oil change,\"a, b\",\"1,234.50\"\n\
                     2025-02-01,45000,Tire rotation,c,45.99\n";
        let semicolon = "Date;Odometer;Description;Notes;Cost\n02.03.2024;41250;Oil change;a, b;1.234,50\n\
                         1.2.2025;45000;Tire rotation;c;45,99\n";
        let tab = "\u{feff}Date\tOdometer\tDescription\tNotes\tCost\r\n2024-03-02\t41250\tOil change\ta, b\t1234.50\r\n\
                   2025-02-01\t45000\tTire rotation\tc\t45.99\r\n";
        let expected = events_of(comma);
        assert_eq!(expected.len(), 2);
        assert_eq!(events_of(semicolon), expected);
        assert_eq!(events_of(tab), expected);
        // A semicolon file's row of the wrong width names the semicolon, and its unclosed quote is found.
        let (_, _, errors) = read(
            "Date;Odometer;Description;Notes;Cost\n2024-03-02;100;Oil;change;a;1\n",
            &options(),
        )
        .unwrap();
        assert!(
            errors[0].message.contains("a semicolon inside a value"),
            "{errors:?}"
        );
        let err = read(
            "Date;Odometer;Description;Notes;Cost\n2024-03-02;100;\"Oil change;a;1\n2024-03-03;1;x;y;2\n",
            &options(),
        )
        .unwrap_err();
        assert!(err.starts_with("line 2: a quoted field opens"), "{err}");
        // A comma file whose values hold semicolons stays a comma file.
        assert_eq!(
            events_of("Date,Odometer,Description,Notes,Cost\n2024-03-02,41250,Oil change,\"a, b\",\"1,234.50\"\n2025-02-01,45000,Tire rotation,c;d,45.99\n").len(),
            2
        );
        // Dotted dates are day first; a two-digit year is refused there too.
        assert_eq!(
            parse_date("1.2.2025").unwrap().date_naive(),
            NaiveDate::from_ymd_opt(2025, 2, 1).unwrap()
        );
        assert_eq!(parse_date("1.2.25"), None);
        // A year written first, with slashes, is read too (it was refused as a two-digit year).
        assert_eq!(
            parse_date("2024/03/02").unwrap().date_naive(),
            NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
        );
        assert_eq!(parse_date("3/2/24"), None);
    }

    #[test]
    fn utf16_files_are_read_and_other_encodings_refused_naming_the_line() {
        let text =
            "Date,Odometer,Description,Notes,Cost\n2024-03-02,100,Vidange moteur,Garage Müller,1\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(text_of(&le).unwrap(), text);
        assert_eq!(text_of(&be).unwrap(), text);
        assert_eq!(text_of(text.as_bytes()).unwrap(), text);
        assert!(matches!(
            text_of(text.as_bytes()),
            Ok(std::borrow::Cow::Borrowed(_))
        ));
        // Latin-1 (Windows-1252) "ü" on line 2.
        let latin1: Vec<u8> = text
            .replace('ü', "\u{1}")
            .bytes()
            .map(|b| if b == 1 { 0xFC } else { b })
            .collect();
        let err = text_of(&latin1).unwrap_err();
        assert!(
            err.starts_with("line 2 is not UTF-8 text (byte 0xFC)"),
            "{err}"
        );
        assert!(
            text_of(&le[..le.len() - 1])
                .unwrap_err()
                .contains("cut short")
        );
        let broken: Vec<u8> = [0xFF, 0xFE, 0x00, 0xD8, 0x41, 0x00].to_vec();
        assert!(text_of(&broken).unwrap_err().contains("broken character"));
    }

    #[test]
    fn json_given_to_the_import_is_refused_pointing_to_the_csv_export() {
        for json in [
            "{\"vehicle\": {}, \"events\": []}",
            "\u{feff}  [{\"kind\": \"fuel\"}]",
        ] {
            let err = read(json, &options()).unwrap_err();
            assert!(
                err.starts_with("the file is JSON, and the import reads CSV"),
                "{err}"
            );
        }
        let err = read("When,Where\n1,2\n", &options()).unwrap_err();
        assert!(
            err.starts_with("the header row matches no known format"),
            "{err}"
        );
    }

    #[test]
    fn a_quote_never_closed_refuses_the_file_naming_its_line() {
        let text = "Date,Odometer,Description,Notes,Cost\n2024-03-02,100,Oil change,a,1\n\
                    2024-03-03,200,\"Oil change,b,2\n2024-03-04,300,Oil change,c,3\n";
        let err = read(text, &options()).unwrap_err();
        assert!(
            err.starts_with("line 3: a quoted field opens here"),
            "{err}"
        );
        // Closed quotes, doubled quotes, a quote inside an unquoted field, quoted line breaks: read.
        for fine in [
            "Date,Odometer,Description,Notes,Cost\n2024-03-02,100,\"Oil, \"\"good\"\"\",\"two\nlines\",1\n",
            "Date,Odometer,Description,Notes,Cost\n2024-03-02,100,17\" tires,a,1\n",
            "Date,Odometer,Description,Notes,Cost\n2024-03-02,100,\"\",a,1",
        ] {
            assert!(read(fine, &options()).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn amounts_dates_and_odometers_parse_as_lubelogger_writes_them() {
        assert_eq!(parse_money("89.99"), Ok(Some(8999)));
        assert_eq!(parse_money("$1,234.5"), Ok(Some(123450)));
        assert_eq!(parse_money(""), Ok(None));
        assert!(parse_money("12.345").is_err());
        assert!(parse_money("abc").is_err());
        assert_eq!(
            parse_date("3/2/2024").unwrap().to_rfc3339(),
            "2024-03-02T12:00:00+00:00"
        );
        assert!(parse_date("2024-03-02").is_some());
        assert!(parse_date("31/12/2024").is_none());
        assert_eq!(parse_odometer("41,250"), Ok(Some(41250)));
        assert_eq!(parse_odometer("41250.6"), Ok(Some(41250)));
    }

    /// A currency symbol that says another currency than the import's refuses the amount (probe p44 M2:
    /// "€45.99" was recorded as 45.99 USD).
    #[test]
    fn an_amount_whose_symbol_says_another_currency_is_refused() {
        let text = "Date,Odometer,Description,Notes,Cost\n3/2/2024,1,Oil change,,€45.99\n4/2/2024,2,Oil change,,$12.00\n";
        let (_, rows, errors) = read(text, &options()).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            errors[0]
                .message
                .contains("written in € (EUR), and this import records USD"),
            "{errors:?}"
        );
        let eur = ImportOptions {
            currency: "EUR".into(),
            ..options()
        };
        let (_, rows, errors) = read(text, &eur).unwrap();
        assert_eq!((rows.len(), errors.len()), (1, 1), "{errors:?}");
        assert_eq!(rows[0].event.cost_cents, Some(4599));
        assert!(errors[0].message.contains("currency=USD"), "{errors:?}");
        // The command line names its option as it is typed.
        let cli = ImportOptions {
            asked_by: AskedBy::Cli,
            ..eur
        };
        let (_, _, errors) = read(text, &cli).unwrap();
        assert!(
            errors[0]
                .message
                .contains("import the file with --currency USD ("),
            "{errors:?}"
        );
    }

    #[test]
    fn a_hint_names_the_option_as_the_caller_gives_it() {
        assert_eq!(AskedBy::Http.option("kind", "repair"), "kind=repair");
        assert_eq!(AskedBy::Cli.option("kind", "repair"), "--kind repair");
        assert_eq!(AskedBy::Cli.option("volumeUnit", "l"), "--volume-unit l");
        let text = "Date,Odometer,Description,Notes,Cost\n3/2/2024,1,Washer fluid,,\n";
        for (asked_by, hint) in [
            (AskedBy::Http, "kind=repair"),
            (AskedBy::Cli, "--kind repair"),
        ] {
            let options = ImportOptions {
                asked_by,
                ..options()
            };
            let (_, _, errors) = read(text, &options).unwrap();
            assert!(
                errors[0]
                    .message
                    .ends_with(&format!("import the file with {hint}")),
                "{errors:?}"
            );
        }
    }

    /// A row of another width than the header is refused, not recorded with what it lacks; a column
    /// named twice refuses the file (probe p44 M1).
    #[test]
    fn a_row_cut_short_or_too_wide_and_a_column_named_twice_are_refused() {
        let text = "Date,Odometer,Description,Notes,Cost\n\
                    3/2/2024,41250,Oil change,,89.99\n\
                    4/2/2024,41300,Oil change,none,12,50\n\
                    5/2/2024,41350,Oil change\n";
        let (_, rows, errors) = read(text, &options()).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            errors.iter().map(|e| e.row).collect::<Vec<_>>(),
            [3, 4],
            "{errors:?}"
        );
        assert!(
            errors[0]
                .message
                .starts_with("6 fields, and the header has 5"),
            "{errors:?}"
        );
        assert!(
            errors[1]
                .message
                .starts_with("3 fields, and the header has 5"),
            "{errors:?}"
        );
        let twice = read(
            "Date,Odometer,Description,Cost,Cost\n3/2/2024,1,Oil,1,2\n",
            &options(),
        );
        assert!(twice.unwrap_err().contains("\"cost\" twice"));
    }

    /// A file whose dates put a day over 12 first is read day first throughout (3/2/2024 is 3 February
    /// there, not 2 March); one that mixes both orders is refused; a two-digit year is no year (probe p44
    /// M3).
    #[test]
    fn a_day_first_file_is_read_day_first_and_a_mixed_one_is_refused() {
        let day_first = "Date,Odometer,Description,Notes,Cost\n\
                         31/12/2024,41250,Oil change,,89.99\n\
                         3/2/2025,42000,Oil change,,89.99\n";
        let (_, rows, errors) = read(day_first, &options()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rows[1].event.occurred_at.date_naive().to_string(),
            "2025-02-03"
        );
        let us = "Date,Odometer,Description,Notes,Cost\n12/31/2024,41250,Oil change,,1\n3/2/2025,42000,Oil,,1\n";
        let (_, rows, _) = read(us, &options()).unwrap();
        assert_eq!(
            rows[1].event.occurred_at.date_naive().to_string(),
            "2025-03-02"
        );
        let mixed =
            "Date,Odometer,Description,Notes,Cost\n31/12/2024,1,Oil,,1\n12/31/2024,2,Oil,,1\n";
        assert!(
            read(mixed, &options())
                .unwrap_err()
                .contains("mix day-first")
        );
        assert!(parse_date("3/2/24").is_none());
    }

    /// An export's rows name their unit: into a vehicle of the other unit they are refused, never read as
    /// its unit (probe p44: 52,500 mi became 52,500 km); a Fuelly trip in miles is converted for a vehicle in
    /// km.
    #[test]
    fn rows_of_the_other_odometer_unit_are_refused_or_converted() {
        let export = "id,occurredAt,kind,title,odometer,costCents,currency,vendor,notes,details,source,recordedAt,odometerUnit\n\
                      e1,2024-03-02T10:00:00Z,odometer_reading,,52500,,,,,,user,2024-03-02T10:00:00Z,mi\n";
        let km = ImportOptions {
            odometer_unit: OdometerUnit::Km,
            ..options()
        };
        let (_, rows, errors) = read(export, &km).unwrap();
        assert!(rows.is_empty(), "{rows:?}");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let said = format!("{errors:?}");
        assert!(
            said.contains("odometerUnit") && said.contains("in mi, and the vehicle records km"),
            "{said}"
        );
        let (_, rows, errors) = read(export, &options()).unwrap();
        assert_eq!((rows.len(), errors.len()), (1, 0), "{errors:?}");

        let fuelly = "fuelup_date,miles,gallons,price\n2024-03-02,300,10,3.459\n";
        let (_, rows, errors) = read(fuelly, &km).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let trip = rows[0].event.details["tripDistance"].as_f64().unwrap();
        assert!((trip - 482.8032).abs() < 0.01, "{trip}");
        let (_, rows, _) = read(fuelly, &options()).unwrap();
        assert_eq!(rows[0].event.details["tripDistance"].as_f64(), Some(300.0));
    }

    /// Either decimal mark, thousands grouped by the other; what cannot be told apart is refused, never
    /// read as another number (probe p44: "45,99 €" was 4,599.00, "12.345" km was 12, "1,2,3" was 123).
    #[test]
    fn numbers_of_either_convention_read_as_written_or_are_refused() {
        for (written, cents) in [
            ("45,99 €", 4599),
            ("€45.99", 4599),
            ("1.234,50", 123450),
            ("1,234.50", 123450),
            ("1 234,50", 123450),
            ("1,234", 123400),
            ("12,5", 1250),
            ("0,99", 99),
        ] {
            assert_eq!(parse_money(written), Ok(Some(cents)), "{written}");
        }
        for refused in [
            "1,2,3",
            "12.345",
            "1.234.5,6",
            "12,34,56",
            "1,23.45",
            "4,5,",
            ".",
        ] {
            assert!(parse_money(refused).is_err(), "{refused}");
        }
        assert_eq!(parse_odometer("12,345"), Ok(Some(12345)));
        assert_eq!(parse_odometer("12.345,6"), Ok(Some(12345)));
        assert_eq!(parse_odometer("12 345"), Ok(Some(12345)));
        let ambiguous = parse_odometer("12.345").unwrap_err();
        assert!(ambiguous.contains("could be"), "{ambiguous}");
        assert!(parse_odometer("1,2,3").is_err());
        assert_eq!(parse_decimal("40,5"), Ok(Some(40.5)));
        assert_eq!(parse_decimal("1,899"), Ok(Some(1.899)));
        assert_eq!(parse_decimal("3.459"), Ok(Some(3.459)));
        assert_eq!(parse_decimal("1.234,5"), Ok(Some(1234.5)));
        assert_eq!(parse_decimal("11.2"), Ok(Some(11.2)));
        assert!(parse_decimal("1,2,3").is_err());
    }

    #[test]
    fn service_descriptions_name_their_tasks() {
        assert_eq!(
            tasks_of("Oil change + tire rotation", ""),
            ["oil_change", "tire_rotation"]
        );
        assert_eq!(tasks_of("Cabin air filter", ""), ["cabin_air_filter"]);
        assert_eq!(
            tasks_of("Misc", "coolant wiper_blades"),
            ["coolant", "wiper_blades"]
        );
        assert!(tasks_of("Detailing", "Shiny!").is_empty());
    }

    /// Probe p44 L1: LubeLogger's tags are labels; only those naming a task are tasks, the rest stay in the
    /// notes (before, any lower-case tag became a custom task with a schedule of its own).
    #[test]
    fn tags_are_tasks_only_when_they_name_one_and_the_rest_are_kept_in_the_notes() {
        assert_eq!(
            tags_of("warranty Oil_Change diy tire-rotation, Coolant;dealer oil_leak"),
            (
                vec![
                    "oil_change".to_string(),
                    "tire_rotation".to_string(),
                    "coolant".to_string()
                ],
                vec!["warranty", "diy", "dealer", "oil_leak"]
            )
        );
        assert_eq!(tasks_of("Misc", "warranty diy"), Vec::<String>::new());
        assert_eq!(
            tasks_of("Oil change", "oil warranty"),
            ["oil_change"],
            "a tag naming a task the description named is not added twice"
        );
        assert_eq!(
            notes_with_tags("Synthetic 0W-20", &["warranty", "diy"]).as_deref(),
            Some("Synthetic 0W-20\nTags: warranty diy")
        );
        assert_eq!(notes_with_tags("", &["diy"]).as_deref(), Some("Tags: diy"));
        assert_eq!(notes_with_tags("Kept", &[]).as_deref(), Some("Kept"));
        assert_eq!(notes_with_tags("", &[]), None);
    }

    /// Whole words, and not a fault or work not done (probe p44: "Ignition coil", "Rear spoiler", "oil
    /// leak" and "No oil change needed" were oil changes; "Coolant leak inspection" an annual inspection).
    #[test]
    fn a_task_is_named_by_whole_words_and_not_by_a_fault_or_work_not_done() {
        for description in [
            "Ignition coil",
            "Rear spoiler",
            "Recoil starter",
            "Fix oil leak",
            "No oil change needed",
            "Oil pressure sensor replaced",
            "Coolant leak inspection",
            "Battery light on",
            "Skipped the inspection",
        ] {
            assert!(
                tasks_of(description, "").is_empty(),
                "{description}: {:?}",
                tasks_of(description, "")
            );
        }
        for (description, tasks) in [
            ("Oil", &["oil_change"][..]),
            ("Oil & Filter", &["oil_change"]),
            ("Engine oil and filter change", &["oil_change"]),
            (
                "State inspection + wipers",
                &["annual_inspection", "wiper_blades"],
            ),
            ("Transmission flush", &["transmission_fluid"]),
            (
                "Tire rotation, cabin filter",
                &["tire_rotation", "cabin_air_filter"],
            ),
            ("Inspection", &["annual_inspection"]),
            ("Changed the oil", &["oil_change"]),
            ("Transmission oil", &[]),
        ] {
            assert_eq!(tasks_of(description, ""), tasks, "{description}");
        }
    }
}
