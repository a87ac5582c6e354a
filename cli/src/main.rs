//! `peerlab`: start a two-VPC peering lab and follow it, on the local AWS or on AWS.
//!
//!     peerlab run --local                         # a private local AWS for this run, then gone
//!     peerlab run --state-machine-arn ARN         # on AWS (or PEERLAB_STATE_MACHINE_ARN)
//!     peerlab status|report EXECUTION ; peerlab ls ; peerlab sweep --dry-run
//!     peerlab timeline EXECUTION -o run.svg
//!     peerlab schedule --at 2026-12-01T09:00:00Z [--input FILE]   # a lab EventBridge Scheduler starts later

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use peerlab::history::{read_recording, Event, Execution};
use peerlab::progress::Progress;
use peerlab::runs::Runs;
use peerlab::{report, timeline};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(
    name = "peerlab",
    version,
    about = "Start a two-VPC peering lab and follow it, on the local AWS or on AWS"
)]
struct Cli {
    /// A running local AWS (e.g. http://127.0.0.1:4566) instead of AWS.
    #[arg(long, global = true, env = "PEERLAB_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// AWS region (default: the environment's or profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The lab state machine on AWS (the stack's StateMachineArn output).
    #[arg(
        long,
        global = true,
        env = "PEERLAB_STATE_MACHINE_ARN",
        value_name = "ARN"
    )]
    state_machine_arn: Option<String>,
    /// On a local AWS: the stack of infra/template.yaml whose outputs name the state machine (`make deploy
    /// ENDPOINT=URL STACK=name`); `run` deploys it when it is not there.
    #[arg(
        long,
        global = true,
        env = "PEERLAB_STACK",
        default_value = "peerlab",
        value_name = "NAME"
    )]
    stack: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the input, start a lab, follow it live, print the report; exit 1 if the lab failed.
    Run {
        /// The lab's input (JSON; see the README's input reference). Default: {} — the tutorial's lab.
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// Run on a local AWS: the one at --endpoint, or a private one started for this run.
        #[arg(long)]
        local: bool,
        /// Execution name (it names the lab unless the input sets lab_id). Default: lab-<UTC time>.
        #[arg(long)]
        name: Option<String>,
        /// Write the report as JSON here.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write the timeline picture (SVG) here.
        #[arg(long, value_name = "FILE.svg")]
        timeline: Option<PathBuf>,
        /// Stop following after this many seconds (default: 30 minutes plus the lab's hold_seconds). On the
        /// local AWS the execution is stopped; on AWS it keeps running (its own teardown, or the backstop's).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
        /// Extra arguments for the private local AWS (infra/local/start), e.g. "--profile realistic --time-scale 0.05".
        #[arg(long, allow_hyphen_values = true, value_name = "ARGS")]
        local_args: Option<String>,
        /// The built step functions for the private local AWS (default: $CARGO_TARGET_DIR/debug or target/debug).
        #[arg(long, value_name = "DIR")]
        lambda_dir: Option<PathBuf>,
    },
    /// One line: the execution's status, the step it is on, its retries.
    Status { execution: String },
    /// The report of an execution (text, or the JSON `run --report` writes).
    Report {
        execution: String,
        #[arg(long)]
        json: bool,
    },
    /// The labs that exist (by their peerlab tags), with their expiry, and the executions running.
    Ls,
    /// What teardown's sweep mode deletes: every lab whose peerlab:expires-at has passed.
    Sweep {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Have EventBridge Scheduler start a lab later (a one-time schedule that deletes itself once it has run); the
    /// lab tears itself down as usual. On a local AWS (--endpoint) the stack's outputs give the state machine and
    /// the scheduler's role; on AWS pass --state-machine-arn and --role-arn (the stack's outputs).
    Schedule {
        /// When: an RFC 3339 time (2026-12-01T09:00:00Z, 2026-12-01T10:00:00+01:00), or +DURATION from now
        /// (+90s, +15m, +2h).
        #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
        at: String,
        /// The lab's input (JSON), validated now. Without lab_id, the schedule's name becomes the lab id.
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// The schedule's name (and the lab's, unless the input sets lab_id). Default: lab-<UTC time of TIME>.
        #[arg(long)]
        name: Option<String>,
        /// The role EventBridge Scheduler assumes to start the lab (the stack's SchedulerRoleArn output).
        #[arg(long, env = "PEERLAB_SCHEDULER_ROLE_ARN", value_name = "ARN")]
        role_arn: Option<String>,
    },
    /// A Gantt-style SVG of a run: steps, waits, retries, hold, teardown.
    Timeline {
        /// The execution (ARN, or name with --state-machine-arn / on the local AWS).
        #[arg(required_unless_present = "history")]
        execution: Option<String>,
        #[arg(long, short, value_name = "FILE.svg")]
        output: PathBuf,
        /// Draw a recorded run instead: `aws stepfunctions get-execution-history` JSON, or
        /// {"execution": <describe-execution>, "history": <get-execution-history>}.
        #[arg(long, value_name = "FILE.json", conflicts_with = "execution")]
        history: Option<PathBuf>,
    },
}

