//! The response sets of the ingestion routes beyond `vwc_http::openapi`'s ([`BearerRoute`],
//! [`RequestBody`], …): a route that changes a vehicle or a record answers [`StateChange`]'s, or
//! [`BodyChange`]'s when a request body describes the change. A route lists its success response, its
//! sets and the statuses only it has.

pub use vwc_http::openapi::{
    Authenticated, BearerBody, BearerRoute, CheckedContent, QueryParams, RequestBody, ResourceBody,
    ResourceRoute,
};
use vwc_http::openapi::{Conflict, NotFound};
use vwc_http::response_set;

response_set! {
    /// A route that changes a vehicle or one of its records, behind a bearer token: 404 when the caller's
    /// organisation has no such thing, 409 when its state refuses the change.
    StateChange: BearerRoute {
        404 => NotFound,
        409 => Conflict,
    }
}

response_set! {
    /// A [`StateChange`] the request body describes.
    BodyChange: StateChange, RequestBody {}
}
