//! MongoDB adapter of the valuation store: the service's own database (e.g. `vwc_valuation`), indexes
//! created at start-up, and every commit (version check, inbox claim, state, outbox) in one transaction.
//!
//! Reads are not transactional: the vehicle document (with its version) is read first and its details
//! after, so a commit computed from details newer than that version is refused by the version check.

use crate::store::RevaluePage;
use async_trait::async_trait;
use chrono::NaiveDate;
use mongodb::bson::{Document, doc};
use serde::Deserialize;
use vwc_store::StoreResult;
use vwc_store::mongo::MongoDb;
use vwc_store::vehicle_ledger::mongo::{Details, MongoLedger, Writes, page_filter};
use vwc_store::vehicle_ledger::{LedgerStore, parse_day};

use crate::model::sort_facts;
use crate::store::{PublishedPoint, ValuationStore, VehicleCommit, VehicleState};

// `vehicles`: `{_id: vehicle_id, version, org_id, profile, current_on, current_fingerprint,
// current_amount}`. `fact_revisions`: see `vwc_store::vehicle_ledger::mongo`.

/// `{_id: "<vehicle>/<event>", vehicle_id, body}`.
const FACTS: &str = "facts";
/// `{_id: "<vehicle>/<day>", vehicle_id, as_of, fingerprint, amount}`.
const PUBLISHED: &str = "published";

/// The valuation's MongoDB store.
pub type MongoValuationStore = LedgerStore<MongoDb, VehicleState>;

#[async_trait]
impl MongoLedger for VehicleState {
    const COLLECTIONS: &'static [&'static str] = &[FACTS, PUBLISHED];

    /// Reads every fact and published point.
    async fn load_details(details: &mut Details<'_, VehicleState>) -> StoreResult<()> {
        let fact = |d: FactDoc| Ok(serde_json::from_str(&d.body)?);
        details.fill_into(FACTS, |s| &mut s.facts, fact).await?;
        details
            .fill_into(PUBLISHED, |s| &mut s.published, PointDoc::point)
            .await?;
        for s in details.states.values_mut() {
            sort_facts(&mut s.facts);
        }
        Ok(())
    }

    fn vehicle_fields(c: &VehicleCommit) -> StoreResult<Document> {
        let mut set = Document::new();
        if let Some(p) = &c.register {
            set.insert("org_id", &p.org_id);
            set.insert("profile", serde_json::to_string(p)?);
        }
        if let Some((on, point)) = &c.current {
            set.insert("current_on", on.to_string());
            set.insert("current_fingerprint", point.fingerprint as i64);
            set.insert("current_amount", point.amount_cents as i64);
        }
        Ok(set)
    }

    async fn write_details(tx: &mut Writes<'_>, c: &VehicleCommit) -> StoreResult<()> {
        let vehicle = &c.ledger.vehicle_id;
        for f in &c.facts {
            let fact = doc! { "vehicle_id": vehicle, "body": serde_json::to_string(f)? };
            let id = format!("{vehicle}/{}", f.event_id);
            tx.upsert(FACTS, id, doc! { "$setOnInsert": fact }).await?;
        }
        for (on, point) in &c.published {
            let (fingerprint, amount) = (point.fingerprint as i64, point.amount_cents as i64);
            let point = doc! {
                "vehicle_id": vehicle,
                "as_of": on.to_string(),
                "fingerprint": fingerprint,
                "amount": amount,
            };
            tx.upsert(PUBLISHED, format!("{vehicle}/{on}"), doc! { "$set": point })
                .await?;
        }
        Ok(())
    }
}

/// A `facts` document: the fact as JSON.
#[derive(Deserialize)]
struct FactDoc {
    body: String,
}

/// A `published` document: one history point.
#[derive(Deserialize)]
struct PointDoc {
    as_of: String,
    fingerprint: i64,
    amount: i64,
}

impl PointDoc {
    /// The point and its day.
    fn point(self) -> StoreResult<(NaiveDate, PublishedPoint)> {
        let point = PublishedPoint {
            fingerprint: self.fingerprint as u64,
            amount_cents: self.amount as u64,
        };
        Ok((parse_day(&self.as_of)?, point))
    }
}

#[async_trait]
impl ValuationStore for MongoValuationStore {
    async fn vehicle_page(&self, page: RevaluePage<'_>) -> StoreResult<Vec<VehicleState>> {
        let mut states = self
            .page(page_filter(page.org, page.after), page.limit)
            .await?;
        if !page.query {
            // Only the newest history point (the daily job's starting point).
            for s in &mut states {
                if let Some((on, point)) = s.published.pop_last() {
                    s.published.clear();
                    s.published.insert(on, point);
                }
            }
        }
        Ok(states)
    }
}
