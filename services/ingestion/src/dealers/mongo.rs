//! MongoDB adapter of the dealer store, in the ingestion database: `dealers` (each dealer one document,
//! its secrets embedded, so a rotation is a change of one document) and `dealer_records` (raw payloads).
//!
//! Same rules as the rest of `crate::mongo`: timestamps are `vwc_store::ts` text (string order is time
//! order, as in SQLite), every multi-step change is one transaction, and an expected outcome (a replayed
//! `webhook-id`) is found by a read, the unique index only catching races.

use async_trait::async_trait;
use bson::{Bson, doc};
use mongodb::ClientSession;
use serde::{Deserialize, Serialize};
use vwc_contracts::ids::new_id;
use vwc_contracts::{DealerId, OrgId, Vehicle};
use vwc_store::mongo::{is_duplicate_key, parse_ts};
use vwc_store::{Outbox, StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use super::store::{
    DealerRow, DealerStore, EventBuilder, IncomingWebhook, SecretRotation, StoredSecret,
    WebhookOutcome, template_from_text, waiting_template,
};
use crate::MongoIngestionStore;
use crate::mongo::{Index, VEHICLES, VehicleDoc, in_transaction};

const DEALERS: &str = "dealers";
const DEALER_RECORDS: &str = "dealer_records";

/// `dealer_records.status`, as in SQLite.
const UNMATCHED: &str = "unmatched";
const RECORDED: &str = "recorded";
/// Valid when received, but its event could not be built for the vehicle that registered the VIN.
const REJECTED: &str = "rejected";

/// The dealer collections' indexes, created with the rest at `MongoIngestionStore`'s start-up.
/// `dealers` needs none: it is read by `_id` only, and first written outside any transaction
/// (`insert_dealer`).
pub(crate) fn indexes() -> Vec<Index> {
    vec![
        (
            DEALER_RECORDS,
            doc! { "dealer_id": 1, "webhook_id": 1 },
            true,
        ),
        // Status first: adoption matches all three by equality (any order serves it), and the start-up
        // reconciliation matches on status alone, which only this order lets the index answer.
        (
            DEALER_RECORDS,
            doc! { "status": 1, "org_id": 1, "vin": 1 },
            false,
        ),
    ]
}

/// A document of `dealer_records`: one verified delivery, its payload as received, the event template
/// built from it, and what became of it (`status`, and `event_id` once recorded).
#[derive(Serialize, Deserialize)]
struct DealerRecordDoc {
    #[serde(rename = "_id")]
    id: String,
    dealer_id: String,
    org_id: String,
    webhook_id: String,
    vin: String,
    payload_type: String,
    payload: String,
    template: String,
    status: String,
    event_id: Option<String>,
    received_at: String,
}

/// What adoption reads of a waiting record (its payload is left on the server).
#[derive(Deserialize)]
struct WaitingRecord {
    #[serde(rename = "_id")]
    id: String,
    template: String,
}

/// An organisation and VIN that unmatched records wait for (the `$group` key).
#[derive(Deserialize)]
struct WaitingFor {
    #[serde(rename = "_id")]
    key: OrgVin,
}

#[derive(Deserialize)]
struct OrgVin {
    org_id: String,
    vin: String,
}

/// A document of `dealers`: the dealer with its secrets embedded. No `Debug`: it holds secret text.
#[derive(Serialize, Deserialize)]
struct DealerDoc {
    #[serde(rename = "_id")]
    id: String,
    org_id: String,
    name: String,
    created_at: String,
    /// Absent or `null` in a dealer without secrets.
    #[serde(default)]
    secrets: Option<Vec<SecretDoc>>,
}

/// One embedded secret; `expires_at` is `null` until it is rotated out.
#[derive(Serialize, Deserialize)]
struct SecretDoc {
    secret: String,
    created_at: String,
    #[serde(default)]
    expires_at: Option<String>,
}

impl From<&StoredSecret> for SecretDoc {
    fn from(s: &StoredSecret) -> SecretDoc {
        SecretDoc {
            secret: s.secret.expose().to_string(),
            created_at: ts(&s.created_at),
            expires_at: s.expires_at.as_ref().map(ts),
        }
    }
}

impl From<&DealerRow> for DealerDoc {
    fn from(dealer: &DealerRow) -> DealerDoc {
        DealerDoc {
            id: dealer.id.clone(),
            org_id: dealer.org_id.clone(),
            name: dealer.name.clone(),
            created_at: ts(&dealer.created_at),
            secrets: Some(dealer.secrets.iter().map(SecretDoc::from).collect()),
        }
    }
}

impl TryFrom<DealerDoc> for DealerRow {
    type Error = StoreError;

    fn try_from(d: DealerDoc) -> StoreResult<DealerRow> {
        let mut secrets = d
            .secrets
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                Ok(StoredSecret {
                    // The error is not shown with the value: it may hold secret text.
                    secret: WebhookSecret::parse(&s.secret).map_err(|e| {
                        StoreError::Other(format!("stored dealer secret unreadable: {e}"))
                    })?,
                    created_at: parse_ts(&s.created_at)?,
                    expires_at: s.expires_at.as_deref().map(parse_ts).transpose()?,
                })
            })
            .collect::<StoreResult<Vec<StoredSecret>>>()?;
        // Newest first, as SQLite's `ORDER BY created_at DESC`; the latest added wins a tie.
        secrets.reverse();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(DealerRow {
            id: d.id,
            org_id: d.org_id,
            name: d.name,
            created_at: parse_ts(&d.created_at)?,
            secrets,
        })
    }
}

