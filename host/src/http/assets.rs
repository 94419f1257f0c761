//! The web client, embedded in the binary so `glint` is one file to run: `web-client/index.html`
//! and everything under `web-client/src/` (rust-embed; tests and packages stay out).

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

/// The page file at `path` (relative to `web-client/`), with its content type, or 404.
fn reply(
    dir: Option<&std::path::Path>,
    path: &str,
) -> Result<warp::http::Response<Vec<u8>>, warp::Rejection> {
    let (body, mime) = load(dir, path).ok_or_else(warp::reject::not_found)?;
    // Text files are UTF-8; say so, so that a browser never guesses.
    let mime = if mime.starts_with("text/") && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    warp::http::Response::builder()
        .header(CONTENT_TYPE, mime)
        .header(CACHE_CONTROL, "no-cache")
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
}
