use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The raw request body (size-limited), for handlers that must authorise before parsing or verify a
/// signature over the exact bytes.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// A JSON request body, read (size-limited) when the request arrives but parsed only when the handler asks
/// ([`JsonBody::parse`], the rules of [`parse_json`]), so a route can answer 401, 403 or 404 before it
/// judges the body.
pub struct JsonBody {
    headers: HeaderMap,
    bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        Ok(JsonBody { headers, bytes })
    }
}

impl JsonBody {
    /// The body as a `T`: not JSON → 415, syntax → 400, wrong shape or not an object → 422.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.headers, &self.bytes)
    }

    /// [`JsonBody::parse`] for a route whose body may be left out: no body at all, or a JSON `null`, is
    /// `T::default()`.
    pub fn parse_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.bytes.is_empty() {
            return Ok(T::default());
        }
        if self.bytes.trim_ascii() == b"null" {
            // Still only under a JSON content type, as every other body.
            return require_json(&self.headers).map(|()| T::default());
        }
        self.parse()
    }
}

/// Parses a JSON body the way [`crate::Json`] does: not JSON → 415, syntax → 400, wrong shape (including a
/// body that is not a JSON object) → 422.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    require_json(headers)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // A body that is not one well-formed JSON value is a 400 whatever the first problem serde met
        // (`{} {…}` fails on a missing field before it reaches the second value).
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            return ApiError::BadRequest(format!("malformed JSON: {syntax}"));
        }
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = (!path.is_empty() && path != ".").then_some(path);
        ApiError::Unprocessable(match (inner.classify(), path) {
            (serde_json::error::Category::Data, None) => inner.to_string(),
            (serde_json::error::Category::Data, Some(path)) => format!("{path}: {inner}"),
            // serde_json reports an enum read from a number, `null` or an array as a syntax error
            // ("expected value"), though the body is well-formed JSON with a field of the wrong type.
            (_, path) => format!(
                "{}: has a value of the wrong type (a string is expected)",
                path.as_deref().unwrap_or("body")
            ),
        })
    })?;
    // One JSON value and nothing after it but whitespace: `{…}xyz` is malformed, not a request with
    // something ignored at its end.
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    // Every request body of this API is a JSON object; serde would also read an array such as
    // `[null, null]` into a struct, field by field.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    Ok(parsed)
}

/// 415 unless the request says its body is JSON (`application/json` or `application/…+json`).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "expected a request with `Content-Type: application/json`".into(),
        ));
    }
    Ok(())
}
