//! A new user can use `/docs` as it is (docs/contract.md §3). Headless Chromium, driven through
//! chromedriver with fantoccini, opens the Swagger UI of a spawned sendid, authorizes with the
//! demo key, clicks "Try it out" and "Execute" with the body left exactly as Swagger UI fills it,
//! and sees a 200 with a `send_id`; the test then checks over HTTP that this send_id exists.
//!
//! Needs `chromedriver` and `chromium` (Debian: `chromium`, `chromium-driver`); `CHROMEDRIVER`
//! and `CHROMIUM` override where they are looked for. Without them the test prints why and
//! passes, except in CI (`CI=true`), where it fails.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use sendid_test_support::{expect_json, header, TestApp};

/// The longest any single step may take; generous for a loaded 2-core CI machine.
const STEP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_authorize_try_it_out_execute_creates_a_send_id() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = sendid_test_support::spawn_app().await;
    let demo = app.demo.clone().expect("a new data directory has a demo");

    let driver = ChromeDriver::start(&tools.chromedriver).await;
    let profile = tempfile::tempdir().expect("temporary Chromium profile");
    let client = connect(&driver, &tools.chromium, profile.path()).await;

    let outcome = use_swagger_ui(&client, &app, &demo.api_key).await;
    if outcome.is_err() {
        save_screenshot(&client).await;
    }
    // Close the session whatever happened, so that chromedriver ends Chromium with it.
    let _ = client.close().await;
    drop(driver);
    let send_id = outcome.unwrap_or_else(|e| panic!("Swagger UI at /docs: {e:#}"));

    // The send_id shown in the browser is real: listed under the demo campaign, one unit of
    // quota spent, and asking for it again answers it without spending more.
    let listed = app
        .all_send_ids(&demo.workspace_id, &demo.campaign_id)
        .await;
    assert_eq!(
        listed,
        vec![send_id.clone()],
        "the demo campaign's send_ids"
    );
    assert_eq!(app.used_today(&demo.workspace_id).await, 1);
    let again = app
        .create(
            &demo.api_key,
            &json!({"campaign_id": demo.campaign_id, "send_id": send_id}),
        )
        .await;
    assert_eq!(header(&again, "x-ratelimit-remaining"), Some("99"));
    let again = expect_json(again, 200).await;
    assert_eq!(again["send_id"], json!(send_id));
    assert_eq!(app.used_today(&demo.workspace_id).await, 1);
}

/// Every click a new user makes; returns the send_id rendered in the response.
async fn use_swagger_ui(client: &Client, app: &TestApp, api_key: &str) -> anyhow::Result<String> {
    client.goto(&app.url("/docs")).await.context("open /docs")?;

    // Authorize: paste the key, apply, close the dialog.
    click(
        client,
        ".auth-wrapper button.authorize",
        "the Authorize button",
    )
    .await?;
    visible(client, "#auth-bearer-value", "the bearer value field")
        .await?
        .send_keys(api_key)
        .await
        .context("type the API key")?;
    click(
        client,
        ".modal-ux button[aria-label='Apply credentials']",
        "the dialog's Authorize button",
    )
    .await?;
    visible(
        client,
        ".modal-ux button[aria-label='Remove authorization']",
        "the Logout button that shows the key was accepted",
    )
    .await?;
    click(
        client,
        ".modal-ux button.btn-done",
        "the dialog's Close button",
    )
    .await?;
    wait_until(client, "the Authorize dialog to close", |c| async move {
        Ok(c.find_all(Locator::Css(".modal-ux")).await?.is_empty())
    })
    .await?;

    // Expand the operation, "Try it out", and leave the body as Swagger UI fills it.
    let op = "#operations-Sends-createSendId";
    click(
        client,
        &format!("{op} .opblock-summary-path"),
        "the operation",
    )
    .await?;
    click(client, &format!("{op} button.try-out__btn"), "Try it out").await?;
    let body = visible(
        client,
        &format!("{op} textarea.body-param__text"),
        "the body",
    )
    .await?;
    let prefilled = body.prop("value").await?.unwrap_or_default();
    let prefilled: Value = serde_json::from_str(&prefilled)
        .with_context(|| format!("the prefilled body is not JSON: {prefilled:?}"))?;
    if prefilled["campaign_id"] != "demo-campaign" {
        bail!("the prefilled body does not name the demo campaign: {prefilled}");
    }

    click(client, &format!("{op} button.execute"), "Execute").await?;
    let status = format!("{op} .live-responses-table tr.response td.response-col_status");
    let status = visible(client, &status, "the server response's status").await?;
    let code = status.text().await?;
    let cell = client
        .find(Locator::Css(&format!(
            "{op} .live-responses-table tr.response td.response-col_description"
        )))
        .await?;
    let details = cell.text().await?;
    if !code.trim().starts_with("200") {
        bail!("the server response is {code:?}, not 200: {details}");
    }
    rendered_send_id(&cell)
        .await?
        .ok_or_else(|| anyhow!("no send_id in the rendered response: {details}"))
}

