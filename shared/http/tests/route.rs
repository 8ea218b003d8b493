//! `#[vwc_http::route]` as a service uses it: the handler is served, and its OpenAPI operation is what
//! the attribute states, with the bearer security where (and only where) a response set asks for it.

use serde_json::{Value, json};
use utoipa::ToSchema;
use vwc_http::openapi::{
    Authenticated, BearerRoute, Conflict, QueryParams, RequestBody, ResourceBody, ResponseSet,
    ResponseSets, Throttled,
};
use vwc_http::{Json, route};

#[derive(serde::Serialize, ToSchema)]
struct Greeting {
    text: String,
}

/// Say hello
///
/// To a caller with a token.
#[route(post "/v1/greetings", tag = "greetings", body = Greeting,
    ok(201, "Greeted.", Greeting, headers(("Location" = String, description = "Where it is."))),
    errors(409 => Conflict, BearerRoute, RequestBody))]
async fn greet() -> Json<Greeting> {
    Json(Greeting {
        text: "hello".into(),
    })
}

/// Say hello to anyone
#[route(get "/greetings/{name}", tag = "greetings",
    params(("name" = String, Path, description = "Whom to greet.")),
    ok(200, "Greeted.", Greeting), ok(303, "Elsewhere."), errors(Throttled))]
async fn greet_anyone() -> Json<Greeting> {
    Json(Greeting {
        text: "hello, anyone".into(),
    })
}

fn document() -> Value {
    let routes: utoipa_axum::router::OpenApiRouter<()> =
        vwc_http::service_routes![greet, greet_anyone];
    let (_, api) = routes.split_for_parts();
    serde_json::to_value(api).unwrap()
}

#[test]
fn a_set_that_includes_a_bearer_set_is_one_and_the_others_are_not() {
    let sets = [
        ("BearerRoute", BearerRoute::BEARER, true),
        // Through ResourceRoute, which includes BearerRoute.
        ("ResourceBody", ResourceBody::BEARER, true),
        ("Throttled", Throttled::BEARER, false),
        // A signature is not a bearer token.
        ("Authenticated", Authenticated::BEARER, false),
        ("RequestBody", RequestBody::BEARER, false),
        (
            "(RequestBody, BearerRoute)",
            <(RequestBody, BearerRoute) as ResponseSets>::BEARER,
            true,
        ),
        (
            "(Authenticated, QueryParams)",
            <(Authenticated, QueryParams) as ResponseSets>::BEARER,
            false,
        ),
        ("()", <() as ResponseSets>::BEARER, false),
    ];
    for (set, bearer, expected) in sets {
        assert_eq!(bearer, expected, "{set}");
    }
}

#[test]
fn the_operation_is_what_the_route_states_with_security_from_its_sets() {
    let doc = document();
    let post = &doc["paths"]["/v1/greetings"]["post"];
    assert_eq!(post["operationId"], "greet");
    assert_eq!(post["summary"], "Say hello");
    assert_eq!(post["description"], "To a caller with a token.");
    assert_eq!(post["tags"], json!(["greetings"]));
    assert_eq!(post["security"], json!([{"bearer": []}]));
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Greeting"
    );
    let responses = post["responses"].as_object().unwrap();
    let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
    assert_eq!(
        statuses,
        [
            "201", "400", "401", "403", "409", "413", "415", "422", "429", "500", "503"
        ]
    );
    assert_eq!(responses["201"]["description"], "Greeted.");
    assert!(responses["201"]["headers"]["Location"].is_object());
    assert_eq!(responses["409"]["$ref"], "#/components/responses/Conflict");

    let get = &doc["paths"]["/greetings/{name}"]["get"];
    assert_eq!(get["operationId"], "greet_anyone");
    assert!(get.get("security").is_none(), "a public route: {get}");
    assert_eq!(get["parameters"][0]["name"], "name");
    assert_eq!(get["parameters"][0]["in"], "path");
    let statuses: Vec<&String> = get["responses"].as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "303", "429", "503"]);
    assert!(get["responses"]["303"].get("content").is_none());
}

#[tokio::test]
async fn the_declared_handler_is_served() {
    let app = vwc_http::router(vwc_http::service_routes![greet, greet_anyone], ());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let body: Value = reqwest::get(format!("http://{addr}/greetings/ada"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"text": "hello, anyone"}));
}
