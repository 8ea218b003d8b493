//! OpenAPI pieces every service documents its routes with: the `Problem` schema, the bearer-token security
//! scheme and one reusable response per error status, all registered once by [`components`].
//!
//! A handler's [`route`](crate::route) lists its errors by name, e.g. `404 => NotFound`, or by the set they
//! come in ([`BearerRoute`], [`RequestBody`], … declared with [`response_set!`](crate::response_set)); each
//! of these answers `application/problem+json` exactly as [`ApiError`](crate::ApiError) renders it. The
//! sets also say whether the route needs a bearer token ([`ResponseSet::BEARER`]), so its `security` is
//! never written by hand.

use std::marker::PhantomData;

use utoipa::__dev::{SchemaReferences, Tags};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi, OpenApiBuilder, Ref, RefOr};
use utoipa::{IntoResponses, PartialSchema, Path, ToResponse, ToSchema};
use vwc_contracts::FieldError;

use crate::{PROBLEM_JSON, Problem};

/// Name of the bearer-JWT security scheme: `security(("bearer" = []))` on every `/v1` route.
pub const BEARER: &str = "bearer";

fn problem_example(status: u16, slug: &str, detail: &str) -> serde_json::Value {
    let title = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut example = serde_json::json!({
        "type": format!("https://vwc.dev/problems/{slug}"),
        "title": title,
        "status": status,
        "detail": detail,
    });
    if status == 422 {
        example["detail"] = "the request has invalid fields".into();
        example["errors"] =
            serde_json::json!([{"field": "vin", "message": "must be exactly 17 characters"}]);
    }
    if status == 500 {
        example["errorId"] = "0197a3c2-5b1e-7d40-9c1a-6f0e2b8d4a11".into();
    }
    example
}

fn problem_response(
    status: u16,
    slug: &str,
    detail: &str,
    description: &str,
    header: Option<(&str, Type, &str)>,
) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .example(Some(problem_example(status, slug, detail)))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content);
    if let Some((name, schema_type, about)) = header {
        response = response.header(
            name,
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(schema_type)))
                .description(Some(about))
                .build(),
        );
    }
    response.build()
}

macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => $status:literal, $slug:literal, $detail:literal, $description:literal $(, header = ($h:literal, $t:expr, $about:literal))?;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (
                        stringify!($name),
                        problem_response($status, $slug, $detail, $description, None $(.or(Some(($h, $t, $about))))?)
                            .into(),
                    )
                }
            }
        )*

        /// Every reusable error response, by component name.
        fn all_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as ToResponse>::response()),*]
        }
    };
}

problem_responses! {
    /// 400: not JSON at all, a query string or header that cannot be read.
    BadRequest => 400, "bad-request", "malformed JSON: expected value at line 1 column 1",
        "The request cannot be read: malformed JSON, an unreadable query string or a malformed header.";
    /// 401: no bearer token, or one that does not verify (the reason is never told).
    Unauthorized => 401, "unauthorized", "missing or invalid credentials",
        "Missing or invalid credentials. The reason is logged, never told.",
        header = ("WWW-Authenticate", Type::String, "Always `Bearer`.");
    /// 403: the caller's roles lack the permission (same organisation).
    Forbidden => 403, "forbidden", "your roles do not allow register_vehicles",
        "The caller's roles do not grant the permission this route needs (see docs/roles.md).";
    /// 404: no such resource in the caller's organisation (another organisation's looks the same).
    NotFound => 404, "not-found", "vehicle not found",
        "No such resource in the caller's organisation; one of another organisation answers the same.";
    /// 409: the request conflicts with what exists.
    Conflict => 409, "conflict", "a vehicle with VIN 1HGCM82633A004352 is already registered",
        "The request conflicts with the current state, e.g. a VIN already registered in the organisation.";
    /// 413: the body is over 256 KiB.
    PayloadTooLarge => 413, "payload-too-large", "the request body is larger than 262144 bytes",
        "The request body is larger than 256 KiB.";
    /// 415: the body is not `application/json`.
    UnsupportedMediaType => 415, "unsupported-media-type", "expected a request with `Content-Type: application/json`",
        "The body must be sent with `Content-Type: application/json`.";
    /// 422: well-formed JSON of the wrong shape, or invalid fields (listed in `errors`).
    UnprocessableEntity => 422, "validation", "the request has invalid fields",
        "Well-formed but invalid: a wrong shape (`detail` says where) or invalid fields (each in `errors`).";
    /// 429: the organisation's request budget is spent.
    TooManyRequests => 429, "rate-limited", "retry after 1 s",
        "The organisation sent more requests than its rate limit allows.",
        header = ("Retry-After", Type::Integer, "Seconds to wait before retrying.");
    /// 500: an unexpected failure; `errorId` names the logged cause.
    InternalServerError => 500, "internal", "an unexpected error occurred; quote the errorId",
        "An unexpected failure. The cause is logged under `errorId`, which the body quotes.";
    /// 503: a dependency is unreachable, or the request outlived the request timeout.
    ServiceUnavailable => 503, "unavailable", "the request took longer than 30 s (it may have taken effect): retry after 30 s",
        "The request took longer than the request timeout, another write kept holding the records it writes, or a dependency (e.g. the token keys, the database) is unavailable. Nothing was changed unless `detail` says it may have been.",
        header = ("Retry-After", Type::Integer, "Seconds to wait before retrying; sent when the request took longer than the request timeout (30) and when another write held its records (60).");
}