/// The `send_id` of the rendered JSON response body, if one of the cell's blocks is that body.
async fn rendered_send_id(cell: &Element) -> anyhow::Result<Option<String>> {
    for block in cell.find_all(Locator::Css("pre")).await? {
        let text = block.text().await?;
        if let Ok(body) = serde_json::from_str::<Value>(&text) {
            if body["message"] == "success" {
                if let Some(id) = body["send_id"].as_str().filter(|s| !s.is_empty()) {
                    return Ok(Some(id.to_string()));
                }
            }
        }
    }
    Ok(None)
}

/// Waits until `css` is displayed and clicks it.
async fn click(client: &Client, css: &str, what: &str) -> anyhow::Result<()> {
    visible(client, css, what)
        .await?
        .click()
        .await
        .with_context(|| format!("click {what} ({css})"))
}

/// Waits until an element matching `css` is displayed; returns it.
async fn visible(client: &Client, css: &str, what: &str) -> anyhow::Result<Element> {
    let start = Instant::now();
    loop {
        for element in client.find_all(Locator::Css(css)).await? {
            // The element may be re-rendered between finding and asking; look again then.
            if element.is_displayed().await.unwrap_or(false) {
                return Ok(element);
            }
        }
        if start.elapsed() > STEP {
            bail!("{what} ({css}) did not appear within {STEP:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn wait_until<F, Fut>(client: &Client, what: &str, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<bool, fantoccini::error::CmdError>>,
{
    let start = Instant::now();
    while !ready(client.clone()).await? {
        if start.elapsed() > STEP {
            bail!("timed out after {STEP:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// On a failure, keeps what the browser showed next to the build's other test files.
async fn save_screenshot(client: &Client) {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-failure.png");
    if let Ok(png) = client.screenshot().await {
        if std::fs::write(&path, png).is_ok() {
            eprintln!(
                "browser test: screenshot of the failure in {}",
                path.display()
            );
        }
    }
}

struct BrowserTools {
    chromedriver: PathBuf,
    chromium: PathBuf,
}

impl BrowserTools {
    /// `None` (with a message) when absent outside CI; a failure when absent in CI.
    fn find() -> Option<Self> {
        let chromedriver = tool("CHROMEDRIVER", &["chromedriver"]);
        let chromium = tool(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        match (chromedriver, chromium) {
            (Some(chromedriver), Some(chromium)) => Some(Self {
                chromedriver,
                chromium,
            }),
            (driver, browser) => {
                let missing = [
                    driver.is_none().then_some("chromedriver"),
                    browser.is_none().then_some("chromium"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and ");
                let how = "install the Debian packages `chromium` and `chromium-driver`, \
                           or set CHROMEDRIVER / CHROMIUM";
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("browser test: {missing} not found and CI=true: {how}");
                }
                // Straight to stderr: the test harness would swallow eprintln! of a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "browser test SKIPPED: {missing} not found ({how})"
                );
                None
            }
        }
    }
}

/// The path in `env`, else the first of `names` found on PATH.
fn tool(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver on a free port, in its own process group so that ending the group also ends
/// any Chromium it left behind.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    async fn start(binary: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        driver.wait_ready().await;
        driver
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            let status = http.get(format!("{}/status", self.url)).send().await;
            if let Ok(resp) = status {
                if let Ok(body) = resp.json::<Value>().await {
                    if body["value"]["ready"] == json!(true) {
                        return;
                    }
                }
            }
            assert!(
                start.elapsed() < STEP,
                "chromedriver at {} not ready within {STEP:?}",
                self.url
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

async fn connect(driver: &ChromeDriver, chromium: &Path, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1024",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium, "args": args }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("a Chromium session through {}: {e}", driver.url))
}
