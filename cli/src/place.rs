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
use crate::stack::StackTool;

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