/// A mistake in what was asked (exit 2), as opposed to a lab or AWS that failed (exit 1).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// An SDK error in one line: the service's code and message, or what is missing (credentials, region).
fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    err: SdkError<E>,
) -> anyhow::Error {
    if let Some(code) = err.code() {
        let message = err.message().unwrap_or_default().to_string();
        return match code {
            "ExecutionDoesNotExist" | "StateMachineDoesNotExist" | "InvalidArn" => {
                usage(format!("{what}: {code}: {message}"))
            }
            _ => anyhow!("{what}: {code}: {message}"),
        };
    }
    let detail = format!("{}", DisplayErrorContext(&err));
    if detail.to_lowercase().contains("credentials") {
        return usage(format!(
            "{what}: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or use --local)"
        ));
    }
    let first = detail.lines().next().unwrap_or_default();
    anyhow!("{what}: {first}")
}

// ---- where the labs run ---------------------------------------------------------------------------------------

/// A private local AWS, started from this project's files for one run; stopped (SIGTERM) when dropped.
struct LocalAws {
    child: tokio::process::Child,
    url: String,
    logs: PathBuf,
}

impl LocalAws {
    async fn start(root: &Path, lambda_dir: &Path, extra: &[String]) -> Result<LocalAws> {
        let logs = std::env::temp_dir().join(format!("peerlab-local-{}", std::process::id()));
        std::fs::create_dir_all(&logs)?;
        let stderr = std::fs::File::create(logs.join("local-aws.log"))?;
        // IAM enforced, as on AWS: each function, state machine and schedule may do what its role allows (extra
        // arguments may say `--iam off`)
        let mut child = tokio::process::Command::new(root.join("infra/local/start"))
            .args(["--port", "0", "--iam", "enforce", "--lambda-dir"])
            .arg(lambda_dir)
            .arg("--log-dir")
            .arg(&logs)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("starting infra/local/start")?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let Some(url) = line.trim().strip_prefix("ready ") else {
            let _ = child.wait().await;
            let log = std::fs::read_to_string(logs.join("local-aws.log")).unwrap_or_default();
            bail!(
                "the local AWS did not start: {}",
                log.lines().last().unwrap_or(line.trim())
            );
        };
        Ok(LocalAws {
            url: url.to_string(),
            child,
            logs,
        })
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.start_kill();
    }
}

/// The project's root (for the local AWS): $PEERLAB_ROOT, or the nearest folder above the working directory or
/// this executable holding infra/local/start.
fn project_root() -> Result<PathBuf> {
    if let Ok(root) = std::env::var("PEERLAB_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let mut starts = vec![std::env::current_dir()?];
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        if let Some(root) = start
            .ancestors()
            .find(|d| d.join("infra/local/start").is_file())
        {
            return Ok(root.to_path_buf());
        }
    }
    Err(usage(
        "the local AWS needs the peerlab project: run from inside it, or set PEERLAB_ROOT",
    ))
}

fn lambda_dir(root: &Path, given: Option<PathBuf>) -> Result<PathBuf> {
    let dir = given.unwrap_or_else(|| match std::env::var("CARGO_TARGET_DIR") {
        Ok(target) => PathBuf::from(target).join("debug"),
        Err(_) => root.join("target/debug"),
    });
    if !dir.join("create-vpc").is_file() {
        return Err(usage(format!(
            "no built step functions in {}: run `make build-functions` (or pass --lambda-dir)",
            dir.display()
        )));
    }
    Ok(dir)
}

