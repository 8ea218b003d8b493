//! Configuration layering for every binary: a command-line flag wins, then a `VWC_*` environment variable,
//! then AWS SSM Parameter Store under `/vwc/<env>/<name>` (used in AWS, where Lambda has no flags). Secret
//! values are wrapped so they never reach logs or `Debug` output.

use std::collections::BTreeMap;
use std::fmt;

#[cfg(feature = "aws")]
use aws_sdk_ssm::error::DisplayErrorContext;

/// A configuration value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The only way to read the value: say why at the call site.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading SSM parameters under {path}: {message}")]
    Ssm { path: String, message: String },
}

/// Parameters read once from SSM under one path, keyed by their name below it (`/vwc/prod/jwt_secret` →
/// `jwt_secret`).
#[derive(Clone, Default)]
pub struct SsmParameters {
    path: String,
    values: BTreeMap<String, String>,
}

impl fmt::Debug for SsmParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmParameters")
            .field("path", &self.path)
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SsmParameters {
    /// The path for an environment: `/vwc/<env>/`.
    pub fn path_for(env: &str) -> String {
        format!("/vwc/{}/", env.trim_matches('/'))
    }

    /// Reads every parameter under `/vwc/<env>/` (recursively, decrypted), following pagination.
    #[cfg(feature = "aws")]
    pub async fn load(
        client: &aws_sdk_ssm::Client,
        env: &str,
    ) -> Result<SsmParameters, ConfigError> {
        let path = SsmParameters::path_for(env);
        let mut values = BTreeMap::new();
        let mut pages = client
            .get_parameters_by_path()
            .path(&path)
            .recursive(true)
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ConfigError::Ssm {
                path: path.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
            for p in page.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    values.insert(
                        name.trim_start_matches(&path).to_string(),
                        value.to_string(),
                    );
                }
            }
        }
        tracing::info!(path = %path, count = values.len(), "loaded SSM parameters");
        Ok(SsmParameters { path, values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// The three layers, in order of precedence.
#[derive(Debug, Default)]
pub struct Layers {
    pub ssm: Option<SsmParameters>,
}

impl Layers {
    /// `flag`, else the environment variable `env_var`, else the SSM parameter `ssm_name`.
    pub fn value(&self, flag: Option<&str>, env_var: &str, ssm_name: &str) -> Option<String> {
        flag.map(str::to_string)
            .or_else(|| std::env::var(env_var).ok().filter(|v| !v.is_empty()))
            .or_else(|| {
                self.ssm
                    .as_ref()
                    .and_then(|s| s.get(ssm_name))
                    .map(str::to_string)
            })
    }

    pub fn secret(
        &self,
        flag: Option<&str>,
        env_var: &str,
        ssm_name: &str,
    ) -> Option<SecretString> {
        self.value(flag, env_var, ssm_name).map(SecretString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = SecretString::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        let mut p = SsmParameters::default();
        p.values
            .insert("jwt_secret".into(), "hunter2-very-secret".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn a_flag_wins_over_everything() {
        let mut p = SsmParameters::default();
        p.values.insert("bus_name".into(), "from-ssm".into());
        let layers = Layers { ssm: Some(p) };
        assert_eq!(
            layers
                .value(Some("from-flag"), "VWC_TEST_UNSET_VARIABLE_X", "bus_name")
                .as_deref(),
            Some("from-flag")
        );
        assert_eq!(
            layers
                .value(None, "VWC_TEST_UNSET_VARIABLE_X", "bus_name")
                .as_deref(),
            Some("from-ssm")
        );
        assert_eq!(
            layers.value(None, "VWC_TEST_UNSET_VARIABLE_X", "nothing"),
            None
        );
    }
}
