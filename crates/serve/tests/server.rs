//! The server end to end on 127.0.0.1 with a small untrained model: the
//! Open Inference Protocol, bad requests, streaming, metrics, draining, and
//! the Python clients (`tritonclient`, `prometheus_client`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lstm_model::{LstmClassifier, ModelConfig, ModelSpec, Precision};
use serde_json::{json, Value};
use serve::{ServeConfig, ServedModel};
use tch::{Device, Tensor};
use tokio_tungstenite::tungstenite::Message;

const ROWS: usize = 6;
const COLUMNS: usize = 4;

/// An untrained model of 6x4 pictures and 3 classes, saved in `dir/tiny-run/model`; returns the run folder.
fn tiny_model(dir: &Path, config: ModelConfig) -> PathBuf {
    let spec = ModelSpec::new(config, ROWS as i64, COLUMNS as i64, vec!["zero".into(), "one".into(), "two".into()]);
    let run = dir.join("tiny-run");
    LstmClassifier::new(spec, Device::Cpu).unwrap().save(run.join("model")).unwrap();
    run
}

fn tiny_config() -> ModelConfig {
    ModelConfig { hidden: 8, layers: 2, ..Default::default() }
}

/// A server on its own thread and runtime, stopped by [`Running::stop`].
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), serve::ServeError>>>,
}

impl Running {
    fn start(run: &Path, config: ServeConfig) -> Running {
        let model = ServedModel::open(run, Precision::Fp32).unwrap();
        let config = ServeConfig { addr: "127.0.0.1:0".parse().unwrap(), name: serve::default_name(run), ..config };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, addr) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            serve::serve_blocking(
                config,
                model,
                |addr| ready.send(addr).unwrap(),
                || async move {
                    let _ = stopped.await;
                },
            )
        });
        let addr = addr.recv().expect("the server starts");
        Running { addr, stop: Some(stop), thread: Some(thread) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stop(mut self) -> Result<(), serve::ServeError> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs `body`; the status and the body as JSON (or as a JSON string when it is not JSON).
fn post(url: &str, body: &[u8]) -> (u16, Value) {
    let mut response = agent().post(url).send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

/// `n` pictures of values in [0, 1) from a fixed formula.
fn pictures(n: usize) -> Vec<f32> {
    (0..n * ROWS * COLUMNS).map(|i| ((i * 37 + 11) % 101) as f32 / 101.0).collect()
}

fn infer_body(values: &[f32], n: usize) -> Vec<u8> {
    let request = json!({"id": "r1", "inputs": [{"name": "images", "shape": [n, ROWS, COLUMNS], "datatype": "FP32", "data": values}]});
    serde_json::to_vec(&request).unwrap()
}

/// The model's own probabilities for `values`, to compare the server's with.
fn direct_probabilities(run: &Path, values: &[f32], n: usize) -> Vec<f32> {
    let model = LstmClassifier::load(run.join("model"), Device::Cpu).unwrap();
    let input = Tensor::from_slice(values).view([n as i64, ROWS as i64, COLUMNS as i64]);
    model.predict(&input).unwrap().into_iter().flat_map(|p| p.probabilities).collect()
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

#[test]
fn kserve_v2_health_metadata_and_infer() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    assert_eq!(get(&server.url("/v2/health/live")).0, 200);
    assert_eq!(get(&server.url("/v2/health/ready")).0, 200);
    assert_eq!(get(&server.url("/v2/models/tiny-run/ready")).0, 200);
    let (status, meta) = get(&server.url("/v2/models/tiny-run"));
    assert_eq!(status, 200, "{meta}");
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["inputs"][0], json!({"name": "images", "datatype": "FP32", "shape": [-1, ROWS, COLUMNS]}));
    assert_eq!(meta["class_names"], json!(["zero", "one", "two"]));

    let values = pictures(3);
    let (status, answer) = post(&server.url("/v2/models/tiny-run/infer"), &infer_body(&values, 3));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], "r1");
    assert_eq!(answer["outputs"][0]["shape"], json!([3, 3]));
    let got = floats(&answer["outputs"][0]["data"]);
    let want = direct_probabilities(&run, &values, 3);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "server {got:?} vs model {want:?}");
    }
    let names = answer["outputs"][2]["data"].as_array().unwrap();
    assert_eq!(names.len(), 3);
    assert_eq!(get(&server.url("/v2/models/other")).0, 404);
    server.stop().unwrap();
}

