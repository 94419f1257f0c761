//! File transfer's routes (state and rules in `crate::files`). JSON in and out; every error is
//! `{"error": CODE, "message": ...}`. Authenticated with `Authorization: Bearer` and either
//! the token a page got in its `files` signaling message (taken while `--files-for` allows
//! that member), or the owner's password or the API token (always taken; throttled per
//! address as the API is).
//!
//! | route | body | what |
//! |---|---|---|
//! | `GET /api/files` | | `{upload: {max_bytes} or null, download: [{name, size, modified_ms, version}] or null, block, who}` |
//! | `POST /api/files/uploads` | `{"name", "size"}` | starts an upload: 201 `{id, name, block}` |
//! | `PUT /api/files/uploads/ID/N` | block N's bytes | `{received}`; blocks go in order, each `block` bytes but the last |
//! | `POST /api/files/uploads/ID/done` | `{"hash"}` | keeps the file if its content hash matches: 201 `{name, size, hash}` |
//! | `DELETE /api/files/uploads/ID` | | cancels it |
//! | `GET /api/files/download?name=F&block=N&version=V` | | block N, with `Content-Digest` (RFC 9530); 412 when the file is no longer version V |
//! | `GET /api/files/download?name=F` | | the whole file, as an attachment |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde::Deserialize;
use warp::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::api::Access;
use super::control::error;
use super::front::ClientAddr;
use super::ws::Hub;
use crate::files::{FileError, Files, Principal, BLOCK};

/// Largest JSON body taken.
const MAX_JSON: u64 = 4096;

