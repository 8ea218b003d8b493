//! Receipts and documents on events (issue 14, item 4), black-box over HTTP: upload, listing and download
//! in embedded mode (files under the data dir, still there after a restart), another organisation's 404,
//! a disguised executable and an oversize file refused, roles; and the S3 mode against moto with
//! pre-signed upload (checked at confirm) and download URLs.

use reqwest::Method;
use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{get, pluck, post, record, send_raw, vwc_output};

/// A tiny but well-formed JPEG header (SOI, APP0/JFIF) and some bytes: the sniffer reads the magic only.
fn jpeg() -> Vec<u8> {
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10];
    b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend((0..2000u32).map(|i| (i % 251) as u8));
    b.extend_from_slice(&[0xff, 0xd9]);
    b
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// An ELF executable's first bytes, to be sent as `receipt.pdf` with `Content-Type: application/pdf`.
fn elf() -> Vec<u8> {
    let mut b = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    b.extend(std::iter::repeat_n(0u8, 400));
    b
}

/// On `app`: an owner's token, their vehicle (VIN `vin(n)`), a maintenance event to attach receipts to,
/// and the path of its attachments — `(app, owner, vehicle, event_id, path)`.
async fn receipt_event(app: TestApp, n: u32) -> (TestApp, String, String, String, String) {
    let owner = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&owner, &vin(n)).await;
    let oil_change = json!({"kind": "maintenance", "occurredAt": "2025-05-01T10:00:00Z",
        "odometer": 30000, "costCents": 8999, "currency": "USD",
        "details": {"tasks": ["oil_change"]}});
    let event_id = record(&app, &owner, &vehicle, oil_change).await;
    let path = format!("/v1/vehicles/{vehicle}/events/{event_id}/attachments");
    (app, owner, vehicle, event_id, path)
}

/// Uploads `bytes` as the file `name` declared as `content_type`; status, content type and body.
async fn upload(
    app: &TestApp,
    token: &str,
    path: &str,
    (name, content_type): (&str, &str),
    bytes: Vec<u8>,
) -> (u16, String, Value) {
    let path = format!("{path}?fileName={name}");
    body(send_raw(app, Method::POST, token, &path, content_type, bytes).await).await
}

/// Asserts that an answer (status, content type, body) is a problem+json with `status`.
fn assert_problem(status: u16, content_type: &str, problem: &Value, expected: u16) {
    assert_eq!(
        (status, content_type),
        (expected, "application/problem+json"),
        "{problem}"
    );
}

/// [`upload`], asserting 201; the attachment.
async fn uploaded(
    app: &TestApp,
    token: &str,
    path: &str,
    file: (&str, &str),
    bytes: Vec<u8>,
) -> Value {
    let (status, _, attachment) = upload(app, token, path, file, bytes).await;
    assert_eq!(status, 201, "{attachment}");
    attachment
}