#[test]
fn bad_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let config = ServeConfig { max_body_bytes: 1 << 20, request_timeout: Duration::from_secs(2), ..Default::default() };
    let server = Running::start(&run, config);
    let infer = server.url("/v2/models/tiny-run/infer");
    let mut data: Vec<String> = pictures(1).iter().map(f32::to_string).collect();
    data[5] = "1e39".into();
    let huge =
        format!(r#"{{"inputs":[{{"name":"images","shape":[1,6,4],"datatype":"FP32","data":[{}]}}]}}"#, data.join(","));
    let cases: [(&[u8], u16, &str); 5] = [
        (b"{not json", 400, "not an inference request"),
        (br#"{"inputs":[{"name":"images","shape":[1,5,4],"datatype":"FP32","data":[]}]}"#, 400, "shape [1, 5, 4]"),
        (br#"{"inputs":[{"name":"pixels","shape":[1,6,4],"datatype":"FP32","data":[]}]}"#, 400, "input `pixels`"),
        (br#"{"inputs":[{"name":"images","shape":[1,6,4],"datatype":"FP32","data":[1,2]}]}"#, 400, "has 2 values"),
        (huge.as_bytes(), 400, "value 5 is not a finite FP32 number"),
    ];
    for (body, want_status, want_text) in cases {
        let (status, answer) = post(&infer, body);
        assert_eq!(status, want_status, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(want_text), "{answer}");
    }
    let (status, answer) = post(&server.url("/v1/classify"), b"GIF89a not a png");
    assert_eq!(status, 400, "{answer}");

    // 100 MB announced: refused with 413 from the length, without reading it all.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = "POST /v2/models/tiny-run/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(&vec![b' '; 1 << 20]);
    assert!(read_status_line(&mut stream).contains(" 413 "));

    // A 100 MB body sent chunked (no length announced): 413 once the limit is passed.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = "POST /v2/models/tiny-run/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, " ".repeat(1 << 16));
    for _ in 0..(100 << 20) / (1 << 16) {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break; // the server answered and closed
        }
    }
    assert!(read_status_line(&mut stream).contains(" 413 "));

    // A slow client that stops sending its body gets 408 after the request timeout.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v2/models/tiny-run/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp").unwrap();
    // Meanwhile others are served.
    let (status, _) = post(&infer, &infer_body(&pictures(1), 1));
    assert_eq!(status, 200);
    assert!(read_status_line(&mut slow).contains(" 408 "));

    let (status, answer) = post(&infer, &infer_body(&pictures(2), 2));
    assert_eq!(status, 200, "{answer}");
    server.stop().unwrap();
}

/// Whether the server closed `stream` (a read gives end of file or an
/// error) while `stream` sends one more byte of `trickle` every 100 ms; gives
/// up after `max_bytes` bytes.
fn closed_while_trickling(stream: &mut TcpStream, trickle: &[u8], max_bytes: usize) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 256];
    for byte in trickle.iter().cycle().take(max_bytes) {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            return true;
        }
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an answer (408/400) before the close
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return true,
        }
    }
    false
}

/// Slow and endless headers: clients that send their headers a byte at a
/// time are disconnected after the header timeout, even when they fill every
/// connection slot, and the server then serves others; a head larger than
/// hyper's buffer is refused (431) instead of being buffered.
#[test]
fn slow_and_endless_headers_are_cut_off_and_others_served() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let config = ServeConfig { header_timeout: Duration::from_secs(1), max_connections: 4, ..Default::default() };
    let server = Running::start(&run, config);
    let head = b"POST /v2/models/tiny-run/infer HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    // Four slowlorises take every connection slot.
    let mut slow: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    for s in &mut slow {
        s.write_all(&head[..10]).unwrap();
    }
    // A normal client is served once they are cut off (it waits to be accepted meanwhile).
    let addr = server.addr;
    let normal = std::thread::spawn(move || {
        post(&format!("http://{addr}/v2/models/tiny-run/infer"), &infer_body(&pictures(1), 1))
    });
    for s in &mut slow {
        // 600 bytes at 100 ms: 60 s, far past the 1 s header timeout.
        assert!(closed_while_trickling(s, &head[10..], 600), "a slow header sender was never disconnected");
    }
    let (status, answer) = normal.join().unwrap();
    assert_eq!(status, 200, "{answer}");

    // 1 MiB of header: refused at hyper's buffer limit, not read into memory.
    let mut endless = TcpStream::connect(server.addr).unwrap();
    endless.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Long: ").unwrap();
    let _ = endless.write_all(&vec![b'a'; 1 << 20]);
    let status = read_status_line(&mut endless);
    assert!(status.is_empty() || status.contains(" 431 "), "{status}");
    assert_eq!(get(&server.url("/v2/health/live")).0, 200);
    server.stop().unwrap();
}

