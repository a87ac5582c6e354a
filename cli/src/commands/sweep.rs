//! `peerlab sweep [--dry-run]`: what teardown's sweep mode deletes — every lab whose peerlab:expires-at has passed.

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use lab_core::{teardown, Aws};
use time::OffsetDateTime;

use crate::place::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only list what would be deleted.
    #[arg(long)]
    dry_run: bool,
}

pub async fn sweep(global: &Global, args: &Args) -> Result<ExitCode> {
    let clients = lab_core::clients::Clients::from_config(global.config().await?);
    let scope = clients.home();
    let now = OffsetDateTime::now_utc();
    if args.dry_run {
        let labs = teardown::expired_labs(&scope.ec2, now)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if labs.is_empty() {
            println!("nothing to sweep in {}", scope.region);
        }
        for lab in labs {
            let inventory = teardown::discover(&scope.ec2, &lab)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let live: Vec<String> = inventory.live().iter().map(ToString::to_string).collect();
            println!("would delete lab {lab}: {}", live.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // no Lambda timeout here: a person's sweep takes every expired lab
    let out = teardown::sweep(&scope, now, std::time::Duration::MAX)
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
