//! One source for routes: `infra/generated/routes.auto.tfvars.json` (what Terraform builds its rules and
//! queues from) is generated from `contracts/routes.json`, and `vwc aws bootstrap` creates exactly the queues,
//! dead-letter queues, redrive and rule patterns it names (checked against moto).
//! `VWC_BLESS=1 cargo test -p vwc --features aws --test all infra_routes::` (or `scripts/gen-infra-routes`) regenerates the file.

use std::path::PathBuf;

use aws_sdk_sqs::types::QueueAttributeName;
use vwc::infra::{BUS_PLACEHOLDER, GENERATED_ROUTES, render_terraform_routes};
use vwc_contracts::Routes;

use super::common;
use common::bootstrapped;

fn generated_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(GENERATED_ROUTES)
}

#[test]
fn the_terraform_routes_file_is_generated_from_contracts_routes_json() {
    let routes = Routes::load();
    let expected = render_terraform_routes(&routes);
    let consumers: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(
        consumers["consumers"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        routes.consumers.keys().collect::<Vec<_>>(),
        "every consumer of routes.json has its Terraform entry"
    );
    let path = generated_path();
    if std::env::var("VWC_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{GENERATED_ROUTES} is out of date with contracts/routes.json: run scripts/gen-infra-routes \
         (VWC_BLESS=1 cargo test -p vwc --features aws --test all infra_routes::) and commit the result"
    );
}

/// One attribute of the queue at `url`, if it has it.
async fn queue_attribute(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: QueueAttributeName,
) -> Option<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap()
        .attributes?
        .remove(&name)
}

#[tokio::test]
async fn bootstrap_creates_the_queues_dead_letter_queues_and_patterns_terraform_names() {
    let Some((endpoint, bus, _)) = bootstrapped("aws bootstrap against moto", &[]) else {
        return;
    };

    let generated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(generated_path()).unwrap()).unwrap();
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let named = |v: &serde_json::Value| v.as_str().unwrap().replace(BUS_PLACEHOLDER, &bus);
    let consumers = generated["consumers"].as_object().unwrap();
    assert!(!consumers.is_empty());
    for (consumer, entry) in consumers {
        let queue_url = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.get_queue_url()
                    .queue_name(&name)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("queue {name} was not created: {e:?}"))
                    .queue_url
                    .unwrap()
            }
        };
        let url = queue_url(named(&entry["queue"])).await;
        let dlq_url = queue_url(named(&entry["dead_letter_queue"])).await;
        let dlq_arn = queue_attribute(&sqs, &dlq_url, QueueAttributeName::QueueArn)
            .await
            .unwrap_or_else(|| panic!("{consumer}: no dead-letter queue ARN"));
        let redrive = queue_attribute(&sqs, &url, QueueAttributeName::RedrivePolicy)
            .await
            .unwrap_or_else(|| panic!("{consumer}: no redrive policy"));
        let redrive: serde_json::Value = serde_json::from_str(&redrive).unwrap();
        assert_eq!(
            redrive["deadLetterTargetArn"],
            dlq_arn.as_str(),
            "{consumer}"
        );
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            generated["max_receive_count"].to_string(),
            "{consumer}"
        );

        let rule = eb
            .describe_rule()
            .name(entry["rule"].as_str().unwrap())
            .event_bus_name(&bus)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{consumer}: rule missing: {e:?}"));
        let pattern: serde_json::Value =
            serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        let named_pattern: serde_json::Value =
            serde_json::from_str(entry["event_pattern"].as_str().unwrap()).unwrap();
        assert_eq!(pattern, named_pattern, "{consumer}");
        assert_eq!(
            pattern["detail-type"], entry["detail_types"],
            "{consumer}: the pattern routes exactly its detail types"
        );
    }
}