/// The first line of the response on `stream`.
fn read_status_line(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = [0u8; 256];
    let mut got = Vec::new();
    while !got.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).lines().next().unwrap_or("").to_owned()
}

/// Streams `values` row by row; the answers after each row.
async fn stream_rows(url: &str, values: &[f32]) -> Vec<Value> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut answers = Vec::new();
    for row in values.chunks(COLUMNS) {
        socket.send(Message::text(json!({ "row": row }).to_string())).await.unwrap();
        match socket.next().await {
            Some(Ok(Message::Text(text))) => answers.push(serde_json::from_str(text.as_str()).unwrap()),
            _ => break,
        }
    }
    answers
}

/// A run that standardised its data is served with the statistics its
/// `model.json` carries: `/infer` and the stream's last row give the model's
/// probabilities of the standardised input, not of the raw pixels.
#[test]
fn a_standardised_model_is_served_with_its_statistics() {
    let tmp = tempfile::tempdir().unwrap();
    let (mean, std) = (0.3, 0.2);
    let mut spec = ModelSpec::new(tiny_config(), ROWS as i64, COLUMNS as i64, vec!["a".into(), "b".into(), "c".into()]);
    spec.standardization = Some(data_core::Standardization { mean: vec![mean], std: vec![std] });
    let run = tmp.path().join("tiny-run");
    let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
    model.save(run.join("model")).unwrap();
    let values = pictures(2);
    let raw = Tensor::from_slice(&values).view([2, ROWS as i64, COLUMNS as i64]);
    let probabilities =
        |x: &Tensor| -> Vec<f32> { model.predict(x).unwrap().into_iter().flat_map(|p| p.probabilities).collect() };
    let want = probabilities(&((&raw - mean) / std));
    let unstandardised = probabilities(&raw);
    assert!(want.iter().zip(&unstandardised).any(|(a, b)| (a - b).abs() > 1e-3), "the statistics must matter here");

    let server = Running::start(&run, ServeConfig::default());
    let (status, answer) = post(&server.url("/v2/models/tiny-run/infer"), &infer_body(&values, 2));
    assert_eq!(status, 200, "{answer}");
    let got = floats(&answer["outputs"][0]["data"]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "server {got:?} vs standardised model {want:?}");
    }
    let url = format!("ws://{}/v2/models/tiny-run/stream", server.addr);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answers = runtime.block_on(stream_rows(&url, &values[..ROWS * COLUMNS]));
    let last = floats(&answers[ROWS - 1]["probabilities"]);
    for (g, w) in last.iter().zip(&want[..3]) {
        assert!((g - w).abs() < 1e-6, "stream {last:?} vs standardised model {want:?}");
    }
    server.stop().unwrap();
}

/// A sequence model (`model.json` input `sequence`, per-feature
/// standardisation), saved in `dir/seq-run/model`; returns the run folder and the model.
fn sequence_model(dir: &Path) -> (PathBuf, LstmClassifier) {
    let input = data_core::InputSpec::Sequence(data_core::SequenceInput { features: 3, points_per_step: 1 });
    let standardization = data_core::Standardization { mean: vec![0.5, -1.0, 2.0], std: vec![2.0, 0.5, 1.5] };
    let config = ModelConfig { hidden: 8, layers: 2, ..Default::default() };
    let spec = ModelSpec::new(config, 5, 3, vec!["up".into(), "down".into()]).with_input(input, Some(standardization));
    let run = dir.join("seq-run");
    let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
    model.save(run.join("model")).unwrap();
    (run, model)
}

