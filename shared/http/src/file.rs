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
    let disposition = match file.disposition {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    let name: String = file
        .file_name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
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
            "inline; filename=\"Se_or _Blue_ car.ics\""
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "private, max-age=300");
    }
}
