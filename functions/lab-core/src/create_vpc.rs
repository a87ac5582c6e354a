//! create-vpc: one side of the lab: VPC, private subnet with the lab's own route table, the instance's security
//! group, the instance; on the
//! side that runs the ping also what SSM needs in a private subnet (DNS attributes, interface endpoints with
//! private DNS and a group admitting HTTPS from the VPC, the instance profile).
//!
//! Idempotent: everything is found by tag (or by name within the VPC) before it is created, and the instance
//! is launched with a ClientToken derived from the lab and side. Returns `NotReady` until the instance runs.
//!
//! Order on side A: the endpoints first, the instance only once both are `available`. The SSM Agent pings SSM
//! once as it starts; if that fails (endpoints still `pending`), it hibernates and tries again only 5 minutes
//! later, then every 10 (aws/amazon-ssm-agent, agent/hibernation/hibernation.go): an instance launched with its
//! endpoints would be Online many minutes late. Side B waits for nothing of A's.

use aws_sdk_ec2::types::{InstanceStateName, ResourceType};

use crate::clients::{Aws, Scope};
use crate::error::{LabError, Result};
use crate::input::LabPlan;
use crate::model::{CreateSideEvent, Side, SideOutput};
use crate::tags::{self, filter, lab_filter};

mod instance;
mod network;
mod ssm_access;

pub use network::VPC_VISIBLE_WITHIN;
pub use ssm_access::{endpoint_state, SSM_SERVICES};

/// The environment variable of the create-vpc function that names the instance profile of instance A.
pub const INSTANCE_PROFILE_ENV: &str = "PEERLAB_INSTANCE_PROFILE";

/// create-vpc's configuration: read once as the function starts (`functions/create-vpc/src/main.rs`), like its
/// clients, and handed to every invocation; the step itself reads no environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The instance profile given to instance A, for SSM (created by the stack, not the workflow: a fresh
    /// profile takes time to propagate). `INSTANCE_PROFILE_ENV`; None when unset or empty.
    pub instance_profile: Option<String>,
}

impl Config {
    pub fn from_env() -> Self {
        Config {
            instance_profile: std::env::var(INSTANCE_PROFILE_ENV)
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }
}

/// The ClientToken of a side's instance: the same lab and side launch one instance, however often retried.
pub fn client_token(lab_id: &str, side: Side, what: &str) -> String {
    let mut token = format!("peerlab-{lab_id}-{}-{what}", side.key());
    token.truncate(64);
    token
}

pub fn group_name(lab_id: &str, side: Side) -> String {
    format!("peerlab-{lab_id}-instance-{}", side.key())
}

struct Ctx<'a> {
    ec2: &'a aws_sdk_ec2::Client,
    lab: &'a LabPlan,
    side: Side,
}

impl Ctx<'_> {
    fn spec(&self, kind: ResourceType, name: &str) -> aws_sdk_ec2::types::TagSpecification {
        tags::spec(
            kind,
            &self.lab.lab_id,
            &self.lab.expires_at,
            name,
            &[(tags::SIDE, self.side.key())],
        )
    }

    fn side_filters(&self) -> [aws_sdk_ec2::types::Filter; 2] {
        [
            lab_filter(&self.lab.lab_id),
            filter(&format!("tag:{}", tags::SIDE), self.side.key()),
        ]
    }
}

pub async fn handler(
    event: CreateSideEvent,
    aws: &impl Aws,
    config: &Config,
) -> Result<SideOutput> {
    let scope = match event.side {
        Side::A => aws.home(),
        Side::B => aws.peer(event.lab.peer_access()).await?,
    };
    create_side(
        &scope,
        &event.lab,
        event.side,
        config.instance_profile.as_deref(),
    )
    .await
}