/// A sequence model is served with `sequences` [N, T, F] of any T and
/// optional `lengths`: the answers are the model's probabilities of the
/// standardised steps up to each length; bad shapes and lengths are 400
/// naming what is wrong; streaming steps ends where `/infer` does.
#[test]
fn sequence_models_take_sequences_of_any_length_with_lengths() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, model) = sequence_model(tmp.path());
    let server = Running::start(&run, ServeConfig::default());
    let (status, meta) = get(&server.url("/v2/models/seq-run"));
    assert_eq!(status, 200, "{meta}");
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["inputs"][0], json!({"name": "sequences", "datatype": "FP32", "shape": [-1, -1, 3]}));
    assert_eq!(meta["inputs"][1]["name"], "lengths");
    assert_eq!(meta["input"], json!({"kind": "sequence", "features": 3, "points_per_step": 1}));

    // Two sequences of 7 steps, the second only 4 long; the answer must not depend on its padding.
    let values: Vec<f32> = (0..2 * 7 * 3).map(|i| ((i * 13 + 5) % 17) as f32 / 4.0 - 2.0).collect();
    let body = |values: &[f32], lengths: Value| {
        let mut inputs = vec![json!({"name": "sequences", "shape": [2, 7, 3], "datatype": "FP32", "data": values})];
        if !lengths.is_null() {
            inputs.push(json!({"name": "lengths", "shape": [2], "datatype": "INT32", "data": lengths}));
        }
        serde_json::to_vec(&json!({ "inputs": inputs })).unwrap()
    };
    let (status, answer) = post(&server.url("/v2/models/seq-run/infer"), &body(&values, json!([7, 4])));
    assert_eq!(status, 200, "{answer}");
    let x = Tensor::from_slice(&values).view([2, 7, 3]);
    let standardised = (&x - Tensor::from_slice(&[0.5f32, -1.0, 2.0])) / Tensor::from_slice(&[2.0f32, 0.5, 1.5]);
    let lengths = Tensor::from_slice(&[7i64, 4]);
    let want: Vec<f32> = model
        .forward_sequences(&standardised, Some(&lengths))
        .unwrap()
        .softmax(-1, tch::Kind::Float)
        .view([-1])
        .try_into()
        .unwrap();
    let got = floats(&answer["outputs"][0]["data"]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "server {got:?} vs model {want:?}");
    }
    let mut padded = values.clone();
    padded[7 * 3 + 4 * 3..].iter_mut().for_each(|v| *v = 99.0);
    let (_, again) = post(&server.url("/v2/models/seq-run/infer"), &body(&padded, json!([7, 4])));
    assert_eq!(floats(&again["outputs"][0]["data"]), got, "steps after a length are not read");

    // Streaming the second sequence's 4 real steps ends where /infer does.
    let url = format!("ws://{}/v2/models/seq-run/stream", server.addr);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answers = runtime.block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let mut answers = Vec::new();
        for step in values[7 * 3..7 * 3 + 4 * 3].chunks(3) {
            socket.send(Message::text(json!({ "row": step }).to_string())).await.unwrap();
            let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no answer") };
            answers.push(serde_json::from_str::<Value>(text.as_str()).unwrap());
        }
        answers
    });
    let streamed = floats(&answers[3]["probabilities"]);
    assert_eq!(answers[3]["row"], 4, "{:?}", answers[3]);
    assert!(answers[3].get("last").is_none(), "a sequence has no fixed last step: {:?}", answers[3]);
    for (g, w) in streamed.iter().zip(&want[2..]) {
        assert!((g - w).abs() < 1e-5, "stream {streamed:?} vs infer {want:?}");
    }

    let infer = server.url("/v2/models/seq-run/infer");
    let cases: [(Vec<u8>, &str); 5] = [
        (body(&values, json!([7, 8])), "lengths[1] = 8"),
        (body(&values, json!([7, 0])), "lengths[1] = 0"),
        (body(&values[..20], Value::Null), "has 20 values"),
        (
            br#"{"inputs":[{"name":"sequences","shape":[1,2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#.to_vec(),
            "shape [1, 2, 4]",
        ),
        (br#"{"inputs":[{"name":"images","shape":[1,5,3],"datatype":"FP32","data":[]}]}"#.to_vec(), "input `images`"),
    ];
    for (body, want_text) in cases {
        let (status, answer) = post(&infer, &body);
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(want_text), "{want_text}: {answer}");
    }
    let (status, answer) = post(&server.url("/v1/classify"), b"\x89PNG\r\n\x1a\n");
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("takes sequences"), "{answer}");
    let (status, answer) = post(&infer, &body(&values, Value::Null));
    assert_eq!(status, 200, "{answer}");
    server.stop().unwrap();
}

