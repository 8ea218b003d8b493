//! `vwc-lambda-chat`, black box: the real binary against a stand-in of the Lambda Runtime API written here
//! (a raw HTTP/1.1 server on a free loopback port). The stand-in hands out function-URL events (API Gateway
//! payload 2.0, as CloudFront's origin access control signs them) on `GET /2018-06-01/runtime/invocation/next`
//! and reads what the function posts back to `…/{id}/response` — with `Lambda-Runtime-Function-Response-Mode:
//! streaming`, chunked transfer, a JSON prelude (status, headers), eight NUL bytes, then the body — or to
//! `…/{id}/error`. Protocol: AWS's "Custom runtimes: response streaming" and the Runtime API reference.
//!
//! The vehicles are seeded through the public HTTP write paths of the embedded system (`TestApp`), which then
//! stops before the function opens the chat historian's database: the embedded SQLite store (the function
//! runs on it when no MongoDB URI is configured, with `VWC_DATA_DIR`), and — when `VWC_TEST_MONGODB_URI` is
//! set (`/work/envrun.sh`, `scripts/test`) — MongoDB configured as in AWS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use vwc::embedded::StoreChoice;
use vwc::testing::TestApp;
use vwc_auth::Role;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "vwc-dashboard";
const JWKS: &str = include_str!("../../../../shared/auth/tests/fixtures/jwks.json");
const RSA1_KEY: &[u8] = include_bytes!("../../../../shared/auth/tests/fixtures/rsa1.key.pem");
/// How long one invocation may take before the test gives up (the function answers in milliseconds).
const WAIT: Duration = Duration::from_secs(30);

/// What the function posted back for one invocation.
#[derive(Debug)]
enum Outcome {
    Response {
        id: String,
        headers: HashMap<String, String>,
        /// The request body's chunks as they were framed on the wire (chunked transfer), in order.
        chunks: Vec<Vec<u8>>,
    },
    Error {
        path: String,
        body: String,
    },
}

struct RuntimeApi {
    addr: SocketAddr,
    invocations: mpsc::UnboundedSender<(String, Value)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
}

struct Shared {
    next: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// One HTTP/1.1 request as read off the connection.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    chunks: Vec<Vec<u8>>,
}

impl RuntimeApi {
    async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (invocations, next) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            next: Mutex::new(next),
            outcomes: outcomes_tx,
        });
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, shared.clone()));
            }
        });
        RuntimeApi {
            addr,
            invocations,
            outcomes,
        }
    }

    /// Queues one event for `…/invocation/next` and waits for what the function posts back.
    async fn invoke(&mut self, event: Value) -> Outcome {
        let id = uuid::Uuid::now_v7().to_string();
        self.invocations.send((id.clone(), event)).unwrap();
        let outcome = tokio::time::timeout(WAIT, self.outcomes.recv())
            .await
            .expect("the function answered the invocation in time")
            .expect("the runtime API is running");
        if let Outcome::Response { id: answered, .. } = &outcome {
            assert_eq!(
                answered, &id,
                "the response names the invocation it answers"
            );
        }
        outcome
    }

    /// A function URL request (the event [`url_event`] builds): its streamed answer.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Streamed {
        streamed(self.invoke(url_event(method, path, token, body)).await)
    }
}

