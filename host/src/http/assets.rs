//! The web client, embedded in the binary so `glint` is one file to run: `web-client/index.html`
//! and everything under `web-client/src/` (rust-embed; tests and packages stay out), with the
//! page's entry points bundled and minified at build time (`host/build.rs`, esbuild).
//!
//! Bundles: `src/app.js`, `src/audio-worker.js`, `src/playout-worklet.js` and `src/style.css`
//! are answered with esbuild's output, each one file with everything it imports (and a
//! `.map` beside it for the browser's developer tools). The other modules are still served
//! as they are (a test or a developer may import one), but the page never asks for them.
//! From `--web-dir` every file is the source as on disk, unbundled.
//!
//! Caching: the page (`/`) is never cached without asking (`no-cache` with an `ETag`: a
//! reload gets `304 Not Modified` while the page is the same), and names its files under
//! `/v/<version>/src/`,
//! where the version is a hash of every embedded file. Those answers are `immutable` for a
//! year, so a reload or a second visit runs the page's scripts from the browser's cache
//! instead of fetching them again. A new build is a new version, so a browser never mixes two
//! builds' files. Files served from `--web-dir` change while one works on them: never cached.
//!
//! Text goes gzip-compressed (RFC 9110 §8.4.1.3) to a browser that accepts it: the page's
//! page and its files are ~30 KB on the wire in 4 requests (~64 KB in 24 with the modules as
//! written), which was most of the time to the first picture on a 400 kbit/s link. Each file is compressed once,
//! at its first request.

use rust_embed::RustEmbed;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use warp::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY};
use warp::Filter;

#[derive(RustEmbed)]
#[folder = "../web-client/"]
#[include = "index.html"]
#[include = "src/*"]
struct Assets;

/// Whether `path` (relative to `web-client/`) is a page file: `index.html` or a plain file name
/// under `src/` (no directories, no dot-files, so nothing outside can be named).
fn is_page_file(path: &str) -> bool {
    path == "index.html"
        || path.strip_prefix("src/").is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// One of `build.rs`'s outputs, by its name under `$OUT_DIR/web/`.
macro_rules! bundled {
    ($name:literal) => {
        (
            concat!("src/", $name),
            include_bytes!(concat!(env!("OUT_DIR"), "/web/", $name)).as_slice(),
        )
    };
}

/// The page's entry points as `build.rs` bundled them (esbuild: minified, everything they
/// import inside) and their source maps, by the path the page asks for.
const BUNDLED: [(&str, &[u8]); 8] = [
    bundled!("app.js"),
    bundled!("app.js.map"),
    bundled!("audio-worker.js"),
    bundled!("audio-worker.js.map"),
    bundled!("playout-worklet.js"),
    bundled!("playout-worklet.js.map"),
    bundled!("style.css"),
    bundled!("style.css.map"),
];

/// The content type of a file read from disk or bundled, by its name: a source map is JSON
/// (mime_guess calls `.map` text/plain).
fn mime_of(path: &str) -> String {
    if path.ends_with(".map") {
        return "application/json".to_owned();
    }
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// The bytes and content type of a page file: from `dir` when given (development), else
/// bundled or embedded.
fn load(dir: Option<&std::path::Path>, path: &str) -> Option<(Vec<u8>, String)> {
    if !is_page_file(path) {
        return None;
    }
    match dir {
        Some(dir) => Some((std::fs::read(dir.join(path)).ok()?, mime_of(path))),
        None => match BUNDLED.iter().find(|(name, _)| *name == path) {
            Some((_, bytes)) => Some((bytes.to_vec(), mime_of(path))),
            None => {
                let file = Assets::get(path)?;
                let mime = file.metadata.mimetype().to_owned();
                Some((file.data.into_owned(), mime))
            }
        },
    }
}

/// How long a versioned file may be kept: a year, and never revalidated (RFC 8246).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The embedded files' version: the first 8 bytes of SHA-256 over every file's name and
/// SHA-256 and every bundle's name and bytes, in hex (16 characters).
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Assets::iter().collect();
        names.sort();
        let mut all = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for name in names {
            if let Some(file) = Assets::get(&name) {
                all.update(name.as_bytes());
                all.update(&file.metadata.sha256_hash());
            }
        }
        for (name, bytes) in BUNDLED {
            all.update(name.as_bytes());
            all.update(bytes);
        }
        all.finish().as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The page, naming its files under the current version (embedded files only).
fn page(dir: Option<&std::path::Path>) -> Option<(Vec<u8>, String)> {
    let (body, mime) = load(dir, "index.html")?;
    if dir.is_some() {
        return Some((body, mime));
    }
    let html = String::from_utf8(body).ok()?;
    let versioned = html.replace("\"/src/", &format!("\"/v/{}/src/", version()));
    Some((versioned.into_bytes(), mime))
}

/// Files smaller than this go as they are: gzip's header and a round of inflating cost more.
const COMPRESS_FROM: usize = 1024;

/// Whether an `Accept-Encoding` value (RFC 9110 §12.5.3) takes gzip: listed (or `*`) and not
/// with `q=0`.
fn accepts_gzip(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().map_or(true, |q| q <= 0.0))
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

/// `body` gzip-compressed, kept per `path` for embedded files (they never change).
fn gzip(embedded: bool, path: &str, body: &[u8]) -> Option<Arc<Vec<u8>>> {
    static DONE: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    if embedded {
        if let Some(z) = done.lock().ok()?.get(path) {
            return Some(z.clone());
        }
    }
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(body).ok()?;
    let z = Arc::new(z.finish().ok()?);
    if embedded {
        done.lock().ok()?.insert(path.to_owned(), z.clone());
    }
    Some(z)
}

/// A weak entity tag (RFC 9110 §8.8.3) for `body`: the first 8 bytes of its SHA-256, in hex.
/// Weak, since the same tag names the plain and the gzip-compressed bytes.
fn etag(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("W/\"{hex}\"")
}

/// Whether an `If-None-Match` value (RFC 9110 §13.1.2: `*` or a list of entity tags, compared
/// weakly) names `tag`.
fn none_match_names(if_none_match: Option<&str>, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match.is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| opaque(t) == opaque(tag)))
}

