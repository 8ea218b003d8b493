//! Responses that carry a file (an attachment, a calendar feed): the headers that say what it is, how a
//! browser shows it and how long it may be kept, set in one place.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// How a browser shows a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// In the page (or the calendar app).
    Inline,
    /// Saved under its name.
    Attachment,
}

/// What a file response says about its body.
#[derive(Debug, Clone, Copy)]
pub struct FileHeaders<'a> {
    pub content_type: &'static str,
    pub disposition: Disposition,
    /// Offered as the name to save it under; characters outside printable ASCII and quotes become `_`, so
    /// the header is always valid.
    pub file_name: &'a str,
    pub cache_control: &'static str,
}

/// `body` with its `Content-Type`, `Content-Disposition` and `Cache-Control`, and
/// `X-Content-Type-Options: nosniff`, so a browser never takes it for another type than the one stated.
pub fn file_response(body: impl IntoResponse, file: FileHeaders<'_>) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(file.disposition, file.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(file.cache_control),
    );
    response
}

/// The `Content-Disposition` value offering `file_name` (RFC 6266): `filename` in printable ASCII (other
/// characters, quotes and backslashes as `_`) for every client, and — when that changed the name —
/// `filename*` with the name itself, UTF-8 percent-encoded (RFC 8187), which browsers prefer.
pub fn content_disposition(disposition: Disposition, file_name: &str) -> String {
    let disposition = match disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    let ascii: String = file_name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    if ascii == file_name {
        return format!("{disposition}; filename=\"{ascii}\"");
    }
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for byte in file_name.bytes() {
        // RFC 8187's attr-char: letters, digits and !#$&+-.^_`|~ stand for themselves.
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_response_states_its_type_name_and_caching_and_forbids_sniffing() {
        let response = file_response(
            "BEGIN:VCALENDAR",
            FileHeaders {
                content_type: "text/calendar; charset=utf-8",
                disposition: Disposition::Inline,
                file_name: "Señor \"Blue\" car.ics",
                cache_control: "private, max-age=300",
            },
        );
        let h = response.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "inline; filename=\"Se_or _Blue_ car.ics\"; filename*=UTF-8''Se%C3%B1or%20%22Blue%22%20car.ics"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "private, max-age=300");
    }

    #[test]
    fn a_plain_ascii_name_has_no_encoded_form_and_an_other_name_keeps_its_characters_encoded() {
        assert_eq!(
            content_disposition(Disposition::Attachment, "receipt-2024.pdf"),
            "attachment; filename=\"receipt-2024.pdf\""
        );
        assert_eq!(
            content_disposition(Disposition::Attachment, "réçu 🚗.png"),
            "attachment; filename=\"r__u _.png\"; filename*=UTF-8''r%C3%A9%C3%A7u%20%F0%9F%9A%97.png"
        );
        // A header can never be broken by a name: CR, LF and quotes are encoded (or `_` in the fallback).
        let tricky = content_disposition(Disposition::Inline, "a\"b\r\nSet-Cookie: x");
        assert!(HeaderValue::from_str(&tricky).is_ok(), "{tricky}");
        assert!(
            tricky.ends_with("filename*=UTF-8''a%22b%0D%0ASet-Cookie%3A%20x"),
            "{tricky}"
        );
    }
}