async fn serve(conn: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = conn.into_split();
    let mut read = BufReader::new(read);
    while let Some(request) = read_request(&mut read).await {
        let (status, headers, body) = answer(&request, &shared).await;
        let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if write.write_all(head.as_bytes()).await.is_err()
            || write.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

async fn answer(
    request: &Request,
    shared: &Shared,
) -> (&'static str, Vec<(String, String)>, String) {
    const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
    let accepted = ("202 Accepted", vec![], r#"{"status":"OK"}"#.to_string());
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/jwks.json") => ("200 OK", vec![json_type()], JWKS.to_string()),
        ("GET", "/2018-06-01/runtime/invocation/next") => {
            // Long poll: the function waits here between invocations.
            let Some((id, event)) = shared.next.lock().await.recv().await else {
                return ("500 Internal Server Error", vec![], String::new());
            };
            let deadline = vwc_clock::now().timestamp_millis() + 60_000;
            let headers = vec![
                json_type(),
                ("lambda-runtime-aws-request-id".into(), id),
                ("lambda-runtime-deadline-ms".into(), deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn".into(),
                    "arn:aws:lambda:eu-west-1:123456789012:function:vwc-test-chat".into(),
                ),
                (
                    "lambda-runtime-trace-id".into(),
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into(),
                ),
            ];
            ("200 OK", headers, event.to_string())
        }
        ("POST", path) if path.starts_with(INVOCATION) && path.ends_with("/response") => {
            let id = path[INVOCATION.len()..path.len() - "/response".len()].to_string();
            let _ = shared.outcomes.send(Outcome::Response {
                id,
                headers: request.headers.clone(),
                chunks: request.chunks.clone(),
            });
            accepted
        }
        ("POST", path) if path.ends_with("/error") => {
            let _ = shared.outcomes.send(Outcome::Error {
                path: path.to_string(),
                body: String::from_utf8_lossy(&request.chunks.concat()).into_owned(),
            });
            accepted
        }
        _ => ("404 Not Found", vec![], String::new()),
    }
}

fn json_type() -> (String, String) {
    ("content-type".into(), "application/json".into())
}

/// Reads one request: request line, headers, then a body by `content-length` or by chunked transfer (each
/// chunk kept as it was framed; trailers read and dropped). `None` when the peer closed the connection.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Option<Request> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        read.read_line(&mut line).await.ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(value.trim());
            })
            .or_insert_with(|| value.trim().to_string());
    }
    let mut chunks = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            read.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut trailer = String::new();
                    read.read_line(&mut trailer).await.ok()?;
                    if trailer.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            read.read_exact(&mut chunk).await.ok()?;
            chunk.truncate(size); // the CRLF after the data
            chunks.push(chunk);
        }
    } else if let Some(length) = headers.get("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        read.read_exact(&mut body).await.ok()?;
        chunks.push(body);
    }
    Some(Request {
        method,
        path,
        headers,
        chunks,
    })
}

/// A streamed HTTP response as the function sent it: the prelude, and the body's chunks after it.
struct Streamed {
    status: u16,
    headers: Value,
    body_chunks: Vec<Vec<u8>>,
}

impl Streamed {
    fn body(&self) -> String {
        String::from_utf8(self.body_chunks.concat()).expect("a UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body()).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers[name].as_str().unwrap_or_default()
    }

    /// Asserts a problem+json answer of `status`; the problem.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body());
        assert_eq!(self.header("content-type"), "application/problem+json");
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem}");
        problem
    }
}

/// Checks the streaming protocol's framing and splits the prelude (JSON, then eight NUL bytes) from the body.
fn streamed(outcome: Outcome) -> Streamed {
    let (headers, chunks) = match outcome {
        Outcome::Response {
            headers, chunks, ..
        } => (headers, chunks),
        Outcome::Error { path, body } => panic!("the function reported an error to {path}: {body}"),
    };
    assert_eq!(
        headers
            .get("lambda-runtime-function-response-mode")
            .map(String::as_str),
        Some("streaming")
    );
    assert_eq!(
        headers.get("transfer-encoding").map(String::as_str),
        Some("chunked")
    );
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/vnd.awslambda.http-integration-response")
    );
    let all = chunks.concat();
    let delimiter = [0u8; 8];
    let at = all
        .windows(8)
        .position(|w| w == delimiter)
        .expect("the prelude ends with eight NUL bytes");
    let prelude: Value = serde_json::from_slice(&all[..at]).expect("the prelude is JSON");
    // The body's chunks: whatever follows the delimiter, with the wire's chunk boundaries.
    let mut offset = 0;
    let mut body_chunks = Vec::new();
    for chunk in chunks {
        let start = offset;
        offset += chunk.len();
        if offset <= at + 8 {
            continue;
        }
        let skip = (at + 8).saturating_sub(start);
        body_chunks.push(chunk[skip..].to_vec());
    }
    Streamed {
        status: prelude["statusCode"].as_u64().expect("statusCode") as u16,
        headers: prelude["headers"].clone(),
        body_chunks,
    }
}

