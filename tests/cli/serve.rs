//! `lstm-mnist serve` as a process: SIGTERM lets a request in flight finish
//! and exits 0; the draw-a-digit page, driven in headless Chromium through
//! the DevTools protocol, reads a drawn "1" as class 1 without any request
//! leaving the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{common, tools};

/// A running `lstm-mnist serve`, killed on drop if still running.
struct ServeProcess {
    child: Child,
    addr: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl ServeProcess {
    /// Starts the server on a free port and waits for its "serving" line.
    fn start(model: &Path) -> ServeProcess {
        let mut child = Command::new(common::BIN)
            .args(["serve", "--model", model.to_str().unwrap(), "--addr", "127.0.0.1:0"])
            .env_remove("LD_LIBRARY_PATH")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, log) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || stderr.lines().map_while(Result::ok).for_each(|l| drop(lines.send(l))));
        let mut seen = Vec::new();
        let addr = loop {
            let line = log.recv().unwrap_or_else(|_| panic!("serve exited before listening: {seen:?}"));
            if let Some(rest) = line.split("on http://").nth(1) {
                break rest.split('/').next().unwrap().to_owned();
            }
            seen.push(line);
        };
        ServeProcess { child, addr, log }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Trains a model through the binary; returns the run folder.
fn train(tmp: &Path, name: &str, data: &Path, hidden: u32, samples: u32) -> PathBuf {
    let config = tmp.join(format!("{name}.json"));
    let json = format!(
        r#"{{"name": "{name}", "device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": {hidden}}},
            "train": {{"learning_rate": 0.005, "batch_size": 64, "training_iters": {samples}, "display_step": 100,
                       "checkpoint_every": 0}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let run = tmp.join(name);
    let out = common::run(&["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    run
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::write_dataset(tmp.path().join("data"), 100, 20, false);
    let run = train(tmp.path(), "tiny", &data, 8, 200);
    let mut server = ServeProcess::start(&run);
    let pixels = vec![0.5f32; common::ROWS * common::COLS];
    let body = json!({"inputs": [{"name": "images", "shape": [1, common::ROWS, common::COLS], "datatype": "FP32", "data": pixels}]})
        .to_string();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST /v2/models/tiny/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // "100 Continue" comes once the handler reads the body: the request is in flight.
    let mut continue_line = [0u8; 25];
    stream.read_exact(&mut continue_line).unwrap();
    assert!(String::from_utf8_lossy(&continue_line).contains(" 100 "));
    // SAFETY: kill(2) on the child's pid.
    assert_eq!(unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.contains(" 200 OK") && answer.contains("\"model_name\":\"tiny\""), "{answer}");
    let status = server.child.wait().unwrap();
    let log: Vec<String> = server.log.try_iter().collect();
    assert!(status.success(), "exit {status:?}: {log:?}");
}

/// `serve --precision` is checked as `predict`'s (fp16 needs CUDA: status 2
/// naming the flag), as are a header timeout and a thread count of 0; a path without a model is
/// status 2 naming it.
#[test]
fn serve_refuses_a_bad_precision_and_a_path_without_a_model_with_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = lstm_model::ModelSpec::new(Default::default(), 4, 4, vec!["a".into(), "b".into()]);
    let model = tmp.path().join("run/model");
    lstm_model::LstmClassifier::new(spec, tch::Device::Cpu).unwrap().save(&model).unwrap();
    let run = tmp.path().join("run");
    let out = common::run(&["serve", "--model", run.to_str().unwrap(), "--addr", "127.0.0.1:0", "--precision", "fp16"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out.stderr));
    assert!(common::text(&out.stderr).contains("--precision"), "{}", common::text(&out.stderr));
    let out =
        common::run(&["serve", "--model", run.to_str().unwrap(), "--addr", "127.0.0.1:0", "--header-timeout-s", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out.stderr));
    assert!(common::text(&out.stderr).contains("--header-timeout-s"), "{}", common::text(&out.stderr));
    let out = common::run(&["serve", "--model", run.to_str().unwrap(), "--addr", "127.0.0.1:0", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out.stderr));
    assert!(common::text(&out.stderr).contains("--threads"), "{}", common::text(&out.stderr));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = common::run(&["serve", "--model", empty.to_str().unwrap(), "--addr", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out.stderr));
    assert!(common::text(&out.stderr).contains("no saved model here"), "{}", common::text(&out.stderr));
}

/// A DevTools-protocol session with one page.
struct Page {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    next_id: u64,
    /// Every URL the page requested (Network.requestWillBeSent, Network.webSocketCreated).
    requests: Vec<String>,
}

impl Page {
    /// Sends a command and returns its result, recording network events on the way.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(command)).await.unwrap();
        loop {
            let Some(Ok(Message::Text(text))) = self.socket.next().await else {
                panic!("DevTools closed during {method}")
            };
            let message: Value = serde_json::from_str(text.as_str()).unwrap();
            match message["method"].as_str() {
                Some("Network.requestWillBeSent") => {
                    self.requests.push(message["params"]["request"]["url"].as_str().unwrap_or("").to_owned())
                }
                Some("Network.webSocketCreated") => {
                    self.requests.push(message["params"]["url"].as_str().unwrap_or("").to_owned())
                }
                _ => {}
            }
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page; its value.
    async fn eval(&mut self, expression: &str) -> Value {
        self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true})).await["result"]["value"]
            .clone()
    }

    /// Presses the left button at `from`, moves through the points of `path`, releases.
    async fn draw(&mut self, path: &[(f64, f64)]) {
        let mouse = |kind: &str, (x, y): (f64, f64), buttons: u32| json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1, "pointerType": "mouse"});
        self.call("Input.dispatchMouseEvent", mouse("mousePressed", path[0], 1)).await;
        for &p in &path[1..] {
            self.call("Input.dispatchMouseEvent", mouse("mouseMoved", p, 1)).await;
        }
        self.call("Input.dispatchMouseEvent", mouse("mouseReleased", path[path.len() - 1], 0)).await;
    }
}

