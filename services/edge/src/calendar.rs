//! The maintenance calendar feed: each vehicle's maintenance items as iCalendar events (RFC 5545), per
//! vehicle or for the whole fleet, reachable with a bearer token or through a signed, revocable URL that a
//! calendar app can subscribe to. `docs/calendar.md` says how.

pub mod http;
pub mod ics;
pub mod keys;
pub mod signing;

#[cfg(feature = "aws")]
pub use keys::MongoCalendarKeys;
pub use keys::{CalendarKeyStore, FeedSecret, SqliteCalendarKeys};
