//! How the dashboard signs in: `GET /v1/auth/config` tells a page whether this server mints development
//! tokens or trusts an OpenID Connect provider (and which one), and the dashboard's CSP lets it reach it.

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use vwc_http::openapi::Throttled;
use vwc_http::route;

/// The OpenID Connect provider the dashboard signs in with (authorization code + PKCE in the browser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL whose `/.well-known/openid-configuration` the page reads.
    pub authority: String,
    /// The public (secret-less) client registered for the dashboard.
    pub client_id: String,
    /// Scopes asked for, space-separated; `openid` is always among them.
    pub scope: String,
    /// Which of the provider's tokens the page sends to this API.
    pub api_token: ApiToken,
    /// Origins besides the authority's the page must reach (a provider whose token endpoint lives on
    /// another host, as a Cognito user pool's domain does).
    pub extra_origins: Vec<String>,
}

/// Which token the dashboard sends as `Authorization: Bearer`: the access token when the provider puts
/// this API's audience in it, the ID token when only that one names the client (Cognito).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiToken {
    Access,
    Id,
}

impl std::str::FromStr for ApiToken {
    type Err = String;
    fn from_str(s: &str) -> Result<ApiToken, String> {
        match s {
            "access" => Ok(ApiToken::Access),
            "id" => Ok(ApiToken::Id),
            other => Err(format!("{other:?} is not `access` or `id`")),
        }
    }
}

/// Why an OpenID Connect setting cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum OidcSettingsError {
    Authority(String),
    ClientId,
    Scope,
    Origin(String),
}

impl std::fmt::Display for OidcSettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OidcSettingsError::Authority(a) => {
                write!(
                    f,
                    "the OpenID Connect authority {a:?} is not an http(s) URL"
                )
            }
            OidcSettingsError::ClientId => f.write_str("the OpenID Connect client id is empty"),
            OidcSettingsError::Scope => {
                f.write_str("the OpenID Connect scope must include `openid`")
            }
            OidcSettingsError::Origin(o) => write!(f, "{o:?} is not an http(s) origin"),
        }
    }
}

impl std::error::Error for OidcSettingsError {}

impl OidcSettings {
    pub fn new(
        authority: &str,
        client_id: &str,
        scope: &str,
        api_token: ApiToken,
        extra_origins: &[String],
    ) -> Result<OidcSettings, OidcSettingsError> {
        let authority = authority.trim().trim_end_matches('/').to_string();
        origin_of(&authority).ok_or_else(|| OidcSettingsError::Authority(authority.clone()))?;
        if client_id.trim().is_empty() {
            return Err(OidcSettingsError::ClientId);
        }
        if !scope.split_whitespace().any(|s| s == "openid") {
            return Err(OidcSettingsError::Scope);
        }
        let extra_origins = extra_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| origin_of(o).ok_or_else(|| OidcSettingsError::Origin(o.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OidcSettings {
            authority,
            client_id: client_id.trim().to_string(),
            scope: scope.split_whitespace().collect::<Vec<_>>().join(" "),
            api_token,
            extra_origins,
        })
    }

    /// The provider from named settings (`VWC_OIDC_*` variables, else SSM `oidc_*`: the API Lambda),
    /// `None` when neither authority nor client id is set; one without the other is an error.
    pub fn from_settings(
        value: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<Option<OidcSettings>, String> {
        let authority = value("VWC_OIDC_AUTHORITY", "oidc_authority");
        let client_id = value("VWC_OIDC_CLIENT_ID", "oidc_client_id");
        let (authority, client_id) = match (authority, client_id) {
            (None, None) => return Ok(None),
            (Some(a), Some(c)) => (a, c),
            _ => {
                return Err(
                    "VWC_OIDC_AUTHORITY and VWC_OIDC_CLIENT_ID (SSM oidc_authority, oidc_client_id) go together"
                        .into(),
                );
            }
        };
        let scope =
            value("VWC_OIDC_SCOPE", "oidc_scope").unwrap_or_else(|| "openid profile email".into());
        let api_token = value("VWC_OIDC_API_TOKEN", "oidc_api_token")
            .unwrap_or_else(|| "access".into())
            .parse()
            .map_err(|e| format!("VWC_OIDC_API_TOKEN: {e}"))?;
        OidcSettings::new(&authority, &client_id, &scope, api_token, &[])
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Every origin the page fetches from besides its own: the provider's discovery, token and JWKS.
    pub fn connect_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = origin_of(&self.authority).into_iter().collect();
        for o in &self.extra_origins {
            if !origins.contains(o) {
                origins.push(o.clone());
            }
        }
        origins
    }
}

/// `scheme://host[:port]` of an http(s) URL, which is what a CSP source names.
fn origin_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// How a page signs in to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignInMode {
    /// `POST /v1/auth/dev-token` mints tokens (embedded mode, same machine only).
    Embedded,
    /// Sign in with the OpenID Connect provider in `oidc`.
    Oidc,
    /// Tokens come from elsewhere (an identity provider this server only verifies): paste one.
    Token,
}

/// `200` of `GET /v1/auth/config`.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"mode": "oidc", "oidc": {"authority": "https://id.example.com",
    "clientId": "vwc-dashboard", "scope": "openid profile email", "apiToken": "access"}}))]