/// Starts the browser with remote debugging in a process group of its own; the DevTools URL of its page.
fn start_browser(browser: &Path, profile: &Path) -> (Browser, String) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(browser)
        .process_group(0)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .args(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-port=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1100,700")
        .arg("about:blank")
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let port = loop {
        let line = lines.next().expect("the browser prints its DevTools address").unwrap();
        if let Some(url) = line.strip_prefix("DevTools listening on ws://") {
            break url.split('/').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let list = agent.get(&format!("http://{port}/json/list")).call().unwrap().body_mut().read_to_string().unwrap();
    let targets: Value = serde_json::from_str(&list).unwrap();
    let page = targets.as_array().unwrap().iter().find(|t| t["type"] == "page").expect("a page target");
    (Browser(child), page["webSocketDebuggerUrl"].as_str().unwrap().to_owned())
}

/// The browser's process group, killed whole on drop (the launcher script does not pass a kill on).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group the browser was started in.
        unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs chromium-headless-shell"]
fn the_page_reads_a_drawn_one_as_class_1_without_outside_requests() {
    let browser = tools::require_program("chromium-headless-shell");
    let tmp = tempfile::tempdir().unwrap();
    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample");
    let run = train(tmp.path(), "digits", &mnist, 32, 32000);
    let server = ServeProcess::start(&run);
    let (_chromium, devtools) = start_browser(&browser, &tmp.path().join("profile"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let shot = runtime.block_on(async {
        let (socket, _) = tokio_tungstenite::connect_async(&devtools).await.unwrap();
        let mut page = Page { socket, next_id: 0, requests: Vec::new() };
        page.call("Network.enable", json!({})).await;
        page.call("Page.enable", json!({})).await;
        page.call("Page.navigate", json!({"url": format!("http://{}/", server.addr)})).await;
        let mut state = Value::Null;
        for _ in 0..600 {
            state = page.eval("document.body && document.body.dataset.state").await;
            if state == "ready" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(state, "ready", "the page never read the model's description");
        let rect = page.eval("JSON.stringify(document.getElementById('pad').getBoundingClientRect())").await;
        let rect: Value = serde_json::from_str(rect.as_str().unwrap()).unwrap();
        let (left, top) = (rect["left"].as_f64().unwrap(), rect["top"].as_f64().unwrap());
        let (width, height) = (rect["width"].as_f64().unwrap(), rect["height"].as_f64().unwrap());
        // A "1": one slightly slanted stroke down the middle.
        let path: Vec<(f64, f64)> = (0..=20)
            .map(|i| {
                let t = f64::from(i) / 20.0;
                (left + width * (0.53 - 0.06 * t), top + height * (0.15 + 0.7 * t))
            })
            .collect();
        page.draw(&path).await;
        for _ in 0..600 {
            state = page.eval("document.body.dataset.state").await;
            if state == "done" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(state, "done", "the page did not finish reading the drawing");
        let class = page.eval("document.body.dataset.class").await;
        let answer = page.eval("document.getElementById('answer').textContent").await;
        assert_eq!(class, "1", "a drawn 1 read as {answer}");
        let shot = page.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let origin = [format!("http://{}/", server.addr), format!("ws://{}/", server.addr)];
        let outside: Vec<&String> =
            page.requests.iter().filter(|url| !origin.iter().any(|o| url.starts_with(o.as_str()))).collect();
        assert!(outside.is_empty(), "the page requested {outside:?}");
        assert!(page.requests.iter().any(|u| u.starts_with("ws://")), "no stream was opened: {:?}", page.requests);
        shot["data"].as_str().unwrap().to_owned()
    });
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.decode(shot).unwrap();
    let image = image::load_from_memory(&png).unwrap();
    assert!(image.width() > 500 && image.height() > 300);
    // Kept for a person to look at (target/ is not part of the repository).
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-page.png");
    std::fs::write(&keep, &png).unwrap();
    eprintln!("screenshot of the page: {}", keep.display());
}
