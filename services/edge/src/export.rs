//! `GET /v1/vehicles/{id}/export?format=csv|json|zip`: a vehicle's whole history out of the read model,
//! oldest first, in columns `POST /v1/vehicles/{id}/imports` reads back (the round trip); `zip` adds the
//! records' receipts and documents ([`RecordFiles`]) to that CSV in one archive.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use vwc_http::openapi::{BinaryFile, Conflict, ResourceQuery};
use vwc_http::route;
use vwc_http::{ApiError, FindVehicle, VehiclePath, VehicleScope};

use crate::EdgeStore;
use crate::http::EdgeState;
use crate::http::gate::ReadVehicles;
use crate::query::ApiQuery;
use crate::store::{EventFilter, Page, TimelinePosition, TimelineQuery, VehicleRef};
use crate::zip::Archive;

/// The problem type (`https://vwc.dev/problems/archive-unavailable`, 409) of asking for a `zip` export
/// of a server that reads no records' files (a router composed without them).
pub const ARCHIVE_UNAVAILABLE: &str = "archive-unavailable";
/// The problem type (`https://vwc.dev/problems/archive-too-large`, 409) of a `zip` export whose files do
/// not fit one archive (65,535 files or 4 GiB), or whose archive is longer than the deployment can answer at
/// once ([`RecordFiles::largest_archive`]).
pub const ARCHIVE_TOO_LARGE: &str = "archive-too-large";

/// A file of an exported record, as [`RecordFiles::list`] names it.
#[derive(Debug, Clone)]
pub struct ExportFile {
    /// Its path in the archive: `<eventId>/<fileName>` (a name two files of a record share gets the
    /// attachment's id in front).
    pub path: String,
    pub event_id: String,
    pub attachment_id: String,
    pub size: u64,
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
    /// Its entry in `attachments.json`: `{path, eventId, attachment}`.
    pub entry: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The file is not where it was listed (removed in between, or its size changed).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Failed(String),
}

/// The receipts and documents of a vehicle's records, where this server keeps them (the data dir's
/// attachments; a deployment that keeps them in S3 has none, and its `zip` export is a 409).
#[async_trait::async_trait]
pub trait RecordFiles: Send + Sync {
    /// The files of these records (their ids, in the export's order), each record's oldest first.
    async fn list(
        &self,
        org: &str,
        vehicle: &str,
        events: &[&str],
    ) -> Result<Vec<ExportFile>, FilesError>;
    /// The longest archive this deployment can answer, when it has a limit: an AWS Lambda answers at most
    /// 6 MB, and a binary answer goes through API Gateway as base64 (a third larger).
    fn largest_archive(&self) -> Option<u64> {
        None
    }
    /// A listed file's content.
    async fn read(
        &self,
        org: &str,
        vehicle: &str,
        file: &ExportFile,
    ) -> Result<Vec<u8>, FilesError>;
}

/// The manifest of an export's files (`attachments.json` of the archive and of `vwc export --files`).
pub fn manifest(vehicle: &str, files: &[ExportFile]) -> Result<String, serde_json::Error> {
    let entries: Vec<&serde_json::Value> = files.iter().map(|f| &f.entry).collect();
    Ok(
        serde_json::to_string_pretty(&serde_json::json!({"vehicleId": vehicle, "files": entries}))?
            + "\n",
    )
}

/// The CSV columns, in order. `odometerUnit` (the vehicle's, on every row) lets an import into a vehicle
/// of the other unit refuse the rows instead of reading miles as kilometres.
pub const COLUMNS: [&str; 13] = [
    "id",
    "occurredAt",
    "kind",
    "title",
    "odometer",
    "costCents",
    "currency",
    "vendor",
    "notes",
    "details",
    "source",
    "recordedAt",
    "odometerUnit",
];

pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<EdgeState> {
    vwc_http::service_routes![docs; export]
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (the default), `json`, or `zip`: `history.csv`, `attachments.json` and every exported
    /// record's files as `<eventId>/<fileName>`.
    format: Option<String>,
}

/// The vehicle's events, oldest first, as their JSON (`vwc export` uses it too).
pub async fn history(
    store: &dyn EdgeStore,
    vehicle: &VehicleRef,
) -> Result<Vec<serde_json::Value>, vwc_store::StoreError> {
    let mut events = Vec::new();
    let mut after: Option<TimelinePosition> = None;
    loop {
        let query = TimelineQuery {
            vehicle,
            filter: &EventFilter::default(),
            page: Page::after(after.as_ref(), 200),
        };
        let page = store.events(&query).await?;
        let full = page.len() == 200;
        after = page.last().map(|e| TimelinePosition {
            occurred_at: e.occurred_at,
            id: e.id.to_string(),
        });
        for e in page {
            events.push(serde_json::to_value(&e)?);
        }
        if !full {
            break;
        }
    }
    events.reverse();
    Ok(events)
}

