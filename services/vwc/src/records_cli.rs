//! `vwc import` and `vwc export`: the CSV import and the history export of issue 14 on the command line,
//! against an embedded data dir, through the same library code as `POST …/imports` and `GET …/export`; and
//! `vwc vehicles`, which lists the ids those two take.

use std::path::PathBuf;

use anyhow::Context;
use vwc_contracts::EventKind;

use crate::cli::DataDir;
use crate::embedded::{EmbeddedOptions, System};

#[derive(Debug, clap::Args)]
pub struct VehiclesArgs {
    /// The organisation whose vehicles to list, e.g. `org_demo` (the demo seed's).
    #[arg(long)]
    pub org: String,
    /// Print the vehicles as JSON (one array, as `GET /v1/vehicles` lists them) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// `vwc vehicles`: every vehicle of an organisation in the data dir's read model, by id (registration order):
/// its id, VIN, year, make and model (and nickname), status, odometer and record count.
pub async fn vehicles(args: VehiclesArgs, opts: EmbeddedOptions) -> anyhow::Result<()> {
    let org = vwc_contracts::OrgId::from(args.org.as_str());
    let system = System::start(opts).await?;
    // Registrations a stopped server acknowledged but had not projected yet are delivered before reading.
    let listed = async {
        system.settle().await?;
        // Every vehicle, a page at a time (`EdgeStore::vehicles_up_to`).
        let all = (system.stores.edge)
            .vehicles_up_to(&org, |_| true, usize::MAX)
            .await?;
        anyhow::Ok(all)
    }
    .await;
    system.shutdown().await;
    let vehicles = listed?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&vehicles)?);
    } else if !vehicles.is_empty() {
        print!("{}", vehicle_table(&vehicles));
    }
    crate::say!("{} vehicles in organisation {}", vehicles.len(), args.org);
    Ok(())
}

/// The listing as aligned columns under a header line.
fn vehicle_table(vehicles: &[vwc_edge::store::VehicleView]) -> String {
    let rows: Vec<[String; 6]> = vehicles
        .iter()
        .map(|v| {
            let car = &v.vehicle;
            let mut name = format!("{} {} {}", car.year, car.make, car.model);
            if let Some(nickname) = car.nickname.as_deref().filter(|n| !n.is_empty()) {
                name.push_str(&format!(" \u{201c}{nickname}\u{201d}"));
            }
            let odometer = v
                .odometer
                .as_ref()
                .map(|o| format!("{} {}", o.value, o.unit.as_str()))
                .unwrap_or_else(|| "—".into());
            [
                car.id.to_string(),
                car.vin.clone(),
                name,
                car.status.as_str().to_string(),
                odometer,
                v.event_count.to_string(),
            ]
        })
        .collect();
    let header = ["ID", "VIN", "VEHICLE", "STATUS", "ODOMETER", "RECORDS"].map(String::from);
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The organisation that owns the vehicle.
    #[arg(long)]
    pub org: String,
    /// The vehicle's id (`veh_…`).
    #[arg(long)]
    pub vehicle: String,
    /// The CSV file.
    pub file: PathBuf,
    /// Check every row and report; record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Kind of LubeLogger's generic records: maintenance (default), repair or upgrade.
    #[arg(long, default_value = "maintenance", value_parser = parse_kind)]
    pub kind: EventKind,
    /// ISO 4217 code of the file's costs.
    #[arg(long, default_value = "USD", value_parser = parse_currency)]
    pub currency: String,
    /// Unit of LubeLogger's FuelConsumed: gal (US) or l; by default gal for a vehicle in miles, l in km.
    #[arg(long, value_parser = parse_volume_unit)]
    pub volume_unit: Option<vwc_contracts::VolumeUnit>,
    #[command(flatten)]
    pub data: DataDir,
}

/// An ISO 4217 code, any case: refused before the file is read, not on every row with a cost.
fn parse_currency(s: &str) -> Result<String, String> {
    let code = s.to_ascii_uppercase();
    if vwc_contracts::currency::is_iso4217(&code) {
        Ok(code)
    } else {
        Err("is not an ISO 4217 currency code (e.g. USD, EUR)".into())
    }
}

fn parse_volume_unit(s: &str) -> Result<vwc_contracts::VolumeUnit, String> {
    s.parse().map_err(|_| "must be gal or l".into())
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The vehicle's organisation, e.g. `org_demo` (another organisation's vehicle is not found).
    #[arg(long)]
    pub org: String,
    /// The vehicle's id (`veh_…`).
    #[arg(long)]
    pub vehicle: String,
    /// csv, json, or zip: the CSV with every exported record's receipts and documents in one archive
    /// (needs `--out`), as `GET …/export?format=zip` answers it.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Where to write; standard output when absent (not for zip).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also copy the exported records' receipts and documents into this directory (created; it must be
    /// empty): `<eventId>/<fileName>` each, and `attachments.json` listing them with their record's id.
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    EventKind::parse(s)
        .filter(|k| {
            matches!(
                k,
                EventKind::Maintenance | EventKind::Repair | EventKind::Upgrade
            )
        })
        .ok_or_else(|| "must be maintenance, repair or upgrade".into())
}