/// The page file at `path` (relative to `web-client/`), with its content type, or 404;
/// `immutable` when it was asked for under the current version, else with an `ETag` and `304
/// Not Modified` when `if_none_match` names it; gzip-compressed when `accept_encoding` takes
/// it.
fn reply(
    dir: Option<&std::path::Path>,
    path: &str,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<warp::http::Response<Vec<u8>>, warp::Rejection> {
    let (path, cache) = match path.strip_prefix("v/").and_then(|p| p.split_once('/')) {
        Some((v, rest)) if dir.is_none() && v == version() => (rest, IMMUTABLE),
        // An older build's page: the file as it is now, not to be kept.
        Some((_, rest)) => (rest, "no-cache"),
        None => (path, "no-cache"),
    };
    let found = if path == "index.html" {
        page(dir)
    } else {
        load(dir, path)
    };
    let (body, mime) = found.ok_or_else(warp::reject::not_found)?;
    // Text files are UTF-8; say so, so that a browser never guesses.
    let mime = if mime.starts_with("text/") && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let mut response = warp::http::Response::builder()
        .header(CONTENT_TYPE, &mime)
        .header(CACHE_CONTROL, cache);
    let text = mime.starts_with("text/") || mime.contains("javascript");
    let compressible = text && body.len() >= COMPRESS_FROM;
    if compressible {
        response = response.header(VARY, "accept-encoding");
    }
    if cache != IMMUTABLE {
        let tag = etag(&body);
        if none_match_names(if_none_match, &tag) {
            return response
                .status(warp::http::StatusCode::NOT_MODIFIED)
                .header(ETAG, tag)
                .body(Vec::new())
                .map_err(|_| warp::reject::not_found());
        }
        response = response.header(ETAG, tag);
    }
    if !compressible {
        return response.body(body).map_err(|_| warp::reject::not_found());
    }
    match accepts_gzip(accept_encoding)
        .then(|| gzip(dir.is_none(), path, &body))
        .flatten()
    {
        Some(z) => response
            .header(CONTENT_ENCODING, "gzip")
            .body(z.as_ref().clone()),
        None => response.body(body),
    }
    .map_err(|_| warp::reject::not_found())
}

/// `GET /` and `GET /<page file>`; `dir` serves them from disk (see `--web-dir`).
pub fn routes(
    dir: Option<std::path::PathBuf>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let dir = Arc::new(dir);
    let d = dir.clone();
    let accept = || warp::header::optional::<String>("accept-encoding");
    let none_match = || warp::header::optional::<String>("if-none-match");
    let index = warp::path::end().and(accept()).and(none_match()).and_then(
        move |a: Option<String>, n: Option<String>| {
            let d = d.clone();
            async move { reply(d.as_deref(), "index.html", a.as_deref(), n.as_deref()) }
        },
    );
    let file = warp::path::full().and(accept()).and(none_match()).and_then(
        move |p: warp::path::FullPath, a: Option<String>, n: Option<String>| {
            let d = dir.clone();
            async move {
                reply(
                    d.as_deref(),
                    p.as_str().trim_start_matches('/'),
                    a.as_deref(),
                    n.as_deref(),
                )
            }
        },
    );
    // HEAD is answered as GET is, without the body (hyper leaves it out).
    warp::get().or(warp::head()).unify().and(index.or(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_modules_are_embedded_and_nothing_else() {
        let names: Vec<String> = Assets::iter().map(|n| n.into_owned()).collect();
        assert!(names.iter().any(|n| n == "index.html"), "{names:?}");
        assert!(names.iter().any(|n| n == "src/app.js"), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n == "index.html" || n.starts_with("src/")),
            "tests or packages embedded: {names:?}"
        );
        let (_, mime) = load(None, "src/app.js").expect("app.js");
        assert_eq!(mime, "text/javascript");
    }

    #[test]
    fn only_page_files_can_be_named() {
        for bad in [
            "../Cargo.toml",
            "src/../../x",
            "src/.hidden",
            "src/",
            "test/e2e/x.mjs",
            "src/a/b.js",
        ] {
            assert!(!is_page_file(bad), "{bad}");
        }
        assert!(is_page_file("src/app.js"));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client");
        let (disk, mime) = load(Some(&dir), "src/app.js").expect("app.js on disk");
        assert!(mime.contains("javascript"), "{mime}");
        assert_ne!(disk, load(None, "src/app.js").expect("bundled").0);
        // A module the page's bundle holds is still served as written.
        let (disk, _) = load(Some(&dir), "src/peer.js").expect("peer.js on disk");
        assert_eq!(disk, load(None, "src/peer.js").expect("embedded").0);
        assert!(load(Some(&dir), "package.json").is_none());
    }

    #[test]
    fn the_page_names_versioned_files_that_are_kept_and_other_answers_are_not() {
        let cache = |r: &warp::http::Response<Vec<u8>>| r.headers()[CACHE_CONTROL].clone();
        let v = version();
        assert_eq!(v.len(), 16);
        let index = reply(None, "index.html", None, None).expect("the page");
        assert_eq!(cache(&index), "no-cache");
        let html = String::from_utf8(index.body().clone()).expect("utf-8");
        assert!(
            html.contains(&format!("src=\"/v/{v}/src/app.js\"")),
            "{html}"
        );
        assert!(
            !html.contains("\"/src/"),
            "an unversioned name is left: {html}"
        );
        let module = reply(None, &format!("v/{v}/src/app.js"), None, None).expect("app.js");
        assert_eq!(cache(&module), IMMUTABLE);
        assert_eq!(
            module.body(),
            reply(None, "src/app.js", None, None)
                .expect("unversioned")
                .body()
        );
        // Another build's name, or an unversioned one: served, never kept.
        assert_eq!(
            cache(&reply(None, "v/0123456789abcdef/src/app.js", None, None).expect("old")),
            "no-cache"
        );
        assert_eq!(
            cache(&reply(None, "src/app.js", None, None).expect("plain")),
            "no-cache"
        );
        assert!(reply(None, &format!("v/{v}/src/../../Cargo.toml"), None, None).is_err());
        // From --web-dir: the page as on disk, nothing kept.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client");
        let dev = reply(Some(&dir), "index.html", None, None).expect("page on disk");
        assert!(String::from_utf8_lossy(dev.body()).contains("src=\"/src/app.js\""));
        assert_eq!(
            cache(&reply(Some(&dir), &format!("v/{v}/src/app.js"), None, None).expect("dev")),
            "no-cache"
        );
    }

    #[test]
    fn the_entry_points_are_bundled_minified_and_mapped() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client/src");
        let written: usize = std::fs::read_dir(&dir)
            .expect("web-client/src")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".js"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len() as usize)
            .sum();
        let text = |path: &str| {
            let (bytes, mime) = load(None, path).expect(path);
            (String::from_utf8(bytes).expect("utf-8"), mime)
        };
        let (app, mime) = text("src/app.js");
        assert_eq!(mime, "text/javascript");
        // Nothing left to fetch: no static import of another module of the page.
        assert!(
            !app.contains("from\"./") && !app.contains("from'./"),
            "an import is left"
        );
        assert!(app.len() * 2 < written, "{} bytes of {written}", app.len());
        // The worker and the worklet are named relative to the bundle, and are bundles too.
        for name in ["audio-worker.js", "playout-worklet.js"] {
            assert!(app.contains(&format!("\"./{name}\"")), "{name} not named");
            let (bundle, _) = text(&format!("src/{name}"));
            assert!(!bundle.contains("from\"./"), "{name} imports");
        }
        let (map, mime) = text("src/app.js.map");
        assert_eq!(mime, "application/json");
        let map: serde_json::Value = serde_json::from_str(&map).expect("a JSON source map");
        let sources = map["sources"].to_string();
        assert!(
            sources.contains("touch.js") && sources.contains("peer.js"),
            "{sources}"
        );
        let (css, mime) = text("src/style.css");
        assert_eq!(mime, "text/css");
        assert!(css.len() < std::fs::metadata(dir.join("style.css")).expect("css").len() as usize);
    }

    #[test]
    fn text_goes_gzipped_to_a_browser_that_takes_it_and_plain_to_one_that_does_not() {
        for (accept, gz) in [
            (Some("gzip, deflate, br, zstd"), true),
            (Some("br;q=1.0, GZIP;q=0.5"), true),
            (Some("*"), true),
            (Some("gzip;q=0"), false),
            (Some("gzip;q=nonsense"), false),
            (Some("identity"), false),
            (Some(""), false),
            (None, false),
        ] {
            assert_eq!(accepts_gzip(accept), gz, "{accept:?}");
        }
        let plain = reply(None, "src/app.js", None, None).expect("plain");
        let zipped = reply(None, "src/app.js", Some("gzip"), None).expect("zipped");
        assert!(!plain.headers().contains_key(CONTENT_ENCODING));
        assert_eq!(zipped.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(zipped.headers()[VARY], "accept-encoding");
        assert!(zipped.body().len() * 2 < plain.body().len());
        let mut back = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(zipped.body().as_slice()),
            &mut back,
        )
        .expect("inflates");
        assert_eq!(&back, plain.body());
    }

    #[test]
    fn a_reload_of_an_unchanged_page_is_answered_not_modified() {
        let page = reply(None, "index.html", Some("gzip"), None).expect("the page");
        let tag = page.headers()[ETAG].to_str().expect("ascii").to_owned();
        assert!(
            tag.starts_with("W/\"") && tag.len() == 2 + 1 + 16 + 1,
            "{tag}"
        );
        for asked in [
            tag.clone(),
            tag.trim_start_matches("W/").to_owned(),
            format!("W/\"0123456789abcdef\", {tag}"),
            "*".to_owned(),
        ] {
            let again = reply(None, "index.html", Some("gzip"), Some(&asked)).expect("304");
            assert_eq!(
                again.status(),
                warp::http::StatusCode::NOT_MODIFIED,
                "{asked}"
            );
            assert!(again.body().is_empty());
            assert_eq!(again.headers()[ETAG], tag.as_str());
            assert_eq!(again.headers()[CACHE_CONTROL], "no-cache");
        }
        // Another tag, or garbage: the page itself.
        for asked in ["W/\"0123456789abcdef\"", "\u{0}garbage", ""] {
            let other = reply(None, "index.html", None, Some(asked)).expect("200");
            assert_eq!(other.status(), warp::http::StatusCode::OK, "{asked:?}");
            assert!(!other.body().is_empty());
        }
        // Files under the current version are kept for a year: no tag needed.
        let v = version();
        let module = reply(None, &format!("v/{v}/src/app.js"), None, None).expect("app.js");
        assert!(!module.headers().contains_key(ETAG));
    }
}
