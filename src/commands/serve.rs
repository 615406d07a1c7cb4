//! `lstm-mnist serve`: the command line of the `serve` crate's HTTP server.
//! The model is opened by `inference::Predictor` (through
//! `serve::ServedModel`) in the precision `predict` would use; this file
//! owns the signals (the library takes a shutdown future).

use std::path::PathBuf;
use std::time::Duration;

use tch::Device;

use crate::Failure;

/// Arguments of `lstm-mnist serve` (the server itself is the `serve` crate).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The run folder (holding model/) or the model folder itself.
    #[arg(long, short)]
    pub model: PathBuf,
    /// The model's name in the URLs. Default: the run folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Address to listen on (port 0 takes a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Most inputs per batch; 1 turns dynamic batching off.
    #[arg(long, default_value_t = 32)]
    pub max_batch_size: usize,
    /// Longest wait (milliseconds) for more requests after the first of a batch arrived.
    #[arg(long, default_value_t = 2)]
    pub max_queue_delay_ms: u64,
    /// Compute precision: fp32, bf16 or auto (the faster of the two, measured).
    /// Default: the run's eval.precision, else its train.precision, else fp32 (as `predict`).
    #[arg(long, value_name = "PRECISION", value_parser = super::predict::parse_precision)]
    pub precision: Option<lstm_model::Precision>,
    /// Longest time (seconds) a client may take to send a request's headers,
    /// and the longest idle time of a kept-alive connection; a slower client
    /// (a slowloris) is disconnected.
    #[arg(long, default_value_t = 10)]
    pub header_timeout_s: u64,
    /// libtorch threads for the model's forward passes. One leaves the other
    /// cores to the HTTP side; batching gives the throughput.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Runs the server until SIGINT or SIGTERM, then drains it (exit 0).
pub fn run(args: &ServeArgs) -> Result<(), Failure> {
    let config = serve::ServeConfig {
        addr: args.addr,
        name: args.name.clone().unwrap_or_else(|| serve::default_name(&args.model)),
        max_batch_size: args.max_batch_size,
        max_queue_delay: Duration::from_millis(args.max_queue_delay_ms),
        header_timeout: Duration::from_secs(args.header_timeout_s),
        threads: args.threads,
        ..Default::default()
    };
    config.validate()?;
    if serve::find_model_dir(&args.model).is_none() {
        return Err(serve::ServeError::NoModel(args.model.clone()).into());
    }
    let precision = crate::precision::model_precision(&args.model, args.precision, Device::Cpu)?;
    let model = serve::ServedModel::open(&args.model, precision)?;
    let name = config.name.clone();
    let ready = |addr| eprintln!("serving model `{name}` on http://{addr}/ (Ctrl-C or SIGTERM stops)");
    serve::serve_blocking(config, model, ready, shutdown_signal)?;
    Ok(())
}

/// Completes at the first SIGINT or SIGTERM; a second one ends the process at once (status 130).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => drop(signal.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tokio::spawn(async {
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
}
