//! The local AWS (infra/local/), as `peerlab run --local` and the end-to-end tests use it: started from the
//! project's own launcher on a free port of 127.0.0.1 with IAM enforced, and stopped when dropped, its function
//! processes with it; its own endpoints (`/peerlab/...`); SDK configuration for it.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use aws_config::{BehaviorVersion, SdkConfig};

/// The local AWS's home account (moto's default account: the one `test` credentials act in).
pub const HOME_ACCOUNT: &str = "123456789012";

/// How long a stopped local AWS gets to stop its function processes before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Where the local AWS's own log goes.
pub enum Logs {
    /// This process's stderr (the end-to-end tests: a failing test shows it).
    Inherit,
    /// DIR/local-aws.log, the functions' logs beside it (its `--log-dir`).
    Dir(PathBuf),
}

/// A local AWS this process started. Dropping it stops it: SIGTERM (it stops its function processes and exits),
/// then SIGKILL if it has not exited within 15 s.
pub struct LocalAws {
    child: Child,
    /// `http://127.0.0.1:PORT`, as its ready line said.
    pub url: String,
}

impl LocalAws {
    /// Start `infra/local/start` of the project at `root` on a free port (`--port 0`), its functions the binaries
    /// in `lambda_dir`, with `args` added (e.g. `--profile realistic`; a later `--iam off` wins); returns once it
    /// has printed its ready line.
    pub fn start(
        root: &Path,
        lambda_dir: &Path,
        args: &[impl AsRef<OsStr>],
        logs: &Logs,
    ) -> Result<LocalAws> {
        let launcher = root.join("infra/local/start");
        let mut command = Command::new(&launcher);
        // IAM enforced, as on AWS: each function, state machine and schedule may do what its role allows
        command
            .args(["--port", "0", "--iam", "enforce", "--lambda-dir"])
            .arg(lambda_dir);
        let stderr = match logs {
            Logs::Inherit => Stdio::inherit(),
            Logs::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                command.arg("--log-dir").arg(dir);
                let log = dir.join("local-aws.log");
                std::fs::File::create(&log)
                    .with_context(|| format!("creating {}", log.display()))?
                    .into()
            }
        };
        let child = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", launcher.display()))?;
        // from here on, any early return drops `aws` and so stops the process
        let mut aws = LocalAws {
            child,
            url: String::new(),
        };
        let stdout = aws
            .child
            .stdout
            .take()
            .context("infra/local/start's stdout was not captured")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading infra/local/start's ready line")?;
        match line.trim().strip_prefix("ready ") {
            Some(url) => {
                aws.url = url.to_string();
                Ok(aws)
            }
            None => {
                aws.stop();
                let last_log_line = match logs {
                    Logs::Dir(dir) => std::fs::read_to_string(dir.join("local-aws.log"))
                        .ok()
                        .and_then(|log| log.lines().last().map(str::to_string)),
                    Logs::Inherit => None,
                };
                bail!(
                    "the local AWS did not start: {}",
                    last_log_line.as_deref().unwrap_or(line.trim())
                )
            }
        }
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // exited, and reaped: its pid may be another process's by now
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SDK configuration for a local AWS at `url`: its region, and the `test` credentials of its home account.
pub async fn config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "peerlab-local",
        ))
        .load()
        .await
}

/// GET one of the local AWS's own endpoints (`/peerlab/...`) as JSON.
pub fn get(url: &str, path: &str) -> Result<serde_json::Value> {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        std::net::TcpStream::connect(address).with_context(|| format!("connecting to {url}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")
        .with_context(|| format!("asking {url} for {path}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading {url}'s {path}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).with_context(|| format!("the local AWS's {path}"))
}

/// The live resources of a local AWS (its inventory: `type`, `id`, `tags`): all of them, or one lab's.
pub fn resources(url: &str, lab_id: Option<&str>) -> Result<Vec<serde_json::Value>> {
    let query = lab_id
        .map(|lab| format!("?tag={}={lab}", lab_core::tags::LAB_ID))
        .unwrap_or_default();
    let mut inventory = get(url, &format!("/peerlab/resources{query}"))?;
    match inventory["resources"].take() {
        serde_json::Value::Array(all) => Ok(all),
        other => bail!("the local AWS's /peerlab/resources: no list of resources: {other}"),
    }
}
