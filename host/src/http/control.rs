//! The room's HTTP API, for other programs (a booking site, a classroom tool, a bot): list the
//! members, give or revoke control, change a role, remove a member, save or load a game's
//! state, and follow the session as Server-Sent Events. JSON in and out; every error is
//! `{"error": CODE, "message": ...}` with a fitting status.
//!
//! Authenticated like the figures ([`super::api`]): `Authorization: Bearer` with the owner's
//! password or the `--api-token`, through the same per-address throttle; open on a loopback
//! listen with neither. The requests go to the room in the input thread
//! (`crate::input::roles::ApiRequest`), which answers with the room as it is after.
//!
//! | route | body | what |
//! |---|---|---|
//! | `GET /api/members` | | the room: `{members, seats, implicit}` |
//! | `POST /api/control` | `{"peer": N}` | give control to member N (the controller's seat on a desktop) |
//! | `DELETE /api/control` | | nobody has control |
//! | `PUT /api/members/N/role` | `{"role": "owner"\|"viewer"}` | change N's role |
//! | `DELETE /api/members/N` | | remove N (its page is told and does not come back by itself) |
//! | `POST /api/game/save`, `POST /api/game/load` | | a game's state: `{"message"}` |
//! | `GET /api/events` | | `text/event-stream`: `members` (the room) now and at each change; `ended` or `draining` at the end |

use std::convert::Infallible;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::oneshot;
use warp::http::header::CONTENT_TYPE;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::api::Access;
use super::ws::{game_request, try_send_patiently, Hub};
use crate::input::roles::{ApiRequest, Refusal, Role, RoomView};
use crate::input::InputMsg;
use crate::peer::PeerId;
use crate::signal::{GameError, GameRequest, Shutdown};

/// Largest request body taken (the bodies are a few dozen bytes).
const MAX_BODY: u64 = 4096;

/// A JSON answer.
fn json(status: StatusCode, body: String) -> warp::reply::Response {
    warp::http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap_or_default()
}

/// An error answer: `{"error": code, "message": message}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> warp::reply::Response {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    json(status, body)
}

/// The answer of every API route under `--no-api`.
pub fn api_off() -> warp::reply::Response {
    error(
        StatusCode::NOT_FOUND,
        "api-off",
        "the API is off on this host (--no-api)",
    )
}

/// The status and code of a refusal.
fn refusal(r: &Refusal) -> (StatusCode, &'static str) {
    match r {
        Refusal::NoSuchMember(_) | Refusal::Held(..) => (StatusCode::NOT_FOUND, "no-such-member"),
        Refusal::TargetInControl(_) | Refusal::NoSeat(_) => (StatusCode::CONFLICT, "conflict"),
        _ => (StatusCode::FORBIDDEN, "forbidden"),
    }
}

/// Asks the room; answers with the room as it is after, or why not.
async fn ask(hub: &Hub, request: ApiRequest) -> warp::reply::Response {
    let (reply, answer) = oneshot::channel();
    if try_send_patiently(&hub.input, InputMsg::Api { request, reply })
        .await
        .is_err()
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "host busy, try again",
        );
    }
    match answer.await {
        Ok(Ok(view)) => json(
            StatusCode::OK,
            serde_json::to_string(&view).unwrap_or_default(),
        ),
        Ok(Err(r)) => {
            let (status, code) = refusal(&r);
            error(status, code, &r.to_string())
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the host is stopping",
        ),
    }
}

