//! The routes and their handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::watch;

use crate::batcher::{Answer, Queue, Work};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{prepare_picture, Inputs, ModelInfo};
use crate::protocol;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The name the model is served under.
    pub name: Arc<str>,
    /// What the model takes and gives.
    pub info: Arc<ModelInfo>,
    /// The inference queue.
    pub queue: Arc<Queue>,
    /// The metrics.
    pub metrics: Metrics,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// The most streams open at once.
    pub max_streams: usize,
    /// Becomes `true` when the server shuts down (streams close).
    pub shutdown: watch::Receiver<bool>,
}

/// Every route, with the body limit, the request timeout and the metrics middleware.
pub fn router(state: AppState, request_timeout: std::time::Duration) -> Router {
    Router::new()
        .route("/", get(crate::page::index))
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/stream", get(crate::stream::upgrade))
        .route("/v1/classify", post(classify))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_announced_excess))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Counts every answer by endpoint and status and times it.
async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = request.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    state.metrics.requests.with_label_values(&[endpoint.as_str(), status.as_str()]).inc();
    state.metrics.request_seconds.with_label_values(&[endpoint.as_str()]).observe(started.elapsed().as_secs_f64());
    response
}

/// Answers 413 at once when the announced length passes the limit, without reading the body.
async fn refuse_announced_excess(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let announced = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > state.max_body_bytes as u64) {
        return ApiError::TooLarge { limit: state.max_body_bytes }.into_response();
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn server_metadata() -> Json<Value> {
    Json(serde_json::json!({ "name": "lstm-mnist", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

async fn live() -> StatusCode {
    StatusCode::OK
}

/// Ready while the queue takes work (not during shutdown).
async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.queue.is_closed() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// The served model's name, or 404 for another.
pub fn check_name(state: &AppState, asked: &str) -> Result<(), ApiError> {
    if asked == &*state.name {
        Ok(())
    } else {
        Err(ApiError::UnknownModel { asked: asked.to_owned(), served: state.name.to_string() })
    }
}

async fn model_metadata(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    check_name(&state, &name)?;
    Ok(Json(protocol::metadata(&state.name, &state.info)))
}

async fn model_ready(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    check_name(&state, &name)?;
    Ok(ready(State(state)).await)
}

/// The body, or 413 past the limit, 400 if it could not be read.
fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: state.max_body_bytes }
        } else {
            ApiError::bad(format!("the body could not be read: {e}"))
        }
    })
}

async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<protocol::InferResponse>, ApiError> {
    check_name(&state, &name)?;
    if headers.contains_key("inference-header-content-length") {
        return Err(ApiError::bad(
            "binary tensor data is not supported: send the request as JSON (tritonclient: binary_data=False)",
        ));
    }
    let raw = body(&state, raw)?;
    let request = protocol::parse_request(&raw)?;
    drop(raw);
    let inputs = protocol::input_values(&request, &state.info)?;
    let count = inputs.count;
    let wanted = protocol::requested_outputs(&request)?;
    let Answer::Probabilities(probabilities) = state.queue.run(Work::Classify(inputs)).await? else {
        return Err(ApiError::Inference("the inference thread answered a classification with a stream step".into()));
    };
    Ok(Json(protocol::InferResponse {
        model_name: state.name.to_string(),
        model_version: "1",
        id: request.id,
        outputs: protocol::outputs(&probabilities, count, &state.info, &wanted),
    }))
}

/// `POST /v1/classify`: a PNG or JPEG body, prepared as `predict` prepares
/// pictures (the model's size and invert policy, then its standardisation).
async fn classify(State(state): State<AppState>, raw: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let raw = body(&state, raw)?;
    let info = Arc::clone(&state.info);
    let (values, inverted) = tokio::task::spawn_blocking(move || prepare_picture(&raw, &info))
        .await
        .map_err(|e| ApiError::Inference(format!("picture preparation failed: {e}")))??;
    let work = Work::Classify(Inputs::dense(values, 1, state.info.rows));
    let Answer::Probabilities(probabilities) = state.queue.run(work).await? else {
        return Err(ApiError::Inference("the inference thread answered a classification with a stream step".into()));
    };
    let class = probabilities.iter().enumerate().fold(0, |b, (i, &p)| if p > probabilities[b] { i } else { b });
    Ok(Json(serde_json::json!({
        "class": class,
        "name": state.info.class_names[class],
        "probability": probabilities[class],
        "probabilities": probabilities,
        "inverted": inverted,
    })))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics.render().map_err(|e| ApiError::Inference(format!("metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], Body::from(text)).into_response())
}
