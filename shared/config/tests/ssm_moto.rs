//! SSM Parameter Store against moto: parameters under /vwc/<env>/ are read (decrypted, paginated) and sit
//! below flags and environment variables.

use aws_sdk_ssm::types::ParameterType;
use vwc_config::{Layers, SsmParameters};

#[tokio::test]
async fn parameters_under_the_environment_path_are_the_last_layer() {
    let Some(endpoint) = vwc_testkit::aws::aws_endpoint("SSM parameters") else {
        return;
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_ssm::Client::new(&config);
    let env = format!("t{}", std::process::id());
    let put = |name: &str, value: &str, kind: ParameterType| {
        let client = client.clone();
        let name = format!("/vwc/{env}/{name}");
        let value = value.to_string();
        async move {
            client
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(kind)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        }
    };
    put("bus_name", "bus-from-ssm", ParameterType::String).await;
    put(
        "jwt_secret",
        "ssm-secret-value-that-is-long-enough!!",
        ParameterType::SecureString,
    )
    .await;
    for i in 0..15 {
        put(&format!("filler/{i}"), "x", ParameterType::String).await; // more than one page
    }
    put("other", "x", ParameterType::String).await;

    let ssm = SsmParameters::load(&client, &env).await.unwrap();
    assert_eq!(ssm.get("bus_name"), Some("bus-from-ssm"));
    assert_eq!(ssm.get("filler/14"), Some("x"));
    assert!(!format!("{ssm:?}").contains("ssm-secret-value"));
    let layers = Layers { ssm: Some(ssm) };
    let secret = layers
        .secret(None, "VWC_TEST_NOT_SET_JWT", "jwt_secret")
        .unwrap();
    assert_eq!(secret.expose(), "ssm-secret-value-that-is-long-enough!!");
    assert!(!format!("{secret:?}").contains("ssm-secret"));
    assert_eq!(
        layers
            .value(Some("flag-bus"), "VWC_TEST_NOT_SET_BUS", "bus_name")
            .as_deref(),
        Some("flag-bus")
    );
    // SAFETY: single-threaded use of a variable no other test reads.
    unsafe { std::env::set_var("VWC_TEST_CONFIG_BUS_NAME", "env-bus") };
    assert_eq!(
        layers
            .value(None, "VWC_TEST_CONFIG_BUS_NAME", "bus_name")
            .as_deref(),
        Some("env-bus")
    );
    // Another environment's parameters are not visible.
    let other = SsmParameters::load(&client, "nope-env").await.unwrap();
    assert_eq!(other.get("bus_name"), None);
}
