//! Creates the AWS side of the bus from `contracts/routes.json` (for moto and distributed-local runs; real
//! AWS gets the same shape from Terraform): the event bus, and per consumer a queue with its dead-letter
//! queue, a queue policy letting EventBridge deliver, and a rule routing the consumer's event types to it.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::operation::put_rule::builders::PutRuleFluentBuilder;
use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use vwc_contracts::{EventType, Routes};

pub use crate::naming::{dead_letter_queue_name, event_pattern, queue_name, rule_name};

/// SQS keeps dead letters for its maximum, 14 days, so there is time to look at them.
const DEAD_LETTER_RETENTION_SECS: u32 = 14 * 24 * 60 * 60;
/// The target id of the queue in each rule; fixed, so `PutTargets` replaces rather than adds.
const TARGET_ID: &str = "queue";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrapped {
    pub bus_name: String,
    /// consumer service name → its queues
    pub queues: BTreeMap<String, QueueInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("creating event bus {bus}: {message}")]
    EventBus { bus: String, message: String },
    #[error("setting up queue {queue}: {message}")]
    Queue { queue: String, message: String },
    #[error("setting up rule {rule} on bus {bus}: {message}")]
    Rule {
        rule: String,
        bus: String,
        message: String,
    },
}

/// Creates whatever is missing and brings the rest in line (redrive policy, queue policy, rule pattern,
/// target); running it again changes nothing. A consumer routed no event types gets its queues but no rule.
pub async fn bootstrap(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    routes: &Routes,
    bus_name: &str,
    max_receive_count: u32,
) -> Result<Bootstrapped, BootstrapError> {
    ensure_event_bus(eb, bus_name).await?;
    let mut queues = BTreeMap::new();
    for (consumer, types) in &routes.consumers {
        let dlq_name = dead_letter_queue_name(bus_name, consumer);
        let (dlq_url, dlq_arn) = ensure_queue(sqs, &dlq_name).await?;
        set_queue_attributes(
            sqs,
            &dlq_name,
            &dlq_url,
            [(
                QueueAttributeName::MessageRetentionPeriod,
                DEAD_LETTER_RETENTION_SECS.to_string(),
            )],
        )
        .await?;

        let name = queue_name(bus_name, consumer);
        let (url, arn) = ensure_queue(sqs, &name).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receive_count,
        });
        let rule = if types.is_empty() {
            warn!(
                consumer,
                "no event types are routed to this consumer; no rule"
            );
            None
        } else {
            Some(put_rule(eb, bus_name, consumer, types).await?)
        };
        let mut attributes = vec![(QueueAttributeName::RedrivePolicy, redrive.to_string())];
        if let Some(rule_arn) = &rule {
            attributes.push((
                QueueAttributeName::Policy,
                eventbridge_send_policy(&arn, rule_arn),
            ));
        }
        set_queue_attributes(sqs, &name, &url, attributes).await?;
        if rule.is_some() {
            put_queue_target(eb, bus_name, consumer, &arn).await?;
        }

        info!(consumer, queue = %url, dead_letters = %dlq_url, "consumer queue ready");
        queues.insert(
            consumer.clone(),
            QueueInfo {
                url,
                arn,
                dlq_url,
                dlq_arn,
            },
        );
    }
    Ok(Bootstrapped {
        bus_name: bus_name.to_string(),
        queues,
    })
}

async fn ensure_event_bus(
    eb: &aws_sdk_eventbridge::Client,
    bus_name: &str,
) -> Result<(), BootstrapError> {
    // Every account has the default bus; it cannot be created.
    if bus_name == "default" {
        return Ok(());
    }
    match eb.create_event_bus().name(bus_name).send().await {
        Ok(_) => {
            info!(bus = bus_name, "event bus created");
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(BootstrapError::EventBus {
            bus: bus_name.to_string(),
            message: DisplayErrorContext(&e).to_string(),
        }),
    }
}

/// The queue's URL and ARN, creating it (with default attributes, which never conflict with an existing
/// queue's) if needed; the attributes that matter are set afterwards.
async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), BootstrapError> {
    let queue_error = |message: String| BootstrapError::Queue {
        queue: name.to_string(),
        message,
    };
    let url = match sqs.create_queue().queue_name(name).send().await {
        Ok(output) => output.queue_url,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_queue_name_exists()) =>
        {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| queue_error(DisplayErrorContext(&e).to_string()))?
                .queue_url
        }
        Err(e) => return Err(queue_error(DisplayErrorContext(&e).to_string())),
    }
    .ok_or_else(|| queue_error("SQS returned no queue URL".into()))?;

    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| queue_error(DisplayErrorContext(&e).to_string()))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| queue_error("SQS returned no queue ARN".into()))?;
    Ok((url, arn))
}