/// A JSON body of type `T`, or why not (for a 400 answer, [`bad_body`]).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn bad_body(why: String) -> warp::reply::Response {
    let message = format!("the body is not the JSON this route takes: {why}");
    error(StatusCode::BAD_REQUEST, "bad-request", &message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GiveBody {
    peer: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

/// One event of the stream.
fn sse_event(name: &str, data: String) -> Result<warp::sse::Event, Infallible> {
    Ok(warp::sse::Event::default().event(name).data(data))
}

/// The event stream: the room now and at each change, then the end of the session.
fn events(hub: &Hub) -> warp::reply::Response {
    let room = hub.room.clone();
    let shutdown = hub.shutdown.clone();
    // (room, shutdown, whether the first event went, whether the end went)
    let stream = futures_util::stream::unfold(
        (room, shutdown, false, false),
        |(mut room, mut shutdown, started, ended)| async move {
            if ended {
                return None;
            }
            let members = |r: &tokio::sync::watch::Receiver<RoomView>| {
                sse_event(
                    "members",
                    serde_json::to_string(&*r.borrow()).unwrap_or_default(),
                )
            };
            if !started {
                room.mark_unchanged();
                let first = members(&room);
                return Some((first, (room, shutdown, true, false)));
            }
            let end = |why: Shutdown| match why {
                Shutdown::Ended(m) => {
                    sse_event("ended", serde_json::json!({ "message": m }).to_string())
                }
                Shutdown::Draining(m) => {
                    sse_event("draining", serde_json::json!({ "message": m }).to_string())
                }
            };
            let now = shutdown.borrow_and_update().clone();
            if let Some(why) = now {
                return Some((end(why), (room, shutdown, true, true)));
            }
            tokio::select! {
                changed = room.changed() => match changed {
                    Ok(()) => {
                        let e = members(&room);
                        Some((e, (room, shutdown, true, false)))
                    }
                    Err(_) => None, // the input thread is gone: glint stops
                },
                changed = shutdown.changed() => {
                    let why = shutdown.borrow_and_update().clone();
                    match (changed, why) {
                        (Ok(()), Some(why)) => Some((end(why), (room, shutdown, true, true))),
                        (Ok(()), None) => Some((members(&room), (room, shutdown, true, false))),
                        (Err(_), _) => None,
                    }
                }
            }
        },
    );
    warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response()
}

/// Every route of the control API; `auth` is the verdict on the request's bearer token.
pub fn routes(
    hub: Arc<Hub>,
    auth: impl Filter<Extract = (Access,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    on: bool,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let with_hub = move || {
        let hub = hub.clone();
        warp::any().map(move || hub.clone())
    };
    let refused = move |a: Access| -> Option<warp::reply::Response> {
        match a {
            _ if !on => Some(api_off()),
            Access::Full => None,
            Access::Viewer => Some(super::api::viewers_may_not("the control API")),
            Access::Refused(v) => Some(super::api::refused(v).into_response()),
        }
    };
    let bytes = super::body::within(MAX_BODY);
    let list = warp::path!("api" / "members")
        .and(warp::get())
        .and(auth.clone())
        .and(with_hub())
        .then(move |v, hub: Arc<Hub>| async move {
            match refused(v) {
                Some(r) => r,
                None => ask(&hub, ApiRequest::List).await,
            }
        });
    let give = warp::path!("api" / "control")
        .and(warp::post())
        .and(auth.clone())
        .and(with_hub())
        .and(bytes)
        .then(move |v, hub: Arc<Hub>, b: hyper::body::Bytes| async move {
            if let Some(r) = refused(v) {
                return r;
            }
            match body::<GiveBody>(&b) {
                Ok(g) => ask(&hub, ApiRequest::Give(PeerId(g.peer))).await,
                Err(why) => bad_body(why),
            }
        });
    let revoke = warp::path!("api" / "control")
        .and(warp::delete())
        .and(auth.clone())
        .and(with_hub())
        .then(move |v, hub: Arc<Hub>| async move {
            match refused(v) {
                Some(r) => r,
                None => ask(&hub, ApiRequest::Revoke).await,
            }
        });
    // A member id is a number as the API writes it (`2`, not `+2` or `02`): anything else
    // names no member (404, not the 405 of a route that does not match).
    let member = |id: &str| super::api::path_number(id).map(PeerId);
    let no_member = || {
        error(
            StatusCode::NOT_FOUND,
            "no-such-member",
            "a member is named by its number (`peer` in GET /api/members)",
        )
    };
    let role = warp::path!("api" / "members" / String / "role")
        .and(warp::put())
        .and(auth.clone())
        .and(with_hub())
        .and(bytes)
        .then(
            move |id: String, v, hub: Arc<Hub>, b: hyper::body::Bytes| async move {
                if let Some(r) = refused(v) {
                    return r;
                }
                let Some(peer) = member(&id) else {
                    return no_member();
                };
                match body::<RoleBody>(&b) {
                    Ok(r) => ask(&hub, ApiRequest::SetRole(peer, r.role)).await,
                    Err(why) => bad_body(why),
                }
            },
        );
    let kick = warp::path!("api" / "members" / String)
        .and(warp::delete())
        .and(auth.clone())
        .and(with_hub())
        .then(move |id: String, v, hub: Arc<Hub>| async move {
            if let Some(r) = refused(v) {
                return r;
            }
            match member(&id) {
                // A member let go while held: the input thread frees its place among
                // --max-peers (`PublishedRoom::on_let_go`).
                Some(peer) => ask(&hub, ApiRequest::Kick(peer)).await,
                None => no_member(),
            }
        });
    let game = warp::path!("api" / "game" / String)
        .and(warp::post())
        .and(auth.clone())
        .and(with_hub())
        .then(move |what: String, v, hub: Arc<Hub>| async move {
            if let Some(r) = refused(v) {
                return r;
            }
            let request = match what.as_str() {
                "save" => GameRequest::Save,
                "load" => GameRequest::Load,
                _ => {
                    return error(
                        StatusCode::NOT_FOUND,
                        "not-found",
                        "POST /api/game/save or /api/game/load",
                    )
                }
            };
            if hub.game.is_none() {
                return error(
                    StatusCode::CONFLICT,
                    "not-a-game",
                    "this host is not running a game",
                );
            }
            match game_request(hub.game.as_ref(), request).await {
                Ok(message) => json(
                    StatusCode::OK,
                    serde_json::json!({ "message": message }).to_string(),
                ),
                Err(GameError::Busy) => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the game is busy, try again",
                ),
                Err(GameError::Failed(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, "state", &m),
            }
        });
    let stream = warp::path!("api" / "events")
        .and(warp::get())
        .and(auth)
        .and(with_hub())
        .map(move |v, hub: Arc<Hub>| match refused(v) {
            Some(r) => r,
            None => events(&hub),
        });
    list.or(give)
        .unify()
        .or(revoke)
        .unify()
        .or(role)
        .unify()
        .or(kick)
        .unify()
        .or(game)
        .unify()
        .or(stream)
        .unify()
}