/// One CSV cell of an event field: strings as they are — behind a `'` when a spreadsheet would read them
/// as a formula ([`vwc_contracts::spreadsheet`]; the import takes it off) —, numbers as digits, objects as
/// JSON.
fn cell(event: &serde_json::Value, column: &str) -> String {
    let v = match column {
        "vendor" => &event["vendor"]["name"],
        c => &event[c],
    };
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => vwc_contracts::spreadsheet::guarded(s).into_owned(),
        serde_json::Value::Object(o) if o.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// The history as CSV in [`COLUMNS`]; `unit` is the vehicle's odometer unit, written on every row.
pub fn to_csv(
    events: &[serde_json::Value],
    unit: vwc_contracts::OdometerUnit,
) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for e in events {
        writer.write_record(COLUMNS.iter().map(|c| match *c {
            "odometerUnit" => unit.as_str().to_string(),
            c => cell(e, c),
        }))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 cells is UTF-8"))
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Zip,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Zip => "zip",
        }
    }
}

/// Export a vehicle's history
///
/// Every timeline event of the vehicle, oldest first: `csv` in the columns `id, occurredAt, kind, title,
/// odometer, costCents, currency, vendor, notes, details (JSON), source, recordedAt, odometerUnit`, which
/// `POST /v1/vehicles/{id}/imports` reads back into another vehicle of the same unit, or `json`
/// (`{vehicleId, odometerUnit, events}`), or `zip`: an archive (stored, not compressed; its
/// `Content-Length` is known up front) of that CSV as `history.csv`, each exported record's receipts and
/// documents as `<eventId>/<fileName>`, and `attachments.json` listing them (`{vehicleId, files: [{path,
/// eventId, attachment}]}`). A voided record is not exported, nor are its files. Files that do not fit one
/// archive (65,535 files, 4 GiB), or an archive longer than the deployment can answer at once (AWS Lambda:
/// 4 MiB), are a 409 of type `https://vwc.dev/problems/archive-too-large` (download each file through the
/// attachment routes); a server that keeps no files answers `zip` with a 409 of type
/// `https://vwc.dev/problems/archive-unavailable`.
#[route(get "/v1/vehicles/{id}/export", tag = "timeline", params(VehiclePath, ExportQuery),
    ok(200, "The history.", content((String = "text/csv"), (Object = "application/json"),
        (BinaryFile = "application/zip"))),
    errors(ResourceQuery, 409 => Conflict))]
