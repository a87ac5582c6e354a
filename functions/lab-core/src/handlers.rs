//! The handler of every step: a plain async function of (typed event, clients) -> typed output or a named
//! error. The binaries in `functions/<step>/` only hand these to the Lambda runtime; the tests call them.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::clients::Clients;
use crate::error::{LabError, Result};
use crate::input::{self, LabPlan};
use crate::model::*;
use crate::{diagnose, peering, ping, placement, routes, security, teardown, vpc};

/// The event of validate-input: the user's input as given, and the execution that names the lab.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ValidateEvent {
    #[serde(default)]
    pub input: serde_json::Value,
    pub execution_name: String,
    /// RFC 3339 start time of the execution (`$$.Execution.StartTime`); the expiry counts from it.
    pub start_time: Option<String>,
}

fn parse_time(field: &str, text: Option<&str>) -> Result<OffsetDateTime> {
    match text {
        None => Ok(OffsetDateTime::now_utc()),
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| LabError::invalid(format!("{field}: {t:?} is not an RFC 3339 time: {e}"))),
    }
}

/// Validate the input, then place each side in an Availability Zone that offers what it needs (asking EC2,
/// creating nothing): a zone that will not do is `InvalidInput` here, before any resource exists.
pub async fn validate_input(event: ValidateEvent, clients: &Clients) -> Result<LabPlan> {
    let now = parse_time("start_time", event.start_time.as_deref())?;
    let parsed = input::parse_input(event.input)?;
    let mut plan = input::validate(&parsed, &event.execution_name, now)?;
    place(&mut plan, clients).await?;
    Ok(plan)
}

async fn place(plan: &mut LabPlan, clients: &Clients) -> Result<()> {
    let home =
        placement::offerings(&clients.ec2, &clients.region, &plan.instance_type, true).await?;
    let zone_a = home.choose(
        "vpc_a.availability_zone",
        plan.vpc_a.availability_zone.as_deref(),
        &plan.instance_type,
    )?;
    let there = if plan.peer.is_none() {
        // B in the same account and region: the same zones, without A's endpoint services
        placement::Offerings {
            offering_endpoints: None,
            ..home
        }
    } else {
        let peer = clients.peer(plan).await?;
        placement::offerings(&peer.ec2, &peer.region, &plan.instance_type, false).await?
    };
    let zone_b = there.choose(
        "vpc_b.availability_zone",
        plan.vpc_b.availability_zone.as_deref(),
        &plan.instance_type,
    )?;
    plan.vpc_a.availability_zone = Some(zone_a.name);
    plan.vpc_b.availability_zone = Some(zone_b.name);
    Ok(())
}

pub async fn create_vpc(event: CreateSideEvent, clients: &Clients) -> Result<SideOutput> {
    let scope = match event.side {
        Side::A => clients.home(),
        Side::B => clients.peer(&event.lab).await?,
    };
    let profile = std::env::var(vpc::INSTANCE_PROFILE_ENV)
        .ok()
        .filter(|p| !p.is_empty());
    vpc::create_side(&scope, &event.lab, event.side, profile.as_deref()).await
}

pub async fn request_peering(event: PairEvent, clients: &Clients) -> Result<PeeringOutput> {
    peering::request(clients, &event.lab, &event.vpc_a, &event.vpc_b).await
}

fn peering_id(event_id: &Option<String>) -> Result<&str> {
    event_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| LabError::invalid("peering_id: required"))
}

pub async fn accept_peering(event: PairEvent, clients: &Clients) -> Result<PeeringOutput> {
    let id = peering_id(&event.peering_id)?;
    let scope = clients.peer(&event.lab).await?;
    peering::accept(&scope, id).await
}

pub async fn add_routes(event: PairEvent, clients: &Clients) -> Result<RoutesOutput> {
    let id = peering_id(&event.peering_id)?;
    let peer = clients.peer(&event.lab).await?;
    let lab = &event.lab.lab_id;
    let mut all = routes::add(&clients.ec2, lab, &event.vpc_a, &event.vpc_b.cidr, id).await?;
    all.extend(routes::add(&peer.ec2, lab, &event.vpc_b, &event.vpc_a.cidr, id).await?);
    Ok(RoutesOutput { routes: all })
}

pub async fn update_sg(event: PairEvent, clients: &Clients) -> Result<SecurityGroupOutput> {
    let peer = clients.peer(&event.lab).await?;
    let cross_region = event.lab.cross_region(&clients.region);
    // In another account (same region) B's rule must name A's group with A's account: ours, asked of STS.
    let cross_account = event
        .lab
        .peer
        .as_ref()
        .is_some_and(|p| p.account_id.is_some());
    let group_owner = if cross_account && !cross_region {
        Some(clients.account_id().await?)
    } else {
        None
    };
    security::update(
        &peer.ec2,
        &event.lab,
        &event.vpc_a,
        &event.vpc_b,
        cross_region,
        group_owner.as_deref(),
    )
    .await
}

