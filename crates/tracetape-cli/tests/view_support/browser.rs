//! A minimal Chrome DevTools Protocol client: enough for the `tracetape
//! view` tests to drive a real page in headless Chromium (navigate,
//! evaluate, wait, click, fill, screenshot).
//!
//! Chromium is started with `--remote-debugging-port=0` and prints on
//! stderr the WebSocket its DevTools listen on. One connection carries every
//! command, the page's with the session id of a target attached in flat
//! mode. Responses are matched to commands by id and events are ignored, so
//! every wait happens inside the page ([`Browser::wait_for`]), never as a
//! sleep here.

#![allow(unreachable_pub)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{Mutex, oneshot};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long Chromium may take to say where its DevTools listen.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a command may go unanswered (longer than [`WAIT_MS`]).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Browser::wait_for`] waits in the page, in milliseconds.
const WAIT_MS: u32 = 10_000;
/// The executables looked for on `PATH`, in order.
const CANDIDATES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
/// A quiet, throwaway headless browser (`--no-sandbox`: CI runs as root).
const FLAGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --no-default-browser-check --disable-extensions --hide-scrollbars \
    --remote-debugging-port=0";

/// Resolves with the first truthy value of `condition()` (one that throws
/// counts as not yet), checked again on the next change to the document or
/// after 50 ms, whichever comes first (headless Chromium throttles
/// `requestAnimationFrame`). Rejects after `timeoutMs`, naming `what` and
/// showing the page's text.
const WAIT_FOR: &str = r#"async (condition, what, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    let threw = '';
    for (;;) {
        try {
            const value = condition();
            if (value) return value;
        } catch (error) { threw = ` (the condition last threw ${error})`; }
        if (Date.now() > deadline) {
            const text = (document.body ? document.body.innerText : '').slice(0, 2000);
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${threw}; the page's text:\n${text}`);
        }
        let wake;
        const woken = new Promise((resolve) => { wake = resolve; });
        const observer = new MutationObserver(() => wake());
        observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
        const timer = setTimeout(wake, 50);
        await woken.finally(() => { observer.disconnect(); clearTimeout(timer); });
    }
}"#;

/// Clicks an element, scrolled into view.
const CLICK: &str =
    "(element) => { element.scrollIntoView({ block: 'center' }); element.click(); }";

/// Sets the value of an input, textarea or select as typing or choosing
/// would, with `input` and `change` events.
const FILL: &str = r#"(element, text) => {
    element.focus();
    element.value = text;
    if (element.value !== text) throw new Error(`it did not take the value ${JSON.stringify(text)}`);
    element.dispatchEvent(new Event('input', { bubbles: true }));
    element.dispatchEvent(new Event('change', { bubbles: true }));
}"#;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// Commands awaiting their response, by id; `None` once the connection closed.
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Value>>>>>;

/// A headless Chromium showing one page, killed when dropped.
#[derive(Debug)]
pub struct Browser {
    sink: Mutex<SplitSink<Socket, Message>>,
    pending: Pending,
    next_id: AtomicU64,
    /// The page's session: every command but `Target.*` goes to it.
    session: String,
    _chromium: Chromium,
}

impl Browser {
    /// Starts headless Chromium (`TRACETAPE_CHROMIUM`, else the first of
    /// `chromium`, `chromium-browser` and `google-chrome` on `PATH`) with a
    /// new profile, and opens a 1400×900 page on `about:blank`.
    pub async fn launch() -> Result<Browser> {
        let (chromium, address) = Chromium::start().await?;
        let (socket, _) = connect_async(address.as_str())
            .await
            .with_context(|| format!("failed to connect to Chromium's DevTools at {address}"))?;
        let (sink, stream) = socket.split();
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(dispatch(stream, Arc::clone(&pending)));
        let mut browser = Browser {
            sink: Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            session: String::new(),
            _chromium: chromium,
        };

        let blank = json!({ "url": "about:blank" });
        let target = browser.call(None, "Target.createTarget", blank).await?;
        let attach = json!({ "targetId": target["targetId"], "flatten": true });
        let attached = browser.call(None, "Target.attachToTarget", attach).await?;
        let session = attached["sessionId"].as_str().context("no sessionId")?;
        browser.session = session.to_owned();
        let viewport =
            json!({ "width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": false });
        browser
            .page("Emulation.setDeviceMetricsOverride", viewport)
            .await?;
        Ok(browser)
    }

