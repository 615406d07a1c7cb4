//! The server's Prometheus metrics (`GET /metrics`, text format 0.0.4).

use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

/// Every metric the server keeps, in its own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by endpoint (the route's pattern) and status code.
    pub requests: IntCounterVec,
    /// Seconds from receiving a request to answering it, by endpoint.
    pub request_seconds: HistogramVec,
    /// Seconds a job waited in the queue before its batch started.
    pub queue_seconds: Histogram,
    /// Seconds of model computation per batch.
    pub compute_seconds: Histogram,
    /// Inputs per batch.
    pub batch_size: Histogram,
    /// Jobs waiting in the queue now.
    pub queue_depth: IntGauge,
    /// Streams (WebSocket connections) open now.
    pub open_streams: IntGauge,
}

/// Latency buckets from 100 µs to 10 s.
const SECONDS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl Metrics {
    /// Registers every metric; batch-size buckets are the powers of two up to `max_batch_size`.
    pub fn new(max_batch_size: usize) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("lstm_serve_requests_total", "Requests answered, by endpoint and HTTP status"),
            &["endpoint", "status"],
        )?;
        let seconds = |name: &str, help: &str| HistogramOpts::new(name, help).buckets(SECONDS.to_vec());
        let request_seconds = HistogramVec::new(
            seconds("lstm_serve_request_duration_seconds", "Time from receiving a request to answering it"),
            &["endpoint"],
        )?;
        let queue_seconds =
            Histogram::with_opts(seconds("lstm_serve_queue_duration_seconds", "Time a job waited in the queue"))?;
        let compute_seconds =
            Histogram::with_opts(seconds("lstm_serve_compute_duration_seconds", "Model computation time per batch"))?;
        let mut sizes: Vec<f64> = std::iter::successors(Some(1usize), |s| s.checked_mul(2))
            .take_while(|&s| s < max_batch_size)
            .map(|s| s as f64)
            .collect();
        sizes.push(max_batch_size.max(1) as f64);
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("lstm_serve_batch_size", "Inputs per batch run by the model").buckets(sizes),
        )?;
        let queue_depth = IntGauge::new("lstm_serve_queue_depth", "Jobs waiting in the inference queue")?;
        let open_streams = IntGauge::new("lstm_serve_open_streams", "Streaming connections open")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(queue_seconds.clone()))?;
        registry.register(Box::new(compute_seconds.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(open_streams.clone()))?;
        Ok(Self {
            registry,
            requests,
            request_seconds,
            queue_seconds,
            compute_seconds,
            batch_size,
            queue_depth,
            open_streams,
        })
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