async fn local_config(url: &str) -> SdkConfig {
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

async fn aws_config(region: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(usage(
            "no AWS region: set AWS_REGION (or a profile's region), or pass --region",
        ));
    }
    Ok(config)
}

/// The AWS configuration the commands other than `run --local` use.
async fn config(cli: &Cli) -> Result<SdkConfig> {
    match &cli.endpoint {
        Some(url) => Ok(local_config(url).await),
        None => aws_config(cli.region.as_deref()).await,
    }
}

/// The outputs of a stack of infra/template.yaml (its Outputs section) that the CLI uses.
#[derive(serde::Deserialize)]
struct StackOutputs {
    #[serde(rename = "StateMachineArn")]
    state_machine: String,
    #[serde(rename = "SchedulerRoleArn")]
    scheduler_role: String,
}

fn python(root: &Path) -> PathBuf {
    std::env::var("PEERLAB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".venv/bin/python"))
}

/// Run `python -m peerlab_local.stack ARGS` (infra/local/peerlab_local/stack.py); its stdout: the outputs' JSON.
fn stack_tool(root: &Path, args: &[&std::ffi::OsStr]) -> Result<std::process::Output> {
    let python = python(root);
    std::process::Command::new(&python)
        .args(["-m", "peerlab_local.stack"])
        .args(args)
        .env("PYTHONPATH", root.join("infra/local"))
        .output()
        .with_context(|| format!("running {} (make venv creates it)", python.display()))
}

/// The outputs of the stack on a local AWS, None when it is not deployed there.
fn stack_outputs(root: &Path, url: &str, stack: &str) -> Result<Option<StackOutputs>> {
    let out = stack_tool(
        root,
        &[
            "outputs".as_ref(),
            "--endpoint".as_ref(),
            url.as_ref(),
            "--stack".as_ref(),
            stack.as_ref(),
        ],
    )?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("does not exist") {
            return Ok(None);
        }
        bail!(
            "reading stack {stack} on {url}: {}",
            err.trim().lines().last().unwrap_or_default()
        );
    }
    Ok(Some(serde_json::from_slice(&out.stdout).with_context(
        || format!("stack {stack}'s outputs on {url}"),
    )?))
}

/// Deploy infra/template.yaml as `stack` on a local AWS (what `make deploy ENDPOINT=URL` does), its functions
/// running the binaries in `lambda_dir`; returns the stack's outputs.
fn deploy_local(root: &Path, url: &str, stack: &str, lambda_dir: &Path) -> Result<StackOutputs> {
    println!("deploying infra/template.yaml as stack {stack} on {url}");
    let out = stack_tool(
        root,
        &[
            "deploy".as_ref(),
            "--json".as_ref(),
            "--endpoint".as_ref(),
            url.as_ref(),
            "--stack".as_ref(),
            stack.as_ref(),
            "--lambda-dir".as_ref(),
            lambda_dir.as_os_str(),
        ],
    )?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "deploying stack {stack} on {url} failed: {}",
            err.trim().lines().last().unwrap_or_default()
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("stack {stack}'s outputs on {url}"))
}

/// The local AWS's home account (moto's default account: the one `test` credentials act in).
const LOCAL_ACCOUNT: &str = "123456789012";

/// A lab whose side B is in another account needs infra/peer-account.yaml there (as on AWS: README, "Side B in
/// another account"): deploy it on the local AWS as that account's administrator, trusting `stack`'s roles, its
/// role named as the input's accepter_role_arn. Idempotent ("No changes to deploy").
fn deploy_peer_local(
    root: &Path,
    url: &str,
    stack: &str,
    plan: &lab_core::input::LabPlan,
) -> Result<()> {
    let Some(peer) = &plan.peer else {
        return Ok(());
    };
    let Some(account) = peer.account_id.as_deref().filter(|a| *a != LOCAL_ACCOUNT) else {
        return Ok(());
    };
    println!(
        "deploying infra/peer-account.yaml as stack peerlab-accepter in account {account} on {url}"
    );
    let template = root.join("infra/peer-account.yaml");
    let home_account = format!("HomeAccountId={LOCAL_ACCOUNT}");
    let home_stack = format!("HomeStackName={stack}");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "deploy".as_ref(),
        "--json".as_ref(),
        "--endpoint".as_ref(),
        url.as_ref(),
        "--account".as_ref(),
        account.as_ref(),
        "--stack".as_ref(),
        "peerlab-accepter".as_ref(),
        "--template".as_ref(),
        template.as_os_str(),
        "--capabilities".as_ref(),
        "CAPABILITY_NAMED_IAM".as_ref(),
        "--parameter".as_ref(),
        home_account.as_ref(),
        "--parameter".as_ref(),
        home_stack.as_ref(),
    ];
    // the role's name is the input's (peer-account.yaml's RoleName parameter)
    let role_name = peer.accepter_role_arn.as_deref().and_then(|arn| {
        arn.rsplit_once(":role/")
            .map(|(_, name)| format!("RoleName={name}"))
    });
    if let Some(role_name) = &role_name {
        args.push("--parameter".as_ref());
        args.push(role_name.as_ref());
    }
    let out = stack_tool(root, &args)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "deploying the peer account's stack on {url} failed: {}",
            err.trim().lines().last().unwrap_or_default()
        );
    }
    Ok(())
}