/// The vehicle of `org_id` with `vin`, read in `session` when there is one.
async fn vehicle_by_vin(
    store: &MongoIngestionStore,
    session: Option<&mut ClientSession>,
    org_id: &str,
    vin: &str,
) -> StoreResult<Option<Vehicle>> {
    let vehicles = store.db().typed::<VehicleDoc>(VEHICLES);
    let find = vehicles.find_one(doc! { "org_id": org_id, "vin": vin });
    let found = match session {
        Some(session) => find.session(session).await?,
        None => find.await?,
    };
    found
        .map(|v| Ok(serde_json::from_str(&v.body)?))
        .transpose()
}

impl MongoIngestionStore {
    async fn try_rotate_secret(
        &self,
        session: &mut ClientSession,
        org_id: &OrgId,
        rotation: &SecretRotation,
    ) -> StoreResult<bool> {
        let dealer_id = &rotation.dealer_id;
        let (now, old_expires_at) = (ts(&rotation.at), ts(&rotation.old_expires_at));
        let (now, old_expires_at) = (now.as_str(), old_expires_at.as_str());
        let dealers = self.db().typed::<DealerDoc>(DEALERS);
        let Some(found) = dealers
            .find_one(doc! { "_id": dealer_id, "org_id": org_id })
            .session(&mut *session)
            .await?
        else {
            return Ok(false);
        };
        // The secret being replaced (the one without an expiry) verifies until `old_expires_at`; one still
        // verifying from an earlier rotation ends now, as SQLite's `UPDATE dealer_secrets` does (compared
        // as the same fixed-width text).
        let mut secrets = found.secrets.unwrap_or_default();
        for s in &mut secrets {
            match s.expires_at.as_deref() {
                None => s.expires_at = Some(old_expires_at.to_string()),
                Some(e) if e > now => s.expires_at = Some(now.to_string()),
                Some(_) => {}
            }
        }
        secrets.push(SecretDoc {
            secret: rotation.secret.expose().to_string(),
            created_at: now.to_string(),
            expires_at: None,
        });
        let secrets = bson::to_bson(&secrets)
            .map_err(|e| StoreError::Other(format!("dealer secrets not storable: {e}")))?;
        // Inside the transaction, a concurrent rotation of the same dealer is a write conflict: the
        // loser is retried and sees the winner's secrets.
        dealers
            .update_one(
                doc! { "_id": dealer_id },
                doc! { "$set": { "secrets": secrets } },
            )
            .session(&mut *session)
            .await?;
        Ok(true)
    }

    async fn try_receive_webhook(
        &self,
        session: &mut ClientSession,
        incoming: &IncomingWebhook,
        build: &EventBuilder,
    ) -> StoreResult<WebhookOutcome> {
        let records = self.db().typed::<DealerRecordDoc>(DEALER_RECORDS);
        let seen = records
            .find_one(doc! { "dealer_id": &incoming.dealer_id, "webhook_id": &incoming.webhook_id })
            .session(&mut *session)
            .await?;
        if let Some(seen) = seen {
            return Ok(WebhookOutcome::Duplicate {
                record_id: seen.id,
                event_id: seen.event_id,
            });
        }
        let record_id = new_id("dlrec");
        let vehicle =
            vehicle_by_vin(self, Some(&mut *session), &incoming.org_id, &incoming.vin).await?;
        let built = match vehicle {
            Some(v) => match build(&v, incoming.template.clone(), &record_id) {
                Ok(built) => Some(built),
                Err(errors) => return Ok(WebhookOutcome::Refused(errors)),
            },
            None => None,
        };
        // The template is kept only while the record waits for its vehicle (`waiting_template`).
        let (status, event_id, template) = match &built {
            Some((event, _)) => (RECORDED, Some(event.id.to_string()), String::new()),
            None => (UNMATCHED, None, waiting_template(&incoming.template)?),
        };
        // The record first: a concurrent delivery of the same webhook id fails here, before anything else.
        records
            .insert_one(DealerRecordDoc {
                id: record_id.clone(),
                dealer_id: incoming.dealer_id.clone(),
                org_id: incoming.org_id.clone(),
                webhook_id: incoming.webhook_id.clone(),
                vin: incoming.vin.clone(),
                payload_type: incoming.payload_type.clone(),
                payload: incoming.raw_payload.clone(),
                template,
                status: status.to_string(),
                event_id,
                received_at: ts(&incoming.received_at),
            })
            .session(&mut *session)
            .await?;
        Ok(match built {
            Some((event, envelope)) => {
                let body = serde_json::to_string(&event)?;
                self.write_event(session, &event, &body, std::slice::from_ref(&envelope))
                    .await?;
                WebhookOutcome::Recorded {
                    record_id,
                    event_id: event.id.into(),
                }
            }
            None => WebhookOutcome::Unmatched { record_id },
        })
    }