    /// Navigates to `url` and waits until its document has loaded.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.page("Page.enable", json!({})).await?;
        let navigated = self.page("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = navigated["errorText"].as_str() {
            bail!("failed to navigate to {url}: {error}");
        }
        let loaded = format!("{url} to load");
        self.wait_for("document.readyState === 'complete'", &loaded)
            .await?;
        Ok(())
    }

    /// The value of the JavaScript `expression` in the page, promises
    /// awaited; an exception it throws is the error.
    pub async fn eval(&self, expression: &str) -> Result<Value> {
        let value = self.evaluate(expression).await;
        value.with_context(|| format!("failed to evaluate `{expression}`"))
    }

    /// Waits in the page, up to 10 s, until the JavaScript expression
    /// `condition_js` is truthy, and returns its value. On time-out the
    /// error names `what` and shows the page's text.
    pub async fn wait_for(&self, condition_js: &str, what: &str) -> Result<Value> {
        // On lines of its own: a condition ending in a `//` comment still closes.
        let condition = format!("() => (\n{condition_js}\n)");
        let expression = format!("({WAIT_FOR})({condition}, {}, {WAIT_MS})", quoted(what));
        let value = self.evaluate(&expression).await;
        value.with_context(|| format!("failed waiting for {what}"))
    }

    /// Clicks the element `selector` matches; an error if none does.
    pub async fn click(&self, selector: &str) -> Result<()> {
        let clicked = self.on_element(selector, CLICK, "").await;
        clicked.with_context(|| format!("failed to click {selector}"))
    }

    /// Sets the value of the input or select `selector` matches to `text`,
    /// with `input` and `change` events.
    pub async fn fill(&self, selector: &str, text: &str) -> Result<()> {
        let filled = self.on_element(selector, FILL, &quoted(text)).await;
        filled.with_context(|| format!("failed to fill {selector}"))
    }

    /// Writes a PNG of the whole page, beyond the viewport too, to `path`,
    /// creating its directory.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = json!({ "format": "png", "captureBeyondViewport": true });
        let shot = self.page("Page.captureScreenshot", png).await?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data);
        let png = png.context("failed to decode the screenshot")?;
        if let Some(parent) = path.parent() {
            let created = std::fs::create_dir_all(parent);
            created.with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("failed to write {}", path.display()))
    }

    /// Calls the JavaScript `function` with the element `selector` matches
    /// and `argument` (JavaScript too); no element is an error.
    async fn on_element(&self, selector: &str, function: &str, argument: &str) -> Result<()> {
        let selector = quoted(selector);
        let element = format!(
            "(document.querySelector({selector}) \
             ?? (() => {{ throw new Error('no element matches ' + {selector}); }})())"
        );
        self.evaluate(&format!("({function})({element}, {argument})"))
            .await?;
        Ok(())
    }

    /// `Runtime.evaluate` by value; a thrown exception becomes the error.
    async fn evaluate(&self, expression: &str) -> Result<Value> {
        let params =
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let mut evaluated = self.page("Runtime.evaluate", params).await?;
        if let Some(details) = evaluated.get("exceptionDetails") {
            // An error's description is its stack; anything else, all details.
            let description = details["exception"]["description"].as_str();
            let thrown = description.map_or_else(|| details.to_string(), str::to_owned);
            bail!("the page threw {thrown}");
        }
        let value = evaluated.pointer_mut("/result/value").map(Value::take);
        Ok(value.unwrap_or_default())
    }

    /// Sends a command to the page's session.
    async fn page(&self, method: &str, params: Value) -> Result<Value> {
        self.call(Some(&self.session), method, params).await
    }

    /// Sends `method` (to `session`, or to the browser) and returns its
    /// result; a DevTools error is the error, named after `method`.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        match self.pending.lock().await.as_mut() {
            Some(pending) => pending.insert(id, answer),
            None => bail!("failed to send {method}: the DevTools connection is closed"),
        };
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let message = Message::text(command.to_string());
        let sent = self.sink.lock().await.send(message).await;
        sent.with_context(|| format!("failed to send {method}"))?;
        let mut response = timeout(COMMAND_TIMEOUT, answered)
            .await
            .map_err(|_| anyhow!("{method} was not answered within {COMMAND_TIMEOUT:?}"))?
            .map_err(|_| anyhow!("the DevTools connection closed before answering {method}"))?;
        if let Some(error) = response.get("error") {
            bail!("DevTools command {method} failed: {error}");
        }
        let result = response.get_mut("result").map(Value::take);
        Ok(result.unwrap_or_default())
    }
}

