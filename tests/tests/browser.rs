//! The `--html` page in a real browser: Debian's headless Chromium driven
//! over WebDriver (chromedriver, plain HTTP on 127.0.0.1 through `ureq`).
//!
//! For each page: every lane and every hazard marker the model recorded is
//! drawn (SVG elements counted against the [`RunView`]), a key press steps
//! the cursor and the highlighted line follows, the pointer over a lane
//! fills the details panel, and a screenshot is saved under
//! `target/browser/` as a test artifact.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test skips
//! with a message, except under `CI=true`, where it fails: `./check`
//! installs them (`apt-get install chromium chromium-driver`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kmodel::kernel::KernelConfig;
use kmodel::render::{RunView, html, record};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const ARROW_RIGHT: &str = "\u{E014}";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Whether the browser is here; skip locally, fail in CI.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} missing: ./check installs chromium and chromium-driver",
        missing.join(" and ")
    );
    eprintln!(
        "browser test SKIPPED: {} not installed (apt-get install -y chromium chromium-driver)",
        missing.join(" and ")
    );
    false
}

/// Chromium's fresh profile for this run.
fn profile_dir() -> PathBuf {
    std::env::temp_dir().join(format!("kmodel-chromium-{}", std::process::id()))
}

/// chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&format!("{}/session/{}", self.base, self.session)).call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(profile_dir());
    }
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut d = Driver { child, base: format!("http://127.0.0.1:{port}"), agent, session: String::new() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = d
                .agent
                .get(&format!("{}/status", d.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready in 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = profile_dir();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,800",
                format!("--user-data-dir={}", profile.display())],
        }}}});
        let v = d.post("/session", &caps);
        d.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        d
    }

    fn answer(mut r: ureq::http::Response<ureq::Body>, what: &str) -> Value {
        let status = r.status();
        let v: Value = r.body_mut().read_json().unwrap_or_else(|e| panic!("{what}: unreadable answer: {e}"));
        assert!(status.is_success(), "{what}: HTTP {status}: {v}");
        v["value"].clone()
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        Self::answer(self.agent.post(&url).send_json(body).unwrap_or_else(|e| panic!("POST {path}: {e}")), path)
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        Self::answer(self.agent.get(&url).call().unwrap_or_else(|e| panic!("GET {path}: {e}")), path)
    }

    fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", &json!({"script": script, "args": []}))
    }

    fn key(&self, key: &str) {
        self.post(
            "/actions",
            &json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
        );
    }

    fn hover(&self, css: &str) {
        let e = self.post("/element", &json!({"using": "css selector", "value": css}));
        let id = e[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {e}")).to_string();
        self.post(
            "/actions",
            &json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "duration": 0, "origin": {ELEMENT: id}, "x": 0, "y": 0}]}]}),
        );
    }

    fn current_line(&self) -> usize {
        let v =
            self.js("const li = document.querySelector('#lines li.current'); return li ? Number(li.dataset.line) : 0;");
        v.as_u64().unwrap_or(0) as usize
    }

    fn screenshot(&self, path: &Path) {
        let b64 = self.get("/screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("base64 text")).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

fn page(name: &str) -> (RunView, PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(format!("{name}.scenario"));
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = kmodel::scenario::parse(&format!("scenarios/{name}.scenario"), &text).unwrap();
    let view = record(&scenario, &text, KernelConfig::default()).unwrap();
    let out = target_dir().join("browser").join(format!("{name}.html"));
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, html(&view)).unwrap();
    (view, out.canonicalize().unwrap())
}

/// Load `name`'s page, check what it drew, step and hover, screenshot it
/// with the cursor on `shot_step`.
fn check_page(d: &Driver, name: &str, shot_step: usize) -> RunView {
    let (view, file) = page(name);
    d.post("/url", &json!({"url": format!("file://{}", file.display())}));
    assert_eq!(d.js("return document.body.dataset.ready || '';"), json!("1"), "{name}: the script ran");
    let count = |css: &str| d.js(&format!("return document.querySelectorAll({css:?}).length;")).as_u64().unwrap();
    assert_eq!(count("#timeline g.lane") as usize, view.lanes.len(), "{name}: one SVG group per lane");
    assert_eq!(count("#timeline .hazard") as usize, view.hazard_marks(), "{name}: one marker per hazard");
    let holds: usize = view.lanes.iter().flat_map(|l| &l.spans).map(|s| s.rows.len()).sum();
    assert_eq!(count("#timeline rect.hold") as usize, holds, "{name}: one bar per holder row and span");
    let labels: Vec<String> = serde_json::from_value(
        d.js("return [...document.querySelectorAll('#timeline g.lane .lanelabel')].map(t => t.textContent);"),
    )
    .unwrap();
    assert_eq!(labels, view.lanes.iter().map(|l| l.label.clone()).collect::<Vec<_>>());
    // The cursor starts on the first operation and follows the keys.
    assert_eq!(d.current_line(), view.steps[0].line, "{name}: first operation highlighted");
    for i in 1..=shot_step.min(view.steps.len() - 1) {
        d.key(ARROW_RIGHT);
        assert_eq!(d.current_line(), view.steps[i].line, "{name}: after {i} presses of Right");
    }
    assert_eq!(d.js("return document.getElementById('slider').value;"), json!(shot_step.to_string()));
    // Network runs can lay the columns out by simulated time ('t'): the
    // same lanes and markers, wider columns where time passed.
    if view.time_axis == "ms" {
        let before = d.js("return document.getElementById('timeline').getAttribute('width');");
        d.key("t");
        assert_eq!(d.js("return document.getElementById('bytime').checked;"), json!(true), "{name}: 't' toggles");
        assert_eq!(count("#timeline g.lane") as usize, view.lanes.len(), "{name}: redrawn lanes");
        assert_eq!(count("#timeline .hazard") as usize, view.hazard_marks(), "{name}: redrawn hazards");
        assert_eq!(d.current_line(), view.steps[shot_step].line, "{name}: the cursor stays");
        let after = d.js("return document.getElementById('timeline').getAttribute('width');");
        assert!(before.is_string() && after.is_string(), "{before} {after}");
    }
    // The details panel shows the lane under the pointer.
    let hazard = |l: &kmodel::render::LaneView| l.marks.iter().any(|m| m.kind == kmodel::render::MarkKind::Hazard);
    let lane = view.lanes.iter().position(hazard).unwrap_or(0);
    d.hover(&format!("#timeline g.lane[data-lane='{lane}'] .band"));
    let details = d.js("return document.getElementById('details').textContent;");
    assert!(details.as_str().unwrap().contains(&view.lanes[lane].label), "{name}: details of the lane: {details}");
    d.screenshot(&target_dir().join("browser").join(format!("{name}.png")));
    view
}

#[test]
fn html_page_draws_every_lane_and_hazard_and_steps_with_keys() {
    if !browser_available() {
        return;
    }
    let d = Driver::start();
    let hazard_step = |v: &RunView| v.steps.iter().position(|s| s.hazard.is_some()).unwrap();
    let (v, _) = page("story_double_buffer");
    let view = check_page(&d, "story_double_buffer", hazard_step(&v));
    assert_eq!((view.lanes.len(), view.hazard_marks()), (4, 1), "both halves of both buffers; one hazard");
    let (v, _) = page("story_tcp_refill_before_ack");
    let view = check_page(&d, "story_tcp_refill_before_ack", hazard_step(&v));
    assert!(view.lanes.iter().any(|l| l.rows.iter().any(|r| r.is_busy() && *r != kmodel::render::Row::Pipe)));
}
