//! Load generator for `lstm-mnist serve`: single-image KServe v2 infer
//! requests, on 127.0.0.1 only, bounded in count and time.
//!
//! ```console
//! $ cargo run --release -p serve --example serve_bench -- URL MODEL RATE SECONDS [WORKERS]
//! ```
//!
//! With `RATE` > 0 the load is open-loop: request `i` is due at `i / RATE`
//! seconds and its latency counts from then (a slow server is not let off by
//! sending less), by up to `WORKERS` (default 64) requests in flight. With
//! `RATE` = 0 the load is closed-loop: `WORKERS` clients each send the next
//! request as soon as the last was answered (the throughput ceiling). Prints
//! one JSON line: requests, errors, throughput, p50, p90 and p99 latency.

use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: serve_bench URL MODEL RATE SECONDS [WORKERS]  (e.g. http://127.0.0.1:8080 seed 200 10)");
        std::process::exit(2);
    }
    let (url, model) = (args[0].trim_end_matches('/').to_owned(), &args[1]);
    let number = |i: usize, what: &str| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("{what} `{}` is not a number", args[i]);
            std::process::exit(2)
        })
    };
    let (rate, seconds) = (number(2, "RATE"), number(3, "SECONDS").min(120.0));
    let workers = if args.len() > 4 { number(4, "WORKERS") as usize } else { 64 }.clamp(1, 256);
    if !url.starts_with("http://127.0.0.1:") {
        eprintln!("serve_bench loads 127.0.0.1 only: pass http://127.0.0.1:PORT");
        std::process::exit(2);
    }
    // One pooled connection per worker (ureq keeps 3 per host by default: the
    // others would open a new TCP connection per request), kept for less than
    // the server's 10 s idle limit.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(workers)
        .max_idle_connections_per_host(workers)
        .max_idle_age(Duration::from_secs(5))
        .build()
        .into();
    let mut meta = agent.get(&format!("{url}/v2/models/{model}")).call().expect("the server answers");
    let meta: serde_json::Value = serde_json::from_str(&meta.body_mut().read_to_string().unwrap()).unwrap();
    let shape = &meta["inputs"][0]["shape"];
    let (rows, columns) = (shape[1].as_u64().expect("model metadata"), shape[2].as_u64().expect("model metadata"));
    let data: Vec<f32> = (0..rows * columns).map(|i| (i % 17) as f32 / 17.0).collect();
    let body = serde_json::json!({"inputs": [{"name": "images", "shape": [1, rows, columns], "datatype": "FP32", "data": data}]})
        .to_string();
    let infer = format!("{url}/v2/models/{model}/infer");
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(seconds);
    // Due times, shared by the workers (std's mpsc has one consumer: the receiver sits behind a mutex).
    let (due_tx, due_rx) = mpsc::channel::<Instant>();
    let due_rx = std::sync::Arc::new(std::sync::Mutex::new(due_rx));
    let (done_tx, done_rx) = mpsc::channel::<(Duration, bool)>();
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (agent, infer, body, due_rx, done_tx) =
                (agent.clone(), infer.clone(), body.clone(), due_rx.clone(), done_tx.clone());
            std::thread::spawn(move || loop {
                let due = if rate > 0.0 {
                    let next = due_rx.lock().map(|rx| rx.recv());
                    match next {
                        Ok(Ok(due)) => due,
                        _ => return,
                    }
                } else {
                    Instant::now().max(start)
                };
                if due >= end {
                    return;
                }
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let ok = agent.post(&infer).send(body.as_bytes()).map(|r| r.status().as_u16() == 200).unwrap_or(false);
                let _ = done_tx.send((due.elapsed(), ok));
            })
        })
        .collect();
    drop(done_tx);
    if rate > 0.0 {
        let total = (seconds * rate) as u64;
        for i in 0..total {
            let _ = due_tx.send(start + Duration::from_secs_f64(i as f64 / rate));
        }
    }
    drop(due_tx);
    let results: Vec<(Duration, bool)> = done_rx.iter().collect();
    threads.into_iter().for_each(|t| drop(t.join()));
    let elapsed = start.elapsed().as_secs_f64().min(seconds + 60.0);
    let mut latencies: Vec<f64> = results.iter().filter(|r| r.1).map(|r| r.0.as_secs_f64() * 1e3).collect();
    latencies.sort_by(f64::total_cmp);
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied();
    let line = serde_json::json!({
        "rate": rate, "workers": workers, "seconds": seconds, "requests": results.len(),
        "errors": results.iter().filter(|r| !r.1).count(),
        "throughput": latencies.len() as f64 / elapsed,
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
    });
    println!("{line}");
}
