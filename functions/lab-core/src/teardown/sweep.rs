//! The sweeper: one teardown pass over every lab whose `peerlab:expires-at` has passed (a lab whose execution,
//! backstop and all, never tore it down), within the teardown function's time.

use std::collections::BTreeSet;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{teardown, Quiet};
use crate::clients::Scope;
use crate::error::{aws_error, LabError, Result};
use crate::model::TeardownOutput;
use crate::tags::{self, filter};

/// The labs whose `peerlab:expires-at` has passed (by their VPCs' tags), every page of them.
pub async fn expired_labs(ec2: &aws_sdk_ec2::Client, now: OffsetDateTime) -> Result<Vec<String>> {
    let mut pages = ec2
        .describe_vpcs()
        .filters(filter("tag-key", tags::EXPIRES_AT))
        .into_paginator()
        .send();
    let mut vpcs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing labs with an expiry", e))?;
        vpcs.extend(page.vpcs().iter().cloned());
    }
    let mut labs = BTreeSet::new();
    for vpc in &vpcs {
        let (Some(lab), Some(expires)) = (
            tags::tag_value(vpc.tags(), tags::LAB_ID),
            tags::tag_value(vpc.tags(), tags::EXPIRES_AT),
        ) else {
            continue;
        };
        if OffsetDateTime::parse(expires, &Rfc3339).is_ok_and(|t| t <= now) {
            labs.insert(lab.to_string());
        }
    }
    Ok(labs.into_iter().collect())
}

/// How long one sweep may work: the teardown function's timeout is 60 s (infra/template.yaml); a sweep starts
/// no lab's pass after this, leaving the rest to the next scheduled run (every lab it starts is one pass of a few
/// calls; each is idempotent, so a pass cut short by the timeout would only be redone).
pub const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);

/// Sweep: one teardown pass over each expired lab, in lab-id order, until `budget` is spent;
/// never fails for a lab still in progress. `lab_ids` are the labs it worked on, `left` those left for the next run.
pub async fn sweep(
    scope: &Scope,
    now: OffsetDateTime,
    budget: std::time::Duration,
) -> Result<TeardownOutput> {
    let started = std::time::Instant::now();
    let labs = expired_labs(&scope.ec2, now).await?;
    let mut out = TeardownOutput::default();
    for (n, lab) in labs.iter().enumerate() {
        if started.elapsed() >= budget {
            out.left = labs[n..].to_vec();
            break;
        }
        out.lab_ids.push(lab.clone());
        match teardown(std::slice::from_ref(scope), lab, &[], Quiet::default()).await {
            Ok(done) => out.deleted.extend(done.deleted),
            Err(LabError::NotReady(message)) => out.remaining.push(message),
            Err(other) => return Err(other),
        }
    }
    Ok(out)
}
