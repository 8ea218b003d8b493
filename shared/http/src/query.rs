//! The query string of a route: read with [`Query`], whose every refusal is a 422 problem naming the
//! parameters at fault (docs/architecture.md: "a 422 naming the field for a bad value").
//!
//! A route takes the query parameters its OpenAPI operation documents ([`service_routes!`] puts that list
//! on the route with [`documented_query`]); a parameter it does not take (`sort` on a list with one fixed
//! order, a misspelt `form=`) or one given twice is refused rather than ignored, since either way the
//! answer would not be what the caller asked for. Each parameter group keeps its values as the strings
//! sent and reads them itself, so a bad value is a 422 in the group's words; [`AllFields`] gathers the
//! field errors of several reads into one problem.
//!
//! [`service_routes!`]: crate::service_routes

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use axum::routing::MethodRouter;
use serde::de::DeserializeOwned;
use utoipa::openapi::HttpMethod;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa_axum::router::UtoipaMethodRouter;
use vwc_contracts::FieldError;

use crate::ApiError;

/// The query parameters each method of a route takes, as its OpenAPI operation documents them: put on the
/// route by [`documented_query`], read by [`Query`].
#[derive(Debug, Clone)]
pub struct RouteQuery(Arc<[(Method, Box<[String]>)]>);

impl RouteQuery {
    /// The parameters `method` takes (`None`: the route does not say, so nothing is refused as unknown).
    pub fn of(&self, method: &Method) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, names)| &names[..])
    }
}

fn operations(item: &PathItem) -> impl Iterator<Item = (Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::PATCH, &item.patch),
        (Method::HEAD, &item.head),
        (Method::OPTIONS, &item.options),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
}

/// `route` (a handler and its documentation, as `utoipa_axum::routes!` gives them), its handlers knowing
/// the query parameters it documents: a [`Query`] of the route refuses any other. `declared` is what the
/// route's parameter types say ([`QueryNames`](crate::openapi::QueryNames), what the route gets when no
/// documentation is built); a debug build checks that it is what the documentation says.
pub fn documented_query<S>(
    route: UtoipaMethodRouter<S>,
    declared: Vec<(Method, Box<[String]>)>,
) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (schemas, paths, method_router) = route;
    let taken: Vec<(Method, Box<[String]>)> = paths
        .paths
        .values()
        .flat_map(operations)
        .map(|(method, op)| {
            let names: Box<[String]> = op
                .parameters
                .iter()
                .flatten()
                .filter_map(|p| match p {
                    RefOr::T(p) if p.parameter_in == ParameterIn::Query => Some(p.name.clone()),
                    _ => None,
                })
                .collect();
            (method, names)
        })
        .collect();
    debug_assert!(
        same_query(&taken, &declared),
        "{:?}: the documented query parameters {taken:?}, the declared ones {declared:?}",
        paths.paths.keys().collect::<Vec<_>>()
    );
    (schemas, paths, with_query(method_router, taken))
}

/// Whether two lists of each method's query parameters say the same: the same names in the same order
/// (the order a refusal lists them in) for each method, the methods in any order.
fn same_query(a: &[(Method, Box<[String]>)], b: &[(Method, Box<[String]>)]) -> bool {
    let by_method = |list: &[(Method, Box<[String]>)]| {
        let mut list: Vec<(String, Box<[String]>)> = (list.iter())
            .map(|(method, names)| (method.to_string(), names.clone()))
            .collect();
        list.sort();
        list
    };
    by_method(a) == by_method(b)
}

/// `method_router` with the query parameters each of its methods takes (`taken`), for [`Query`]; a route
/// taking none is left as it is (it reads no query string).
pub fn with_query<S>(
    method_router: MethodRouter<S>,
    taken: Vec<(Method, Box<[String]>)>,
) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    if taken.iter().all(|(_, names)| names.is_empty()) {
        return method_router;
    }
    method_router.layer(axum::Extension(RouteQuery(taken.into())))
}

/// The HTTP method of an OpenAPI operation's.
pub fn method_of(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// "a", "a and b", "a, b and c".
fn listed(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What is wrong with the parameters' names: each one the route does not take, and each one given more
/// than once, in the order they first appear.
fn misnamed(pairs: &[(String, String)], taken: Option<&[String]>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            continue;
        }
        let message = match taken {
            Some(taken) if !taken.iter().any(|t| t == name) => match taken {
                [] => "is not a parameter of this route, which takes none".to_string(),
                _ => format!(
                    "is not a parameter of this route, which takes only {}",
                    listed(taken)
                ),
            },
            _ if pairs[i + 1..].iter().any(|(n, _)| n == name) => {
                "is given more than once: give it once".to_string()
            }
            _ => continue,
        };
        errors.push(FieldError {
            field: name.clone(),
            message,
        });
    }
    errors
}