async fn set_queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    url: &str,
    attributes: impl IntoIterator<Item = (QueueAttributeName, String)>,
) -> Result<(), BootstrapError> {
    sqs.set_queue_attributes()
        .queue_url(url)
        .set_attributes(Some(attributes.into_iter().collect()))
        .send()
        .await
        .map_err(|e| BootstrapError::Queue {
            queue: name.to_string(),
            message: DisplayErrorContext(&e).to_string(),
        })?;
    Ok(())
}

/// Lets EventBridge send to the queue, and only on behalf of the consumer's rule.
fn eventbridge_send_policy(queue_arn: &str, rule_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEventBridgeRule",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rule_arn } },
        }],
    })
    .to_string()
}

/// Creates or updates the consumer's rule; returns its ARN.
async fn put_rule(
    eb: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    consumer: &str,
    types: &[EventType],
) -> Result<String, BootstrapError> {
    let rule = rule_name(consumer);
    let put = eb
        .put_rule()
        .name(&rule)
        .event_bus_name(bus_name)
        .event_pattern(event_pattern(types))
        .state(RuleState::Enabled)
        .description(format!(
            "Routes the event types {consumer} consumes to its queue (contracts/routes.json)"
        ));
    send_rule(put).await.map_err(rule_error(&rule, bus_name))
}

async fn put_queue_target(
    eb: &aws_sdk_eventbridge::Client,
    bus_name: &str,
    consumer: &str,
    queue_arn: &str,
) -> Result<(), BootstrapError> {
    let rule = rule_name(consumer);
    put_target(eb, &rule, Some(bus_name), TARGET_ID, queue_arn)
        .await
        .map_err(rule_error(&rule, bus_name))
}

/// The scheduled rule that runs a daily job (the maintenance sweep, the re-valuation): on the account's
/// default bus (schedules only run there), `schedule` such as `cron(0 6 * * ? *)`, targeting the job's
/// Lambda; `description` says which job. Idempotent. Returns the rule's ARN. The target keeps the id
/// `sweep` on every rule (the first rule's, from before there were two jobs): a new id would leave an
/// already bootstrapped rule with two targets.
pub async fn schedule_daily_job(
    eb: &aws_sdk_eventbridge::Client,
    rule: &str,
    schedule: &str,
    lambda_arn: &str,
    description: &str,
) -> Result<String, BootstrapError> {
    let put = eb
        .put_rule()
        .name(rule)
        .schedule_expression(schedule)
        .state(RuleState::Enabled)
        .description(description);
    let arn = send_rule(put).await.map_err(rule_error(rule, "default"))?;
    put_target(eb, rule, None, "sweep", lambda_arn)
        .await
        .map_err(rule_error(rule, "default"))?;
    Ok(arn)
}

/// What a failure to set up `rule` on `bus` becomes.
fn rule_error(rule: &str, bus: &str) -> impl FnOnce(String) -> BootstrapError {
    let (rule, bus) = (rule.to_string(), bus.to_string());
    move |message| BootstrapError::Rule { rule, bus, message }
}

/// Sends a rule's creation or update; the rule's ARN.
async fn send_rule(put: PutRuleFluentBuilder) -> Result<String, String> {
    put.send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?
        .rule_arn
        .ok_or_else(|| "EventBridge returned no rule ARN".to_string())
}

/// Points `rule` (on `bus`; the account's default bus when `None`) at `arn`, as its target `id`.
async fn put_target(
    eb: &aws_sdk_eventbridge::Client,
    rule: &str,
    bus: Option<&str>,
    id: &str,
    arn: &str,
) -> Result<(), String> {
    let target = Target::builder()
        .id(id)
        .arn(arn)
        .build()
        .map_err(|e| e.to_string())?;
    let output = eb
        .put_targets()
        .rule(rule)
        .set_event_bus_name(bus.map(str::to_string))
        .targets(target)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    if output.failed_entry_count() > 0 {
        let reasons: Vec<String> = output
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.error_code().unwrap_or("unknown"),
                    f.error_message().unwrap_or_default()
                )
            })
            .collect();
        return Err(format!(
            "the target {arn} was refused: {}",
            reasons.join("; ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_policy_lets_only_the_rule_send() {
        let policy: serde_json::Value =
            serde_json::from_str(&eventbridge_send_policy("arn:q", "arn:r")).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(statement["Action"], "sqs:SendMessage");
        assert_eq!(statement["Resource"], "arn:q");
        assert_eq!(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            "arn:r"
        );
    }

    #[test]
    fn bootstrapped_prints_as_camel_case_json() {
        let b = Bootstrapped {
            bus_name: "vwc".into(),
            queues: BTreeMap::from([(
                "edge".to_string(),
                QueueInfo {
                    url: "u".into(),
                    arn: "a".into(),
                    dlq_url: "du".into(),
                    dlq_arn: "da".into(),
                },
            )]),
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "busName": "vwc",
                "queues": { "edge": { "url": "u", "arn": "a", "dlqUrl": "du", "dlqArn": "da" } }
            })
        );
    }
}
