//! The web client, embedded in the binary so `glint` is one file to run: `web-client/index.html`
//! and everything under `web-client/src/` (rust-embed; tests and packages stay out).
//!
//! Caching: the page (`/`) is never cached, and names its files under `/v/<version>/src/`,
//! where the version is a hash of every embedded file. Those answers are `immutable` for a
//! year, so a reload or a second visit runs the page's 13 modules from the browser's cache
//! instead of fetching them again (on a 2-core machine the fetches were ~80 ms of the first
//! picture's time). A new build is a new version, so a browser never mixes two builds' modules.
//! Files served from `--web-dir` change while one works on them: never cached.

use rust_embed::RustEmbed;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
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

/// The bytes and content type of a page file: from `dir` when given (development), else
/// embedded.
fn load(dir: Option<&std::path::Path>, path: &str) -> Option<(Vec<u8>, String)> {
    if !is_page_file(path) {
        return None;
    }
    match dir {
        Some(dir) => {
            let bytes = std::fs::read(dir.join(path)).ok()?;
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            Some((bytes, mime.essence_str().to_owned()))
        }
        None => {
            let file = Assets::get(path)?;
            let mime = file.metadata.mimetype().to_owned();
            Some((file.data.into_owned(), mime))
        }
    }
}

/// How long a versioned file may be kept: a year, and never revalidated (RFC 8246).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The embedded files' version: the first 8 bytes of SHA-256 over every file's name and
/// SHA-256, in hex (16 characters).
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

/// The page file at `path` (relative to `web-client/`), with its content type, or 404;
/// `immutable` when it was asked for under the current version.
fn reply(
    dir: Option<&std::path::Path>,
    path: &str,
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
    warp::http::Response::builder()
        .header(CONTENT_TYPE, mime)
        .header(CACHE_CONTROL, cache)
        .body(body)
        .map_err(|_| warp::reject::not_found())
}

/// `GET /` and `GET /<page file>`; `dir` serves them from disk (see `--web-dir`).
pub fn routes(
    dir: Option<std::path::PathBuf>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let dir = std::sync::Arc::new(dir);
    let d = dir.clone();
    let index = warp::path::end().and_then(move || {
        let d = d.clone();
        async move { reply(d.as_deref(), "index.html") }
    });
    let file = warp::path::full().and_then(move |p: warp::path::FullPath| {
        let d = dir.clone();
        async move { reply(d.as_deref(), p.as_str().trim_start_matches('/')) }
    });
    warp::get().and(index.or(file))
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
        assert_eq!(disk, load(None, "src/app.js").expect("embedded").0);
        assert!(load(Some(&dir), "package.json").is_none());
    }

    #[test]
    fn the_page_names_versioned_files_that_are_kept_and_other_answers_are_not() {
        let cache = |r: &warp::http::Response<Vec<u8>>| r.headers()[CACHE_CONTROL].clone();
        let v = version();
        assert_eq!(v.len(), 16);
        let index = reply(None, "index.html").expect("the page");
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
        let module = reply(None, &format!("v/{v}/src/app.js")).expect("app.js");
        assert_eq!(cache(&module), IMMUTABLE);
        assert_eq!(
            module.body(),
            reply(None, "src/app.js").expect("unversioned").body()
        );
        // Another build's name, or an unversioned one: served, never kept.
        assert_eq!(
            cache(&reply(None, "v/0123456789abcdef/src/app.js").expect("old")),
            "no-cache"
        );
        assert_eq!(
            cache(&reply(None, "src/app.js").expect("plain")),
            "no-cache"
        );
        assert!(reply(None, &format!("v/{v}/src/../../Cargo.toml")).is_err());
        // From --web-dir: the page as on disk, nothing kept.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-client");
        let dev = reply(Some(&dir), "index.html").expect("page on disk");
        assert!(String::from_utf8_lossy(dev.body()).contains("src=\"/src/app.js\""));
        assert_eq!(
            cache(&reply(Some(&dir), &format!("v/{v}/src/app.js")).expect("dev")),
            "no-cache"
        );
    }
}