pub struct AuthConfig {
    pub mode: SignInMode,
    /// The provider, when `mode` is `oidc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcClientConfig>,
}

/// What a browser needs to run the authorization code flow with PKCE (no secret: a public client).
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientConfig {
    /// The issuer; its discovery document is `{authority}/.well-known/openid-configuration`.
    pub authority: String,
    pub client_id: String,
    /// Space-separated scopes, `openid` among them.
    pub scope: String,
    /// The token to send as `Authorization: Bearer`: `access` or `id`.
    pub api_token: ApiToken,
}

impl AuthConfig {
    pub fn new(dev_tokens: bool, oidc: Option<&OidcSettings>) -> AuthConfig {
        match oidc {
            Some(o) => AuthConfig {
                mode: SignInMode::Oidc,
                oidc: Some(OidcClientConfig {
                    authority: o.authority.clone(),
                    client_id: o.client_id.clone(),
                    scope: o.scope.clone(),
                    api_token: o.api_token,
                }),
            },
            None => AuthConfig {
                mode: if dev_tokens {
                    SignInMode::Embedded
                } else {
                    SignInMode::Token
                },
                oidc: None,
            },
        }
    }
}

/// `GET /v1/auth/config`, public: a page must read it before anyone has signed in. The state is what it
/// answers.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<std::sync::Arc<AuthConfig>> {
    vwc_http::service_routes![docs; auth_config]
}

/// How to sign in
///
/// Public (no token): whether this server mints development tokens (`embedded`), trusts an OpenID Connect
/// provider (`oidc`, with what a browser needs for the authorization code flow with PKCE), or only verifies
/// tokens issued elsewhere (`token`).
#[route(get "/v1/auth/config", tag = "auth", ok(200, "How to sign in.", AuthConfig),
    errors(Throttled))]
