//! Setting an organisation's channels: validation of the request (the webhook URL against SSRF, the
//! e-mail address loosely, quiet hours), and issuing the outbound webhook secret once.

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::{FieldError, OrgId};
use vwc_store::StoreError;
use vwc_webhook::WebhookSecret;

use crate::quiet_hours::QuietHours;
use crate::ssrf::{self, Allowlist};
use crate::store::{
    NotificationStore, Preferences, PreferencesChange, SavedPreferences, SecretChange,
    StoredPreferences,
};

/// Longest e-mail address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Local time offsets in use on Earth lie within UTC−12:00 … UTC+14:00.
const MAX_TZ_OFFSET_MINUTES: i32 = 14 * 60;

/// `PUT /v1/notifications/preferences`. A PUT replaces: an absent field is the same as `null`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"webhookUrl": "https://hooks.example.com/vwc", "email": "fleet@example.com",
    "quietHours": {"start": "22:00", "end": "07:00", "tzOffsetMinutes": 60}}))]
pub struct PreferencesUpdate {
    /// Where reminders are POSTed, signed with the organisation's webhook secret: an `https` URL of a
    /// publicly reachable host, without credentials (plain `http` only to hosts the operator allow-lists).
    /// `null`, absent or blank turns the webhook channel off.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Where reminders are e-mailed (one local part, one `@` and a domain, no spaces); `null`, absent or
    /// blank turns the e-mail channel off. Refused (422) where the deployment sends no e-mail.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// When webhook and e-mail deliveries wait (in-app ones do not); `null` or absent: never.
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursBody>,
    /// Issue a new webhook secret even though one exists (the old one stops working at once). Needs a
    /// `webhookUrl`.
    #[serde(default)]
    #[schema(default = false)]
    pub rotate_webhook_secret: bool,
}

/// A daily window in the organisation's local time; `start` equal to `end` is no window at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHoursBody {
    /// Local time `HH:MM`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    pub start: String,
    /// Local time `HH:MM`, exclusive; before `start` when the window wraps midnight.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    pub end: String,
    /// Local time minus UTC, in minutes.
    #[serde(default)]
    #[schema(minimum = -840, maximum = 840, default = 0)]
    pub tz_offset_minutes: i32,
}

/// The answer to both preference routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    /// Always on.
    pub in_app: bool,
    /// `null` while the webhook channel is off.
    pub webhook_url: Option<String>,
    /// `null` while the e-mail channel is off.
    pub email: Option<String>,
    /// `null`: no quiet hours.
    pub quiet_hours: Option<QuietHoursBody>,
    /// Whether the organisation has an outbound webhook secret (it is shown only when issued).
    pub has_webhook_secret: bool,
    /// `whsec_<base64>`: the secret reminders to `webhookUrl` are signed with (Standard Webhooks).
    /// Present only in the `PUT` response that issued it: one with a `webhookUrl` while the organisation
    /// has no secret yet, or with `rotateWebhookSecret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// `null` until the organisation first sets its preferences.
    pub updated_at: Option<DateTime<Utc>>,
}

impl PreferencesView {
    /// What an organisation that never set anything has: in-app only.
    pub fn defaults() -> PreferencesView {
        PreferencesView {
            in_app: true,
            webhook_url: None,
            email: None,
            quiet_hours: None,
            has_webhook_secret: false,
            webhook_secret: None,
            updated_at: None,
        }
    }