/// Declares a set of responses a route lists by name in `errors(…)` of its [`route`](crate::route): the
/// sets it includes (after `:`) and its own `status => response` pairs, each a `$ref` to the reusable
/// response of that status (so the document is the same as if the route listed them one by one). A set
/// declared `bearer`, and every set that includes one, is answered by routes behind a bearer token
/// ([`ResponseSet::BEARER`]). The sets every service needs are below; a service declares its own the same
/// way.
#[macro_export]
macro_rules! response_set {
    (
        $(#[$doc:meta])*
        bearer $name:ident $(: $($set:ident),+)? { $($status:literal => $response:ty),* $(,)? }
    ) => {
        $crate::response_set!(@declare [true] $(#[$doc])* $name $(: $($set),+)? { $($status => $response),* });
    };
    (
        $(#[$doc:meta])*
        $name:ident $(: $($set:ident),+)? { $($status:literal => $response:ty),* $(,)? }
    ) => {
        $crate::response_set!(@declare [false] $(#[$doc])* $name $(: $($set),+)? { $($status => $response),* });
    };
    (
        @declare [$bearer:literal]
        $(#[$doc:meta])*
        $name:ident $(: $($set:ident),+)? { $($status:literal => $response:ty),* }
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::openapi::ResponseSet for $name {
            const BEARER: bool = $bearer $($(|| <$set as $crate::openapi::ResponseSet>::BEARER)+)?;
        }

        impl ::utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                ::utoipa::openapi::RefOr<::utoipa::openapi::response::Response>,
            > {
                #[allow(unused_mut)]
                let mut responses = ::std::collections::BTreeMap::new();
                $($(responses.extend(<$set as ::utoipa::IntoResponses>::responses());)+)?
                $(responses.insert(
                    $status.to_string(),
                    ::utoipa::openapi::Ref::from_response_name(
                        <$response as ::utoipa::ToResponse>::response().0,
                    )
                    .into(),
                );)*
                responses
            }
        }
    };
}

/// A set of error responses routes list together (declared with [`response_set!`](crate::response_set)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response set",
    label = "not declared with `vwc_http::response_set!`",
    note = "`errors(…)` of a `#[route]` names response sets; a single response is written `status => Response`, e.g. `409 => Conflict`"
)]
pub trait ResponseSet: IntoResponses {
    /// Whether a route answering this set is behind a bearer token: its document then lists the
    /// [`BEARER`] security requirement.
    const BEARER: bool;
}

/// The response sets one route lists, as a tuple: behind a bearer token when any of them is.
pub trait ResponseSets {
    const BEARER: bool;
}

macro_rules! response_sets_of_tuples {
    ($(($($set:ident),*))*) => {
        $(
            impl<$($set: ResponseSet),*> ResponseSets for ($($set,)*) {
                const BEARER: bool = false $(|| $set::BEARER)*;
            }
        )*
    };
}

response_sets_of_tuples! { () (A) (A, B) (A, B, C) (A, B, C, D) }

/// The documentation of a handler declared with [`route`](crate::route): what `#[utoipa::path]` wrote of
/// it (`P`), with the bearer security requirement added when its response sets `S` need the token. The
/// route attribute names it `__path_<handler>`, where `utoipa_axum::routes!` looks.
pub struct RouteDoc<P, S>(PhantomData<fn() -> (P, S)>);

impl<P: Path, S: ResponseSets> Path for RouteDoc<P, S> {
    fn path() -> String {
        P::path()
    }

    fn methods() -> Vec<HttpMethod> {
        P::methods()
    }

    fn operation() -> Operation {
        let mut operation = P::operation();
        if S::BEARER {
            operation.security = Some(vec![SecurityRequirement::new(BEARER, [""; 0])]);
        }
        operation
    }
}

impl<P: QueryNames, S> RouteDoc<P, S> {
    /// The query parameters the route documents, read from its parameter types alone (what
    /// `service_routes!` puts on the route when it builds no documentation).
    pub fn query_names() -> Vec<String> {
        P::query_names()
    }
}

/// The query parameters a handler declared with [`route`](crate::route) documents, known without writing
/// its documentation: the names of its `params(…)` that are in the query. The route attribute implements it.
pub trait QueryNames {
    fn query_names() -> Vec<String>;
}

/// Whether a service's routes come with their OpenAPI documentation. The server that only serves them
/// does not build it: composing every service's documentation is most of composing the routes, and it
/// would be dropped at once (`/openapi.json` builds the document when it is first asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Docs {
    /// The routes and their documentation (the document, tests of it).
    Built,
    /// The routes alone.
    Skipped,
}

impl<'t, P: Tags<'t>, S> Tags<'t> for RouteDoc<P, S> {
    fn tags() -> Vec<&'t str> {
        P::tags()
    }
}

impl<P: SchemaReferences, S> SchemaReferences for RouteDoc<P, S> {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        P::schemas(schemas)
    }
}

