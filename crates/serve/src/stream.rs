//! Row-by-row streaming over WebSocket (`GET /v2/models/NAME/stream`), the
//! recurrent state kept on the server between rows, as Triton's sequence
//! batcher keeps an RNN's.
//!
//! The client sends text messages `{"row": [v1, ..., vW]}`, one row of the
//! input (a picture row of `pixel / 255` values, or one time step); the
//! server answers each with `{"row": T, "probabilities": [...], "class": C,
//! "name": NAME, "probability": P}` — what the model believes after reading
//! rows `1..=T`. After a picture's last row the answer carries `"last": true`
//! and the next row starts a new input; `{"reset": true}` starts one at once.
//! A sequence model's inputs have no fixed length: each row is one time step
//! of its features, no answer is `"last"`, and `{"reset": true}` starts the
//! next sequence.
//! With `?stop_at=0.95` the answer whose probability reaches 0.95 carries
//! `"decided": true` and the server closes the stream (early stop). A
//! malformed message is answered `{"error": MESSAGE}` and the stream stays open.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use lstm_model::StepState;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{check_name, AppState};
use crate::batcher::{Answer, Work};
use crate::error::ApiError;

/// The largest message a stream takes, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// A stream closes after this long without a message.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of a stream, from the query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    /// Stop early once the most probable class reaches this probability.
    pub stop_at: Option<f32>,
}

/// One message from the client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    #[serde(default)]
    row: Option<Vec<f32>>,
    #[serde(default)]
    reset: bool,
}

/// Upgrades to a WebSocket after checking the name, the options and the stream limit.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(name): Path<String>,
    options: Result<Query<StreamOptions>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    check_name(&state, &name)?;
    let Query(options) = options.map_err(|e| ApiError::bad(format!("{e}: the only option is stop_at=PROBABILITY")))?;
    if let Some(why) = &state.info.not_streamable {
        return Err(ApiError::bad(why.clone()));
    }
    if options.stop_at.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        return Err(ApiError::bad("stop_at must be a probability in (0, 1]"));
    }
    if state.metrics.open_streams.get() >= state.max_streams as i64 {
        return Err(ApiError::TooManyStreams { limit: state.max_streams });
    }
    Ok(ws.max_message_size(MAX_MESSAGE_BYTES).on_upgrade(move |socket| run(socket, state, options)))
}

/// Serves one stream until the client closes it, it idles, it decides early or the server shuts down.
async fn run(mut socket: WebSocket, state: AppState, options: StreamOptions) {
    state.metrics.open_streams.inc();
    let mut shutdown = state.shutdown.clone();
    let mut reader = Reader { state: None, rows: 0 };
    loop {
        let message = tokio::select! {
            message = tokio::time::timeout(IDLE_TIMEOUT, socket.recv()) => message,
            () = stopped(&mut shutdown) => {
                close(&mut socket, "the server is shutting down").await;
                break;
            }
        };
        let text = match message {
            Err(_) => {
                close(&mut socket, "idle for too long").await;
                break;
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Binary(_)))) => {
                let _ = socket.send(error_message("send rows as text messages {\"row\": [...]}")).await;
                continue;
            }
            Ok(Some(Ok(_))) => continue,
        };
        let (reply, decided) = match reader.read(&state, &options, text.as_str()).await {
            Ok((reply, decided)) => (Message::Text(reply.to_string().into()), decided),
            Err(e) => (error_message(&e.to_string()), false),
        };
        if socket.send(reply).await.is_err() {
            break;
        }
        if decided {
            close(&mut socket, "decided").await;
            break;
        }
    }
    state.metrics.open_streams.dec();
}

/// Completes once the server shuts down (or its state is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

fn error_message(text: &str) -> Message {
    Message::Text(serde_json::json!({ "error": text }).to_string().into())
}

async fn close(socket: &mut WebSocket, reason: &'static str) {
    let frame = CloseFrame { code: axum::extract::ws::close_code::NORMAL, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// The server-side state of one stream.
struct Reader {
    /// The recurrent state after the rows read (`None` before the first).
    state: Option<StepState>,
    /// Rows read of the current input.
    rows: usize,
}

impl Reader {
    /// Handles one message: the answer, and whether the stream decided early.
    async fn read(&mut self, app: &AppState, options: &StreamOptions, text: &str) -> Result<(Value, bool), ApiError> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
            ApiError::bad(format!("not a stream message ({e}): send {{\"row\": [...]}} or {{\"reset\": true}}"))
        })?;
        if message.reset {
            (self.state, self.rows) = (None, 0);
            return Ok((serde_json::json!({ "reset": true }), false));
        }
        let Some(row) = message.row else {
            return Err(ApiError::bad("send {\"row\": [...]} or {\"reset\": true}"));
        };
        let columns = app.info.columns;
        if row.len() != columns || row.iter().any(|v| !v.is_finite()) {
            return Err(ApiError::bad(format!("a row is {columns} finite numbers; {} given", row.len())));
        }
        let answer = app.queue.run(Work::Step { state: self.state.take(), row }).await;
        let answer = answer.inspect_err(|_| self.rows = 0).map_err(|e| match e {
            ApiError::BadRequest(m) | ApiError::Inference(m) => {
                ApiError::Inference(format!("{m}; the input starts again"))
            }
            other => other,
        });
        let (state, probabilities) = match answer? {
            Answer::Stepped(state, probabilities) => (state, probabilities),
            Answer::Probabilities(_) => {
                return Err(ApiError::Inference("a stream step was answered as a batch".into()))
            }
        };
        self.rows += 1;
        let last = self.rows == app.info.rows;
        let row_number = self.rows;
        if last {
            (self.state, self.rows) = (None, 0);
        } else {
            self.state = Some(state);
        }
        let class = probabilities.iter().enumerate().fold(0, |b, (i, &p)| if p > probabilities[b] { i } else { b });
        let probability = probabilities[class];
        let decided = options.stop_at.is_some_and(|threshold| probability >= threshold);
        let mut reply = serde_json::json!({
            "row": row_number,
            "probabilities": probabilities,
            "class": class,
            "name": app.info.class_names[class],
            "probability": probability,
        });
        if last {
            reply["last"] = Value::Bool(true);
        }
        if decided {
            reply["decided"] = Value::Bool(true);
        }
        Ok((reply, decided))
    }
}
