//! Embeds the committed dashboard bundle (`dashboard/dist`, built by Vite and checked for drift by
//! `scripts/test`) into the binary: writes `$OUT_DIR/dashboard_assets.rs` with one `include_bytes!` per
//! file, so `cargo build` needs no Node. See docs/dashboard.md for why the bundle is committed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../../dashboard/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("dashboard_assets.rs");

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    } else {
        println!(
            "cargo:warning=dashboard/dist/index.html is missing: the binary serves a page saying so \
             (build it with `npm ci && npm run build` in dashboard/)"
        );
    }
    files.sort();

    let mut code = String::from(
        "/// Every file of the built dashboard: (path relative to `dist/`, contents).\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    std::fs::write(&out, code).expect("write dashboard_assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).expect("read dashboard/dist");
    for entry in entries {
        let path = entry.expect("dist entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).expect("under dist");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = path.canonicalize().expect("canonical path");
            files.push((rel, abs));
        }
    }
}