    async fn try_adopt_unmatched(
        &self,
        session: &mut ClientSession,
        vehicle: &Vehicle,
        build: &EventBuilder,
    ) -> StoreResult<usize> {
        let mut cursor = self
            .db()
            .typed::<WaitingRecord>(DEALER_RECORDS)
            .find(doc! { "org_id": &vehicle.org_id, "vin": &vehicle.vin, "status": UNMATCHED })
            .projection(doc! { "template": 1 })
            .sort(doc! { "received_at": 1 })
            .session(&mut *session)
            .await?;
        let mut waiting = Vec::new();
        while let Some(record) = cursor.next(&mut *session).await.transpose()? {
            waiting.push(record);
        }
        let records = self.db().collection(DEALER_RECORDS);
        let mut adopted = 0;
        for WaitingRecord {
            id: record_id,
            template,
        } in waiting
        {
            let built = template_from_text(&template)
                .and_then(|template| build(vehicle, template, &record_id).ok());
            let (status, event_id) = match built {
                Some((event, envelope)) => {
                    let body = serde_json::to_string(&event)?;
                    self.write_event(session, &event, &body, std::slice::from_ref(&envelope))
                        .await?;
                    adopted += 1;
                    (RECORDED, Bson::String(event.id.into()))
                }
                // Valid when received, but not for this vehicle: kept for audit.
                None => (REJECTED, Bson::Null),
            };
            records
                .update_one(
                    doc! { "_id": &record_id },
                    doc! { "$set": { "status": status, "event_id": event_id } },
                )
                .session(&mut *session)
                .await?;
        }
        Ok(adopted)
    }
}

#[async_trait]
impl DealerStore for MongoIngestionStore {
    async fn insert_dealer(&self, dealer: &DealerRow) -> StoreResult<()> {
        // One document: the dealer and its secrets are written atomically without a transaction.
        self.db()
            .typed::<DealerDoc>(DEALERS)
            .insert_one(DealerDoc::from(dealer))
            .await?;
        Ok(())
    }

    async fn dealer(&self, dealer_id: &DealerId) -> StoreResult<Option<DealerRow>> {
        let found = self
            .db()
            .typed::<DealerDoc>(DEALERS)
            .find_one(doc! { "_id": dealer_id })
            .await?;
        found.map(DealerRow::try_from).transpose()
    }

    async fn rotate_secret(&self, org_id: &OrgId, rotation: &SecretRotation) -> StoreResult<bool> {
        in_transaction!(self.db(), |session| self
            .try_rotate_secret(session, org_id, rotation))
    }

    async fn receive_webhook(
        &self,
        incoming: &IncomingWebhook,
        build: EventBuilder,
    ) -> StoreResult<WebhookOutcome> {
        // A concurrent delivery of the same webhook id may commit between our read of the id and our
        // insert of it: the unique index rejects ours, and one more run reads theirs as the duplicate.
        let mut runs_left = 2;
        let outcome = loop {
            runs_left -= 1;
            let settled = in_transaction!(self.db(), |session| self
                .try_receive_webhook(session, incoming, &build));
            match settled {
                Err(e) if runs_left > 0 && is_duplicate_key(&e) => continue,
                other => break other?,
            }
        };
        if matches!(outcome, WebhookOutcome::Recorded { .. }) {
            self.db().wakeup().notify_one();
        }
        Ok(outcome)
    }

    async fn adopt_unmatched(&self, vehicle: &Vehicle, build: EventBuilder) -> StoreResult<usize> {
        let adopted = in_transaction!(self.db(), |session| self
            .try_adopt_unmatched(session, vehicle, &build))?;
        if adopted > 0 {
            self.db().wakeup().notify_one();
        }
        Ok(adopted)
    }

    async fn vehicles_with_unmatched_records(&self) -> StoreResult<Vec<Vehicle>> {
        let mut waiting = self
            .db()
            .collection(DEALER_RECORDS)
            .aggregate([
                doc! { "$match": { "status": UNMATCHED } },
                doc! { "$group": { "_id": { "org_id": "$org_id", "vin": "$vin" } } },
            ])
            .with_type::<WaitingFor>()
            .await?;
        let mut found = Vec::new();
        while waiting.advance().await? {
            let OrgVin { org_id, vin } = waiting.deserialize_current()?.key;
            found.extend(vehicle_by_vin(self, None, &org_id, &vin).await?);
        }
        Ok(found)
    }
}