/// The lab state machine: the one given, or on a local AWS the stack's (None before it is deployed).
fn state_machine(cli: &Cli) -> Result<Option<String>> {
    if let Some(arn) = &cli.state_machine_arn {
        return Ok(Some(arn.clone()));
    }
    let Some(url) = &cli.endpoint else {
        return Ok(None);
    };
    Ok(stack_outputs(&project_root()?, url, &cli.stack)?.map(|o| o.state_machine))
}

/// An execution's ARN from an ARN, or a name of the lab state machine's executions.
fn execution_arn(cli: &Cli, given: &str) -> Result<String> {
    if given.starts_with("arn:") {
        return Ok(given.to_string());
    }
    let machine = state_machine(cli)?.ok_or_else(|| {
        usage(format!(
            "{given:?} is not an ARN: give the execution's ARN, or its name with --state-machine-arn (on a local AWS: deploy the stack {} first)",
            cli.stack
        ))
    })?;
    Ok(format!(
        "{}:{given}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    ))
}

// ---- reading executions -----------------------------------------------------------------------------------------

async fn describe(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Execution> {
    let d = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| aws(&format!("execution {arn}"), e))?;
    Ok(Execution::from_sdk(&d))
}

async fn history(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws(&format!("history of {arn}"), e))?;
        events.extend(page.events().iter().map(Event::from_sdk));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(events);
        }
    }
}