async fn auth_config(
    axum::extract::State(config): axum::extract::State<std::sync::Arc<AuthConfig>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CACHE_CONTROL, "no-cache")],
        axum::Json(config.as_ref().clone()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(authority: &str, extra: &[&str]) -> Result<OidcSettings, OidcSettingsError> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        OidcSettings::new(
            authority,
            "dash",
            "openid profile",
            ApiToken::Access,
            &extra,
        )
    }

    #[test]
    fn the_authority_origin_and_extra_origins_are_what_the_page_may_reach() {
        let s = settings(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/",
            &["https://vwc.auth.eu-west-1.amazoncognito.com/", " "],
        )
        .unwrap();
        assert_eq!(
            s.authority,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        assert_eq!(
            s.connect_origins(),
            [
                "https://cognito-idp.eu-west-1.amazonaws.com",
                "https://vwc.auth.eu-west-1.amazoncognito.com"
            ]
        );
        let local = settings("http://127.0.0.1:4545", &["http://127.0.0.1:4545"]).unwrap();
        assert_eq!(local.connect_origins(), ["http://127.0.0.1:4545"]);
    }

    #[test]
    fn unusable_settings_are_refused_with_a_reason() {
        assert!(matches!(
            settings("id.example.com", &[]),
            Err(OidcSettingsError::Authority(_))
        ));
        assert!(matches!(
            settings("javascript:alert(1)", &[]),
            Err(OidcSettingsError::Authority(_))
        ));
        assert_eq!(
            settings("https://id.example.com", &["ftp://x"]),
            Err(OidcSettingsError::Origin("ftp://x".into()))
        );
        assert_eq!(
            OidcSettings::new("https://id.example.com", " ", "openid", ApiToken::Id, &[]),
            Err(OidcSettingsError::ClientId)
        );
        assert_eq!(
            OidcSettings::new("https://id.example.com", "c", "profile", ApiToken::Id, &[]),
            Err(OidcSettingsError::Scope)
        );
    }

    #[tokio::test]
    async fn a_server_trusting_a_provider_names_it_to_the_page_and_lets_the_page_reach_it() {
        let jwks = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/auth/tests/fixtures/jwks.json"
        );
        let dir = tempfile::tempdir().unwrap();
        let app = crate::testing::TestApp::spawn_with(dir, |opts| {
            opts.jwks = Some(jwks.into());
            opts.oidc = Some(settings("https://id.example.com/realms/vwc", &[]).unwrap());
        })
        .await;
        let config = vwc_testkit::get_anonymous(&app.http, app.url("/v1/auth/config")).await;
        assert_eq!(config.status(), 200, "public: no token needed");
        assert_eq!(
            config.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"mode": "oidc", "oidc": {"authority": "https://id.example.com/realms/vwc",
                "clientId": "dash", "scope": "openid profile", "apiToken": "access"}})
        );
        let page = app.http.get(app.url("/")).send().await.unwrap();
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("connect-src 'self' https://id.example.com;"),
            "{csp}"
        );
        let dev = app
            .http
            .post(app.url("/v1/auth/dev-token"))
            .json(&serde_json::json!({"sub": "a", "org": "o", "roles": ["owner"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(dev.status(), 404);
        app.stop().await;

        let embedded = crate::testing::TestApp::spawn().await;
        let config: serde_json::Value =
            vwc_testkit::get_anonymous(&embedded.http, embedded.url("/v1/auth/config"))
                .await
                .json()
                .await
                .unwrap();
        assert_eq!(config, serde_json::json!({"mode": "embedded"}));
        embedded.stop().await;
    }

    #[tokio::test]
    async fn a_provider_without_its_keys_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = crate::testing::test_options(dir.path());
        opts.oidc = Some(settings("https://id.example.com", &[]).unwrap());
        let err = crate::System::start(opts).await.err().expect("refused");
        assert!(err.to_string().contains("--jwks"), "{err}");
    }

    #[test]
    fn the_api_lambda_reads_the_provider_from_its_parameters() {
        let ssm = |pairs: &'static [(&'static str, &'static str)]| {
            move |_env: &str, name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(OidcSettings::from_settings(ssm(&[])), Ok(None));
        let cognito = OidcSettings::from_settings(ssm(&[
            (
                "oidc_authority",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
            ),
            ("oidc_client_id", "client123"),
            ("oidc_scope", "openid email"),
            ("oidc_api_token", "id"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(cognito.client_id, "client123");
        assert_eq!(cognito.scope, "openid email");
        assert_eq!(cognito.api_token, ApiToken::Id);
        let defaults = OidcSettings::from_settings(ssm(&[
            ("oidc_authority", "https://id.example.com"),
            ("oidc_client_id", "c"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (defaults.scope.as_str(), defaults.api_token),
            ("openid profile email", ApiToken::Access)
        );
        assert!(
            OidcSettings::from_settings(ssm(&[("oidc_authority", "https://id.example.com")]))
                .is_err()
        );
        assert!(
            OidcSettings::from_settings(ssm(&[
                ("oidc_authority", "https://id.example.com"),
                ("oidc_client_id", "c"),
                ("oidc_api_token", "refresh"),
            ]))
            .is_err()
        );
    }

    #[test]
    fn the_mode_says_how_to_sign_in() {
        let oidc = settings("https://id.example.com", &[]).unwrap();
        let json = |c: AuthConfig| serde_json::to_value(c).unwrap();
        assert_eq!(
            json(AuthConfig::new(true, None)),
            serde_json::json!({"mode": "embedded"})
        );
        assert_eq!(
            json(AuthConfig::new(false, None)),
            serde_json::json!({"mode": "token"})
        );
        assert_eq!(
            json(AuthConfig::new(false, Some(&oidc))),
            serde_json::json!({"mode": "oidc", "oidc": {"authority": "https://id.example.com",
                "clientId": "dash", "scope": "openid profile", "apiToken": "access"}})
        );
    }
}
