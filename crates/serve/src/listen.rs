//! The accept loop: HTTP/1.1 connections served by hyper with a header-read
//! timeout and a connection limit, and a graceful stop.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout is off there
//! and a client that sends its headers a byte at a time (a slowloris) holds
//! its connection for as long as it likes. Here every connection has
//! [`Limits::header_timeout`] to send a request's headers — the first and,
//! on a kept-alive connection, each next one (an idle kept-alive connection
//! is closed after as long) — and hyper's header buffer caps what one
//! connection may send before its headers end (a larger head is refused
//! with 431), so a slow or endless header costs a bounded buffer for a
//! bounded time. At most [`Limits::max_connections`] connections are served
//! at once; further ones wait in the listen backlog.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long a client may take and how many may be connected.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest time to send a request's headers (and longest idle time of a
    /// kept-alive connection); then the connection is closed.
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, lets each connection finish the request it is on (idle ones
/// close at once), and returns when every connection has ended.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let (stop, stopping) = watch::channel(false);
    let (open, all_closed) = watch::channel(());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &permits) => accepted,
        };
        let Some((stream, permit)) = accepted else { continue };
        let connection = Connection { app: app.clone(), limits, stopping: stopping.clone(), open: all_closed.clone() };
        tokio::spawn(async move {
            connection.run(stream).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(all_closed);
    // Completes once every connection task has dropped its receiver.
    open.closed().await;
}

/// The next connection once a permit is free; `None` after an accept error
/// (logged; a full file table is waited out briefly instead of spinning).
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    let permit = Arc::clone(permits).acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, _)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, permit))
        }
        Err(e) => {
            tracing::warn!("accepting a connection failed: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// One accepted connection.
struct Connection {
    app: Router,
    limits: Limits,
    stopping: watch::Receiver<bool>,
    /// Held while the connection lives (the accept loop waits for all to drop).
    open: watch::Receiver<()>,
}

impl Connection {
    async fn run(mut self, stream: tokio::net::TcpStream) {
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.limits.header_timeout);
        let service = TowerToHyperService::new(self.app);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);
        let mut told = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                    break;
                }
                changed = self.stopping.changed(), if !told => {
                    if changed.is_err() || *self.stopping.borrow() {
                        connection.as_mut().graceful_shutdown();
                        told = true;
                    }
                }
            }
        }
        drop(self.open);
    }
}
