//! The only module that knows the web framework (warp): the page, signaling over WebSocket,
//! the read-only API, health. TLS and WHIP/WHEP land here and nowhere else.
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /src/*` | the web client ([`assets`]) |
//! | `GET /ws` (upgrade) | signaling ([`ws`], state machine in `crate::signal`) |
//! | `GET /api/stats`, `GET /metrics` | figures ([`api`]) |
//! | `GET /healthz` | the process serves: `ok` |
//! | `GET /readyz` | it can take a viewer now: `ready`, or 503 with why not |

pub mod api;
pub mod assets;
pub mod ws;

use std::sync::Arc;

use warp::http::StatusCode;
use warp::Filter;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::stats::Stats;

/// Everything the routes serve from.
pub struct Served {
    pub hub: Arc<ws::Hub>,
    pub stats: Arc<Stats>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub password: Option<String>,
    /// Serve the page from this `web-client/` directory instead of the embedded copy.
    pub web_dir: Option<std::path::PathBuf>,
}

/// Every route.
pub fn routes(
    s: Served,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let hub = s.hub;
    let signaling =
        warp::path("ws")
            .and(warp::path::end())
            .and(warp::ws())
            .map(move |ws: warp::ws::Ws| {
                let hub = hub.clone();
                ws.max_message_size(ws::MAX_MESSAGE)
                    .on_upgrade(move |socket| ws::connection(socket, hub))
            });
    let health = warp::path("healthz").and(warp::path::end()).map(|| "ok");
    let h = s.health;
    let ready = warp::path("readyz")
        .and(warp::path::end())
        .map(move || match h.ready() {
            Ok(()) => warp::reply::with_status("ready".to_owned(), StatusCode::OK),
            Err(why) => warp::reply::with_status(
                format!("not ready: {why}"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        });
    signaling
        .or(health)
        .or(ready)
        .or(api::routes(s.stats, s.metrics, s.password))
        .or(assets::routes(s.web_dir))
}

/// Serves every route on `listener` until `stop` resolves; requests under way finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    served: Served,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(served))
        .incoming(listener)
        .graceful(stop)
        .run()
        .await
}
