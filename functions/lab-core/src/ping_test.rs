//! ping-test: `ping -c 3 -W 2 <B>` on instance A through SSM Run Command, parsed, judged against the
//! expectation, and, when the final ping fails, explained from the EC2 state (see `diagnose`).

use aws_sdk_ssm::types::{CommandInvocationStatus, InstanceInformationStringFilter, PingStatus};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Aws;
use crate::diagnose;
use crate::error::{aws_error, LabError, Result};
use crate::exercise::{Exercise, ExerciseOutcome};
use crate::model::{Expect, PingEvent, PingOutput};

pub const DOCUMENT: &str = "AWS-RunShellScript";
/// What the local AWS writes on stderr when it computed the ping instead of sending packets.
pub const SIMULATED_MARKER: &str = "simulated ping";

#[derive(Debug, Clone, PartialEq)]
pub struct PingStats {
    pub transmitted: u32,
    pub received: u32,
    pub loss_percent: f64,
    pub rtt_avg_ms: Option<f64>,
}

/// Parse iputils/busybox ping output: "3 packets transmitted, 3 received, 0% packet loss" and
/// "rtt min/avg/max/mdev = 0.4/0.5/0.6/0.1 ms" (busybox: "round-trip min/avg/max").
pub fn parse(output: &str) -> Option<PingStats> {
    let stats = output.lines().find(|l| l.contains("packets transmitted"))?;
    let mut numbers = stats.split(',').map(str::trim);
    let transmitted = numbers.next()?.split_whitespace().next()?.parse().ok()?;
    let received = numbers.next()?.split_whitespace().next()?.parse().ok()?;
    let loss_percent = stats
        .split(',')
        .map(str::trim)
        .find(|p| p.ends_with("packet loss"))
        .and_then(|p| p.split('%').next())
        .and_then(|n| n.trim().parse().ok())?;
    let rtt_avg_ms = output
        .lines()
        .find(|l| l.starts_with("rtt ") || l.starts_with("round-trip "))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().split('/').nth(1))
        .and_then(|avg| avg.trim().parse().ok());
    Some(PingStats {
        transmitted,
        received,
        loss_percent,
        rtt_avg_ms,
    })
}

pub fn command(target_ip: &str) -> String {
    format!("ping -c 3 -W 2 {target_ip}")
}

/// The command's Comment: how a retried or re-driven step finds the command it already sent.
pub fn comment(lab_id: &str, phase: &str) -> String {
    let mut c = format!("peerlab {lab_id} {phase}");
    c.truncate(100);
    c
}

async fn online(ssm: &aws_sdk_ssm::Client, instance_id: &str) -> Result<bool> {
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|e| LabError::invalid(format!("SSM filter: {e}")))?;
    let out = ssm
        .describe_instance_information()
        .filters(filter)
        .send()
        .await
        .map_err(|e| aws_error("asking SSM whether instance A is online", e))?;
    Ok(out.instance_information_list().iter().any(|i| {
        i.instance_id() == Some(instance_id) && i.ping_status() == Some(&PingStatus::Online)
    }))
}

async fn existing_command(
    ssm: &aws_sdk_ssm::Client,
    instance_id: &str,
    comment: &str,
) -> Result<Option<String>> {
    let mut pages = ssm
        .list_commands()
        .instance_id(instance_id)
        .into_paginator()
        .send();
    let mut newest: Option<(f64, String)> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("listing commands sent to instance A", e))?;
        for c in page.commands() {
            if c.comment() == Some(comment) && c.document_name() == Some(DOCUMENT) {
                let at = c
                    .requested_date_time()
                    .map(|t| t.as_secs_f64())
                    .unwrap_or_default();
                if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                    newest = Some((
                        at,
                        crate::error::required(c.command_id(), "a command's id")?.to_string(),
                    ));
                }
            }
        }
    }
    Ok(newest.map(|(_, id)| id))
}

pub async fn handler(event: PingEvent, aws: &impl Aws) -> Result<PingOutput> {
    // An exercise lab's final ping is meant to fail, at the hop the exercise left out.
    let exercise = match event.expect {
        Expect::Reachable => event.lab.exercise,
        Expect::Unreachable => None,
    };
    let expect = if exercise.is_some() {
        Expect::Unreachable
    } else {
        event.expect
    };
    let (result, output) = run(
        &aws.home().ssm,
        &event.lab.lab_id,
        &event.phase,
        &event.vpc_a.instance_id,
        &event.vpc_b.private_ip,
        expect,
    )
    .await?;
    if let Some(exercise) = exercise {
        return judge_exercise(exercise, result, &event, aws).await;
    }
    if result.passed {
        return Ok(result);
    }
    match event.expect {
        Expect::Reachable => {
            let peer = aws.peer(event.lab.peer_access()).await?;
            let why = diagnose::diagnose(&aws.home().ec2, &peer.ec2, &event.vpc_a, &event.vpc_b, event.peering_id.as_deref()).await?;
            Err(LabError::PingFailed(format!(
                "ping from A ({}) to B ({}) failed: {} of {} replies ({}% loss){}. Blocked at: {why}",
                event.vpc_a.private_ip, event.vpc_b.private_ip, result.received, result.transmitted, result.loss_percent,
                if result.simulated { ", simulated by the local AWS" } else { "" },
            )))
        }
        Expect::Unreachable => Err(LabError::ControlReachable(format!(
            "the control ping from A to B got {} of {} replies before any peering existed: something else already connects {} and {}. Output: {}",
            result.received, result.transmitted, event.vpc_a.vpc_id, event.vpc_b.vpc_id, output.trim()
        ))),
    }
}

