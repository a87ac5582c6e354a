//! Where a command acts: AWS (a region, a state machine), or a local AWS (its URL, the stack deployed on it), as
//! the options every command takes say; and the project whose files a local AWS is started from.
//!
//! These options are clap `global` arguments (`peerlab --endpoint URL ls` and `peerlab ls --endpoint URL` both
//! work), so the combinations a command refuses are checked in that command, not by a clap `ArgGroup`: clap
//! validates a subcommand's groups and conflicts before the global values given ahead of the subcommand reach
//! it (clap-rs/clap#1204, #6379), so `peerlab --state-machine-arn ARN run --local` would pass such a group.

use std::path::{Path, PathBuf};

use anyhow::Result;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::usage;
use crate::local::{LocalAws, Logs};
use crate::stack::{StackOutputs, StackTool};

#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// A running local AWS (e.g. http://127.0.0.1:4566) instead of AWS.
    #[arg(long, global = true, env = "PEERLAB_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// AWS region (default: the environment's or profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The lab state machine on AWS (the stack's StateMachineArn output).
    #[arg(
        long,
        global = true,
        env = "PEERLAB_STATE_MACHINE_ARN",
        value_name = "ARN"
    )]
    pub state_machine_arn: Option<String>,
    /// On a local AWS: the stack of infra/template.yaml whose outputs name the state machine (`make deploy
    /// ENDPOINT=URL STACK=name`); `run` deploys it when it is not there.
    #[arg(
        long,
        global = true,
        env = "PEERLAB_STACK",
        default_value = "peerlab",
        value_name = "NAME"
    )]
    pub stack: String,
}

impl Global {
    /// The AWS configuration of the commands other than `run --local`: the local AWS at --endpoint, or AWS.
    pub async fn config(&self) -> Result<SdkConfig> {
        match &self.endpoint {
            Some(url) => Ok(crate::local::config(url).await),
            None => aws_config(self.region.as_deref()).await,
        }
    }

    /// The lab state machine: the one given, or on a local AWS the stack's (None before it is deployed).
    pub fn state_machine(&self) -> Result<Option<String>> {
        if let Some(arn) = &self.state_machine_arn {
            return Ok(Some(arn.clone()));
        }
        let Some(url) = &self.endpoint else {
            return Ok(None);
        };
        let outputs = StackTool::new(&project_root()?).outputs(url, &self.stack)?;
        Ok(outputs.map(|o| o.state_machine))
    }

    /// An execution's ARN from an ARN, or a name of the lab state machine's executions.
    pub fn execution_arn(&self, given: &str) -> Result<String> {
        if given.starts_with("arn:") {
            return Ok(given.to_string());
        }
        let machine = self.state_machine()?.ok_or_else(|| {
            usage(format!(
                "{given:?} is not an ARN: give the execution's ARN, or its name with --state-machine-arn (on a local AWS: deploy the stack {} first)",
                self.stack
            ))
        })?;
        Ok(format!(
            "{}:{given}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        ))
    }

    /// A Step Functions client for [`Global::config`].
    pub async fn sfn(&self) -> Result<aws_sdk_sfn::Client> {
        Ok(aws_sdk_sfn::Client::new(&self.config().await?))
    }
}

/// AWS itself: the environment's or profile's credentials, in `region` or the environment's.
pub async fn aws_config(region: Option<&str>) -> Result<SdkConfig> {
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

/// The project's root (for the local AWS): $PEERLAB_ROOT, or the nearest folder above the working directory or
/// this executable holding infra/local/start.
pub fn project_root() -> Result<PathBuf> {
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

/// The built step functions a local AWS runs: `given`, else $CARGO_TARGET_DIR/debug or the project's
/// target/debug; an error when they are not built there.
pub fn lambda_dir(root: &Path, given: Option<&Path>) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var("CARGO_TARGET_DIR") {
            Ok(target) => PathBuf::from(target).join("debug"),
            Err(_) => root.join("target/debug"),
        },
    };
    if !dir.join("create-vpc").is_file() {
        return Err(usage(format!(
            "no built step functions in {}: run `make build-functions` (or pass --lambda-dir)",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Where a lab or a workshop runs, as --local, --endpoint and --state-machine-arn say (why not a clap `ArgGroup`:
/// this module's doc).
#[derive(Debug, PartialEq)]
pub enum Place {
    /// A local AWS started for this run, and stopped after it.
    Private,
    /// The running local AWS at this URL.
    Endpoint(String),
    /// This state machine on AWS.
    Aws(String),
}

/// `what` runs ("lab", "workshop") in one place, said once; `arn_hint` ends the message that asks where.
pub fn place(local: bool, global: &Global, what: &str, arn_hint: &str) -> Result<Place> {
    let endpoint = global.endpoint.as_deref();
    match (local, endpoint, global.state_machine_arn.as_deref()) {
        (_, Some(_), Some(_)) => Err(usage(format!(
            "--endpoint and --state-machine-arn: choose one place to run the {what}"
        ))),
        (true, _, Some(_)) => Err(usage(format!(
            "--local and --state-machine-arn: choose one place to run the {what}"
        ))),
        (_, Some(url), None) => Ok(Place::Endpoint(url.to_string())),
        (true, None, None) => Ok(Place::Private),
        (false, None, Some(machine)) => Ok(Place::Aws(machine.to_string())),
        (false, None, None) => Err(usage(format!(
            "where should the {what} run? pass --local, or --state-machine-arn {arn_hint}"
        ))),
    }
}

/// The local AWS a lab or workshop runs on.
pub enum Local {
    /// Started for this run: it holds this run's labs only.
    Private(LocalAws),
    /// Running at this URL (--endpoint): it may hold other labs.
    Shared(String),
}

impl Local {
    pub fn url(&self) -> &str {
        match self {
            Local::Private(aws) => &aws.url,
            Local::Shared(url) => url,
        }
    }

    /// A private local AWS for this run: the built functions in `lambda_dir` (or the default place), `local_args`
    /// added to infra/local/start's, its log in a temporary folder.
    pub fn start(lambda_dir_given: Option<&Path>, local_args: Option<&str>) -> Result<Local> {
        let root = project_root()?;
        let functions = lambda_dir(&root, lambda_dir_given)?;
        let extra: Vec<&str> = local_args.unwrap_or_default().split_whitespace().collect();
        let logs = std::env::temp_dir().join(format!("peerlab-local-{}", std::process::id()));
        let aws = LocalAws::start(&root, &functions, &extra, &Logs::Dir(logs.clone()))?;
        println!("local AWS at {} (logs in {})", aws.url, logs.display());
        Ok(Local::Private(aws))
    }

    /// The outputs of infra/template.yaml deployed as `stack` here: a running local AWS's (as it was deployed: its
    /// PeerAccountIds unchanged), or deployed now, told about `peer_accounts` (always on a private one: nothing is
    /// deployed on it yet).
    pub fn stack(
        &self,
        stack: &str,
        lambda_dir_given: Option<&Path>,
        peer_accounts: &[&str],
    ) -> Result<StackOutputs> {
        let root = project_root()?;
        let tool = StackTool::new(&root);
        let url = self.url();
        let found = match self {
            Local::Private(_) => None,
            Local::Shared(_) => tool.outputs(url, stack)?,
        };
        match found {
            Some(found) => Ok(found),
            None => {
                let functions = lambda_dir(&root, lambda_dir_given)?;
                println!("deploying infra/template.yaml as stack {stack} on {url}");
                tool.deploy(url, stack, &functions, peer_accounts)
            }
        }
    }
}