pub async fn ping_test(event: PingEvent, clients: &Clients) -> Result<PingOutput> {
    let (result, output) = ping::run(
        &clients.ssm,
        &event.lab.lab_id,
        &event.phase,
        &event.vpc_a.instance_id,
        &event.vpc_b.private_ip,
        event.expect,
    )
    .await?;
    if result.passed {
        return Ok(result);
    }
    match event.expect {
        Expect::Reachable => {
            let peer = clients.peer(&event.lab).await?;
            let why = diagnose::diagnose(&clients.ec2, &peer.ec2, &event.vpc_a, &event.vpc_b, event.peering_id.as_deref()).await?;
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

/// The teardown binary's handler: a lab or a sweep from the state machine or a schedule, or the backstop's
/// EventBridge event for an execution that ended without running its own teardown.
pub async fn teardown_request(event: TeardownRequest, clients: &Clients) -> Result<TeardownOutput> {
    // Boxed: both futures inline would nest deeper than rustc's layout limit in the binary.
    match event {
        TeardownRequest::Lab(event) => Box::pin(teardown_lab(event, clients)).await,
        TeardownRequest::Backstop(event) => Box::pin(backstop(event, clients)).await,
    }
}

const STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Tear down what an ended execution left. The lab (its id, and the peer account or region of side B) is the
/// execution's input as validate-input read it; an input that does not validate created nothing.
pub async fn backstop(event: ExecutionStatusChange, clients: &Clients) -> Result<TeardownOutput> {
    if event.source != "aws.states" || event.detail_type != STATUS_CHANGE {
        return Err(LabError::invalid(format!(
            "detail-type: {:?} from {:?} is not a {STATUS_CHANGE:?} event of aws.states",
            event.detail_type, event.source
        )));
    }
    let detail = &event.detail;
    if !matches!(
        detail.status.as_str(),
        "FAILED" | "TIMED_OUT" | "ABORTED" | "SUCCEEDED"
    ) {
        return Err(LabError::invalid(format!(
            "detail.status: {} is {}: the backstop tears down only executions that have ended",
            detail.execution_arn, detail.status
        )));
    }
    let started = detail
        .start_date
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let (lab_id, plan) = match detail.input.as_deref() {
        // Without its input (too large for the event) the lab is named after the execution, at home only.
        None => (input::lab_id_from(&detail.name), None),
        Some(text) => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| LabError::invalid(format!("detail.input: not JSON: {e}")))?;
            match input::parse_input(value).and_then(|i| input::validate(&i, &detail.name, started))
            {
                Ok(plan) => (plan.lab_id.clone(), Some(plan)),
                Err(LabError::InvalidInput(why)) => {
                    tracing::info!(
                        "{}: input did not validate ({why}): it created nothing",
                        detail.execution_arn
                    );
                    return Ok(TeardownOutput::default());
                }
                Err(other) => return Err(other),
            }
        }
    };
    let mut scopes = vec![clients.home()];
    if let Some(lab) = plan.as_ref().filter(|l| l.peer.is_some()) {
        scopes.push(clients.peer(lab).await?);
    }
    // A stopped or failed execution may have left a create in flight: keep looking for a quiet period.
    let quiet = teardown::Quiet {
        retries_done: event.retry_count,
        retries_needed: teardown::QUIET_RETRIES,
    };
    teardown::teardown(&scopes, &lab_id, &[], quiet).await
}

pub async fn teardown_lab(event: TeardownEvent, clients: &Clients) -> Result<TeardownOutput> {
    if event.mode == TeardownMode::Sweep {
        return teardown::sweep(
            &clients.home(),
            OffsetDateTime::now_utc(),
            teardown::SWEEP_BUDGET,
        )
        .await;
    }
    let lab_id = event
        .lab_id
        .clone()
        .or_else(|| event.lab.as_ref().map(|l| l.lab_id.clone()))
        .ok_or_else(|| LabError::invalid("lab_id: required (or lab.lab_id) to tear a lab down"))?;
    let mut scopes = vec![clients.home()];
    if let Some(lab) = event.lab.as_ref().filter(|l| l.peer.is_some()) {
        scopes.push(clients.peer(lab).await?);
    }
    let quiet = teardown::Quiet {
        retries_done: event.retry_count,
        retries_needed: if event.after_failure {
            teardown::QUIET_RETRIES
        } else {
            0
        },
    };
    teardown::teardown(&scopes, &lab_id, &event.known(), quiet).await
}