fn spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Follow an execution to its end, printing each line of progress as it happens.
async fn follow(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    poll: Duration,
    timeout: Duration,
    stop_on_timeout: bool,
) -> Result<(Execution, Vec<Event>)> {
    let deadline = Instant::now() + timeout;
    let bar = spinner();
    let mut progress = Progress::default();
    let mut seen = 0;
    loop {
        // Describe first: once it says ended, the history read after it has the last events.
        let execution = describe(sfn, arn).await?;
        let events = history(sfn, arn).await?;
        for e in &events[seen.min(events.len())..] {
            for line in progress.feed(e) {
                bar.suspend(|| println!("{line}"));
            }
        }
        seen = events.len();
        bar.set_message(progress.now());
        if !execution.running() {
            bar.finish_and_clear();
            return Ok((execution, events));
        }
        if Instant::now() > deadline {
            bar.finish_and_clear();
            if !stop_on_timeout {
                bail!(
                    "the execution did not end within {} s; it keeps running — `peerlab status {arn}`",
                    timeout.as_secs()
                );
            }
            // the backstop tears a stopped lab down; a stop that failed leaves the lab running: say which
            let stopped = sfn
                .stop_execution()
                .execution_arn(arn)
                .error("Timeout")
                .cause("peerlab run gave up")
                .send()
                .await;
            match stopped {
                Ok(_) => bail!(
                    "the execution did not end within {} s: stopped it ({arn})",
                    timeout.as_secs()
                ),
                Err(e) => {
                    let why = aws("stopping it", e);
                    bail!(
                        "the execution did not end within {} s and is still running ({why}) — `peerlab status {arn}`",
                        timeout.as_secs()
                    )
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

/// GET one of the local AWS's own endpoints (`/peerlab/...`) as JSON.
fn local_get(url: &str, path: &str) -> Result<serde_json::Value> {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        std::net::TcpStream::connect(address).with_context(|| format!("connecting to {url}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).with_context(|| format!("the local AWS's {path}"))
}

/// Live resources of a local AWS (its inventory), as "type id" lines: all of them, or one lab's.
fn local_resources(url: &str, lab_id: Option<&str>) -> Result<Vec<String>> {
    let query = lab_id
        .map(|lab| format!("?tag=peerlab:lab-id={lab}"))
        .unwrap_or_default();
    let parsed = local_get(url, &format!("/peerlab/resources{query}"))?;
    Ok(parsed["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r["type"].as_str().unwrap_or("?"),
                r["id"].as_str().unwrap_or("?")
            )
        })
        .collect())
}

// ---- the commands ---------------------------------------------------------------------------------------------

fn default_name(now: OffsetDateTime) -> String {
    format!(
        "lab-{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Read and validate the input with the workflow's own rules, before anything starts.
/// Returns the input as JSON text, and the lab plan the workflow will make of it.
fn read_input(
    path: Option<&Path>,
    name: &str,
    now: OffsetDateTime,
) -> Result<(String, lab_core::input::LabPlan)> {
    let (label, text) = match path {
        None => ("(default)".to_string(), "{}".to_string()),
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| usage(format!("input {}: {e}", p.display())))?,
        ),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| usage(format!("input {label}: not JSON: {e}")))?;
    let parsed = lab_core::input::parse_input(value.clone())
        .map_err(|e| usage(format!("input {label}: {e}")))?;
    let plan = lab_core::input::validate(&parsed, name, now)
        .map_err(|e| usage(format!("input {label}: {e}")))?;
    Ok((value.to_string(), plan))
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "--name {name:?}: an execution name is 1-80 characters of A-Z a-z 0-9 - _"
        )))
    }
}

struct RunArgs {
    input: Option<PathBuf>,
    local: bool,
    name: Option<String>,
    report: Option<PathBuf>,
    timeline: Option<PathBuf>,
    timeout: Option<u64>,
    local_args: Option<String>,
    lambda_dir: Option<PathBuf>,
}

async fn run(cli: &Cli, args: RunArgs) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let name = args.name.clone().unwrap_or_else(|| default_name(now));
    check_name(&name)?;
    let (input, plan) = read_input(args.input.as_deref(), &name, now)?;
    let timeout = Duration::from_secs(args.timeout.unwrap_or(1800 + plan.hold_seconds));
    let local = args.local || cli.endpoint.is_some();
    if local && cli.state_machine_arn.is_some() {
        return Err(usage(
            "--local and --state-machine-arn: choose one place to run the lab",
        ));
    }
    if !local && cli.state_machine_arn.is_none() {
        return Err(usage(
            "where should the lab run? pass --local, or --state-machine-arn ARN (or set PEERLAB_STATE_MACHINE_ARN)",
        ));
    }
    let mut private = None;
    let (config, machine, url) = if local {
        let root = project_root()?;
        let url = match &cli.endpoint {
            Some(url) => url.clone(),
            None => {
                let extra: Vec<String> = args
                    .local_args
                    .as_deref()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let aws =
                    LocalAws::start(&root, &lambda_dir(&root, args.lambda_dir.clone())?, &extra)
                        .await?;
                println!("local AWS at {} (logs in {})", aws.url, aws.logs.display());
                let url = aws.url.clone();
                private = Some(aws);
                url
            }
        };
        let config = local_config(&url).await;
        // A private local AWS is new; one at --endpoint may have the stack already.
        let found = match private {
            Some(_) => None,
            None => stack_outputs(&root, &url, &cli.stack)?,
        };
        let machine = match found {
            Some(found) => found.state_machine,
            None => {
                let functions = lambda_dir(&root, args.lambda_dir.clone())?;
                deploy_local(&root, &url, &cli.stack, &functions)?.state_machine
            }
        };
        deploy_peer_local(&root, &url, &cli.stack, &plan)?;
        (config, machine, Some(url))
    } else {
        let config = aws_config(cli.region.as_deref()).await?;
        (
            config,
            cli.state_machine_arn.clone().expect("checked above"),
            None,
        )
    };
    let sfn = aws_sdk_sfn::Client::new(&config);
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&name)
        .input(&input)
        .send()
        .await
        .map_err(|e| aws("starting the execution", e))?;
    let arn = started.execution_arn().to_string();
    println!("started {arn}");
    let poll = if local {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(2)
    };
    let followed = tokio::select! {
        followed = follow(&sfn, &arn, poll, timeout, local) => followed?,
        _ = tokio::signal::ctrl_c() => {
            let what = if private.is_some() {
                "the private local AWS is stopped".to_string()
            } else {
                format!("the lab keeps running — `peerlab status {arn}`")
            };
            drop(private);
            bail!("interrupted: {what}");
        }
    };
    let (execution, events) = followed;
    let mut built = report::build(&execution, &events);
    let mut leaked = Vec::new();
    if let Some(url) = &url {
        // a private local AWS held only this lab: anything left is a leak, tagged or not; a shared one
        // (--endpoint) may hold other labs: this lab's tagged resources only
        let lab = if private.is_some() {
            None
        } else {
            Some(plan.lab_id.as_str())
        };
        leaked = local_resources(url, lab)?;
        built.json["leaked"] = serde_json::json!(leaked);
    }
    println!();
    for line in &built.lines {
        println!("{line}");
    }
    if let (Some(url), Some(wall)) = (&url, built.json["wall_seconds"].as_f64()) {
        // The local AWS runs EC2's delays and Step Functions' waits at its time scale; Lambda run time is real.
        let scale = local_get(url, "/peerlab/config")?["time_scale"].as_f64();
        if let Some(scale) = scale.filter(|s| *s > 0.0 && *s != 1.0) {
            let projected = wall / scale;
            built.json["projected_aws_seconds"] =
                serde_json::json!((projected * 10.0).round() / 10.0);
            println!(
                "  projected on AWS: {:.1} min ({wall:.1} s here / time scale {scale}; an upper bound: Lambda run time here is real, not scaled)",
                projected / 60.0
            );
        }
    }
    if url.is_some() {
        println!(
            "  leaked resources: {}",
            if leaked.is_empty() {
                "none".to_string()
            } else {
                leaked.join(", ")
            }
        );
    }
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&built.json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.timeline {
        std::fs::write(path, timeline::svg(&execution, &events))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("timeline: {}", path.display());
    }
    drop(private);
    Ok(if execution.status == "SUCCEEDED" && leaked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--at`: an RFC 3339 time, or +N s|m|h|d from now; whole seconds, in UTC.
fn parse_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let bad = || {
        usage(format!(
            "--at {text:?}: give an RFC 3339 time (2026-12-01T09:00:00Z) or +DURATION (+90s, +15m, +2h, +1d)"
        ))
    };
    let at = if let Some(rest) = text.strip_prefix('+') {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, unit) = rest.split_at(split);
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" | "" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86400,
            _ => return Err(bad()),
        };
        now + time::Duration::seconds(seconds)
    } else {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad())?
    };
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| bad())?;
    if at <= now {
        return Err(usage(format!("--at {text:?}: {at} is not in the future")));
    }
    Ok(at)
}

/// EventBridge Scheduler's one-time expression (Scheduler User Guide, schedule-types.html: at(yyyy-mm-ddThh:mm:ss),
/// in ScheduleExpressionTimezone, UTC here).
fn at_expression(at: OffsetDateTime) -> String {
    format!(
        "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

struct ScheduleArgs {
    at: String,
    input: Option<PathBuf>,
    name: Option<String>,
    role_arn: Option<String>,
}

async fn schedule(cli: &Cli, args: ScheduleArgs) -> Result<ExitCode> {
    use aws_sdk_scheduler::types::{
        ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
    };
    let now = OffsetDateTime::now_utc();
    let at = parse_at(&args.at, now)?;
    let name = args.name.clone().unwrap_or_else(|| default_name(at));
    check_name(&name)?;
    if name.len() > 64 {
        return Err(usage(format!(
            "--name {name:?}: a schedule name is at most 64 characters"
        )));
    }
    // validated as the lab will be when it starts; the schedule's name is the lab's unless the input names it
    let (input, plan) = read_input(args.input.as_deref(), &name, at)?;
    let mut value: serde_json::Value = serde_json::from_str(&input)?;
    if value.get("lab_id").is_none() {
        value["lab_id"] = serde_json::json!(plan.lab_id);
    }
    let (machine, role) = match (&cli.endpoint, &cli.state_machine_arn, &args.role_arn) {
        (_, Some(machine), Some(role)) => (machine.clone(), role.clone()),
        (Some(url), _, _) => {
            let root = project_root()?;
            let outputs = stack_outputs(&root, url, &cli.stack)?.ok_or_else(|| {
                usage(format!(
                    "no stack {} on {url}: deploy it first (make deploy ENDPOINT={url} STACK={})",
                    cli.stack, cli.stack
                ))
            })?;
            (
                cli.state_machine_arn.clone().unwrap_or(outputs.state_machine),
                args.role_arn.clone().unwrap_or(outputs.scheduler_role),
            )
        }
        _ => {
            return Err(usage(
                "on AWS, pass --state-machine-arn and --role-arn (the stack's StateMachineArn and SchedulerRoleArn outputs; make schedule reads them)",
            ))
        }
    };
    let config = config(cli).await?;
    let target = Target::builder()
        .arn(&machine)
        .role_arn(&role)
        .input(value.to_string())
        // as the template's schedules: a lab delivered more than an hour late is not the lab that was asked for
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(3600)
                .maximum_retry_attempts(185)
                .build(),
        )
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let expression = at_expression(at);
    aws_sdk_scheduler::Client::new(&config)
        .create_schedule()
        .name(&name)
        .schedule_expression(&expression)
        .schedule_expression_timezone("UTC")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        )
        .action_after_completion(ActionAfterCompletion::Delete)
        .description(format!("peerlab lab {} (peerlab schedule)", plan.lab_id))
        .target(target)
        .send()
        .await
        .map_err(|e| aws("creating the schedule", e))?;
    println!(
        "scheduled lab {} for {expression} UTC: schedule {name} (default group) starts it, then deletes itself",
        plan.lab_id
    );
    if let Some(url) = &cli.endpoint {
        // the local AWS runs Scheduler's clock at its time scale: say when it will really happen
        let report = local_get(url, "/peerlab/scheduler")?;
        let wall = report["schedules"].as_array().and_then(|all| {
            all.iter()
                .find(|s| s["name"] == name.as_str() && s["group"] == "default")
                .and_then(|s| s["next_invocation_wall"].as_str().map(str::to_string))
        });
        if let Some(wall) = wall {
            println!(
                "  on this local AWS (time scale {}): at {wall}",
                report["time_scale"]
            );
        }
    }
    println!(
        "  follow it once it runs: peerlab ls (running executions), then peerlab status|report NAME"
    );
    Ok(ExitCode::SUCCESS)
}

fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

async fn status(cli: &Cli, given: &str) -> Result<ExitCode> {
    let sfn = aws_sdk_sfn::Client::new(&config(cli).await?);
    let arn = execution_arn(cli, given)?;
    let execution = describe(&sfn, &arn).await?;
    let progress = Progress {
        runs: Runs::from_events(&history(&sfn, &arn).await?),
    };
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
    let took = execution.stop.unwrap_or(now) - execution.start;
    let doing = match execution.running() {
        true => format!(" — now: {}", progress.now()),
        false => String::new(),
    };
    println!(
        "{}: {} {}{doing}; {} states entered, {} retries",
        execution.name,
        execution.status,
        if execution.running() {
            format!("for {}", ago(took))
        } else {
            format!("after {}", ago(took))
        },
        progress.runs.transitions(),
        progress.runs.retries()
    );
    Ok(ExitCode::SUCCESS)
}

async fn show_report(cli: &Cli, given: &str, json: bool) -> Result<ExitCode> {
    let sfn = aws_sdk_sfn::Client::new(&config(cli).await?);
    let arn = execution_arn(cli, given)?;
    let execution = describe(&sfn, &arn).await?;
    let built = report::build(&execution, &history(&sfn, &arn).await?);
    if json {
        println!("{}", serde_json::to_string_pretty(&built.json)?);
    } else {
        built.lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn draw(
    cli: &Cli,
    given: Option<&str>,
    output: &Path,
    recorded: Option<&Path>,
) -> Result<ExitCode> {
    let (execution, events) = match recorded {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            read_recording(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?
        }
        None => {
            let sfn = aws_sdk_sfn::Client::new(&config(cli).await?);
            let arn = execution_arn(cli, given.expect("clap requires it"))?;
            (describe(&sfn, &arn).await?, history(&sfn, &arn).await?)
        }
    };
    std::fs::write(output, timeline::svg(&execution, &events))
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{}: {} ({} events)",
        output.display(),
        execution.status,
        events.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn ls(cli: &Cli) -> Result<ExitCode> {
    use lab_core::tags;
    let config = config(cli).await?;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values(tags::LAB_ID)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws("listing the labs' VPCs", e))?;
    let now = OffsetDateTime::now_utc();
    let mut labs: std::collections::BTreeMap<String, (Vec<String>, String)> = Default::default();
    for vpc in vpcs.vpcs() {
        let Some(lab) = tags::tag_value(vpc.tags(), tags::LAB_ID) else {
            continue;
        };
        let entry = labs.entry(lab.to_string()).or_default();
        entry.0.push(vpc.vpc_id().unwrap_or_default().to_string());
        if let Some(expires) = tags::tag_value(vpc.tags(), tags::EXPIRES_AT) {
            entry.1 = expires.to_string();
        }
    }
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    if labs.is_empty() {
        println!("no labs in {region}");
    } else {
        println!("{:<40} {:<22} {:<14} VPCS", "LAB", "EXPIRES", "");
    }
    for (lab, (vpcs, expires)) in &labs {
        let when =
            OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339).ok();
        let left = match when {
            Some(t) if t <= now => "expired (sweep)".to_string(),
            Some(t) => format!("in {}", ago((t - now).as_seconds_f64())),
            None => "no expiry".to_string(),
        };
        println!("{lab:<40} {expires:<22} {left:<14} {}", vpcs.join(" "));
    }
    let sfn = aws_sdk_sfn::Client::new(&config);
    if let Some(machine) = state_machine(cli)? {
        let running = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .send()
            .await
            .map_err(|e| aws("listing running executions", e))?;
        let now_s = now.unix_timestamp_nanos() as f64 / 1e9;
        for e in running.executions() {
            println!(
                "running: {} (for {})",
                e.name(),
                ago(now_s - e.start_date().as_secs_f64())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn sweep(cli: &Cli, dry_run: bool) -> Result<ExitCode> {
    use lab_core::Aws;
    let clients = lab_core::clients::Clients::from_config(config(cli).await?);
    let scope = clients.home();
    let now = OffsetDateTime::now_utc();
    if dry_run {
        let labs = lab_core::teardown::expired_labs(&scope.ec2, now)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if labs.is_empty() {
            println!("nothing to sweep in {}", scope.region);
        }
        for lab in labs {
            let inventory = lab_core::teardown::discover(&scope.ec2, &lab)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let live: Vec<String> = inventory.live().iter().map(ToString::to_string).collect();
            println!("would delete lab {lab}: {}", live.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // no Lambda timeout here: a person's sweep takes every expired lab
    let out = lab_core::teardown::sweep(&scope, now, std::time::Duration::MAX)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "swept {} expired lab(s) in {}: deleted {}",
        out.lab_ids.len(),
        scope.region,
        if out.deleted.is_empty() {
            "nothing".to_string()
        } else {
            out.deleted.join(", ")
        }
    );
    for still in &out.remaining {
        println!("  in progress: {still} (sweep again in a minute)");
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run {
            input,
            local,
            name,
            report,
            timeline,
            timeout,
            local_args,
            lambda_dir,
        } => {
            let args = RunArgs {
                input: input.clone(),
                local: *local,
                name: name.clone(),
                report: report.clone(),
                timeline: timeline.clone(),
                timeout: *timeout,
                local_args: local_args.clone(),
                lambda_dir: lambda_dir.clone(),
            };
            run(&cli, args).await
        }
        Command::Schedule {
            at,
            input,
            name,
            role_arn,
        } => {
            let args = ScheduleArgs {
                at: at.clone(),
                input: input.clone(),
                name: name.clone(),
                role_arn: role_arn.clone(),
            };
            schedule(&cli, args).await
        }
        Command::Status { execution } => status(&cli, execution).await,
        Command::Report { execution, json } => show_report(&cli, execution, *json).await,
        Command::Ls => ls(&cli).await,
        Command::Sweep { dry_run } => sweep(&cli, *dry_run).await,
        Command::Timeline {
            execution,
            output,
            history,
        } => draw(&cli, execution.as_deref(), output, history.as_deref()).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("peerlab: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
