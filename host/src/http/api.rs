//! Read-only HTTP API: `GET /api/stats` (JSON) and `GET /metrics` (Prometheus text format).
//!
//! When Glint has a password these need it too, as `?password=` or `Authorization: Bearer`,
//! since they name peers and their figures.

use std::collections::HashMap;
use std::sync::Arc;

use warp::http::header::CONTENT_TYPE;
use warp::http::StatusCode;
use warp::Filter;

use crate::metrics::Metrics;
use crate::signal::constant_time_eq;
use crate::stats::Stats;

const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn authorised(
    password: Option<&str>,
    query: &HashMap<String, String>,
    header: Option<&str>,
) -> bool {
    let Some(want) = password else {
        return true;
    };
    let given = query
        .get("password")
        .map(String::as_str)
        .or_else(|| header.and_then(|h| h.strip_prefix("Bearer ")));
    given.is_some_and(|g| constant_time_eq(want.as_bytes(), g.as_bytes()))
}

fn refused() -> warp::http::Response<String> {
    warp::http::Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"error":"unauthorized","message":"give the password as ?password= or a Bearer token"}"#.to_owned())
        .unwrap_or_default()
}

pub fn routes(
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    password: Option<String>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let password = Arc::new(password);
    let for_json = metrics.clone();
    let auth = warp::query::<HashMap<String, String>>()
        .or(warp::any().map(HashMap::new))
        .unify()
        .and(warp::header::optional::<String>("authorization"))
        .map(move |q: HashMap<String, String>, h: Option<String>| {
            authorised(password.as_deref(), &q, h.as_deref())
        });
    let json = warp::path!("api" / "stats")
        .and(auth.clone())
        .map(move |ok: bool| {
            if !ok {
                return refused();
            }
            let body = serde_json::to_string(&stats.snapshot(&for_json))
                .unwrap_or_else(|e| format!(r#"{{"error":"internal","message":"{e}"}}"#));
            warp::http::Response::builder()
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .unwrap_or_default()
        });
    let metrics = warp::path!("metrics").and(auth).map(move |ok: bool| {
        if !ok {
            return refused();
        }
        match metrics.encode() {
            Ok(text) => warp::http::Response::builder()
                .header(CONTENT_TYPE, METRICS_TYPE)
                .body(text)
                .unwrap_or_default(),
            Err(_) => warp::http::Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body("cannot encode metrics".to_owned())
                .unwrap_or_default(),
        }
    });
    warp::get().and(json.or(metrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_checked_when_there_is_one() {
        let none = HashMap::new();
        let q = HashMap::from([("password".to_owned(), "s3cret".to_owned())]);
        assert!(authorised(None, &none, None));
        assert!(!authorised(Some("s3cret"), &none, None));
        assert!(authorised(Some("s3cret"), &q, None));
        assert!(authorised(Some("s3cret"), &none, Some("Bearer s3cret")));
        assert!(!authorised(Some("s3cret"), &none, Some("Bearer nope")));
        assert!(!authorised(Some("s3cret"), &none, Some("s3cret")));
    }
}