async fn export(
    State(state): State<EdgeState>,
    VehicleScope { vehicle, .. }: VehicleScope<ReadVehicles>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match query.format.as_deref() {
        None | Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        Some("zip") => Format::Zip,
        Some(_) => return Err(ApiError::field("format", "must be csv, json or zip")),
    };
    // Asked for an archive where the files are not kept here: said before anything is read.
    let files = match format {
        Format::Zip => Some(state.files.clone().ok_or_else(|| {
            ApiError::ConflictOf {
                kind: ARCHIVE_UNAVAILABLE,
                detail:
                    "this server reads no records' files: export the history as CSV or JSON and \
                     download each record's files through its attachment routes"
                        .into(),
            }
        })?),
        Format::Csv | Format::Json => None,
    };
    let unit = state
        .vehicle_of(&vehicle.org_id, &vehicle.vehicle_id)
        .await?
        .vehicle
        .odometer_unit;
    let id = &vehicle.vehicle_id;
    let events = history(state.store.as_ref(), &vehicle)
        .await
        .map_err(ApiError::internal)?;
    let mut response = match (format, files) {
        (Format::Json, _) => {
            axum::Json(serde_json::json!({"vehicleId": id, "odometerUnit": unit, "events": events}))
                .into_response()
        }
        (Format::Zip, Some(files)) => {
            let csv = to_csv(&events, unit).map_err(ApiError::internal)?;
            archive(files, &vehicle, &events, csv, state.clock.now()).await?
        }
        // (`Zip` without files was answered with its 409 above.)
        (Format::Csv | Format::Zip, _) => {
            let body = to_csv(&events, unit).map_err(ApiError::internal)?;
            let mut r = body.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            r
        }
    };
    let name = format!(
        "attachment; filename=\"{id}-history.{}\"",
        format.extension()
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// A file's content when it is as long as listed (the archive's length was counted from the listing).
fn as_listed(content: Vec<u8>, file: &ExportFile) -> Result<Vec<u8>, FilesError> {
    if content.len() as u64 == file.size {
        Ok(content)
    } else {
        Err(FilesError::Gone(format!(
            "{} is {} bytes, listed as {}",
            file.path,
            content.len(),
            file.size
        )))
    }
}

/// Why a `zip` export could not begin.
#[derive(Debug, thiserror::Error)]
pub enum ZipExportError {
    #[error("listing the records' files: {0}")]
    Listing(#[from] FilesError),
    #[error("the records' files do not fit one archive ({0})")]
    TooLarge(#[from] crate::zip::TooLarge),
    /// The archive would be longer than this deployment can answer ([`RecordFiles::largest_archive`]).
    #[error(
        "the archive would be {length} bytes, over the {largest} bytes this deployment can answer at once"
    )]
    OverAnswer { length: u64, largest: u64 },
    #[error("the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// A `zip` export ready to send: its exact length, how many of the records' files it holds, and its bytes
/// as they are read.
pub struct ZipExport {
    pub length: u64,
    pub files: usize,
    pub bytes: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// The `zip` export of a vehicle's `events` (its history as JSON, `csv` that history as CSV):
/// `history.csv` and `attachments.json` first, then each file read as it is sent (one file in memory at a
/// time), then the archive's directory. Everything is listed and sized before the first byte, so files that
/// do not fit one archive are refused, not cut off; a file that cannot be read later ends the stream with
/// an error, short of `length`. `GET …/export?format=zip` and `vwc export --format zip` send it.
pub async fn zip_export(
    files: Arc<dyn RecordFiles>,
    org: &str,
    vehicle: &str,
    events: &[serde_json::Value],
    csv: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ZipExport, ZipExportError> {
    let (org, id) = (org.to_string(), vehicle.to_string());
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let listed = files.list(&org, &id, &ids).await?;
    let manifest = manifest(&id, &listed)?;
    let length = Archive::length(
        [
            ("history.csv", csv.len() as u64),
            ("attachments.json", manifest.len() as u64),
        ]
        .into_iter()
        .chain(listed.iter().map(|f| (f.path.as_str(), f.size))),
    )?;
    if let Some(largest) = files.largest_archive().filter(|largest| length > *largest) {
        return Err(ZipExportError::OverAnswer { length, largest });
    }
    let count = listed.len();
    let mut archive = Archive::new();
    let mut head = archive.file("history.csv", now, csv.as_bytes());
    head.extend(archive.file("attachments.json", now, manifest.as_bytes()));
    struct Sending {
        archive: Option<Archive>,
        files: std::vec::IntoIter<ExportFile>,
        store: Arc<dyn RecordFiles>,
        org: String,
        vehicle: String,
    }
    let sending = Sending {
        archive: Some(archive),
        files: listed.into_iter(),
        store: files,
        org,
        vehicle: id,
    };
    let rest = futures::stream::unfold(sending, |mut s| async move {
        let mut archive = s.archive.take()?;
        let Some(file) = s.files.next() else {
            let end = vec![Ok(Bytes::from(archive.finish()))];
            return Some((futures::stream::iter(end), s));
        };
        let read = s.store.read(&s.org, &s.vehicle, &file).await;
        match read.and_then(|content| as_listed(content, &file)) {
            Ok(content) => {
                // The header, then the content as it was read: not copied behind the header.
                let header = archive.header(&file.path, file.uploaded_at, &content);
                s.archive = Some(archive);
                let chunks = vec![Ok(Bytes::from(header)), Ok(Bytes::from(content))];
                Some((futures::stream::iter(chunks), s))
            }
            // The answer has begun: it ends short of its `Content-Length`, which every client reports
            // as a failed download, and the stream ends (no archive left to write to).
            Err(e) => {
                tracing::error!(vehicle = %s.vehicle, file = %file.path, error = %e,
                    "zip export cut off");
                let failed = vec![Err(std::io::Error::other(e.to_string()))];
                Some((futures::stream::iter(failed), s))
            }
        }
    });
    let rest = futures::StreamExt::flatten(rest);
    let bytes = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }),
        rest,
    );
    Ok(ZipExport {
        length,
        files: count,
        bytes: futures::StreamExt::boxed(bytes),
    })
}

/// [`zip_export`] as the answer to `GET …/export?format=zip`.
async fn archive(
    files: Arc<dyn RecordFiles>,
    vehicle: &VehicleRef,
    events: &[serde_json::Value],
    csv: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Response, ApiError> {
    let (org, id) = (vehicle.org_id.as_str(), vehicle.vehicle_id.as_str());
    let export = zip_export(files, org, id, events, csv, now)
        .await
        .map_err(|e| match e {
            ZipExportError::TooLarge(too_large) => ApiError::ConflictOf {
                kind: ARCHIVE_TOO_LARGE,
                detail: format!(
                    "the records' files do not fit one archive ({too_large}): export the history as \
                     CSV and download the files through the attachment routes, or run `vwc export \
                     --files DIR`"
                ),
            },
            over @ ZipExportError::OverAnswer { .. } => ApiError::ConflictOf {
                kind: ARCHIVE_TOO_LARGE,
                detail: format!(
                    "{over}: export the history as CSV or JSON and download the files through the \
                     attachment routes"
                ),
            },
            other => ApiError::internal(other),
        })?;
    let mut response = Body::from_stream(export.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(export.length));
    Ok(response)
}