/// A function-URL event (payload format 2.0) as CloudFront's origin access control delivers it: the
/// viewer's token carried in `x-viewer-authorization`, `Authorization` holding the SigV4 signature that
/// Lambda checked before invoking.
fn url_event(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let host = "abcdefghijklmnop.lambda-url.eu-west-1.on.aws";
    let mut headers = json!({
        "host": host,
        "accept": "text/event-stream",
        "authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261129/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd",
        "x-amz-date": "20261129T120000Z",
        "x-forwarded-proto": "https",
        "via": "2.0 0123456789abcdef.cloudfront.net (CloudFront)",
    });
    if let Some(token) = token {
        headers["x-viewer-authorization"] = json!(format!("Bearer {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghijklmnop",
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLE",
                "accountId": "123456789012",
                "callerId": "AROAEXAMPLE:cloudfront",
                "principalOrgId": null,
                "userArn": "arn:aws:sts::123456789012:assumed-role/cloudfront/oac",
                "userId": "AROAEXAMPLE:cloudfront"
            }},
            "domainName": host,
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "130.176.0.1",
                "userAgent": "Amazon CloudFront"
            },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:12:00:00 +0000",
            "timeEpoch": vwc_clock::now().timestamp_millis()
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// An RS256 token from the fixture key the JWKS names `rsa-1`, as the identity provider would sign it.
fn token(org: &str) -> String {
    let now = vwc_clock::now().timestamp();
    let claims = json!({
        "sub": "usr_chat", "org": org, "roles": ["owner"], "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "exp": now + 3600,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(RSA1_KEY).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// Seeds two organisations' vehicles through the embedded system's HTTP write paths (on `store`), waits
/// until the chat historian has projected them, and stops it: returns the data dir and the two vehicle ids.
async fn seeded(store: StoreChoice) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let app = TestApp::spawn_with(dir, |o| o.store = store).await;
    let owner_a = app.token("org_a", &[Role::Owner]);
    let owner_b = app.token("org_b", &[Role::Owner]);
    let ours = app.register(&owner_a, &vwc_testkit::vin(71)).await;
    let at = vwc_clock::now() - chrono::Duration::days(40);
    let (status, _, body) = vwc_testkit::json(
        app.post(
            &owner_a,
            &format!("/v1/vehicles/{ours}/events"),
            &json!({"kind": "maintenance", "occurredAt": at, "odometer": 41_250, "costCents": 8_999,
                "currency": "USD", "title": "Oil and filter change", "vendor": {"name": "Main St Auto"},
                "details": {"tasks": ["oil_change", "tire_rotation"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let theirs = app.register(&owner_b, &vwc_testkit::vin(72)).await;
    app.settle().await;
    (app.stop().await, ours, theirs)
}

/// The binary, told where the runtime API is, as Lambda starts a custom runtime's `bootstrap`, with its
/// store's settings in `store_env`.
fn start_function(api: &RuntimeApi, store_env: &[(&str, String)]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vwc-lambda-chat"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "vwc-test-chat")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(store_env.iter().map(|(k, v)| (k, v)))
        .env("VWC_JWKS", format!("http://{}/jwks.json", api.addr))
        .env("VWC_JWT_ISSUER", ISSUER)
        .env("VWC_JWT_AUDIENCE", AUDIENCE)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("vwc-lambda-chat starts")
}

#[tokio::test]
async fn the_chat_function_streams_answers_through_the_runtime_api_with_the_apis_auth_and_tenancy()
{
    let (data_dir, ours, theirs) = seeded(StoreChoice::Sqlite).await;
    let mut api = RuntimeApi::start().await;
    let data_dir_env = data_dir.path().display().to_string();
    let mut function = start_function(&api, &[("VWC_DATA_DIR", data_dir_env)]);
    streams_with_the_apis_auth_and_tenancy(&mut api, &ours, &theirs).await;
    function.start_kill().unwrap();
    let _ = function.wait().await;
}

/// The same on MongoDB, configured as in AWS (`VWC_MONGODB_URI`, `VWC_MONGODB_PREFIX`; no data dir): the
/// server in `VWC_TEST_MONGODB_URI` (the surrogate `scripts/test` starts, or a real replica set).
#[tokio::test]
async fn on_mongodb_as_in_aws_the_chat_function_streams_the_same() {
    let Some(uri) = vwc_testkit::mongo::mongodb_uri() else {
        return;
    };
    let prefix = format!(
        "vwc_lchat_{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let store = StoreChoice::Mongodb {
        uri: uri.clone(),
        prefix: prefix.clone(),
    };
    let (_seed_dir, ours, theirs) = seeded(store).await;
    let mut api = RuntimeApi::start().await;
    let mut function = start_function(
        &api,
        &[
            ("VWC_MONGODB_URI", uri.clone()),
            ("VWC_MONGODB_PREFIX", prefix.clone()),
        ],
    );
    streams_with_the_apis_auth_and_tenancy(&mut api, &ours, &theirs).await;
    function.start_kill().unwrap();
    let _ = function.wait().await;
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    for name in client.list_database_names().await.unwrap() {
        if name.starts_with(&prefix) {
            let _ = client.database(&name).drop().await;
        }
    }
}

async fn streams_with_the_apis_auth_and_tenancy(api: &mut RuntimeApi, ours: &str, theirs: &str) {
    let owner = token("org_a");

    // A question: the prelude says 200 and SSE, then the answer's deltas arrive in order, each event in
    // its own chunk as the router's body yields it, and `done` ends the stream.
    let question = json!({"question": "When was the oil last changed?"});
    let chat = format!("/v1/vehicles/{ours}/chat");
    let asked = std::time::Instant::now();
    let answer = api
        .request("POST", &chat, Some(&owner), Some(&question))
        .await;
    let took = asked.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body());
    assert!(
        answer
            .header("content-type")
            .starts_with("text/event-stream")
    );
    assert_eq!(answer.header("x-accel-buffering"), "no");
    assert!(
        answer.body_chunks.len() > 1,
        "the body arrived in {} chunk(s)",
        answer.body_chunks.len()
    );
    eprintln!(
        "the answer: {} body chunks after the prelude, {} bytes, {} ms from the event queued to the last chunk",
        answer.body_chunks.len(),
        answer.body().len(),
        took.as_millis()
    );
    let mut in_order = Vec::new();
    for chunk in &answer.body_chunks {
        let text = String::from_utf8(chunk.clone()).unwrap();
        assert!(
            text.ends_with("\n\n"),
            "a chunk holds whole events: {text:?}"
        );
        in_order.extend(vwc_testkit::sse_events(&text));
    }
    let (last, done) = in_order.last().cloned().expect("events");
    assert_eq!(last, "done", "the stream ends with done");
    let deltas: Vec<_> = in_order[..in_order.len() - 1].to_vec();
    assert!(deltas.len() >= 2, "several deltas: {deltas:?}");
    assert!(deltas.iter().all(|(e, _)| e == "delta"), "{deltas:?}");
    let text: String = deltas
        .iter()
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let done: Value = serde_json::from_str(&done).unwrap();
    assert_eq!(
        text,
        done["answer"].as_str().unwrap(),
        "the deltas in order are the answer"
    );
    assert!(text.contains("41,250"), "{text}");
    assert_eq!(done["citations"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(vwc_testkit::sse_events(&answer.body()), in_order);

    // The turn was stored before the first byte: the conversation reads back through the same function.
    let conversation = done["conversationId"].as_str().unwrap();
    let history = api
        .request("GET", &format!("{chat}/{conversation}"), Some(&owner), None)
        .await;
    assert_eq!(history.status, 200, "{}", history.body());
    assert_eq!(
        history.json()["messages"][0]["messageId"],
        done["messageId"]
    );

    // A bad token: 401 problem+json, as from the API function.
    let bad = api
        .request("POST", &chat, Some("not.a.token"), Some(&question))
        .await;
    bad.problem(401);

    // Only the signature CloudFront put in Authorization, no carried token: unauthenticated.
    let unsigned_viewer = api.request("POST", &chat, None, Some(&question)).await;
    unsigned_viewer.problem(401);

    // Another organisation's vehicle is a 404, exactly like one that does not exist.
    for vehicle in [theirs, "veh_does_not_exist"] {
        let other = api
            .request(
                "POST",
                &format!("/v1/vehicles/{vehicle}/chat"),
                Some(&owner),
                Some(&question),
            )
            .await;
        other.problem(404);
    }

    // Bad input: 422 problem+json naming the field.
    let empty = api
        .request("POST", &chat, Some(&owner), Some(&json!({"question": ""})))
        .await;
    empty.problem(422);
}
