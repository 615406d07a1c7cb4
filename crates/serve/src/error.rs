//! What can go wrong: starting the server ([`ServeError`]) and answering one
//! request ([`ApiError`], an HTTP status and a message saying what is wrong).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The path given is neither a model folder nor a run folder holding one.
    #[error(
        "{}: no saved model here: pass --model a run folder (holding model/model.json) or a model folder (holding model.json)",
        .0.display()
    )]
    NoModel(PathBuf),
    /// The model could not be loaded (see `inference::Predictor::open`).
    #[error(transparent)]
    Inference(#[from] inference::InferenceError),
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}; pick another --addr (port 0 takes a free one)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The async runtime, the inference thread or the listener failed.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The metrics registry refused a metric (a bug: the names are fixed).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl ServeError {
    /// Whether the error is in how the server was called or configured (exit
    /// status 2 in the bin) rather than in a file, the model or the system (1).
    pub fn is_config(&self) -> bool {
        match self {
            ServeError::NoModel(_) | ServeError::InvalidConfig(_) | ServeError::Bind { .. } => true,
            ServeError::Inference(e) => e.is_config(),
            ServeError::Io(_) | ServeError::Metrics(_) => false,
        }
    }
}

/// Why one request failed: answered with its status and a JSON body
/// `{"error": MESSAGE}` (the Open Inference Protocol's error shape).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400); the message names what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// No model of this name is served (404).
    #[error("no model `{asked}` here: this server serves `{served}` (GET /v2/models/{served})")]
    UnknownModel {
        /// The name in the URL.
        asked: String,
        /// The name of the served model.
        served: String,
    },
    /// No route here (404).
    #[error("no such endpoint: see GET /v2/models/NAME, POST /v2/models/NAME/infer, POST /v1/classify, GET /metrics")]
    NotFound,
    /// Too many streams are open (429).
    #[error("{limit} streams are open, the most this server keeps: retry later")]
    TooManyStreams {
        /// The most streams open at once.
        limit: usize,
    },
    /// The body is larger than the limit (413).
    #[error("request body larger than {limit} bytes: send fewer images per request")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The queue is full (429): the client should retry later.
    #[error("the inference queue is full ({capacity} requests waiting): retry later or send fewer requests at once")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The server is shutting down (503).
    #[error("the server is shutting down and takes no new work")]
    ShuttingDown,
    /// The model failed on a well-formed request (500).
    #[error("inference failed: {0}")]
    Inference(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownModel { .. } | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooManyStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Inference(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A [`BadRequest`](Self::BadRequest) with this message.
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}
