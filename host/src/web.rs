//! The web client, embedded in the binary so `glint` is one file to run.

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::Filter;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

/// An embedded file of `web-client/` (path relative to it) and its content type.
macro_rules! asset {
    ($path:literal, $mime:literal) => {
        Asset {
            path: $path,
            mime: $mime,
            body: include_str!(concat!("../../web-client/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("src/app.js", "text/javascript; charset=utf-8"),
    asset!("src/input.js", "text/javascript; charset=utf-8"),
    asset!("src/keymap.js", "text/javascript; charset=utf-8"),
    asset!("src/overlay.js", "text/javascript; charset=utf-8"),
    asset!("src/keybind.js", "text/javascript; charset=utf-8"),
    asset!("src/echo.js", "text/javascript; charset=utf-8"),
    asset!("src/blockcode.js", "text/javascript; charset=utf-8"),
    asset!("src/audio.js", "text/javascript; charset=utf-8"),
    asset!("src/playout-worklet.js", "text/javascript; charset=utf-8"),
    asset!("src/audio-worker.js", "text/javascript; charset=utf-8"),
    asset!("src/phase.js", "text/javascript; charset=utf-8"),
    asset!("src/style.css", "text/css; charset=utf-8"),
];

fn reply(asset: &'static Asset) -> warp::http::Response<&'static str> {
    warp::http::Response::builder()
        .header(CONTENT_TYPE, asset.mime)
        .header(CACHE_CONTROL, "no-cache")
        .body(asset.body)
        .unwrap_or_default()
}

pub fn routes() -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let index = warp::path::end().map(|| reply(&ASSETS[0]));
    let file = warp::path::full().and_then(|p: warp::path::FullPath| async move {
        let path = p.as_str().trim_start_matches('/');
        ASSETS
            .iter()
            .find(|a| a.path == path)
            .map(reply)
            .ok_or_else(warp::reject::not_found)
    });
    warp::get().and(index.or(file))
}