pub async fn import(args: ImportArgs, opts: EmbeddedOptions) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let text = vwc_ingestion::import::text_of(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let system = System::start(opts).await?;
    let ingestion = vwc_ingestion::Ingestion::new(
        system.stores.ingestion.clone(),
        std::sync::Arc::new(system.clock.clone()),
    );
    let Some(vehicle) = ingestion
        .store()
        .vehicle(&vwc_store::VehicleRef::new(
            args.org.as_str(),
            args.vehicle.as_str(),
        ))
        .await?
    else {
        system.shutdown().await;
        anyhow::bail!("no vehicle {} in organisation {}", args.vehicle, args.org);
    };
    let options = vwc_ingestion::import::ImportOptions {
        kind: args.kind,
        currency: args.currency,
        odometer_unit: vehicle.odometer_unit,
        asked_by: vwc_ingestion::import::AskedBy::Cli,
        volume_unit: args.volume_unit.unwrap_or(match vehicle.odometer_unit {
            vwc_contracts::OdometerUnit::Mi => vwc_contracts::VolumeUnit::Gal,
            vwc_contracts::OdometerUnit::Km => vwc_contracts::VolumeUnit::L,
        }),
    };
    let (format, rows, mut errors) = match vwc_ingestion::import::read(&text, &options) {
        Ok(read) => read,
        Err(message) => {
            system.shutdown().await;
            anyhow::bail!(message);
        }
    };
    let warnings = match vwc_ingestion::import::odometer_warnings(&ingestion, &vehicle, &rows).await
    {
        Ok(warnings) => warnings,
        Err(e) => {
            system.shutdown().await;
            return Err(e.into());
        }
    };
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let outcome =
        vwc_ingestion::import::apply(&ingestion, &vehicle, rows, args.dry_run, None, |_| {
            bar.inc(1)
        })
        .await;
    bar.finish_and_clear();
    // Deliver what was recorded, and what the consumers made of it, before stopping.
    let finished = system.finish().await;
    let outcome = outcome?;
    finished?;
    errors.extend(outcome.errors);
    errors.sort_by_key(|e| e.row);
    let warnings = vwc_ingestion::import::without_refused(warnings, &errors);
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "format": format, "dryRun": args.dry_run, "imported": outcome.imported,
            "skipped": outcome.skipped, "errors": errors, "warnings": warnings,
        }))?
    );
    if !warnings.is_empty() {
        crate::say!(
            "{} row(s) recorded with a doubtful odometer (listed under \"warnings\")",
            warnings.len()
        );
    }
    if !errors.is_empty() {
        // The rows without errors are recorded; a script must still be able to tell a partial import from a
        // whole one without reading the report.
        crate::say!(
            "{} row(s) refused (listed under \"errors\"); the others were {}",
            errors.len(),
            if args.dry_run { "checked" } else { "imported" }
        );
        std::process::exit(1);
    }
    Ok(())
}