    pub fn of(stored: &StoredPreferences, issued: Option<&WebhookSecret>) -> PreferencesView {
        let p = &stored.preferences;
        PreferencesView {
            in_app: true,
            webhook_url: p.webhook_url.clone(),
            email: p.email.clone(),
            quiet_hours: p.quiet_hours.map(|q| QuietHoursBody {
                start: format_hhmm(q.start),
                end: format_hhmm(q.end),
                tz_offset_minutes: q.tz_offset_minutes,
            }),
            has_webhook_secret: stored.webhook_secret.is_some(),
            webhook_secret: issued.map(|s| s.expose().to_owned()),
            updated_at: Some(stored.updated_at),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdatePreferencesError {
    #[error("invalid preferences")]
    Invalid(Vec<FieldError>),
    #[error("storing the preferences failed")]
    Store(#[from] StoreError),
}

/// What a client is told about a refused webhook URL: the same whatever the reason, so the answer says
/// nothing about the internal network.
pub const WEBHOOK_URL_REFUSED: &str =
    "must be an https URL of a publicly reachable host (no credentials, no private addresses)";

/// Validates `update`, then stores it; a webhook URL without a secret yet gets one (returned once).
pub async fn update_preferences(
    store: &dyn NotificationStore,
    allow: &Allowlist,
    org_id: &OrgId,
    update: PreferencesUpdate,
    now: DateTime<Utc>,
    settle: chrono::TimeDelta,
) -> Result<SavedPreferences, UpdatePreferencesError> {
    let mut errors = Vec::new();
    let webhook_url = non_blank(update.webhook_url);
    if let Some(url) = &webhook_url
        && let Err(e) = ssrf::resolve_and_check(url, allow).await
    {
        tracing::info!(reason = %e, "webhook URL refused");
        errors.push(field("webhookUrl", WEBHOOK_URL_REFUSED));
    }
    let email = non_blank(update.email);
    if let Some(address) = &email
        && let Err(message) = check_email(address)
    {
        errors.push(field("email", message));
    }
    let quiet_hours = match update.quiet_hours {
        None => None,
        Some(body) => match parse_quiet_hours(&body) {
            Ok(q) => Some(q),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        },
    };
    if update.rotate_webhook_secret && webhook_url.is_none() {
        errors.push(field(
            "rotateWebhookSecret",
            "a webhook secret can only be rotated while a webhookUrl is set",
        ));
    }
    if !errors.is_empty() {
        return Err(UpdatePreferencesError::Invalid(errors));
    }
    let secret = match (&webhook_url, update.rotate_webhook_secret) {
        (None, _) => SecretChange::Keep,
        (Some(_), false) => SecretChange::IssueIfMissing(WebhookSecret::generate()),
        (Some(_), true) => SecretChange::Replace(WebhookSecret::generate()),
    };
    let preferences = Preferences {
        webhook_url,
        email,
        quiet_hours,
    };
    let change = PreferencesChange {
        org_id,
        preferences: &preferences,
        secret,
        now,
        settle,
    };
    Ok(store.save_preferences(change).await?)
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// Blank text means "not set": forms tend to send `""` for an empty field.
fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A loose check: an address SES can be asked to send to, not proof that it exists.
pub fn check_email(address: &str) -> Result<(), &'static str> {
    if address.len() > MAX_EMAIL_LEN {
        return Err("must be at most 254 characters");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces");
    }
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err("must be one local part, one @ and a domain"),
    }
}

fn parse_quiet_hours(body: &QuietHoursBody) -> Result<QuietHours, Vec<FieldError>> {
    let mut errors = Vec::new();
    let start = parse_hhmm(&body.start);
    if start.is_none() {
        errors.push(field("quietHours.start", "must be a local time HH:MM"));
    }
    let end = parse_hhmm(&body.end);
    if end.is_none() {
        errors.push(field("quietHours.end", "must be a local time HH:MM"));
    }
    if body.tz_offset_minutes.abs() > MAX_TZ_OFFSET_MINUTES {
        errors.push(field(
            "quietHours.tzOffsetMinutes",
            "must be between -840 and 840",
        ));
    }
    match (start, end) {
        (Some(start), Some(end)) if errors.is_empty() => Ok(QuietHours {
            start,
            end,
            tz_offset_minutes: body.tz_offset_minutes,
        }),
        _ => Err(errors),
    }
}

/// `HH:MM`, 00:00 … 23:59, exactly five characters.
pub fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

pub fn format_hhmm(time: NaiveTime) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_needs_exactly_one_at_and_no_spaces() {
        assert!(check_email("fleet@example.com").is_ok());
        assert!(check_email("a+tag@sub.example").is_ok());
        assert!(check_email("no-at.example.com").is_err());
        assert!(check_email("two@@example.com").is_err());
        assert!(check_email("a@b@example.com").is_err());
        assert!(check_email("@example.com").is_err());
        assert!(check_email("someone@").is_err());
        assert!(check_email("some one@example.com").is_err());
        assert!(check_email("tab\t@example.com").is_err());
    }

    #[test]
    fn email_longer_than_254_characters_is_refused() {
        let local = "a".repeat(64);
        let ok = format!("{local}@{}.com", "b".repeat(254 - 64 - 1 - 4));
        assert_eq!(ok.len(), 254);
        assert!(check_email(&ok).is_ok());
        let long = format!("{local}@{}.com", "b".repeat(254 - 64 - 4));
        assert!(check_email(&long).is_err());
    }

    #[test]
    fn local_times_are_two_digit_hours_and_minutes() {
        assert_eq!(parse_hhmm("22:00"), NaiveTime::from_hms_opt(22, 0, 0));
        assert_eq!(parse_hhmm("07:05"), NaiveTime::from_hms_opt(7, 5, 0));
        assert_eq!(parse_hhmm("00:00"), NaiveTime::from_hms_opt(0, 0, 0));
        for bad in [
            "24:00", "7:00", "07:60", "0700", "07:00:00", "+7:00", "ab:cd", "",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(
            format_hhmm(NaiveTime::from_hms_opt(7, 5, 0).unwrap()),
            "07:05"
        );
    }

    #[test]
    fn quiet_hours_report_every_bad_field() {
        let errors = parse_quiet_hours(&QuietHoursBody {
            start: "25:00".into(),
            end: "7".into(),
            tz_offset_minutes: 900,
        })
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "quietHours.start",
                "quietHours.end",
                "quietHours.tzOffsetMinutes"
            ]
        );
    }
}
