//! The Lambda entry for a consuming service: an SQS batch goes through the same per-message path as the
//! worker (`crate::sqs`), and the response names only the messages that failed (partial batch failure).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{error, info};

use crate::Consumer;
use crate::sqs::handle_messages;

/// Handles the records as one delivery batch (`crate::sqs::handle_messages`: concurrently, their SQLite
/// writes in one transaction, a vehicle's records as one chain for the ledger consumers; a record that
/// failed is tried once more on its own). The response lists the message ids of the failed records
/// only, so SQS retries just those (the event source mapping needs `ReportBatchItemFailures`). A record
/// without a message id cannot be named (an empty id would fail the whole batch); it is handled anyway and
/// logged.
pub async fn handle_sqs_batch(event: SqsEvent, consumer: &dyn Consumer) -> SqsBatchResponse {
    let records = event.records;
    let received: Vec<(&str, Option<&str>)> = (records.iter())
        .map(|r| {
            (
                r.message_id.as_deref().unwrap_or_default(),
                r.body.as_deref(),
            )
        })
        .collect();
    let outcomes = handle_messages(consumer, &received).await;

    let mut response = SqsBatchResponse::default();
    for (record, outcome) in records.iter().zip(outcomes) {
        let message_id = record.message_id.as_deref().filter(|id| !id.is_empty());
        match (message_id, outcome) {
            (Some(id), Err(_)) => response.add_failure(id),
            (Some(_), Ok(())) => {}
            (None, Ok(())) => error!(
                consumer = consumer.name(),
                "an SQS record without a message id was handled"
            ),
            (None, Err(e)) => error!(
                consumer = consumer.name(),
                error = %e,
                "an SQS record without a message id failed and cannot be reported for retry"
            ),
        }
    }
    info!(
        consumer = consumer.name(),
        records = records.len(),
        failed = response.batch_item_failures.len(),
        "SQS batch handled"
    );
    response
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;
    use vwc_contracts::{Envelope, EventType};

    use super::*;
    use crate::testing::Picky;

    fn record(id: Option<&str>, body: Option<String>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = id.map(str::to_string);
        record.body = body;
        record
    }

    fn body(poison: bool) -> String {
        let envelope = Envelope::new(
            "vwc.maintenance-scheduler",
            "org_1",
            None,
            None,
            vwc_contracts::examples::event(EventType::ReminderDue),
        );
        let mut json = serde_json::to_value(&envelope).unwrap();
        if poison {
            json["data"] = serde_json::json!({ "poison": true });
        }
        json.to_string()
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = records;
        event
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn only_failed_records_are_named() {
        let consumer = Picky::default();
        let records = vec![
            record(Some("m1"), Some(body(false))),
            record(Some("m2"), Some(body(true))),
            record(Some("m3"), Some("{not json".into())),
            record(Some("m4"), None),
            record(Some("m5"), Some(body(false))),
        ];
        let response = handle_sqs_batch(event(records), &consumer).await;
        assert_eq!(failed_ids(&response), vec!["m2", "m3", "m4"]);
        assert_eq!(consumer.handled.lock().unwrap().len(), 2);
    }

    /// A consumer that applies one vehicle at a time, recording what it was handed: each call's envelope ids.
    #[derive(Default)]
    struct Chaining {
        calls: std::sync::Mutex<Vec<Vec<uuid::Uuid>>>,
    }

    #[async_trait::async_trait]
    impl crate::Consumer for Chaining {
        fn name(&self) -> &str {
            "chaining"
        }
        fn consumes(&self) -> &'static [EventType] {
            EventType::ALL
        }
        fn one_vehicle_at_a_time(&self) -> bool {
            true
        }
        async fn handle(&self, envelope: &Envelope) -> Result<(), crate::HandleError> {
            self.calls.lock().unwrap().push(vec![envelope.id]);
            envelope
                .event()
                .map(drop)
                .map_err(crate::HandleError::malformed)
        }
        async fn handle_chain(
            &self,
            envelopes: &[&Envelope],
        ) -> Vec<Result<(), crate::HandleError>> {
            self.calls
                .lock()
                .unwrap()
                .push(envelopes.iter().map(|e| e.id).collect());
            (envelopes.iter())
                .map(|e| e.event().map(drop).map_err(crate::HandleError::malformed))
                .collect()
        }
    }

    /// For a consumer that applies one vehicle at a time, a batch's records of one vehicle are handed over
    /// as one chain, in the order received (one decision for them: docs/vehicle-ledger.md); a record of the
    /// chain that fails is tried once more alone and named; records of other vehicles, and records that
    /// do not decode, go alone.
    #[tokio::test]
    async fn a_vehicles_records_are_handed_to_a_ledger_consumer_as_one_chain() {
        let of = |vehicle: &str, poison: bool| {
            let mut envelope = Envelope::new(
                "vwc.ingestion",
                "org_1",
                Some(vehicle),
                None,
                vwc_contracts::examples::event(EventType::VehicleEventRecorded),
            );
            let id = envelope.id;
            if poison {
                let mut json = serde_json::to_value(&envelope).unwrap();
                json["data"] = serde_json::json!({ "poison": true });
                envelope = serde_json::from_value(json).unwrap();
            }
            (id, serde_json::to_string(&envelope).unwrap())
        };
        let (a1, a2, a3, b1) = (
            of("veh_a", false),
            of("veh_a", false),
            of("veh_a", true),
            of("veh_b", false),
        );
        let records = vec![
            record(Some("m1"), Some(a1.1)),
            record(Some("m2"), Some(b1.1)),
            record(Some("m3"), Some(a2.1)),
            record(Some("m4"), Some(a3.1)),
            record(Some("m5"), Some("{not json".into())),
        ];
        let consumer = Chaining::default();
        let response = handle_sqs_batch(event(records), &consumer).await;
        assert_eq!(failed_ids(&response), vec!["m4", "m5"]);
        let mut calls = consumer.calls.into_inner().unwrap();
        calls.sort();
        let mut expected = vec![vec![a1.0, a2.0, a3.0], vec![b1.0], vec![a3.0]];
        expected.sort();
        assert_eq!(calls, expected);
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_reports_no_failures() {
        let consumer = Picky::default();
        let records = vec![record(Some("m1"), Some(body(false)))];
        let response = handle_sqs_batch(event(records), &consumer).await;
        assert!(response.batch_item_failures.is_empty());
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json, serde_json::json!({ "batchItemFailures": [] }));
    }

    #[tokio::test]
    async fn a_failed_record_without_message_id_is_never_reported_as_an_empty_id() {
        let consumer = Picky::default();
        let records = vec![
            record(None, Some(body(true))),
            record(Some(""), Some(body(true))),
            record(Some("m3"), Some(body(true))),
        ];
        let response = handle_sqs_batch(event(records), &consumer).await;
        assert_eq!(failed_ids(&response), vec!["m3"]);
    }
}
