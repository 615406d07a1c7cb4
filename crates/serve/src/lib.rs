//! An HTTP inference server for lstm-model classifiers, on tokio and axum.
//!
//! - The Open Inference Protocol (KServe v2) in JSON: `GET /v2/health/live`,
//!   `/v2/health/ready`, `/v2/models/NAME` (metadata with the class names),
//!   `/v2/models/NAME/ready`, `POST /v2/models/NAME/infer` (input `images`
//!   `[N, H, W]` FP32 `pixel / 255` for a picture model; `sequences`
//!   `[N, T, F]` FP32 with optional `lengths` `[N]` INT64/INT32 for a
//!   sequence model; outputs `probabilities`, `class`, `class_name`), so
//!   existing clients (`tritonclient[http]`) work;
//! - `POST /v1/classify`: a PNG or JPEG body, prepared as `predict` prepares pictures;
//! - the model is loaded and its input prepared by `inference::Predictor`,
//!   as `lstm-mnist predict` does (standardisation, invert policy, precision);
//! - dynamic batching on one inference thread (libtorch blocks; it never runs
//!   on the async executor): [`ServeConfig::max_batch_size`],
//!   [`ServeConfig::max_queue_delay`], a bounded queue (429 when full), a body
//!   limit (413), a request timeout (408), 400 naming what is malformed;
//! - `GET /v2/models/NAME/stream`: a WebSocket taking rows one at a time and
//!   answering the class probabilities after each, the recurrent state kept
//!   on the server (see [`stream`]);
//! - `GET /metrics` in the Prometheus text format;
//! - `GET /`: a page to draw a digit on, classified row by row (assets in the binary).
//!
//! The caller owns signals: [`serve`] stops accepting connections when the
//! `shutdown` future completes, finishes the requests in flight and the
//! queued work, and returns.
//!
//! ```no_run
//! let model = serve::ServedModel::open("runs/seed".as_ref(), lstm_model::Precision::Fp32)?;
//! let config = serve::ServeConfig { name: serve::default_name("runs/seed".as_ref()), ..Default::default() };
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     let server = serve::Server::bind(config, model).await?;
//!     println!("listening on http://{}", server.local_addr());
//!     server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! })?;
//! # Ok::<(), serve::ServeError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod api;
mod batcher;
mod error;
mod listen;
mod metrics;
mod model;
mod page;
pub mod protocol;
pub mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ApiError, ServeError};
pub use model::{default_name, find_model_dir, prepare_picture, Inputs, ModelInfo, ServedModel, MAX_PICTURE_SIDE};

/// How the server listens, batches and limits requests.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen (default `127.0.0.1:8080`; port 0 takes a free port).
    pub addr: SocketAddr,
    /// The model's name in the URLs (default `model`; the bin uses the run folder's name).
    pub name: String,
    /// Most inputs per batch (default 32; 1 turns batching off).
    pub max_batch_size: usize,
    /// Longest wait for more requests after the first of a batch arrived (default 2 ms).
    pub max_queue_delay: Duration,
    /// Requests waiting before new ones are answered 429 (default 256).
    pub queue_capacity: usize,
    /// Largest request body in bytes (default 8 MiB); larger ones are answered 413.
    pub max_body_bytes: usize,
    /// Longest time to receive and answer one request once its headers are
    /// in (default 30 s); then 408.
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers, and the
    /// longest idle time of a kept-alive connection (default 10 s); then the
    /// connection is closed (a slowloris client is cut off).
    pub header_timeout: Duration,
    /// Most connections served at once (default 1024); more wait to be accepted.
    pub max_connections: usize,
    /// Longest wait, after the shutdown signal, for requests in flight (default 30 s).
    pub drain_timeout: Duration,
    /// Most streams open at once (default 64).
    pub max_streams: usize,
    /// libtorch's intra-op threads for the model (default 1), set by the
    /// inference thread when it starts (libtorch's setting is process-wide).
    /// One keeps a forward pass from waiting for a second OpenMP thread while
    /// the HTTP side uses the other cores: on the loaded 2-core machine two
    /// threads made a batch 10-500x slower and its time erratic (docs/serve.md).
    pub threads: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            name: "model".into(),
            max_batch_size: 32,
            max_queue_delay: Duration::from_millis(2),
            queue_capacity: 256,
            max_body_bytes: 8 << 20,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(30),
            max_streams: 64,
            threads: 1,
        }
    }
}

