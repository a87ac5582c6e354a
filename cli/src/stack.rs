//! Stacks on a local AWS, through infra/local/peerlab_local/tools/stack.py (`python -m peerlab_local.tools.stack`:
//! `make deploy ENDPOINT=`'s path — the SAM transform, then the local CloudFormation): deploy infra/template.yaml,
//! deploy infra/peer-account.yaml in a peer account, read a stack's outputs. Its stdout is the outputs' JSON; on
//! failure the last line of its stderr says why.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::local::HOME_ACCOUNT;

/// The outputs of a stack of infra/template.yaml (its Outputs section) that peerlab uses.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StackOutputs {
    #[serde(rename = "StateMachineArn")]
    pub state_machine: String,
    #[serde(rename = "BackstopStateMachineArn")]
    pub backstop: String,
    #[serde(rename = "SchedulerRoleArn")]
    pub scheduler_role: String,
    /// N labs at once (absent from a stack deployed before workshops).
    #[serde(rename = "WorkshopStateMachineArn", default)]
    pub workshop: Option<String>,
}

/// infra/peer-account.yaml's stack in a peer account (README, "Side B in another account").
pub const PEER_STACK: &str = "peerlab-accepter";

/// What infra/peer-account.yaml is deployed with.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStack {
    /// The peer account (12 digits), acted in as its administrator.
    pub account: String,
    /// The home stack whose roles may assume the accepter role (its HomeStackName).
    pub home_stack: String,
    /// The accepter role's name (its RoleName); None: the template's default.
    pub role_name: Option<String>,
}

/// The stack tool of the project at `root`, run with `$PEERLAB_PYTHON` or the project's .venv.
pub struct StackTool {
    root: PathBuf,
    python: PathBuf,
}

/// A run of the tool: its stdout, or the last line of its stderr.
type Ran = std::result::Result<Vec<u8>, String>;

impl StackTool {
    pub fn new(root: &Path) -> StackTool {
        let python = std::env::var_os("PEERLAB_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        StackTool {
            root: root.to_path_buf(),
            python,
        }
    }

    fn run(&self, args: &[&OsStr]) -> Result<Ran> {
        let out = std::process::Command::new(&self.python)
            .args(["-m", "peerlab_local.tools.stack"])
            .args(args)
            .env("PYTHONPATH", self.root.join("infra/local"))
            .output()
            .with_context(|| format!("running {} (make venv creates it)", self.python.display()))?;
        if out.status.success() {
            return Ok(Ok(out.stdout));
        }
        let err = String::from_utf8_lossy(&out.stderr);
        Ok(Err(err
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()))
    }

    /// The outputs of `stack` on the local AWS at `url`; None when it is not deployed there.
    pub fn outputs(&self, url: &str, stack: &str) -> Result<Option<StackOutputs>> {
        let ran = self.run(&[
            "outputs".as_ref(),
            "--endpoint".as_ref(),
            url.as_ref(),
            "--stack".as_ref(),
            stack.as_ref(),
        ])?;
        match ran {
            Ok(stdout) => Ok(Some(
                serde_json::from_slice(&stdout)
                    .with_context(|| format!("stack {stack}'s outputs on {url}"))?,
            )),
            Err(why) if why.contains("does not exist") => Ok(None),
            Err(why) => bail!("reading stack {stack} on {url}: {why}"),
        }
    }

    /// Deploy infra/template.yaml as `stack` on the local AWS at `url` (what `make deploy ENDPOINT=URL` does), its
    /// functions running the binaries in `lambda_dir`, told about `peer_accounts` (its PeerAccountIds: the
    /// accounts whose accepter roles its functions may assume; none: its own only); returns the stack's outputs.
    pub fn deploy(
        &self,
        url: &str,
        stack: &str,
        lambda_dir: &Path,
        peer_accounts: &[&str],
    ) -> Result<StackOutputs> {
        let mut args: Vec<OsString> = ["deploy", "--json", "--endpoint", url, "--stack", stack]
            .map(OsString::from)
            .to_vec();
        args.extend(["--lambda-dir".into(), lambda_dir.as_os_str().to_owned()]);
        if !peer_accounts.is_empty() {
            let ids = format!("PeerAccountIds={}", peer_accounts.join(","));
            args.extend(["--parameter".into(), ids.into()]);
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let ran = self.run(&args)?;
        match ran {
            Ok(stdout) => serde_json::from_slice(&stdout)
                .with_context(|| format!("stack {stack}'s outputs on {url}")),
            Err(why) => bail!("deploying stack {stack} on {url} failed: {why}"),
        }
    }

    /// Deploy infra/peer-account.yaml as [`PEER_STACK`] in `peer.account` of the local AWS at `url`, trusting the
    /// home account's `peer.home_stack`; idempotent ("No changes to deploy"). Returns its AccepterRoleArn output.
    pub fn deploy_peer(&self, url: &str, peer: &PeerStack) -> Result<String> {
        let template = self.root.join("infra/peer-account.yaml");
        let mut parameters = vec![
            format!("HomeAccountId={HOME_ACCOUNT}"),
            format!("HomeStackName={}", peer.home_stack),
        ];
        parameters.extend(peer.role_name.iter().map(|n| format!("RoleName={n}")));
        let mut args: Vec<OsString> = [
            "deploy",
            "--json",
            "--endpoint",
            url,
            "--account",
            &peer.account,
            "--stack",
            PEER_STACK,
        ]
        .map(OsString::from)
        .to_vec();
        args.extend(["--template".into(), template.into_os_string()]);
        args.extend(["--capabilities", "CAPABILITY_NAMED_IAM"].map(OsString::from));
        for parameter in parameters {
            args.extend(["--parameter".into(), parameter.into()]);
        }
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let stdout = match self.run(&args)? {
            Ok(stdout) => stdout,
            Err(why) => bail!("deploying the peer account's stack on {url} failed: {why}"),
        };
        let outputs: serde_json::Value = serde_json::from_slice(&stdout)
            .with_context(|| format!("stack {PEER_STACK}'s outputs on {url}"))?;
        match outputs["AccepterRoleArn"].as_str() {
            Some(arn) => Ok(arn.to_string()),
            None => bail!("stack {PEER_STACK} on {url}: no AccepterRoleArn output in {outputs}"),
        }
    }
}