/// A series model reading 2 points per step takes raw points at `/infer`
/// (the model groups them) and says it cannot be streamed point by point.
#[test]
fn a_model_of_two_points_per_step_is_served_raw_and_not_streamed() {
    let tmp = tempfile::tempdir().unwrap();
    let input = data_core::InputSpec::Sequence(data_core::SequenceInput { features: 3, points_per_step: 2 });
    let spec = ModelSpec::new(tiny_config(), 4, 6, vec!["a".into(), "b".into()]).with_input(input, None);
    let run = tmp.path().join("pairs");
    LstmClassifier::new(spec, Device::Cpu).unwrap().save(run.join("model")).unwrap();
    let server = Running::start(&run, ServeConfig::default());
    let (_, meta) = get(&server.url("/v2/models/pairs"));
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, -1, 3]), "{meta}");
    assert_eq!(meta["streaming"], false, "{meta}");
    let url = format!("ws://{}/v2/models/pairs/stream", server.addr);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    match runtime.block_on(tokio_tungstenite::connect_async(&url)) {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("points_per_step"), "{body}");
        }
        other => panic!("the stream opened or failed otherwise: {:?}", other.map(|_| ())),
    }
    let values: Vec<f32> = (0..7 * 3).map(|i| i as f32 / 10.0).collect();
    let body = json!({"inputs": [{"name": "sequences", "shape": [1, 7, 3], "datatype": "FP32", "data": values}]});
    let (status, answer) = post(&server.url("/v2/models/pairs/infer"), &serde_json::to_vec(&body).unwrap());
    assert_eq!(status, 200, "{answer}");
    let p = floats(&answer["outputs"][0]["data"]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
    server.stop().unwrap();
}

#[test]
fn streaming_rows_ends_where_infer_does() {
    let tmp = tempfile::tempdir().unwrap();
    for (what, config) in [
        ("lstm", tiny_config()),
        ("gru mean", ModelConfig { cell: lstm_model::Cell::Gru, readout: lstm_model::Readout::Mean, ..tiny_config() }),
        ("bidirectional", ModelConfig { bidirectional: true, ..tiny_config() }),
        ("pixels", ModelConfig { sequence: lstm_model::Sequence::Pixels, ..tiny_config() }),
    ] {
        let dir = tmp.path().join(what);
        let run = tiny_model(&dir, config);
        let server = Running::start(&run, ServeConfig::default());
        let values = pictures(1);
        let (status, answer) = post(&server.url("/v2/models/tiny-run/infer"), &infer_body(&values, 1));
        assert_eq!(status, 200, "{answer}");
        let want = floats(&answer["outputs"][0]["data"]);
        let url = format!("ws://{}/v2/models/tiny-run/stream", server.addr);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let answers = runtime.block_on(stream_rows(&url, &values));
        assert_eq!(answers.len(), ROWS, "{what}: {answers:?}");
        for (t, a) in answers.iter().enumerate() {
            assert_eq!(a["row"], t + 1, "{what}: {a}");
        }
        let last = &answers[ROWS - 1];
        assert_eq!(last["last"], true, "{what}: {last}");
        let got = floats(&last["probabilities"]);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{what}: stream {got:?} vs infer {want:?}");
        }
        // After the last row a new input starts: the same rows give the same answers.
        let again = runtime.block_on(stream_rows(&url, &values));
        assert_eq!(floats(&again[0]["probabilities"]), floats(&answers[0]["probabilities"]), "{what}");
        server.stop().unwrap();
    }
}

#[test]
fn streaming_stops_early_once_confident_and_refuses_bad_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Any probability of the most likely of 3 classes is at least 1/3: the first row decides.
    let url = format!("ws://{}/v2/models/tiny-run/stream?stop_at=0.3", server.addr);
    let answers = runtime.block_on(stream_rows(&url, &pictures(1)));
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["decided"], true);
    runtime.block_on(async {
        let url = format!("ws://{}/v2/models/tiny-run/stream", server.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        for bad in ["{\"row\": [1, 2]}", "not json", "{\"rows\": []}"] {
            socket.send(Message::text(bad)).await.unwrap();
            let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no answer to {bad}") };
            assert!(text.as_str().contains("\"error\""), "{bad}: {text}");
        }
    });
    let (status, text) = get(&server.url("/v2/models/tiny-run/stream?stop_at=7"));
    assert_eq!(status, 400, "{text}");
    server.stop().unwrap();
}

