//! A timeline page as `GET /v1/vehicles/{id}/events` sends it, written straight from the events' stored
//! JSON: the stores keep each event as the JSON the API shows (a `TimelineItem`), so a page is those texts
//! joined inside the `Page` envelope, with no decoding, re-encoding or per-event allocation
//! (docs/bench.md, "The timeline page written from the stored JSON").

use vwc_store::StoreResult;

use crate::store::TimelinePosition;

/// What a `Page<TimelineItem>` starts with, up to its first item.
const OPEN: &[u8] = b"{\"items\":[";
/// The most a page reserves up front for its items (more grows the buffer as needed).
const MAX_RESERVE: usize = 256 * 1024;

/// Up to `limit` events' stored JSON, in the order read, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePage {
    /// [`OPEN`], then the events' JSON separated by commas.
    json: Vec<u8>,
    len: usize,
    /// The position of the page's last event when more events follow it; `None` on the last page.
    pub next: Option<TimelinePosition>,
}

impl TimelinePage {
    /// How many events the page holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events' JSON separated by commas: the inside of the `items` array.
    pub fn items_json(&self) -> &[u8] {
        &self.json[OPEN.len()..]
    }

    /// The whole `Page` JSON, `{"items":[…],"nextCursor":…}`: `next_cursor` (the encoded [`Self::next`])
    /// as a JSON string, or `null`.
    pub fn into_json(self, next_cursor: Option<&str>) -> Vec<u8> {
        let mut json = self.json;
        json.extend_from_slice(b"],\"nextCursor\":");
        serde_json::to_writer(&mut json, &next_cursor).expect("a string serialises into a Vec");
        json.push(b'}');
        json
    }
}

/// Collects a [`TimelinePage`] from rows read newest first. Read [`rows`](Self::rows) rows — one more than
/// the page holds, to learn whether another page follows — and [`push`](Self::push) each until it says
/// the page is full.
#[derive(Debug)]
pub struct TimelinePageBuilder {
    page: TimelinePage,
    limit: usize,
    /// The position of the `limit`-th event, the next page's start if another row comes.
    last: Option<TimelinePosition>,
    more: bool,
}

impl TimelinePageBuilder {
    /// A page of at most `limit` events.
    pub fn new(limit: usize) -> TimelinePageBuilder {
        TimelinePageBuilder {
            page: TimelinePage {
                json: OPEN.to_vec(),
                len: 0,
                next: None,
            },
            limit,
            last: None,
            more: false,
        }
    }

    /// How many rows to read for this page: one more than it holds.
    pub fn rows(&self) -> usize {
        self.limit.saturating_add(1)
    }

    /// Takes the next row read: its stored JSON, and its position, which is asked for only of the row
    /// that fills the page (the next page's cursor, should another row follow). `Ok(false)` once the page
    /// is full: that row is not part of it, it only said that more follow; stop reading.
    pub fn push(
        &mut self,
        json: &[u8],
        position: impl FnOnce() -> StoreResult<TimelinePosition>,
    ) -> StoreResult<bool> {
        if self.page.len == self.limit {
            self.more = true;
            return Ok(false);
        }
        if self.page.len == 0 {
            // One allocation for the whole page in the usual case: events are of similar sizes.
            let guess = json.len().saturating_mul(self.limit).saturating_add(64);
            self.page.json.reserve(guess.min(MAX_RESERVE));
        } else {
            self.page.json.push(b',');
        }
        self.page.json.extend_from_slice(json);
        self.page.len += 1;
        if self.page.len == self.limit {
            self.last = Some(position()?);
        }
        Ok(true)
    }

    pub fn finish(mut self) -> TimelinePage {
        if self.more {
            self.page.next = self.last;
        }
        self.page
    }
}

/// The position of a row whose `occurred_at` is stored as text (`vwc_store::ts`).
pub fn position(occurred_at: &str, id: &str) -> StoreResult<TimelinePosition> {
    Ok(TimelinePosition {
        occurred_at: vwc_store::parse_ts(occurred_at)?,
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn at(n: u32) -> TimelinePosition {
        TimelinePosition {
            occurred_at: DateTime::from_timestamp(i64::from(n) * 60, 0).unwrap(),
            id: format!("evt_{n}"),
        }
    }

    /// Pushes rows `{"n":N}` for N in `0..rows` into a page of `limit`; the page and how many were taken.
    fn page_of(limit: usize, rows: u32) -> (TimelinePage, usize) {
        let mut builder = TimelinePageBuilder::new(limit);
        let mut taken = 0;
        for n in 0..rows.min(builder.rows() as u32) {
            let json = format!("{{\"n\":{n}}}");
            if !builder.push(json.as_bytes(), || Ok(at(n))).unwrap() {
                break;
            }
            taken += 1;
        }
        (builder.finish(), taken)
    }

    #[test]
    fn a_page_is_the_stored_json_joined_and_the_extra_row_only_says_more_follow() {
        let (page, taken) = page_of(2, 3);
        assert_eq!(taken, 2);
        assert_eq!(page.len(), 2);
        assert_eq!(page.items_json(), br#"{"n":0},{"n":1}"#);
        assert_eq!(page.next, Some(at(1)));
        assert_eq!(
            page.into_json(Some("abc")),
            br#"{"items":[{"n":0},{"n":1}],"nextCursor":"abc"}"#
        );
    }

    #[test]
    fn a_page_without_a_row_after_it_is_the_last() {
        for (limit, rows) in [(2, 2), (3, 2), (1, 0)] {
            let (page, taken) = page_of(limit, rows);
            assert_eq!(taken, rows as usize);
            assert_eq!(page.next, None, "{limit} of {rows}");
        }
        let (empty, _) = page_of(5, 0);
        assert!(empty.is_empty());
        assert_eq!(empty.into_json(None), br#"{"items":[],"nextCursor":null}"#);
    }

    #[test]
    fn the_position_is_read_only_for_the_row_that_fills_the_page() {
        let mut builder = TimelinePageBuilder::new(3);
        let mut asked = Vec::new();
        for n in 0..4u32 {
            let more = builder
                .push(b"{}", || {
                    asked.push(n);
                    Ok(at(n))
                })
                .unwrap();
            assert_eq!(more, n < 3);
        }
        assert_eq!(asked, [2]);
        assert_eq!(builder.finish().next, Some(at(2)));
    }

    #[test]
    fn a_stored_position_that_does_not_parse_is_an_error() {
        let mut builder = TimelinePageBuilder::new(1);
        let bad = builder.push(b"{}", || position("yesterday", "evt_1"));
        assert!(bad.is_err());
        assert_eq!(
            position("2024-06-01T08:00:00.000000Z", "evt_1").unwrap(),
            TimelinePosition {
                occurred_at: DateTime::from_timestamp(1_717_228_800, 0).unwrap(),
                id: "evt_1".into()
            }
        );
    }
}
