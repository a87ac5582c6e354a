//! End-to-end support: a local AWS started from the project's own launcher on a free port of 127.0.0.1, with IAM
//! enforced, infra/template.yaml deployed on it as a stack (`make deploy ENDPOINT=`'s path), and SDK clients for
//! it. Dropping a `LocalAws` stops it (and the function processes it started).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};

pub fn root() -> PathBuf {
    // at run time (cargo test sets it): a compile-time path can belong to another checkout when the target
    // dir is shared, since cargo keys workspace members by their path inside the workspace
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    Path::new(&manifest)
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// The built functions: `$PEERLAB_LAMBDA_DIR`, else the `debug` folder of the target dir this test was built in.
pub fn lambda_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PEERLAB_LAMBDA_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf() // target/debug/deps/lab-… -> target/debug
}

fn python() -> PathBuf {
    std::env::var("PEERLAB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv/bin/python"))
}

/// The local AWS as the end-to-end tests run it: AWS's timings (the `realistic` profile: per-resource draws with
/// tails, SSM Agent hibernation, zones and offerings, eventual consistency), Step Functions' waits included,
/// fast-forwarded 50 times. A test that passes no `--seed` gets seed 0.
pub const REALISTIC: &[&str] = &["--profile", "realistic", "--time-scale", "0.02"];

/// What a deployed stack's outputs say (infra/template.yaml, Outputs).
pub struct Stack {
    pub state_machine: String,
    pub backstop: String,
    pub scheduler_role: String,
}

pub struct LocalAws {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl LocalAws {
    pub fn start(args: &[&str]) -> LocalAws {
        let functions = lambda_dir();
        assert!(
            functions.join("create-vpc").is_file(),
            "no built functions in {}: run `make build-functions` (or set PEERLAB_LAMBDA_DIR)",
            functions.display()
        );
        // every call of a function, state machine or schedule judged against its role's policies, as on AWS
        let mut child = Command::new(root().join("infra/local/start"))
            .args(["--port", "0", "--iam", "enforce", "--lambda-dir"])
            .arg(&functions)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("infra/local/start");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let url = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("local AWS did not start: {line:?}"))
            .to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        LocalAws { child, url, port }
    }

    async fn config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
            .load()
            .await
    }

    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config().await)
    }

    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config().await)
    }

    /// Deploy infra/template.yaml as the stack "peerlab" (infra/local/peerlab_local/stack.py: the SAM transform,
    /// then the local CloudFormation), running this build's functions; returns the stack's outputs.
    pub fn deploy(&self) -> Stack {
        self.deploy_stack("peerlab")
    }

    /// Deploy infra/peer-account.yaml in the second account of tests/events/peer-account*.json (210987654321), as
    /// its administrator, trusting this account's stack "peerlab"; returns its AccepterRoleArn output.
    pub fn deploy_peer(&self) -> String {
        let out = Command::new(python())
            .args([
                "-m",
                "peerlab_local.stack",
                "deploy",
                "--json",
                "--endpoint",
                &self.url,
            ])
            .args(["--account", "210987654321", "--stack", "peerlab-accepter"])
            .arg("--template")
            .arg(root().join("infra/peer-account.yaml"))
            .args(["--capabilities", "CAPABILITY_NAMED_IAM"])
            .args(["--parameter", "HomeAccountId=123456789012"])
            .env("PYTHONPATH", root().join("infra/local"))
            .output()
            .expect("deploy the peer stack");
        assert!(
            out.status.success(),
            "peer deploy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the peer stack's outputs as JSON");
        outputs["AccepterRoleArn"]
            .as_str()
            .expect("AccepterRoleArn")
            .to_string()
    }

    pub fn deploy_stack(&self, name: &str) -> Stack {
        let out = Command::new(python())
            .args([
                "-m",
                "peerlab_local.stack",
                "deploy",
                "--json",
                "--endpoint",
                &self.url,
            ])
            .args(["--stack", name, "--lambda-dir"])
            .arg(lambda_dir())
            .env("PYTHONPATH", root().join("infra/local"))
            .output()
            .expect("deploy");
        assert!(
            out.status.success(),
            "deploy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let outputs: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the stack's outputs as JSON");
        let output = |key: &str| {
            outputs[key]
                .as_str()
                .unwrap_or_else(|| panic!("no output {key} in {outputs}"))
                .to_string()
        };
        Stack {
            state_machine: output("StateMachineArn"),
            backstop: output("BackstopStateMachineArn"),
            scheduler_role: output("SchedulerRoleArn"),
        }
    }

    /// Every live resource of the local AWS (its inventory endpoint), as JSON.
    pub fn resources(&self) -> Vec<serde_json::Value> {
        self.get("/peerlab/resources")["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// One of the local AWS's own endpoints (/peerlab/...), as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"))
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        // SIGTERM: the local AWS stops its function processes and exits
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
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

pub struct Run {
    pub arn: String,
    pub status: ExecutionStatus,
    pub output: serde_json::Value,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
}

/// Start an execution; returns its ARN.
pub async fn start(sfn: &aws_sdk_sfn::Client, machine: &str, name: &str, input: &str) -> String {
    let started = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input)
        .send()
        .await
        .expect("start");
    started.execution_arn().to_string()
}

/// Start an execution and wait for it to end (bounded).
pub async fn run(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    name: &str,
    input: &str,
    limit: Duration,
) -> Run {
    let arn = start(sfn, machine, name, input).await;
    wait(sfn, &arn, limit).await
}

/// Wait for an execution to end (bounded): its status, output or error, and history.
pub async fn wait(sfn: &aws_sdk_sfn::Client, arn: &str, limit: Duration) -> Run {
    let deadline = Instant::now() + limit;
    let description = loop {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe");
        if d.status() != &ExecutionStatus::Running {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "execution {arn} still running after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut history = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .expect("history");
        history.extend(page.events().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Run {
        arn: arn.to_string(),
        status: description.status().clone(),
        output: description
            .output()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(serde_json::Value::Null),
        error: description.error().map(str::to_string),
        cause: description.cause().map(str::to_string),
        history,
    }
}

impl Run {
    /// Fails the test, naming the execution, its error and cause, unless it succeeded.
    pub fn assert_succeeded(&self) {
        assert_eq!(
            self.status,
            ExecutionStatus::Succeeded,
            "{}: {:?} {:?}",
            self.arn,
            self.error,
            self.cause
        );
    }
}

/// Names of the states entered, in order.
pub fn states_entered(run: &Run) -> Vec<String> {
    run.history
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details()
                .map(|d| d.name().to_string())
        })
        .collect()
}

pub fn input_file(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/events").join(name)).expect("example input")
}