/// Build (or find) one side. `NotReady` until its instance is running; the state machine retries.
/// Side A (the one that runs the ping) needs `instance_profile`: without one it is refused before anything is
/// created, not after its VPC, subnet, groups and endpoints exist.
pub async fn create_side(
    scope: &Scope,
    lab: &LabPlan,
    side: Side,
    instance_profile: Option<&str>,
) -> Result<SideOutput> {
    let runs_ping = side == Side::A;
    let profile = if runs_ping {
        Some(instance_profile.ok_or_else(|| {
            LabError::invalid(format!(
                "create-vpc has no instance profile for instance A (SSM needs one): set {INSTANCE_PROFILE_ENV} on the \
                 function; refused before this step created anything"
            ))
        })?)
    } else {
        None
    };
    let (ec2, region) = (&scope.ec2, scope.region.as_str());
    let ctx = Ctx { ec2, lab, side };
    let plan = match side {
        Side::A => &lab.vpc_a,
        Side::B => &lab.vpc_b,
    };
    let vpc_id = network::ensure_vpc(&ctx, plan).await?;
    // Once the VPC exists, four chains that need nothing of each other run at once: the subnet and its route
    // table, the instance's group, on side A what the endpoints need (DNS attributes, their group), and the look-up
    // of the instance. join!, not try_join!: a failure does not drop a create in flight (everything is tagged as
    // it is created, so teardown finds it either way, but the next attempt should not have to). Their errors are
    // read in the order the steps used to run one after the other, so a fault fails the step as it always did.
    let instance_group_name = group_name(&lab.lab_id, side);
    let instance_group_description =
        format!("peerlab: instance {} of lab {}", side.letter(), lab.lab_id);
    let instance_group_tag = tags::name("InstanceSecurityGroup", side); // not "InstanceB": update-sg's group
    let cidr = plan.cidr.to_string();
    let (subnet_and_table, instance_group, ssm_prepared, found) = tokio::join!(
        async {
            let subnet = network::ensure_subnet(&ctx, &vpc_id, plan).await?;
            let route_table_id = network::ensure_route_table(&ctx, &vpc_id, &subnet.id).await?;
            Ok::<_, LabError>((subnet, route_table_id))
        },
        network::ensure_group(
            &ctx,
            &vpc_id,
            &instance_group_name,
            &instance_group_description,
            &instance_group_tag,
        ),
        async {
            if !runs_ping {
                return Ok(None);
            }
            ssm_access::prepare(&ctx, &vpc_id, &cidr).await.map(Some)
        },
        instance::find_instance(&ctx),
    );
    let (subnet, route_table_id) = subnet_and_table?;
    let (group_id, _) = instance_group?;
    let subnet_id = subnet.id.clone();
    let endpoints = match ssm_prepared? {
        Some(endpoint_group) => {
            ssm_access::ensure_endpoints(&ctx, &vpc_id, &subnet_id, &endpoint_group, region).await?
        }
        None => Vec::new(),
    };
    let endpoint_ids: Vec<String> = endpoints.iter().map(|(id, _)| id.clone()).collect();
    let (instance_id, state, private_ip) = match found? {
        Some(found) => found,
        None => {
            // Launch A only once its agent's first ping can succeed (see the module's doc).
            let pending: Vec<String> = endpoints
                .iter()
                .filter(|(_, state)| state != "available")
                .map(|(id, state)| format!("{id} ({state})"))
                .collect();
            if !pending.is_empty() {
                return Err(LabError::not_ready(format!(
                    "instance A waits for its SSM endpoints to be available: {}",
                    pending.join(", ")
                )));
            }
            instance::launch(&ctx, scope, plan, &subnet_id, &group_id, profile).await?
        }
    };
    if state != InstanceStateName::Running {
        return Err(LabError::not_ready(format!(
            "instance {} ({instance_id}) is {}",
            side.letter(),
            state.as_str()
        )));
    }
    Ok(SideOutput {
        side,
        region: region.to_string(),
        vpc_id,
        cidr: plan.cidr.to_string(),
        subnet_id,
        route_table_id,
        availability_zone: subnet.zone,
        availability_zone_id: subnet.zone_id,
        security_group_id: group_id,
        instance_id,
        private_ip,
        endpoint_ids,
    })
}

#[cfg(test)]
mod tests;
