//! The dashboard's static files, embedded at build time from `dashboard/dist` (see build.rs): `/` serves
//! `index.html` (never cached, so a new build is picked up at once) and `/assets/{file}` the hashed
//! bundle (cached for a year: a changed file gets a new name). Every response carries a CSP that allows
//! only this origin, plus the OpenID Connect provider's origins for `connect-src` when one is configured.

use axum::Extension;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use vwc_http::ApiError;
use vwc_http::openapi::Throttled;
use vwc_http::route;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));
}

/// Only this origin, for everything; no inline script or style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The policy the dashboard's responses carry: [`CONTENT_SECURITY_POLICY`] unless the router adds
/// another (with the sign-in provider's origins) as an extension.
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicy(pub HeaderValue);

impl ContentSecurityPolicy {
    /// The default policy, with `connect-src` also allowing `origins` (each `scheme://host[:port]`).
    pub fn connecting_to(origins: &[String]) -> Result<ContentSecurityPolicy, String> {
        if let Some(bad) = origins.iter().find(|o| {
            o.is_empty() || o.contains(|c: char| c.is_whitespace() || c == ';' || c == ',')
        }) {
            return Err(format!(
                "{bad:?} cannot be named in a content security policy"
            ));
        }
        let mut connect = String::from("connect-src 'self'");
        for o in origins {
            connect.push(' ');
            connect.push_str(o);
        }
        let policy = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &connect);
        HeaderValue::from_str(&policy)
            .map(ContentSecurityPolicy)
            .map_err(|e| e.to_string())
    }
}

impl Default for ContentSecurityPolicy {
    fn default() -> ContentSecurityPolicy {
        ContentSecurityPolicy(HeaderValue::from_static(CONTENT_SECURITY_POLICY))
    }
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Shown when the binary was built without `dashboard/dist` (it is committed, so only by hand).
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Vehicle Wellness \
     Center</title><p>The dashboard was not built into this binary: run <code>npm ci &amp;&amp; npm run \
     build</code> in <code>dashboard/</code>, then build <code>vwc</code> again. The API is served at \
     <code>/v1</code>.</p></html>";

fn file(path: &str) -> Option<&'static [u8]> {
    embedded::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

/// The built asset names (tests use them to fetch what `/` links to).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    embedded::FILES.iter().map(|(p, _)| *p)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn respond(
    body: &'static [u8],
    content_type: &'static str,
    cache: &'static str,
    csp: Option<Extension<ContentSecurityPolicy>>,
) -> Response {
    let csp = csp.map(|Extension(c)| c).unwrap_or_default();
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::CONTENT_SECURITY_POLICY, csp.0),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    (headers, body).into_response()
}

/// The dashboard
///
/// The single-page dashboard (HTML). It signs in with a dev token (embedded mode) and calls this API.
/// Never cached; the scripts and styles it links live under `/assets/` with hashed names.
#[route(get "/", tag = "system", ok(200, "The dashboard page.", String, content_type = "text/html"),
    errors(Throttled))]
pub async fn index(csp: Option<Extension<ContentSecurityPolicy>>) -> Response {
    let body = file("index.html").unwrap_or(NOT_BUILT.as_bytes());
    respond(body, "text/html; charset=utf-8", "no-cache", csp)
}

/// A dashboard asset
///
/// A script, stylesheet or image of the dashboard. The name carries a hash of the content, so the
/// response may be cached for a year.
#[route(get "/assets/{file}", tag = "system",
    params(("file" = String, Path, description = "The hashed file name, as `/` links it.")),
    ok(200, "The file.", Vec<u8>, content_type = "application/octet-stream"),
    errors(404 => vwc_http::openapi::NotFound, Throttled))]
pub async fn asset(
    Path(name): Path<String>,
    csp: Option<Extension<ContentSecurityPolicy>>,
) -> Result<Response, ApiError> {
    let path = format!("assets/{name}");
    let body = file(&path).ok_or(ApiError::NotFound("asset"))?;
    Ok(respond(body, content_type(&path), IMMUTABLE, csp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_origin() {
        for directive in CONTENT_SECURITY_POLICY.split(';') {
            let sources: Vec<&str> = directive.split_whitespace().skip(1).collect();
            assert!(
                sources.iter().all(|s| *s == "'self'" || *s == "'none'"),
                "{directive}"
            );
        }
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_the_policy_and_cache_headers() {
        let app = crate::testing::TestApp::spawn().await;
        let page = app.http.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(
            page.headers()["content-security-policy"],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(page.headers()["cache-control"], "no-cache");
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let html = page.text().await.unwrap();
        let linked: Vec<&str> = asset_names()
            .filter(|name| name.starts_with("assets/") && html.contains(&format!("/{name}")))
            .collect();
        assert!(
            linked.iter().any(|n| n.ends_with(".js")),
            "the page links no embedded script: {html}"
        );
        for name in linked {
            let asset = vwc_testkit::get_anonymous(&app.http, app.url(&format!("/{name}"))).await;
            assert_eq!(asset.status(), 200, "{name}");
            assert_eq!(asset.headers()["cache-control"], IMMUTABLE, "{name}");
            assert_eq!(
                asset.headers()["content-type"],
                content_type(name),
                "{name}"
            );
            assert_eq!(
                asset.headers()["content-security-policy"],
                CONTENT_SECURITY_POLICY
            );
        }
        let missing =
            vwc_testkit::get_anonymous(&app.http, app.url("/assets/index-nothing.js")).await;
        assert_eq!(missing.status(), 404);
        assert_eq!(
            missing.headers()["content-type"],
            "application/problem+json"
        );
        app.stop().await;
    }

    #[test]
    fn a_sign_in_provider_is_added_to_connect_src_only() {
        let csp = ContentSecurityPolicy::connecting_to(&["https://id.example.com".into()]).unwrap();
        let policy = csp.0.to_str().unwrap();
        for directive in policy.split(';').map(str::trim) {
            let sources: Vec<&str> = directive.split_whitespace().skip(1).collect();
            if directive.starts_with("connect-src") {
                assert_eq!(sources, ["'self'", "https://id.example.com"]);
            } else {
                assert!(
                    sources.iter().all(|s| *s == "'self'" || *s == "'none'"),
                    "{directive}"
                );
            }
        }
        assert!(ContentSecurityPolicy::connecting_to(&["https://a; script-src *".into()]).is_err());
        assert_eq!(
            ContentSecurityPolicy::connecting_to(&[]).unwrap().0,
            CONTENT_SECURITY_POLICY
        );
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("assets/x.bin"), "application/octet-stream");
    }
}
