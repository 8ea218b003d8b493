//! The error responses of the edge's routes as sets, each a reference to the shared problem components
//! of `vwc_http::openapi`: a route's `responses(…)` names its success and one set.

use std::collections::BTreeMap;

use utoipa::openapi::response::Response;
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, ToResponse};
use vwc_http::openapi::{
    BadRequest, Forbidden, InternalServerError, NotFound, ServiceUnavailable, TooManyRequests,
    Unauthorized, UnprocessableEntity,
};

type Responses = BTreeMap<String, RefOr<Response>>;

fn reference<R: ToResponse<'static>>(status: u16) -> (String, RefOr<Response>) {
    (
        status.to_string(),
        RefOr::Ref(Ref::from_response_name(R::response().0)),
    )
}

/// What every route behind a bearer token can answer: 401, 403, 429, 500, 503.
fn authenticated(more: impl IntoIterator<Item = (String, RefOr<Response>)>) -> Responses {
    [
        reference::<Unauthorized>(401),
        reference::<Forbidden>(403),
        reference::<TooManyRequests>(429),
        reference::<InternalServerError>(500),
        reference::<ServiceUnavailable>(503),
    ]
    .into_iter()
    .chain(more)
    .collect()
}

/// The error responses of a route: those of every authenticated route, 404 when it names a resource,
/// 400 (an unreadable query string) and 422 (a bad value) when it takes query parameters.
pub struct Errors<const NAMES_A_RESOURCE: bool, const TAKES_A_QUERY: bool>;

impl<const NAMES_A_RESOURCE: bool, const TAKES_A_QUERY: bool> IntoResponses
    for Errors<NAMES_A_RESOURCE, TAKES_A_QUERY>
{
    fn responses() -> Responses {
        let mut more = Vec::new();
        if NAMES_A_RESOURCE {
            more.push(reference::<NotFound>(404));
        }
        if TAKES_A_QUERY {
            more.push(reference::<BadRequest>(400));
            more.push(reference::<UnprocessableEntity>(422));
        }
        authenticated(more)
    }
}

/// Those of a route that names no resource and takes no query: only the authenticated route's.
pub type AuthErrors = Errors<false, false>;
pub type NotFoundErrors = Errors<true, false>;
pub type QueryErrors = Errors<false, true>;
pub type QueryNotFoundErrors = Errors<true, true>;

/// The error responses of a route reached through a signed URL, without a token: 404 (a wrong or revoked
/// signature, or no such resource), 429, 500, 503.
pub struct SignedUrlErrors;

impl IntoResponses for SignedUrlErrors {
    fn responses() -> Responses {
        [
            reference::<NotFound>(404),
            reference::<TooManyRequests>(429),
            reference::<InternalServerError>(500),
            reference::<ServiceUnavailable>(503),
        ]
        .into_iter()
        .collect()
    }
}