/// An exercise lab passes when its ping fails and the diagnosis names exactly the hop the exercise left out.
async fn judge_exercise(
    exercise: Exercise,
    mut result: PingOutput,
    event: &PingEvent,
    aws: &impl Aws,
) -> Result<PingOutput> {
    let name = exercise.as_str();
    if result.reachable {
        return Err(LabError::ExerciseFailed(format!(
            "exercise {name}: the ping from A ({}) to B ({}) got {} of {} replies, yet the lab was built so that {}",
            event.vpc_a.private_ip,
            event.vpc_b.private_ip,
            result.received,
            result.transmitted,
            exercise.broken()
        )));
    }
    let peer = aws.peer(event.lab.peer_access()).await?;
    let blocked = diagnose::diagnose(
        &aws.home().ec2,
        &peer.ec2,
        &event.vpc_a,
        &event.vpc_b,
        event.peering_id.as_deref(),
    )
    .await?;
    if blocked.hop != exercise.hop() {
        return Err(LabError::ExerciseFailed(format!(
            "exercise {name}: the ping failed as meant, but the diagnosis names another hop ({}): {blocked}; the lab was built so that {}",
            blocked.hop.as_str(),
            exercise.broken()
        )));
    }
    result.exercise = Some(ExerciseOutcome {
        exercise,
        broken: exercise.broken().to_string(),
        diagnosed_hop: blocked.hop,
        diagnosis: blocked.detail,
        matched: true,
        fix: exercise.fix().to_string(),
    });
    Ok(result)
}

/// Run (or keep waiting for) the ping. `NotReady` while A is not Online, the invocation does not exist yet,
/// or it is still running; sends the command at most once per (lab, phase).
async fn run(
    ssm: &aws_sdk_ssm::Client,
    lab_id: &str,
    phase: &str,
    instance_id: &str,
    target_ip: &str,
    expect: Expect,
) -> Result<(PingOutput, String)> {
    if !online(ssm, instance_id).await? {
        return Err(LabError::not_ready(format!(
            "instance A ({instance_id}) is not Online in SSM yet"
        )));
    }
    let comment = comment(lab_id, phase);
    let command_id = match existing_command(ssm, instance_id, &comment).await? {
        Some(id) => id,
        None => {
            let sent = ssm
                .send_command()
                .instance_ids(instance_id)
                .document_name(DOCUMENT)
                .comment(&comment)
                .timeout_seconds(60)
                .parameters("commands", vec![command(target_ip)])
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("InvalidInstanceId") => LabError::not_ready(format!(
                        "SSM cannot reach instance A ({instance_id}) yet"
                    )),
                    _ => aws_error("sending the ping command", e),
                })?;
            crate::error::required(
                sent.command().and_then(|c| c.command_id()),
                "the id of the command it sent",
            )?
            .to_string()
        }
    };
    let got = ssm
        .get_command_invocation()
        .command_id(&command_id)
        .instance_id(instance_id)
        .send()
        .await;
    let invocation = match got {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_invocation_does_not_exist())
                || e.code() == Some("InvocationDoesNotExist") =>
        {
            return Err(LabError::not_ready(format!(
                "command {command_id} not delivered to {instance_id} yet"
            )))
        }
        Err(e) => return Err(aws_error(&format!("reading command {command_id}"), e)),
    };
    let status = invocation
        .status()
        .cloned()
        .unwrap_or(CommandInvocationStatus::Pending);
    match status {
        CommandInvocationStatus::Pending
        | CommandInvocationStatus::InProgress
        | CommandInvocationStatus::Delayed => {
            return Err(LabError::not_ready(format!(
                "command {command_id} is {}",
                status.as_str()
            )))
        }
        _ => {}
    }
    let stdout = invocation.standard_output_content().unwrap_or_default();
    let stderr = invocation.standard_error_content().unwrap_or_default();
    let Some(stats) = parse(stdout) else {
        return Err(LabError::Aws {
            code: "PingOutputUnreadable".into(),
            message: format!(
                "command {command_id} ended {} without ping statistics; stderr: {}",
                status.as_str(),
                stderr.trim()
            ),
        });
    };
    let reachable = stats.received > 0;
    let passed = reachable == (expect == Expect::Reachable);
    let output = PingOutput {
        reachable,
        transmitted: stats.transmitted,
        received: stats.received,
        loss_percent: stats.loss_percent,
        rtt_avg_ms: stats.rtt_avg_ms,
        expected: expect,
        passed,
        simulated: stderr.contains(SIMULATED_MARKER),
        command_id,
        target_ip: target_ip.to_string(),
        exercise: None,
    };
    Ok((output, stdout.to_string()))
}

#[cfg(test)]
mod tests;