response_set! {
    /// What any route may answer, public ones included: 429 past the rate limit, 503 when the request
    /// outlives the request timeout.
    Throttled {
        429 => TooManyRequests,
        503 => ServiceUnavailable,
    }
}

response_set! {
    /// A route whose caller proves who it is (a bearer token, or a signature) and needs no permission
    /// beyond that: 401 without valid proof, 500 for an unexpected failure, and [`Throttled`]'s.
    Authenticated: Throttled {
        401 => Unauthorized,
        500 => InternalServerError,
    }
}

response_set! {
    /// A route behind a bearer token: [`Authenticated`]'s, and 403 without the permission.
    bearer BearerRoute: Authenticated { 403 => Forbidden }
}

response_set! {
    /// A route behind a bearer token that names a resource of the caller's organisation:
    /// [`BearerRoute`]'s, and 404 when the organisation has no such resource (another's looks the same).
    ResourceRoute: BearerRoute { 404 => NotFound }
}

response_set! {
    /// A route that reads query parameters about a resource of the caller's organisation:
    /// [`ResourceRoute`]'s and [`QueryParams`]'.
    ResourceQuery: ResourceRoute, QueryParams {}
}

response_set! {
    /// A route behind a bearer token that reads query parameters about the caller's organisation:
    /// [`BearerRoute`]'s and [`QueryParams`]'.
    BearerQuery: BearerRoute, QueryParams {}
}

response_set! {
    /// A route behind a bearer token that reads a request body: [`BearerRoute`]'s and [`RequestBody`]'s.
    BearerBody: BearerRoute, RequestBody {}
}

response_set! {
    /// A route that reads a request body about a resource of the caller's organisation:
    /// [`ResourceRoute`]'s and [`RequestBody`]'s.
    ResourceBody: ResourceRoute, RequestBody {}
}

response_set! {
    /// Content that is checked before it is kept: too large (413), of a type not taken (415) or invalid
    /// (422).
    CheckedContent {
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        422 => UnprocessableEntity,
    }
}

response_set! {
    /// A route that reads a request body: unreadable (400), and [`CheckedContent`]'s.
    RequestBody: CheckedContent { 400 => BadRequest }
}

response_set! {
    /// A route that reads query parameters: unreadable (400) or out of range (422).
    QueryParams {
        400 => BadRequest,
        422 => UnprocessableEntity,
    }
}

/// The components every service's document starts from: `Problem`, `FieldError`, the reusable error
/// responses and the bearer security scheme. Merging documents keeps one copy of each.
pub fn components() -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema(Problem::name(), Problem::schema())
        .schema(FieldError::name(), FieldError::schema())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose `org` claim is the caller's organisation and whose `roles` claim lists \
                         its roles. Embedded mode: `POST /v1/auth/dev-token` or `vwc token`.",
                    ))
                    .build(),
            ),
        );
    for (name, response) in all_responses() {
        components = components.response(name, response);
    }
    OpenApiBuilder::new()
        .components(Some(components.build()))
        .build()
}

/// A file's raw bytes (OpenAPI: a binary string).
pub struct BinaryFile;

impl utoipa::PartialSchema for BinaryFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes."))
            .into()
    }
}

impl utoipa::ToSchema for BinaryFile {}
