//! The e-mail channel against SES v2 as moto emulates it: moto keeps every sent message, and
//! `GET {endpoint}/moto-api/data.json` lists them (`ses` → `Message`: source, subject, body, destinations).
//! Start moto with `scripts/lib/moto.sh` (`moto_ensure_venv; moto_start`); without
//! `VWC_TEST_AWS_ENDPOINT` these tests say so and pass, unless `VWC_REQUIRE_AWS_TESTS=1`.

use crate::common;

use std::sync::Arc;

use common::*;
use vwc_bus::Consumer;
use vwc_contracts::maintenance::Channel;
use vwc_notification::email::{DEFAULT_FROM, EmailSender, OutgoingEmail};
use vwc_notification::outcome::SendResult;
use vwc_notification::store::{DeliveryStatus, Preferences};
use vwc_notification::{DeliveryWorker, NotificationConsumer, NotificationStore, SesEmailSender};

struct Moto {
    endpoint: String,
    ses: aws_sdk_sesv2::Client,
}

async fn moto() -> Option<Moto> {
    let endpoint = vwc_testkit::aws::aws_endpoint("SES e-mail")?;
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    Some(Moto {
        endpoint,
        ses: aws_sdk_sesv2::Client::new(&config),
    })
}

impl Moto {
    /// The messages moto recorded for `recipient`: (source, subject, body).
    async fn sent_to(&self, recipient: &str) -> Vec<(String, String, String)> {
        let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", self.endpoint))
            .await
            .expect("moto data.json")
            .json()
            .await
            .expect("moto data.json is JSON");
        let messages = data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        messages
            .iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|a| a == recipient))
            })
            .map(|m| {
                let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
                (text("source"), text("subject"), text("body"))
            })
            .collect()
    }
}

fn unique_recipient() -> String {
    format!(
        "fleet-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

#[tokio::test]
async fn a_reminder_e_mail_is_sent_through_ses_once() {
    let Some(moto) = moto().await else { return };
    let sender = SesEmailSender::connect(Some(&moto.endpoint)).await;
    sender
        .create_sender_identity()
        .await
        .expect("create the sender identity");
    let (_dir, store) = sqlite_store();
    let recipient = unique_recipient();
    set_preferences(
        store.as_ref(),
        ORG,
        Preferences {
            email: Some(recipient.clone()),
            ..Preferences::default()
        },
    )
    .await;
    let consumer = NotificationConsumer::new(store.clone());
    let envelope = reminder_envelope(ORG, &reminder("rem_mail"));
    consumer.handle(&envelope).await.unwrap();
    consumer.handle(&envelope).await.unwrap();

    let sender = Arc::new(sender);
    let worker = DeliveryWorker::new(store.clone(), loopback_allowlist())
        .with_email(sender)
        .with_retry_policy(fast_policy(3));
    let round = worker.run_once().await.unwrap();
    assert_eq!(round.delivered, 1, "{round:?}");
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);

    let sent = moto.sent_to(&recipient).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (source, subject, body) = &sent[0];
    assert_eq!(source, DEFAULT_FROM);
    assert_eq!(subject, "Oil change due soon — 2021 Toyota RAV4");
    assert!(body.contains("Due in 12 days or 420 mi"), "{body}");

    let notification = store
        .notification_for_reminder(&OrgId::from(ORG), "rem_mail")
        .await
        .unwrap()
        .unwrap();
    let email = store
        .deliveries(&notification.id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.status, DeliveryStatus::Delivered);
    let channels: Vec<Channel> = delivered_events(store.as_ref())
        .await
        .iter()
        .map(|e| e.channel)
        .collect();
    assert!(channels.contains(&Channel::Email));
}

#[tokio::test]
async fn an_unverified_sender_is_a_permanent_failure() {
    let Some(moto) = moto().await else { return };
    let unverified = format!(
        "nobody@unverified-{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let sender = SesEmailSender::new(moto.ses.clone()).from_address(unverified);
    let recipient = unique_recipient();
    let result = sender
        .send(OutgoingEmail {
            to: &recipient,
            subject: "s",
            text: "t",
        })
        .await;
    assert!(matches!(result, SendResult::Permanent { .. }), "{result:?}");
    assert!(moto.sent_to(&recipient).await.is_empty());
}