/// The query string read into `T` (fields it does not name are left for the route's other groups). A
/// parameter the route does not document, or one given twice, is a 422 naming it; so is a value `T`
/// cannot hold (groups keep strings and judge them when read, so that is their own 422).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Names and values percent-decoded (invalid UTF-8 replaced), as the groups read them.
        let pairs: Vec<(String, String)> =
            axum::extract::Query::try_from_uri(&parts.uri).map_or_else(|_| Vec::new(), |q| q.0);
        let taken = parts
            .extensions
            .get::<RouteQuery>()
            .and_then(|r| r.of(&parts.method));
        let errors = misnamed(&pairs, taken);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(t)| Query(t))
            .map_err(|e| unreadable(&e.body_text(), &pairs))
    }
}

/// A value `T` could not hold, as a field error: serde says `"<name>: <why>"` after its prefix.
fn unreadable(text: &str, pairs: &[(String, String)]) -> ApiError {
    let why = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    let (field, why) = match why.split_once(": ") {
        Some((name, rest)) if pairs.iter().any(|(n, _)| n == name) => (name, rest),
        _ => ("query", why),
    };
    ApiError::field(field, format!("cannot be read: {why}"))
}

/// Several reads of a request (each a `Result`, e.g. of a query parameter group), judged together: every
/// field error of them all in one 422, so a caller learns of each bad parameter at once. Any other error
/// (a 404, a 500) is answered as it is.
pub trait AllFields {
    type Output;
    fn all_fields(self) -> Result<Self::Output, ApiError>;
}

macro_rules! all_fields {
    ($($t:ident $v:ident),+) => {
        impl<$($t),+> AllFields for ($(Result<$t, ApiError>,)+) {
            type Output = ($($t,)+);

            fn all_fields(self) -> Result<Self::Output, ApiError> {
                let ($($v,)+) = self;
                let mut errors = Vec::new();
                $(
                    let $v = match $v {
                        Ok(v) => Some(v),
                        Err(ApiError::Validation(e)) => {
                            errors.extend(e);
                            None
                        }
                        Err(other) => return Err(other),
                    };
                )+
                match ($($v,)+) {
                    ($(Some($v),)+) => Ok(($($v,)+)),
                    _ => Err(ApiError::Validation(errors)),
                }
            }
        }
    };
}

all_fields!(A a, B b);
all_fields!(A a, B b, C c);
all_fields!(A a, B b, C c, D d);
all_fields!(A a, B b, C c, D d, E e);

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (n.to_string(), v.to_string())
            })
            .collect()
    }

    fn said(errors: Vec<FieldError>) -> Vec<(String, String)> {
        errors.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn parameters_a_route_does_not_take_or_given_twice_are_named_once_each() {
        let taken = ["limit".to_string(), "cursor".to_string()];
        assert!(misnamed(&pairs("limit=5&cursor="), Some(&taken)).is_empty());
        assert_eq!(
            said(misnamed(
                &pairs("sort=name&limit=1&limit=2&sort=x&cursor=a"),
                Some(&taken)
            )),
            [
                (
                    "sort".into(),
                    "is not a parameter of this route, which takes only limit and cursor".into()
                ),
                (
                    "limit".into(),
                    "is given more than once: give it once".into()
                ),
            ]
        );
        // A route that does not say what it takes: only repeats are refused.
        assert_eq!(
            said(misnamed(&pairs("a=1&b=2&b=3"), None)),
            [("b".into(), "is given more than once: give it once".into())]
        );
        assert_eq!(
            said(misnamed(&pairs("x=1"), Some(&[]))),
            [(
                "x".into(),
                "is not a parameter of this route, which takes none".into()
            )]
        );
    }

    #[test]
    fn several_reads_give_every_field_error_at_once_and_other_errors_as_they_are() {
        let ok: Result<u8, ApiError> = Ok(1);
        assert!(matches!(
            (ok, Ok::<_, ApiError>("a")).all_fields(),
            Ok((1, "a"))
        ));
        let both = (
            Err::<u8, _>(ApiError::field("limit", "bad")),
            Ok::<_, ApiError>(2),
            Err::<u8, _>(ApiError::field("from", "bad")),
        )
            .all_fields();
        match both {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["limit", "from"]);
            }
            other => panic!("{other:?}"),
        }
        let missing = (
            Err::<u8, _>(ApiError::field("limit", "bad")),
            Err::<u8, _>(ApiError::NotFound("vehicle")),
        )
            .all_fields();
        assert!(matches!(missing, Err(ApiError::NotFound("vehicle"))));
    }

    #[test]
    fn a_value_the_group_cannot_hold_names_its_parameter() {
        let pairs = pairs("dryRun=maybe");
        let e = unreadable(
            "Failed to deserialize query string: dryRun: provided string was not `true` or `false`",
            &pairs,
        );
        match e {
            ApiError::Validation(errors) => {
                assert_eq!(errors[0].field, "dryRun");
                assert_eq!(
                    errors[0].message,
                    "cannot be read: provided string was not `true` or `false`"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
