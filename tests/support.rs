//! End-to-end support: a local AWS started from the project's own launcher on a free port of 127.0.0.1, with IAM
//! enforced, infra/template.yaml deployed on it as a stack (`make deploy ENDPOINT=`'s path), and SDK clients for
//! it. Dropping a `LocalAws` stops it (and the function processes it started). The launcher and the stack tool
//! are the CLI's (`peerlab::local`, `peerlab::stack`): `peerlab run --local` and these tests start the same way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use peerlab::local::{self, Logs};
use peerlab::stack::{PeerStack, StackTool};

pub use peerlab::stack::StackOutputs as Stack;

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

/// The local AWS as the end-to-end tests run it: AWS's timings (the `realistic` profile: per-resource draws with
/// tails, SSM Agent hibernation, zones and offerings, eventual consistency), Step Functions' waits included,
/// fast-forwarded 50 times. A test that passes no `--seed` gets seed 0.
pub const REALISTIC: &[&str] = &["--profile", "realistic", "--time-scale", "0.02"];

/// The second account of tests/events/peer-account*.json.
pub const PEER_ACCOUNT: &str = "210987654321";

pub struct LocalAws {
    aws: local::LocalAws,
    pub url: String,
}

impl LocalAws {
    /// Start one with `args` added; its log on this process's stderr.
    pub fn start(args: &[&str]) -> LocalAws {
        let functions = lambda_dir();
        assert!(
            functions.join("create-vpc").is_file(),
            "no built functions in {}: run `make build-functions` (or set PEERLAB_LAMBDA_DIR)",
            functions.display()
        );
        let aws = local::LocalAws::start(&root(), &functions, args, &Logs::Inherit)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let url = aws.url.clone();
        LocalAws { aws, url }
    }

    async fn config(&self) -> aws_config::SdkConfig {
        local::config(&self.aws.url).await
    }

    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config().await)
    }

    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config().await)
    }

    /// Deploy infra/template.yaml as the stack "peerlab" (infra/local/peerlab_local/tools/stack.py: the SAM transform,
    /// then the local CloudFormation), running this build's functions, told about [`PEER_ACCOUNT`] (its
    /// PeerAccountIds, as a deployer of cross-account labs sets it); returns the stack's outputs.
    pub fn deploy(&self) -> Stack {
        self.deploy_stack("peerlab")
    }

    pub fn deploy_stack(&self, name: &str) -> Stack {
        StackTool::new(&root())
            .deploy(&self.url, name, &lambda_dir(), &[PEER_ACCOUNT])
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Deploy infra/peer-account.yaml in the second account of tests/events/peer-account*.json, as its
    /// administrator, trusting this account's stack "peerlab"; returns its AccepterRoleArn output.
    pub fn deploy_peer(&self) -> String {
        let peer = PeerStack {
            account: PEER_ACCOUNT.into(),
            home_stack: "peerlab".into(),
            role_name: None,
        };
        StackTool::new(&root())
            .deploy_peer(&self.url, &peer)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Every live resource of the local AWS (its inventory endpoint), as JSON.
    pub fn resources(&self) -> Vec<serde_json::Value> {
        local::resources(&self.url, None).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// One of the local AWS's own endpoints (/peerlab/...), as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        local::get(&self.url, path).unwrap_or_else(|e| panic!("{e:#}"))
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