impl ServeConfig {
    /// Checks that every setting can work.
    pub fn validate(&self) -> Result<(), ServeError> {
        let invalid =
            |key: &str, value: usize, hint: &str| Err(config_error::InvalidConfig::new(key, value, hint).into());
        if self.max_batch_size == 0 || self.max_batch_size > protocol::MAX_INPUTS_PER_REQUEST {
            return invalid("--max-batch-size", self.max_batch_size, "use 1 (no batching) to 1024");
        }
        if self.header_timeout.is_zero() {
            return invalid("--header-timeout-s", 0, "use at least 1 second");
        }
        if self.threads == 0 {
            return invalid("--threads", 0, "use at least 1");
        }
        if self.max_connections == 0 {
            return invalid("connection limit", 0, "use at least 1");
        }
        if self.queue_capacity == 0 {
            return invalid("queue capacity", 0, "use at least 1");
        }
        if self.max_body_bytes < 1024 {
            return invalid("body limit", self.max_body_bytes, "use at least 1024 bytes");
        }
        if self.name.is_empty() || self.name.contains(['/', '?', '#', '%']) {
            let hint = "a model name is a non-empty URL path segment: no '/', '?', '#' or '%'";
            return Err(config_error::InvalidConfig::new("--name", format!("{:?}", self.name), hint).into());
        }
        Ok(())
    }
}

/// A server bound to its address, not yet serving.
#[derive(Debug)]
pub struct Server {
    config: ServeConfig,
    model: ServedModel,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Checks the config and listens on `config.addr`.
    pub async fn bind(config: ServeConfig, model: ServedModel) -> Result<Self, ServeError> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind { addr: config.addr, source })?;
        Ok(Self { config, model, listener })
    }

    /// The address listened on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.addr)
    }

    /// Serves until `shutdown` completes; then stops accepting, finishes the
    /// requests in flight (at most [`ServeConfig::drain_timeout`]) and the
    /// queued work, closes the streams, and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let Self { config, model, listener } = self;
        let metrics = metrics::Metrics::new(config.max_batch_size)?;
        let info = Arc::new(model.info().clone());
        let settings = batcher::BatchSettings {
            max_batch_size: config.max_batch_size,
            max_queue_delay: config.max_queue_delay,
            queue_capacity: config.queue_capacity,
            threads: config.threads,
        };
        let (queue, thread) = batcher::start(model, settings, metrics.clone())?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let state = api::AppState {
            name: config.name.as_str().into(),
            info,
            queue: queue.clone(),
            metrics,
            max_body_bytes: config.max_body_bytes,
            max_streams: config.max_streams,
            shutdown: stopped,
        };
        let app = api::router(state, config.request_timeout);
        let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing the requests in flight");
            let _ = signalled.send(true);
            let _ = stop.send(true);
        };
        let limits = listen::Limits { header_timeout: config.header_timeout, max_connections: config.max_connections };
        let server = listen::serve(listener, app, limits, signal);
        tokio::pin!(server);
        let drained = tokio::select! {
            () = &mut server => Some(()),
            _ = async {
                stream::stopped(&mut on_signal).await;
                tokio::time::sleep(config.drain_timeout).await;
            } => None,
        };
        if drained.is_none() {
            tracing::warn!(
                seconds = config.drain_timeout.as_secs(),
                "requests still in flight after the drain timeout; stopping anyway"
            );
        }
        tokio::task::spawn_blocking(move || queue.close_and_drain(thread)).await.map_err(std::io::Error::other)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// [`Server::bind`] then [`Server::run`] on a runtime of its own, blocking
/// until the server stops; `ready` is called with the address once listening.
pub fn serve_blocking<F, Fut>(
    config: ServeConfig,
    model: ServedModel,
    ready: impl FnOnce(SocketAddr),
    shutdown: F,
) -> Result<(), ServeError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let server = Server::bind(config, model).await?;
        ready(server.local_addr());
        server.run(shutdown()).await
    })
}
