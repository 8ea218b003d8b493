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

/// `word` and `times` of [`echo`], in the query.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EchoQuery {
    /// What to say.
    word: Option<String>,
    /// How many times.
    times: Option<u32>,
}

/// Say a word again
#[route(get "/echo/{name}", tag = "greetings",
    params(("name" = String, Path, description = "Whose echo."), EchoQuery,
        ("loud" = bool, Query, description = "Whether to shout.")),
    ok(200, "Echoed.", Greeting), errors(Throttled))]
async fn echo(vwc_http::Query(q): vwc_http::Query<EchoQuery>) -> Json<Greeting> {
    let word = q.word.unwrap_or_default();
    Json(Greeting {
        text: vec![word; q.times.unwrap_or(1) as usize].join(" "),
    })
}

/// Forget the echo
#[route(delete "/echo/{name}", tag = "greetings",
    params(("name" = String, Path, description = "Whose echo.")),
    ok(204, "Forgotten."), errors(Throttled))]
async fn forget_echo(vwc_http::Query(_): vwc_http::Query<EchoQuery>) -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

fn document() -> Value {
    let routes: utoipa_axum::router::OpenApiRouter<()> =
        vwc_http::service_routes![vwc_http::openapi::Docs::Built; greet, greet_anyone];
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
    let app = vwc_http::router(
        vwc_http::service_routes![vwc_http::openapi::Docs::Built; greet, greet_anyone],
        (),
    );
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

/// Without its documentation a route is served as with it: the same paths and methods (two methods of
/// one path included), each method taking the query parameters its `params(…)` put in the query and
/// refusing others — while nothing of the documentation is built.
#[tokio::test]
async fn routes_served_without_their_documentation_take_the_same_requests() {
    use vwc_http::openapi::Docs;
    let skipped: utoipa_axum::router::OpenApiRouter<()> =
        vwc_http::service_routes![Docs::Skipped; greet, greet_anyone, echo | forget_echo];
    let (router, api) = skipped.split_for_parts();
    assert!(
        api.paths.paths.is_empty(),
        "no documentation: {:?}",
        api.paths.paths.keys()
    );
    assert!(api.components.is_none_or(|c| c.schemas.is_empty()));
    let built: utoipa_axum::router::OpenApiRouter<()> =
        vwc_http::service_routes![Docs::Built; greet, greet_anyone, echo | forget_echo];
    let (built, _) = built.split_for_parts();
    let http = reqwest::Client::new();
    for (docs, app) in [("skipped", router), ("built", built)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let base = format!("http://{addr}");
        let send = |method: reqwest::Method, path: &str| {
            http.request(method, format!("{base}{path}")).send()
        };
        let r = send(reqwest::Method::GET, "/echo/ada?word=hi&times=2&loud=true")
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{docs}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"text": "hi hi"}),
            "{docs}"
        );
        let r = send(reqwest::Method::GET, "/echo/ada?word=hi&sort=up")
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{docs}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "sort", "{docs}: {problem}");
        assert_eq!(
            problem["errors"][0]["message"],
            "is not a parameter of this route, which takes only word, times and loud",
            "{docs}: {problem}"
        );
        // The second method of the path takes no query parameter; a method no handler declares is a 405.
        for (method, path, status) in [
            (reqwest::Method::DELETE, "/echo/ada?word=hi", 422),
            (reqwest::Method::DELETE, "/echo/ada", 204),
            (reqwest::Method::POST, "/v1/greetings", 200),
            (reqwest::Method::PUT, "/v1/greetings", 405),
        ] {
            let r = send(method.clone(), path).await.unwrap();
            assert_eq!(r.status(), status, "{docs}: {method} {path}");
        }
    }
}