/// Voids the record `event` of `vehicle` with `reason`, asserting 200.
async fn void(app: &TestApp, token: &str, vehicle: &str, event: &str, reason: &str) {
    let voided = app
        .http
        .delete(app.url(&format!("/v1/vehicles/{vehicle}/events/{event}")))
        .query(&[("reason", reason)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(voided.status(), 200);
}

/// GETs `attachment`'s content from the attachments at `path`.
async fn download(app: &TestApp, token: &str, path: &str, attachment: &Value) -> reqwest::Response {
    download_with(&app.http, app, token, path, attachment).await
}

/// [`download`] through `http` (a client that does not follow redirects, say).
async fn download_with(
    http: &reqwest::Client,
    app: &TestApp,
    token: &str,
    path: &str,
    attachment: &Value,
) -> reqwest::Response {
    let id = attachment["id"].as_str().unwrap();
    http.get(app.url(&format!("{path}/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn receipts_upload_list_and_download_and_survive_a_restart_in_embedded_mode() {
    let (app, owner, vehicle, event_id, path) = receipt_event(TestApp::spawn().await, 21).await;

    // The declared type says nothing: a JPEG sent as octet-stream is a JPEG.
    let octet_stream = ("receipt.jpeg", "application/octet-stream");
    let photo = uploaded(&app, &owner, &path, octet_stream, jpeg()).await;
    assert_eq!(photo["contentType"], "image/jpeg");
    assert_eq!(photo["sizeBytes"], jpeg().len());
    assert_eq!(photo["fileName"], "receipt.jpeg");
    assert_eq!(photo["uploadedBy"], "test-user");
    assert_eq!(photo["sha256"].as_str().unwrap().len(), 64);
    // A technician may attach to a service record.
    let technician = app.token("org_a", &[Role::Technician]);
    let invoice = ("invoice.pdf", "application/pdf");
    let invoice = uploaded(&app, &technician, &path, invoice, pdf()).await;
    assert_eq!(invoice["contentType"], "application/pdf");

    let viewer = app.token("org_a", &[Role::Viewer]);
    let listed = app.get_ok(&viewer, &path).await;
    let ids = pluck(&listed["items"], "id");
    assert_eq!(
        ids,
        [
            photo["id"].as_str().unwrap(),
            invoice["id"].as_str().unwrap()
        ]
    );

    let photo_file = download(&app, &viewer, &path, &photo).await;
    assert_eq!(photo_file.status(), 200);
    let h = photo_file.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"receipt.jpeg\""
    );
    assert_eq!(photo_file.bytes().await.unwrap().to_vec(), jpeg());

    // A scanner's TIFF and a GIF (probe p44 L8: refused as unknown before), served as what they are.
    let tiff = [b"II*\0\x08\0\0\0".as_slice(), &[0u8; 300]].concat();
    let gif = [b"GIF89a\x01\0\x01\0".as_slice(), &[0u8; 40]].concat();
    for (name, bytes, content_type) in [
        ("scan.tif", tiff, "image/tiff"),
        ("old-phone.gif", gif, "image/gif"),
    ] {
        let file = uploaded(
            &app,
            &owner,
            &path,
            (name, "application/octet-stream"),
            bytes.clone(),
        )
        .await;
        assert_eq!(file["contentType"], content_type, "{file}");
        let served = download(&app, &viewer, &path, &file).await;
        assert_eq!(served.headers()["content-type"], content_type);
        assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
    }

    // A viewer cannot attach; an unknown attachment is a 404.
    let (status, _, _) = upload(&app, &viewer, &path, ("x.pdf", "application/pdf"), pdf()).await;
    assert_eq!(status, 403);
    let (status, _, _) = get(&app, &viewer, &format!("{path}/att_nope")).await;
    assert_eq!(status, 404);
    // Pre-signed uploads are S3's: this deployment says to upload directly.
    let (uploads, file) = (format!("{path}/uploads"), json!({"fileName": "a.pdf"}));
    let (status, ct, problem) = post(&app, &owner, &uploads, &file).await;
    assert_problem(status, &ct, &problem, 409);
    // Its own problem type, so a client need not read the detail's words to go on (the dashboard did).
    assert_eq!(
        problem["type"],
        "https://vwc.dev/problems/direct-upload-unavailable"
    );

    // Durable under the data dir, and served again after a restart.
    let dir = app.stop().await;
    let stored = dir
        .path()
        .join("attachments/org_a")
        .join(&vehicle)
        .join(&event_id);
    for a in [&photo, &invoice] {
        let id = a["id"].as_str().unwrap();
        assert!(stored.join(format!("{id}.bin")).is_file());
        assert!(stored.join(format!("{id}.json")).is_file());
    }
    let app = TestApp::spawn_with(dir, |_| {}).await;
    let owner = app.token("org_a", &[Role::Owner]);
    let again = download(&app, &owner, &path, &invoice).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap().to_vec(), pdf());
    app.stop().await;
}

#[tokio::test]
async fn another_organisation_gets_404_and_bad_files_are_refused_without_a_trace() {
    let (app, owner, _, event_id, path) = receipt_event(TestApp::spawn().await, 22).await;
    let (status, _, kept) = upload(&app, &owner, &path, ("r.png", "image/png"), {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(std::iter::repeat_n(7u8, 100));
        png
    })
    .await;
    assert_eq!(status, 201, "{kept}");
    let kept_path = format!("{path}/{}", kept["id"].as_str().unwrap());

    // Another organisation, even as owner: 404 for the listing, the download and an upload.
    let stranger = app.token("org_b", &[Role::Owner]);
    for response in [
        app.get(&stranger, &path).await,
        app.get(&stranger, &kept_path).await,
    ] {
        let (status, ct, _) = body(response).await;
        assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    }
    let (status, _, _) = upload(&app, &stranger, &path, ("r.jpg", "image/jpeg"), jpeg()).await;
    assert_eq!(status, 404);
    // An event of another vehicle under this vehicle's path: 404 too.
    let other_vehicle = app.register(&owner, &vin(23)).await;
    let foreign_path = format!("/v1/vehicles/{other_vehicle}/events/{event_id}/attachments");
    assert_eq!(get(&app, &owner, &foreign_path).await.0, 404);

    // A disguised executable: named receipt.pdf, declared application/pdf, an ELF inside.
    let (status, ct, problem) = upload(
        &app,
        &owner,
        &path,
        ("receipt.pdf", "application/pdf"),
        elf(),
    )
    .await;
    assert_problem(status, &ct, &problem, 415);
    assert!(
        problem["detail"].as_str().unwrap().contains("ELF"),
        "{problem}"
    );
    // A script and plain text named as images.
    for (name, bytes) in [
        ("photo.jpg", b"#!/bin/sh\necho hi\n".to_vec()),
        ("scan.png", b"just some text".to_vec()),
        ("setup.pdf", b"MZ\x90\0\x03\0\0\0".to_vec()),
    ] {
        let (status, _, problem) = upload(&app, &owner, &path, (name, "image/jpeg"), bytes).await;
        assert_eq!(status, 415, "{name}: {problem}");
    }
    // Over 10 MiB: 413.
    let mut big = jpeg();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, ct, problem) =
        upload(&app, &owner, &path, ("huge.jpg", "image/jpeg"), big.clone()).await;
    assert_problem(status, &ct, &problem, 413);
    // Exactly 10 MiB is fine.
    big.truncate(10 * 1024 * 1024);
    uploaded(&app, &owner, &path, ("big.jpg", "image/jpeg"), big).await;

    // Nothing refused left a trace.
    let listed = app.get_ok(&owner, &path).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    app.stop().await;
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn in_s3_mode_uploads_are_checked_at_confirm_and_downloads_are_presigned() {
    let Some(endpoint) = vwc_testkit::aws::aws_endpoint("attachments in S3") else {
        return;
    };
    let bucket = format!(
        "vwc-att-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let s3 = vwc::attachments::s3_client(Some(&endpoint)).await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| {
        o.attachments = vwc::attachments::AttachmentsChoice::S3 {
            bucket: bucket.clone(),
            endpoint: Some(endpoint.clone()),
        }
    })
    .await;
    let (app, owner, _, _, path) = receipt_event(app, 24).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Direct upload through the API lands in the bucket.
    let direct = uploaded(&app, &owner, &path, ("r.jpg", "image/jpeg"), jpeg()).await;

    // Pre-signed: ticket, PUT to S3, confirm.
    let ticket = |name: &'static str| {
        let (app, owner, path) = (&app, &owner, &path);
        async move {
            let (status, _, t) = post(
                app,
                owner,
                &format!("{path}/uploads"),
                &json!({"fileName": name}),
            )
            .await;
            assert_eq!(status, 201, "{t}");
            t
        }
    };
    let put = |t: Value, bytes: Vec<u8>| {
        let plain = &plain;
        async move {
            let mut request = plain.put(t["upload"]["url"].as_str().unwrap()).body(bytes);
            for (k, v) in t["upload"]["headers"].as_object().unwrap() {
                request = request.header(k, v.as_str().unwrap());
            }
            assert_eq!(t["upload"]["method"], "PUT");
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{:?}",
                response.text().await
            );
        }
    };
    let confirm = |t: &Value| {
        let (app, owner) = (&app, &owner);
        let confirm_path = t["confirmPath"].as_str().unwrap().to_string();
        async move {
            body(
                app.http
                    .post(app.url(&confirm_path))
                    .bearer_auth(owner)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let invoice = ticket("invoice.pdf").await;
    assert_eq!(invoice["maxBytes"], 10 * 1024 * 1024);
    // Confirming before uploading: 409; another organisation: 404.
    let (status, _, _) = confirm(&invoice).await;
    assert_eq!(status, 409);
    let stranger = app.token("org_b", &[Role::Owner]);
    let (status, _, _) = body(
        app.http
            .post(app.url(invoice["confirmPath"].as_str().unwrap()))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    put(invoice.clone(), pdf()).await;
    let (status, _, accepted) = confirm(&invoice).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["contentType"], "application/pdf");
    assert_eq!(accepted["sizeBytes"], pdf().len());
    assert_eq!(accepted["id"], invoice["attachmentId"]);

    // A disguised executable through the pre-signed URL is refused at confirm and deleted.
    let disguised = ticket("receipt.pdf").await;
    put(disguised.clone(), elf()).await;
    let (status, ct, problem) = confirm(&disguised).await;
    assert_problem(status, &ct, &problem, 415);
    let pending = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("pending/")
        .send()
        .await
        .unwrap();
    assert_eq!(pending.key_count(), Some(0), "{pending:?}");
    let (status, _, _) = confirm(&disguised).await;
    assert_eq!(status, 404);

    // The listing holds the two accepted files; downloads are 303s to pre-signed URLs.
    let listed = app.get_ok(&owner, &path).await;
    let names = pluck(&listed["items"], "fileName");
    assert_eq!(names, ["r.jpg", "invoice.pdf"]);
    for (attachment, bytes, content_type) in [
        (&direct, jpeg(), "image/jpeg"),
        (&accepted, pdf(), "application/pdf"),
    ] {
        let response = download_with(&plain, &app, &owner, &path, attachment).await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.contains("X-Amz-Signature="), "{location}");
        let fetched = plain.get(&location).send().await.unwrap();
        assert_eq!(fetched.status(), 200);
        assert_eq!(fetched.headers()["content-type"], content_type);
        assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
    }
    // Another organisation: 404, no URL.
    let response = download_with(&plain, &app, &stranger, &path, &direct).await;
    assert_eq!(response.status(), 404);
    // The server reads the bucket's files into the archive: the two accepted ones, not the refused
    // upload (nor anything under `pending/`).
    let vehicle = path.split('/').nth(3).unwrap();
    let event = path.split('/').nth(5).unwrap();
    let zip = app
        .get(&owner, &format!("/v1/vehicles/{vehicle}/export?format=zip"))
        .await;
    assert_eq!(zip.status(), 200);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let length = zip.headers()["content-length"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = zip.bytes().await.unwrap();
    assert_eq!(length, bytes.len().to_string());
    let files = vwc_edge::zip::read(&bytes).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "history.csv".to_string(),
            "attachments.json".to_string(),
            format!("{event}/r.jpg"),
            format!("{event}/invoice.pdf"),
        ]
    );
    assert_eq!((&files[2].1, &files[3].1), (&jpeg(), &pdf()));
    let manifest: Value = serde_json::from_slice(&files[1].1).unwrap();
    assert_eq!(manifest["files"][0]["attachment"]["id"], direct["id"]);
    assert_eq!(manifest["files"][1]["attachment"]["id"], accepted["id"]);
    // Another organisation's archive of the vehicle: 404.
    let (status, content_type, problem) = get(
        &app,
        &stranger,
        &format!("/v1/vehicles/{vehicle}/export?format=zip"),
    )
    .await;
    assert_problem(status, &content_type, &problem, 404);
    app.stop().await;
}

/// A server whose answer has a limit (the API Lambda's, 4 MiB) answers a longer archive with a 409 of type
/// `archive-too-large` that names both lengths, before any byte; the history alone is still answered.
#[tokio::test]
async fn an_archive_longer_than_the_servers_answer_is_a_409_naming_both_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| o.largest_archive = Some(2000)).await;
    let (app, owner, vehicle, _, path) = receipt_event(app, 26).await;
    let mut scan = pdf();
    scan.extend(vec![b' '; 4096]);
    let (status, _, _) = upload(
        &app,
        &owner,
        &path,
        ("invoice.pdf", "application/pdf"),
        scan,
    )
    .await;
    assert_eq!(status, 201);
    let export = format!("/v1/vehicles/{vehicle}/export");
    let (status, content_type, problem) = get(&app, &owner, &format!("{export}?format=zip")).await;
    assert_problem(status, &content_type, &problem, 409);
    assert_eq!(
        problem["type"],
        "https://vwc.dev/problems/archive-too-large"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("over the 2000 bytes this deployment can answer"),
        "{detail}"
    );
    assert_eq!(app.get(&owner, &export).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_voided_event_keeps_its_attachments_readable_and_refuses_new_ones() {
    let (app, owner, vehicle, event_id, path) = receipt_event(TestApp::spawn().await, 23).await;
    let (status, _, invoice) = upload(
        &app,
        &owner,
        &path,
        ("invoice.pdf", "application/pdf"),
        pdf(),
    )
    .await;
    assert_eq!(status, 201, "{invoice}");
    let one = format!("{path}/{}", invoice["id"].as_str().unwrap());
    assert_eq!(app.get(&owner, &one).await.status(), 200);

    // A correction keeps the record, and so its attachments.
    let corrected = app
        .http
        .patch(app.url(&format!("/v1/vehicles/{vehicle}/events/{event_id}")))
        .bearer_auth(&owner)
        .json(&json!({"costCents": 9999, "reason": "typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(corrected.status(), 200);
    assert_eq!(
        app.get_ok(&owner, &path).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    void(&app, &owner, &vehicle, &event_id, "entered twice").await;
    // The receipt is part of the voided record's history: still listed and served (it was a 404, for
    // good: a void cannot be undone, so the file could never be read again).
    let listed = app.get_ok(&owner, &path).await;
    assert_eq!(pluck(&listed["items"], "fileName"), ["invoice.pdf"]);
    let served = app.get(&owner, &one).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().to_vec(), pdf());
    // A viewer reads it too; another organisation still gets a 404.
    let viewer = app.token("org_a", &[Role::Viewer]);
    assert_eq!(app.get(&viewer, &one).await.status(), 200);
    let stranger = app.token("org_b", &[Role::Owner]);
    assert_eq!(app.get(&stranger, &path).await.status(), 404);
    assert_eq!(app.get(&stranger, &one).await.status(), 404);
    // It takes no new file: a 409 that says why, and nothing is stored.
    let (status, content_type, refused) =
        upload(&app, &owner, &path, ("again.pdf", "application/pdf"), pdf()).await;
    assert_problem(status, &content_type, &refused, 409);
    assert!(
        refused["detail"].as_str().unwrap().contains("voided"),
        "{refused}"
    );
    let ticket = app
        .http
        .post(app.url(&format!("{path}/uploads")))
        .bearer_auth(&owner)
        .json(&json!({"fileName": "again.pdf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), 409);
    assert_eq!(
        app.get_ok(&owner, &path).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Thirty uploads to one event at once: exactly twenty are stored (the limit per event), the others are
/// 409s, and the listing shows twenty. The count check and the write were two steps, so parallel uploads
/// passed the check together and stored 24–27.
#[tokio::test]
async fn parallel_uploads_to_one_event_stop_at_the_limit() {
    let (app, owner, _, _, path) = receipt_event(TestApp::spawn().await, 26).await;
    let statuses = futures::future::join_all((0..30).map(|i| {
        let (app, owner, path) = (&app, &owner, &path);
        async move {
            let name = format!("r{i}.jpg");
            upload(app, owner, path, (&name, "image/jpeg"), jpeg())
                .await
                .0
        }
    }))
    .await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, refused), (20, 10), "{statuses:?}");
    let listed = app.get_ok(&owner, &path).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(20));
    app.stop().await;
}

/// What the export tests export: on a new app, an owner's vehicle (VIN `vin(n)`) with a record holding three
/// files — `invoice.pdf` twice, then `photo.jpg` — and a second record, voided with its file `wiper.pdf`.
struct RecordsWithFiles {
    app: TestApp,
    owner: String,
    vehicle: String,
    event_id: String,
    /// The three files of `event_id`, in upload order.
    files: [Value; 3],
    voided_id: String,
}

async fn records_with_files(n: u32) -> RecordsWithFiles {
    let (app, owner, vehicle, event_id, path) = receipt_event(TestApp::spawn().await, n).await;
    let pdf_file = ("invoice.pdf", "application/pdf");
    let invoice = uploaded(&app, &owner, &path, pdf_file, pdf()).await;
    let again = uploaded(&app, &owner, &path, pdf_file, pdf()).await;
    let photo = uploaded(&app, &owner, &path, ("photo.jpg", "image/jpeg"), jpeg()).await;
    let other = json!({"kind": "repair", "occurredAt": "2025-06-01T10:00:00Z", "title": "Wiper motor",
        "costCents": 12000, "currency": "USD"});
    let voided_id = record(&app, &owner, &vehicle, other).await;
    let voided_path = format!("/v1/vehicles/{vehicle}/events/{voided_id}/attachments");
    uploaded(
        &app,
        &owner,
        &voided_path,
        ("wiper.pdf", "application/pdf"),
        pdf(),
    )
    .await;
    void(&app, &owner, &vehicle, &voided_id, "wrong car").await;
    RecordsWithFiles {
        app,
        owner,
        vehicle,
        event_id,
        files: [invoice, again, photo],
        voided_id,
    }
}

/// `GET …/export?format=zip`: one archive of the announced length holding `history.csv` (the CSV export,
/// byte for byte), `attachments.json` and each exported record's files as `vwc export --files` lays them
/// out; a voided record's file is not in it; a viewer may download it, another organisation gets 404, and
/// an unknown format is a 422 naming the three.
#[tokio::test]
async fn the_zip_export_holds_the_history_and_each_records_files() {
    let RecordsWithFiles {
        app,
        owner,
        vehicle,
        event_id,
        files: [invoice, again, photo],
        ..
    } = records_with_files(25).await;
    // A record without files is in the history, not in the files.
    let plain = json!({"kind": "odometer_reading", "occurredAt": "2025-07-01T10:00:00Z", "odometer": 31000});
    record(&app, &owner, &vehicle, plain).await;
    app.timeline_of_len(&owner, &vehicle, 2).await;

    let export = format!("/v1/vehicles/{vehicle}/export");
    let zip = app.get(&owner, &format!("{export}?format=zip")).await;
    assert_eq!(zip.status(), 200);
    let headers = zip.headers().clone();
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{vehicle}-history.zip\"").as_str()
    );
    let bytes = zip.bytes().await.unwrap();
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        bytes.len().to_string()
    );
    let files = vwc_edge::zip::read(&bytes).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let twice = format!("{event_id}/{}-invoice.pdf", again["id"].as_str().unwrap());
    assert_eq!(
        names,
        [
            "history.csv",
            "attachments.json",
            &format!("{event_id}/invoice.pdf"),
            &twice,
            &format!("{event_id}/photo.jpg"),
        ]
    );
    let csv = app.get(&owner, &export).await.bytes().await.unwrap();
    assert_eq!(files[0].1, csv.to_vec());
    assert_eq!(
        (&files[2].1, &files[3].1, &files[4].1),
        (&pdf(), &pdf(), &jpeg())
    );
    let manifest: Value = serde_json::from_slice(&files[1].1).unwrap();
    assert_eq!(manifest["vehicleId"], vehicle.as_str());
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(pluck(&manifest["files"], "path"), names[2..].to_vec());
    assert_eq!(listed[0]["attachment"]["id"], invoice["id"]);
    assert_eq!(listed[2]["attachment"]["id"], photo["id"]);
    assert_eq!(listed[2]["eventId"], event_id.as_str());

    // Roles and tenancy as for the history itself.
    let viewer = app.token("org_a", &[Role::Viewer]);
    let seen = app.get(&viewer, &format!("{export}?format=zip")).await;
    assert_eq!(seen.status(), 200);
    assert_eq!(seen.bytes().await.unwrap(), bytes);
    let stranger = app.token("org_b", &[Role::Owner]);
    let (status, content_type, problem) =
        get(&app, &stranger, &format!("{export}?format=zip")).await;
    assert_problem(status, &content_type, &problem, 404);
    let (status, content_type, problem) = get(&app, &owner, &format!("{export}?format=tar")).await;
    assert_problem(status, &content_type, &problem, 422);
    assert_eq!(problem["errors"][0]["message"], "must be csv, json or zip");
    app.stop().await;
}

/// `vwc export --files DIR` copies the exported records' receipts out of the data dir: one directory per
/// record, the uploaded names (a name two files share gets the attachment's id in front), and a manifest;
/// a voided record's files stay behind with it; a directory that holds anything is refused.
#[tokio::test]
async fn vwc_export_copies_the_records_files_with_a_manifest() {
    // A second record, voided with its receipt: neither is exported.
    let RecordsWithFiles {
        app,
        owner,
        vehicle,
        event_id,
        files: [invoice, again, photo],
        voided_id,
    } = records_with_files(24).await;
    app.timeline_of_len(&owner, &vehicle, 1).await;
    let dir = app.stop().await;
    let data = dir.path().to_str().unwrap().to_string();
    let files = dir.path().join("receipts");
    let out = files.to_str().unwrap().to_string();
    let vehicle_export = [
        "export",
        "--data-dir",
        &data,
        "--org",
        "org_a",
        "--vehicle",
        &vehicle,
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        (vehicle_export.iter().chain(extra))
            .map(|a| a.to_string())
            .collect()
    };
    let export = with(&["--files", &out]);
    let run = vwc_output(&export);
    let said = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{said}");
    assert!(said.contains("3 files"), "{said}");
    let event_dir = files.join(&event_id);
    let mut names: Vec<String> = std::fs::read_dir(&event_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let twice = format!("{}-invoice.pdf", again["id"].as_str().unwrap());
    let mut expected = vec![
        "invoice.pdf".to_string(),
        twice.clone(),
        "photo.jpg".to_string(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(std::fs::read(event_dir.join("invoice.pdf")).unwrap(), pdf());
    assert_eq!(std::fs::read(event_dir.join("photo.jpg")).unwrap(), jpeg());
    assert!(!files.join(&voided_id).exists());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(files.join("attachments.json")).unwrap()).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{manifest}");
    assert_eq!(listed[0]["path"], format!("{event_id}/invoice.pdf"));
    assert_eq!(listed[0]["attachment"]["id"], invoice["id"]);
    assert_eq!(listed[1]["path"], format!("{event_id}/{twice}"));
    assert_eq!(listed[2]["attachment"]["id"], photo["id"]);
    assert_eq!(listed[2]["attachment"]["contentType"], "image/jpeg");
    // Not into a directory that holds anything.
    let refused = vwc_output(&export);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // `--format zip --out F`: the same files under the same paths, with the same manifest, in one archive.
    let archive = dir.path().join("van.zip");
    let zip = with(&["--format", "zip", "--out", archive.to_str().unwrap()]);
    let run = vwc_output(&zip);
    let said = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{said}");
    assert!(said.contains("3 files"), "{said}");
    let read = vwc_edge::zip::read(&std::fs::read(&archive).unwrap()).unwrap();
    assert_eq!(read[0].0, "history.csv");
    assert!(String::from_utf8_lossy(&read[0].1).starts_with("id,occurredAt,kind"));
    assert_eq!(read[1].0, "attachments.json");
    let zipped: Value = serde_json::from_slice(&read[1].1).unwrap();
    assert_eq!(zipped, manifest);
    for (path, content) in &read[2..] {
        assert_eq!(&std::fs::read(files.join(path)).unwrap(), content, "{path}");
    }
    assert_eq!(read.len(), 2 + listed.len());
    // A zip is a file to name, and holds the files already.
    for (extra, expected) in [
        (&["--format", "zip"][..], "--out FILE"),
        (
            &["--format", "zip", "--out", "x.zip", "--files", "d"][..],
            "leave out --files",
        ),
        (
            &["--format", "tar", "--out", "x.tar"][..],
            "must be csv, json or zip",
        ),
    ] {
        let refused = vwc_output(with(extra));
        let said = String::from_utf8_lossy(&refused.stderr).to_string();
        assert!(
            !refused.status.success() && said.contains(expected),
            "{extra:?}: {said}"
        );
    }
}
