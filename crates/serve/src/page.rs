//! The draw-a-digit page at `/`: one HTML file with its script and style
//! inline, embedded in the binary (it loads nothing from anywhere else).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::api::AppState;

/// The page; `__MODEL_NAME__` is replaced with the served model's name (a JSON string).
const PAGE: &str = include_str!("../assets/index.html");

/// `GET /`: the page, naming the served model.
pub async fn index(State(state): State<AppState>) -> impl IntoResponse {
    let name = serde_json::Value::String(state.name.to_string()).to_string().replace('<', "\\u003c");
    let csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, csp)],
        PAGE.replace("__MODEL_NAME__", &name),
    )
}