/// Hands each response to the command with its id, ignoring events; once
/// the connection closes, fails the commands waiting and any sent later.
async fn dispatch(mut stream: SplitStream<Socket>, pending: Pending) {
    while let Some(Ok(message)) = stream.next().await {
        let text = message.to_text().unwrap_or_default();
        let response: Value = serde_json::from_str(text).unwrap_or_default();
        let Some(id) = response["id"].as_u64() else {
            continue;
        };
        let mut waiting = pending.lock().await;
        if let Some(answer) = waiting.as_mut().and_then(|waiting| waiting.remove(&id)) {
            // The command may have timed out and stopped listening.
            let _ = answer.send(response);
        }
    }
    pending.lock().await.take();
}

/// `text` as a JavaScript string literal (JSON's are).
fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

/// The running Chromium and its profile directory.
#[derive(Debug)]
struct Chromium {
    /// The browser process, the leader of its own process group.
    process: Child,
    /// Removed once `drop` has killed the browser.
    _profile: TempDir,
}

impl Chromium {
    /// Starts Chromium, returning it and the address of its DevTools.
    async fn start() -> Result<(Chromium, String)> {
        let program = find_chromium()?;
        let profile = TempDir::new().context("failed to create a profile directory")?;
        let mut process = Command::new(&program)
            .args(FLAGS.split_whitespace())
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start {}", program.display()))?;
        let stderr = process.stderr.take().context("no stderr")?;
        let chromium = Chromium {
            process,
            _profile: profile,
        };
        let address = listening_address(&program, stderr).await?;
        Ok((chromium, address))
    }
}

/// Reads Chromium's stderr until `DevTools listening on ws://…`, then keeps
/// draining it in a task so the browser never blocks on a full pipe.
async fn listening_address(program: &Path, stderr: ChildStderr) -> Result<String> {
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let found = timeout(LAUNCH_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            match line.strip_prefix("DevTools listening on ") {
                Some(address) => return Some(address.trim().to_owned()),
                None => seen.push(line),
            }
        }
        None
    })
    .await;
    let problem = match found {
        Ok(Some(address)) => {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(address);
        }
        Ok(None) => "exited".to_owned(),
        Err(_) => format!("was silent for {LAUNCH_TIMEOUT:?}"),
    };
    let seen = if seen.is_empty() {
        "(nothing)".to_owned()
    } else {
        seen.join("\n")
    };
    bail!(
        "{} {problem} before printing where its DevTools listen; its stderr:\n{seen}",
        program.display()
    )
}

impl Drop for Chromium {
    /// Kills the whole process group, helpers too, before the profile is
    /// removed: `kill_on_drop` kills the browser process alone, and its
    /// network service could still be writing there.
    fn drop(&mut self) {
        if let Some(pid) = self.process.id() {
            let mut kill = std::process::Command::new("kill");
            let _ = kill
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `TRACETAPE_CHROMIUM`, else the first of [`CANDIDATES`] on `PATH`.
fn find_chromium() -> Result<PathBuf> {
    if let Some(program) = std::env::var_os("TRACETAPE_CHROMIUM").filter(|set| !set.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = |name: &str| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|file| file.is_file())
    };
    CANDIDATES.into_iter().find_map(on_path).context(
        "no chromium, chromium-browser or google-chrome on PATH: install Debian's `chromium` \
         (.ci/test-deps does) or set TRACETAPE_CHROMIUM to a Chromium or Chrome",
    )
}