fn status(e: &FileError) -> StatusCode {
    match e {
        FileError::UploadsOff | FileError::DownloadsOff => StatusCode::NOT_FOUND,
        FileError::Forbidden(_) => StatusCode::FORBIDDEN,
        FileError::BadName(_) | FileError::BadBlock { .. } | FileError::BadHash => {
            StatusCode::BAD_REQUEST
        }
        FileError::TooBig { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        FileError::NoSpace { .. } => StatusCode::INSUFFICIENT_STORAGE,
        FileError::TooMany => StatusCode::TOO_MANY_REQUESTS,
        FileError::NoSuchUpload | FileError::NoSuchFile(_) => StatusCode::NOT_FOUND,
        FileError::OutOfOrder { .. } | FileError::Busy | FileError::Incomplete { .. } => {
            StatusCode::CONFLICT
        }
        FileError::Checksum { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        FileError::OutOfRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        FileError::Changed => StatusCode::PRECONDITION_FAILED,
        FileError::Io(_) | FileError::Setup(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The answer to a refused request; counted. A file system error is told without its
/// details (they name the host's paths): those go to the log.
fn failed(files: &Files, e: &FileError) -> warp::reply::Response {
    files.counters.refused.inc();
    if let FileError::Io(io) = e {
        tracing::warn!(error = %e, "file transfer failed");
        if io.raw_os_error() == Some(libc::ENOSPC) {
            let message = "the upload directory's disk is full";
            return error(StatusCode::INSUFFICIENT_STORAGE, "no-space", message);
        }
    }
    if matches!(e, FileError::Io(_) | FileError::Setup(_)) {
        let message = "a file system error on the host (its log has the details)";
        return error(status(e), e.code(), message);
    }
    error(status(e), e.code(), &e.to_string())
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> warp::reply::Response {
    warp::http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(serde_json::to_string(value).unwrap_or_default().into())
        .unwrap_or_default()
}

/// Who asks: a member by its page's token (while `--files-for` allows it), or a program with
/// a secret (`secrets`; `viewer`, the viewers' password, is refused). Otherwise the answer to
/// give.
fn principal(
    hub: &Hub,
    files: &Files,
    secrets: &[String],
    viewer: Option<&str>,
    client: Option<ClientAddr>,
    header: Option<&str>,
) -> Result<Principal, Box<warp::reply::Response>> {
    if let Some(peer) = super::api::bearer(header).and_then(|t| files.member(t)) {
        let room = hub.room.borrow();
        let member = room.members.iter().find(|m| m.peer == peer.0);
        let who = files.config.who;
        return match member {
            Some(m) if who.allows(m) => Ok(Principal::Member(peer)),
            _ => Err(Box::new(failed(
                files,
                &FileError::Forbidden(forbidden_words(who)),
            ))),
        };
    }
    // Not a member's: the owner's password or the API token, as the API takes them (a page's
    // token from an earlier connection is refused there, not taken as no token).
    let refused = match super::api::verdict(&hub.throttle, secrets, viewer, client, header) {
        Access::Full => return Ok(Principal::Api),
        // A viewer's page has its member token; the viewers' password itself opens no files.
        Access::Viewer => super::api::viewers_may_not("file transfers"),
        Access::Refused(v) => super::api::refused(v).into_response(),
    };
    files.counters.refused.inc();
    Err(Box::new(refused))
}

fn forbidden_words(who: crate::files::FilesFor) -> &'static str {
    match who {
        crate::files::FilesFor::Owners => "owners",
        crate::files::FilesFor::Control => "owners and the member in control",
        crate::files::FilesFor::Everyone => "members",
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    name: String,
    size: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoneBody {
    hash: String,
}

fn parse<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, Box<warp::reply::Response>> {
    serde_json::from_slice(b).map_err(|e| {
        let message = format!("the body is not the JSON this route takes: {e}");
        Box::new(error(StatusCode::BAD_REQUEST, "bad-request", &message))
    })
}

/// Runs `f` off the runtime's threads (file system work); a panic there is an I/O error.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(FileError::Io(std::io::Error::other(e))))
}

/// The listing and what this host takes.
async fn listing(files: Arc<Files>) -> warp::reply::Response {
    let upload = files
        .config
        .upload_dir
        .as_ref()
        .map(|_| serde_json::json!({ "max_bytes": files.config.max_upload }));
    let f = files.clone();
    let download = if files.config.download_dir.is_some() {
        match blocking(move || f.list()).await {
            Ok(l) => Some(l),
            Err(e) => return failed(&files, &e),
        }
    } else {
        None
    };
    let body = serde_json::json!({
        "upload": upload,
        "download": download,
        "block": BLOCK,
        "who": files.config.who.as_str(),
    });
    json(StatusCode::OK, &body)
}

async fn write_block(
    files: Arc<Files>,
    who: Principal,
    id: String,
    index: u64,
    bytes: hyper::body::Bytes,
) -> warp::reply::Response {
    let upload = match files.upload(who, &id) {
        Ok(u) => u,
        Err(e) => return failed(&files, &e),
    };
    let len = bytes.len() as u64;
    let written = blocking(move || {
        let mut u = upload.try_lock().map_err(|_| FileError::Busy)?;
        u.write_block(index, &bytes, Instant::now())
    })
    .await;
    match written {
        Ok(received) => {
            files.counters.upload_bytes.inc_by(len);
            json(StatusCode::OK, &serde_json::json!({ "received": received }))
        }
        Err(e) => {
            // A file system error ends the upload; a block out of place does not.
            if matches!(e, FileError::Io(_)) {
                files.end_upload(who, &id);
            }
            failed(&files, &e)
        }
    }
}

async fn finish(
    files: Arc<Files>,
    who: Principal,
    id: String,
    hash: String,
) -> warp::reply::Response {
    // An upload that misses bytes stays open for them, and one told something that is not a
    // hash for the right one.
    let complete = files.upload(who, &id).and_then(|u| match u.try_lock() {
        Ok(u) => u.check_complete(),
        Err(_) => Err(FileError::Busy),
    });
    let complete = complete.and_then(|()| crate::files::check_hash(&hash));
    if let Err(e) = complete {
        return failed(&files, &e);
    }
    let Some(upload) = files.end_upload(who, &id) else {
        return failed(&files, &FileError::NoSuchUpload);
    };
    let kept = blocking(move || {
        let upload = Arc::try_unwrap(upload).map_err(|_| FileError::Busy)?;
        upload
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .finish(&hash)
    })
    .await;
    match kept {
        Ok(f) => {
            files.counters.uploaded.inc();
            tracing::info!(name = %f.name, size = f.size, "file uploaded");
            json(StatusCode::CREATED, &f)
        }
        Err(e) => {
            if matches!(e, FileError::Checksum { .. }) {
                files.counters.checksum_mismatch.inc();
            }
            failed(&files, &e)
        }
    }
}

/// The answer to a block number that is not one ([`super::api::path_number`]): 400 `bad-block`, counted.
fn not_a_block(files: &Files, text: &str) -> warp::reply::Response {
    files.counters.refused.inc();
    let message = if text.is_empty() {
        "no block number: PUT each block to …/uploads/ID/N (0, 1, 2, ...)".to_owned()
    } else {
        format!("`{text}` is not a block number (0, 1, 2, ...)")
    };
    error(StatusCode::BAD_REQUEST, "bad-block", &message)
}

/// `attachment; filename="name"; filename*=UTF-8''name` (RFC 6266 §4.3: the plain ASCII
/// form for clients that do not read the encoded one, curl's `-J` among them; RFC 8187).
fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

async fn download(files: Arc<Files>, q: HashMap<String, String>) -> warp::reply::Response {
    let Some(name) = q.get("name").cloned() else {
        return error(StatusCode::BAD_REQUEST, "bad-request", "give ?name=");
    };
    let version = q.get("version").cloned();
    let index = match q.get("block") {
        None => None,
        Some(b) => match super::api::path_number(b) {
            Some(i) => Some(i),
            None => return not_a_block(&files, b),
        },
    };
    let f = files.clone();
    let (n, v) = (name.clone(), version.clone());
    let first = blocking(move || f.read_block(&n, index.unwrap_or(0), v.as_deref())).await;
    let block = match first {
        Ok(b) => b,
        Err(e) => return failed(&files, &e),
    };
    files.counters.download_blocks.inc();
    files
        .counters
        .download_bytes
        .inc_by(block.bytes.len() as u64);
    let etag = format!("\"{}\"", block.version);
    if index.is_some() {
        let digest = base64::engine::general_purpose::STANDARD.encode(block.sha256);
        return warp::http::Response::builder()
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(ETAG, etag)
            .header("content-digest", format!("sha-256=:{digest}:"))
            .body(block.bytes.into())
            .unwrap_or_default();
    }
    // The whole file: the first block, then the rest one at a time, each read when the
    // connection has taken the one before, all of the version first read.
    let (size, v) = (block.size, block.version.clone());
    let blocks = size.div_ceil(BLOCK);
    let rest = futures_util::stream::unfold(1u64, move |i| {
        let (files, name, v) = (files.clone(), name.clone(), v.clone());
        async move {
            if i >= blocks {
                return None;
            }
            let f = files.clone();
            let read = blocking(move || f.read_block(&name, i, Some(&v))).await;
            let item = read.map(|b| {
                files.counters.download_blocks.inc();
                files.counters.download_bytes.inc_by(b.bytes.len() as u64);
                hyper::body::Bytes::from(b.bytes)
            });
            // An error ends the body short: the client sees fewer bytes than Content-Length.
            Some((item.map_err(std::io::Error::other), i + 1))
        }
    });
    let first = futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(hyper::body::Bytes::from(block.bytes))
    });
    let body = futures_util::StreamExt::chain(first, rest);
    let mut answer = warp::reply::stream(body).into_response();
    let h = answer.headers_mut();
    h.insert(
        CONTENT_TYPE,
        "application/octet-stream".parse().expect("static"),
    );
    h.insert(CONTENT_LENGTH, size.into());
    if let Ok(v) = etag.parse() {
        h.insert(ETAG, v);
    }
    if let Ok(v) = attachment(&q.get("name").cloned().unwrap_or_default()).parse() {
        h.insert(CONTENT_DISPOSITION, v);
    }
    answer
}

/// Every file route; `secrets` are the owner's password and the API token, `viewer` the
/// viewers' password (refused with 403, not counted as a guess).
pub fn routes(
    hub: Arc<Hub>,
    secrets: Vec<String>,
    viewer: Option<String>,
    programs: bool,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let secrets = Arc::new(secrets);
    // (files, principal) or the answer to give.
    let who = warp::ext::optional::<ClientAddr>()
        .and(warp::header::optional::<String>("authorization"))
        .map(move |client: Option<ClientAddr>, h: Option<String>| {
            let Some(files) = hub.files.clone() else {
                return Err(Box::new(error(
                    StatusCode::NOT_FOUND,
                    "files-off",
                    "file transfer is off on this host (start glint with --upload-dir or --download-dir)",
                )));
            };
            match principal(&hub, &files, &secrets, viewer.as_deref(), client, h.as_deref()) {
                Ok(Principal::Api) if !programs => Err(Box::new(super::control::api_off())),
                r => r.map(|p| (files, p)),
            }
        });
    type Asked = Result<(Arc<Files>, Principal), Box<warp::reply::Response>>;
    let json_body = super::body::within(MAX_JSON);
    let list = warp::path!("api" / "files")
        .and(warp::get())
        .and(who.clone())
        .then(|w: Asked| async move {
            match w {
                Ok((files, _)) => listing(files).await,
                Err(r) => *r,
            }
        });
    let start = warp::path!("api" / "files" / "uploads")
        .and(warp::post())
        .and(who.clone())
        .and(json_body)
        .map(|w: Asked, b: hyper::body::Bytes| {
            let (files, p) = match w {
                Ok(x) => x,
                Err(r) => return *r,
            };
            let body: StartBody = match parse(&b) {
                Ok(s) => s,
                Err(r) => return *r,
            };
            match files.start_upload(p, &body.name, body.size) {
                Ok((id, name)) => json(
                    StatusCode::CREATED,
                    &serde_json::json!({ "id": id, "name": name, "block": BLOCK }),
                ),
                Err(e) => failed(&files, &e),
            }
        });
    // The block number is read here, not by the path: `…/abc` is a bad block, not a route
    // that does not take PUT (405).
    let put = warp::path!("api" / "files" / "uploads" / String / String)
        .and(warp::put())
        .and(who.clone())
        .and(super::body::within(BLOCK))
        .then(
            |id: String, index: String, w: Asked, b: hyper::body::Bytes| async move {
                let (files, p) = match w {
                    Ok(x) => x,
                    Err(r) => return *r,
                };
                match super::api::path_number(&index) {
                    Some(index) => write_block(files, p, id, index, b).await,
                    None => not_a_block(&files, &index),
                }
            },
        );
    // A PUT with no block number (`…/uploads/ID/` or `…/uploads/ID`) is a bad block too, not
    // a PUT to the upload's own route, which takes only DELETE (405).
    let put_unnumbered = warp::path!("api" / "files" / "uploads" / String)
        .and(warp::put())
        .and(who.clone())
        .map(|_id: String, w: Asked| match w {
            Ok((files, _)) => not_a_block(&files, ""),
            Err(r) => *r,
        });
    let done = warp::path!("api" / "files" / "uploads" / String / "done")
        .and(warp::post())
        .and(who.clone())
        .and(json_body)
        .then(|id: String, w: Asked, b: hyper::body::Bytes| async move {
            let (files, p) = match w {
                Ok(x) => x,
                Err(r) => return *r,
            };
            match parse::<DoneBody>(&b) {
                Ok(d) => finish(files, p, id, d.hash).await,
                Err(r) => *r,
            }
        });
    let cancel = warp::path!("api" / "files" / "uploads" / String)
        .and(warp::delete())
        .and(who.clone())
        .map(|id: String, w: Asked| match w {
            Ok((files, p)) => match files.end_upload(p, &id) {
                Some(_) => json(StatusCode::OK, &serde_json::json!({ "cancelled": id })),
                None => failed(&files, &FileError::NoSuchUpload),
            },
            Err(r) => *r,
        });
    let get = warp::path!("api" / "files" / "download")
        .and(warp::get())
        .and(who)
        .and(warp::query::<HashMap<String, String>>())
        .then(|w: Asked, q: HashMap<String, String>| async move {
            match w {
                Ok((files, _)) => download(files, q).await,
                Err(r) => *r,
            }
        });
    list.or(start)
        .unify()
        .or(put)
        .unify()
        .or(put_unnumbered)
        .unify()
        .or(done)
        .unify()
        .or(cancel)
        .unify()
        .or(get)
        .unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_encoded() {
        assert_eq!(
            attachment("a b\"é.txt"),
            "attachment; filename=\"a b__.txt\"; filename*=UTF-8''a%20b%22%C3%A9.txt"
        );
    }
}