#[test]
fn metrics_count_requests_batches_and_latencies() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    assert_eq!(post(&server.url("/v2/models/tiny-run/infer"), &infer_body(&pictures(2), 2)).0, 200);
    assert_eq!(post(&server.url("/v2/models/tiny-run/infer"), b"{").0, 400);
    let (status, text) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    for line in [
        "lstm_serve_requests_total{endpoint=\"/v2/models/{name}/infer\",status=\"200\"} 1",
        "lstm_serve_requests_total{endpoint=\"/v2/models/{name}/infer\",status=\"400\"} 1",
        "lstm_serve_batch_size_sum 2",
        "lstm_serve_batch_size_count 1",
        "lstm_serve_queue_depth 0",
        "lstm_serve_compute_duration_seconds_count 1",
        "lstm_serve_queue_duration_seconds_count 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(text.contains("lstm_serve_request_duration_seconds_bucket{endpoint=\"/v2/models/{name}/infer\""));
    server.stop().unwrap();
}

/// A request whose handler is already reading its body when the shutdown
/// signal comes is answered, and the server then stops cleanly.
#[test]
fn shutdown_finishes_the_requests_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    let body = infer_body(&pictures(1), 1);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /v2/models/tiny-run/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // "100 Continue" comes when the handler starts reading the body: the request is in flight.
    assert!(read_status_line(&mut stream).contains(" 100 "));
    let Running { stop, thread, .. } = &mut { server };
    let _ = stop.take().unwrap().send(());
    stream.write_all(&body).unwrap();
    let mut rest = String::new();
    let _ = stream.read_to_string(&mut rest);
    assert!(rest.contains("HTTP/1.1 200 OK"), "{rest}");
    assert!(rest.contains("\"model_name\":\"tiny-run\""), "{rest}");
    thread.take().unwrap().join().unwrap().unwrap();
}

/// The venv's python (scripts/setup.sh), for the Python client tests.
fn python() -> PathBuf {
    let cache = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/lstm-mnist"));
    cache.join("venv/bin/python")
}

fn run_python(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
#[ignore = "needs tritonclient"]
fn tritonclient_infers() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    let script = r#"
import sys, numpy as np
import tritonclient.http as http
c = http.InferenceServerClient(url=sys.argv[1])
assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("tiny-run")
meta = c.get_model_metadata("tiny-run")
n, h, w = 2, *meta["inputs"][0]["shape"][1:]
x = np.arange(n * h * w, dtype=np.float32).reshape(n, h, w) % 7 / 7
images = http.InferInput("images", [n, h, w], "FP32")
images.set_data_from_numpy(x, binary_data=False)
outputs = [http.InferRequestedOutput(o, binary_data=False) for o in ("probabilities", "class", "class_name")]
r = c.infer("tiny-run", [images], outputs=outputs)
p = r.as_numpy("probabilities")
assert p.shape == (n, len(meta["class_names"])), p.shape
assert np.allclose(p.sum(axis=1), 1, atol=1e-5)
assert [meta["class_names"][i] for i in r.as_numpy("class")] == [s.decode() if isinstance(s, bytes) else s for s in r.as_numpy("class_name")]
print("ok", p.tolist())
"#;
    let out = run_python(script, &[&server.addr.to_string()]);
    assert!(out.starts_with("ok "), "{out}");
    server.stop().unwrap();
}

#[test]
#[ignore = "needs prometheus_client"]
fn metrics_parse_with_prometheus_client() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_model(tmp.path(), tiny_config());
    let server = Running::start(&run, ServeConfig::default());
    assert_eq!(post(&server.url("/v2/models/tiny-run/infer"), &infer_body(&pictures(1), 1)).0, 200);
    let (_, text) = get(&server.url("/metrics"));
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
for name, kind in [("lstm_serve_requests", "counter"), ("lstm_serve_request_duration_seconds", "histogram"),
                   ("lstm_serve_queue_duration_seconds", "histogram"), ("lstm_serve_compute_duration_seconds", "histogram"),
                   ("lstm_serve_batch_size", "histogram"), ("lstm_serve_queue_depth", "gauge")]:
    assert families[name].type == kind, (name, families[name].type)
count = [s.value for s in families["lstm_serve_batch_size"].samples if s.name == "lstm_serve_batch_size_count"]
assert count == [1.0], count
print("ok", len(families))
"#;
    let mut child = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok "));
    server.stop().unwrap();
}
