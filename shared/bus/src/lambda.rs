//! The Lambda entry for a consuming service: an SQS batch goes through the same per-message path as the
//! worker (`crate::sqs`), and the response names only the messages that failed (partial batch failure).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{error, info};

use crate::Consumer;
use crate::sqs::handle_message;

/// Handles the records as one delivery batch ([`crate::apply_batch`]: concurrently, their SQLite writes in
/// one transaction; a record that failed is tried once more on its own). The response lists the message ids of the failed records
/// only, so SQS retries just those (the event source mapping needs `ReportBatchItemFailures`). A record
/// without a message id cannot be named (an empty id would fail the whole batch); it is handled anyway and
/// logged.
pub async fn handle_sqs_batch(event: SqsEvent, consumer: &dyn Consumer) -> SqsBatchResponse {
    let records = event.records;
    let outcomes = crate::apply_batch(
        &records,
        |_| None,
        |record| {
            handle_message(
                consumer,
                record.message_id.as_deref().unwrap_or_default(),
                record.body.as_deref(),
            )
        },
    )
    .await;

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
