//! The web client, embedded in the binary so `glint` is one file to run.

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::Filter;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_str!("../../web-client/index.html"),
    },
    Asset {
        path: "src/app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/app.js"),
    },
    Asset {
        path: "src/input.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/input.js"),
    },
    Asset {
        path: "src/keymap.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/keymap.js"),
    },
    Asset {
        path: "src/overlay.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/overlay.js"),
    },
    Asset {
        path: "src/keybind.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/keybind.js"),
    },
    Asset {
        path: "src/echo.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/echo.js"),
    },
    Asset {
        path: "src/blockcode.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../web-client/src/blockcode.js"),
    },
    Asset {
        path: "src/style.css",
        mime: "text/css; charset=utf-8",
        body: include_str!("../../web-client/src/style.css"),
    },
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
