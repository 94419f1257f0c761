//! Bundles and minifies the web client for embedding, and rebuilds glint when one of its files
//! is added or changed (rust-embed tracks the files it saw, not new ones).
//!
//! esbuild (pinned in `web-client/package.json`, installed by `scripts/setup`'s `npm ci`) makes
//! each of the page's entry points one minified file with everything it imports: `app.js`
//! (the page), `audio-worker.js` (a Worker) and `playout-worklet.js` (an AudioWorklet), plus
//! `style.css`; each with a source map beside it. They go to `$OUT_DIR/web/`, where
//! `http/assets.rs` embeds them. The page and its files were ~64 KB gzip-compressed in 24
//! requests; bundled, ~30 KB in 4 (at 400 kbit/s that was 2.8 s of a 3.9 s first frame).
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files esbuild starts from, relative to `web-client/`.
const ENTRY_POINTS: [&str; 4] = [
    "src/app.js",
    "src/audio-worker.js",
    "src/playout-worklet.js",
    "src/style.css",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest.join("../web-client");
    println!("cargo:rerun-if-changed=../web-client/index.html");
    println!("cargo:rerun-if-changed=../web-client/src");
    println!("cargo:rerun-if-changed=../web-client/node_modules/esbuild/package.json");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("web");
    bundle(&web, &out);
}

/// Stops the build with `message` (cargo shows a build script's stderr when it fails).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// Runs esbuild over [`ENTRY_POINTS`] into `out`; stops the build with what to do when it
/// cannot.
fn bundle(web: &Path, out: &Path) {
    let esbuild = web.join("node_modules/.bin/esbuild");
    if !esbuild.exists() {
        fail(&format!(
            "{} is missing: run scripts/setup (it installs Node if there is none, and the web \
             client's npm packages, esbuild among them, with `npm ci` in web-client/)",
            esbuild.display()
        ));
    }
    let status = Command::new(&esbuild)
        .current_dir(web)
        .args(ENTRY_POINTS)
        .args([
            "--bundle",
            "--minify",
            "--sourcemap",
            "--format=esm",
            // What the page's sources use, for Chromium and Firefox ESR: nothing is lowered.
            "--target=es2022",
            "--charset=utf8",
            "--legal-comments=none",
            "--log-level=warning",
            "--outbase=src",
        ])
        .arg(format!("--outdir={}", out.display()))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("esbuild failed ({s}) bundling the web client")),
        Err(e) => fail(&format!(
            "cannot run {}: {e} (esbuild needs Node: run scripts/setup)",
            esbuild.display()
        )),
    }
}