pub async fn export(args: ExportArgs, opts: EmbeddedOptions) -> anyhow::Result<()> {
    let format = args.format.as_str();
    if !matches!(format, "csv" | "json" | "zip") {
        anyhow::bail!("--format {format}: must be csv, json or zip");
    }
    if format == "zip" {
        if args.out.is_none() {
            anyhow::bail!("--format zip writes an archive: name it with --out FILE");
        }
        if args.files.is_some() {
            anyhow::bail!("--format zip holds the records' files already: leave out --files");
        }
    }
    if let Some(dir) = &args.files {
        files_dir_is_empty(dir)?;
    }
    let data_dir = opts.data_dir.clone();
    let system = System::start(opts).await?;
    // Records a stopped server acknowledged but had not projected yet are delivered before reading.
    system.settle().await?;
    let of = vwc_edge::store::VehicleRef::new(args.org.as_str(), args.vehicle.as_str());
    let found = system.stores.edge.vehicle(&of).await;
    let unit = found
        .as_ref()
        .ok()
        .and_then(|v| v.as_ref())
        .map(|v| v.vehicle.odometer_unit)
        .unwrap_or_default();
    let events = match found {
        Ok(Some(_)) => vwc_edge::export::history(system.stores.edge.as_ref(), &of).await,
        Ok(None) => {
            system.shutdown().await;
            anyhow::bail!("no vehicle {} in organisation {}", args.vehicle, args.org);
        }
        Err(e) => Err(e),
    };
    system.shutdown().await;
    let events = events?;
    if format == "zip" {
        let out = args.out.as_deref().expect("checked above");
        let (files, bytes) = export_zip(&data_dir, &args, &events, unit, out).await?;
        crate::say!(
            "{} events and {files} files of those records ({:.1} MB) written to {}",
            events.len(),
            bytes as f64 / 1e6,
            out.display()
        );
        return Ok(());
    }
    let text = if format == "csv" {
        vwc_edge::export::to_csv(&events, unit)?
    } else {
        serde_json::to_string_pretty(
            &serde_json::json!({"vehicleId": args.vehicle, "odometerUnit": unit, "events": events}),
        )? + "\n"
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    crate::say!("{} events", events.len());
    if let Some(dir) = &args.files {
        let (files, bytes) =
            export_files(&data_dir, &args.org, &args.vehicle, &events, dir).await?;
        crate::say!(
            "{files} files ({:.1} MB) of those records written to {}",
            bytes as f64 / 1e6,
            dir.display()
        );
    }
    Ok(())
}

/// Writes the `zip` export (`vwc_edge::export::zip_export`, what the API answers) to `out`, through a
/// file beside it renamed once whole, so a failed export leaves no half archive under the name asked
/// for; answers how many of the records' files it holds, and its size.
async fn export_zip(
    data_dir: &std::path::Path,
    args: &ExportArgs,
    events: &[serde_json::Value],
    unit: vwc_contracts::OdometerUnit,
    out: &std::path::Path,
) -> anyhow::Result<(usize, u64)> {
    use futures::StreamExt;
    use std::io::Write;
    let files: std::sync::Arc<dyn vwc_edge::export::RecordFiles> =
        std::sync::Arc::new(crate::attachments::DataDirFiles::new(data_dir));
    let csv = vwc_edge::export::to_csv(events, unit)?;
    let mut export = vwc_edge::export::zip_export(
        files,
        &args.org,
        &args.vehicle,
        events,
        csv,
        vwc_clock::now(),
    )
    .await?;
    let partial = out.with_extension("zip.partial");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?,
    );
    // On a terminal, a bar of the bytes written (the archive's length is known before its first byte).
    let bar = indicatif::ProgressBar::new(export.length);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let written = async {
        while let Some(chunk) = export.bytes.next().await {
            let chunk = chunk?;
            file.write_all(&chunk)?;
            bar.inc(chunk.len() as u64);
        }
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
    .await;
    bar.finish_and_clear();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e).with_context(|| format!("writing {}", out.display()));
    }
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok((export.files, export.length))
}

/// `--files DIR` must not mix this export's files with others: a missing or empty directory only.
fn files_dir_is_empty(dir: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => anyhow::bail!(
                "--files {}: the directory is not empty; name a new one",
                dir.display()
            ),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("--files {}", dir.display())),
    }
}

/// Copies the attachments of `events` (the exported records, as JSON) from the data dir's files into
/// `dir/<eventId>/<fileName>` — the layout of the API's `zip` export (`crate::attachments::DataDirFiles`
/// names them) — and lists them in `dir/attachments.json`; answers how many files and bytes. A voided
/// record is not exported, and so neither are its files.
async fn export_files(
    data_dir: &std::path::Path,
    org: &str,
    vehicle: &str,
    events: &[serde_json::Value],
    dir: &std::path::Path,
) -> anyhow::Result<(usize, u64)> {
    use vwc_edge::export::RecordFiles;
    let files = crate::attachments::DataDirFiles::new(data_dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let listed = files.list(org, vehicle, &ids).await?;
    let bar = indicatif::ProgressBar::new(listed.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut bytes = 0u64;
    for file in &listed {
        bar.inc(1);
        let content = files.read(org, vehicle, file).await?;
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, &content).with_context(|| format!("writing {}", path.display()))?;
        bytes += content.len() as u64;
    }
    bar.finish_and_clear();
    let manifest = dir.join("attachments.json");
    std::fs::write(&manifest, vwc_edge::export::manifest(vehicle, &listed)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok((listed.len(), bytes))
}

#[cfg(test)]
mod tests {
    use vwc_contracts::{EventKind, VolumeUnit};

    #[test]
    fn kinds_and_volume_units_are_read_by_their_wire_names() {
        assert_eq!(super::parse_kind("repair"), Ok(EventKind::Repair));
        for refused in ["fuel", "Repair", ""] {
            assert!(super::parse_kind(refused).is_err(), "{refused}");
        }
        assert_eq!(super::parse_volume_unit("gal"), Ok(VolumeUnit::Gal));
        assert_eq!(super::parse_volume_unit("l"), Ok(VolumeUnit::L));
        assert_eq!(
            super::parse_volume_unit("pint"),
            Err("must be gal or l".to_string())
        );
        assert_eq!(super::parse_currency("eur"), Ok("EUR".to_string()));
        for refused in ["XXX", "", "dollars"] {
            assert!(super::parse_currency(refused).is_err(), "{refused}");
        }
    }
}
