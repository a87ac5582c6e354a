//! request-peering and accept-peering.

use aws_sdk_ec2::types::{
    ResourceType, VpcPeeringConnection, VpcPeeringConnectionStateReasonCode as Code,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use ipnet::Ipv4Net;

use crate::clients::{Clients, Scope};
use crate::error::{aws_error, required, LabError, Result};
use crate::input::LabPlan;
use crate::model::{PeeringOutput, SideOutput};
use crate::tags::{self, filter, lab_filter};

/// Peered VPCs must not overlap: checked before anything is asked of AWS.
pub fn check_disjoint(a: &str, b: &str) -> Result<()> {
    let parse = |s: &str| {
        s.parse::<Ipv4Net>()
            .map_err(|_| LabError::invalid(format!("{s:?} is not a CIDR block")))
    };
    let (na, nb) = (parse(a)?, parse(b)?);
    if na.contains(&nb) || nb.contains(&na) {
        return Err(LabError::invalid(format!(
            "VPC CIDRs {a} and {b} overlap: they cannot be peered"
        )));
    }
    Ok(())
}

fn status_of(pcx: &VpcPeeringConnection) -> (Code, String) {
    let status = pcx.status();
    (
        status
            .and_then(|s| s.code())
            .cloned()
            .unwrap_or(Code::PendingAcceptance),
        status
            .and_then(|s| s.message())
            .unwrap_or_default()
            .to_string(),
    )
}

/// What a peering status means for the workflow: done, wait, or a terminal failure.
pub fn judge(id: &str, code: &Code, message: &str) -> Result<()> {
    match code {
        Code::Active => Ok(()),
        Code::InitiatingRequest | Code::PendingAcceptance | Code::Provisioning => Err(
            LabError::not_ready(format!("peering {id} is {}", code.as_str())),
        ),
        Code::Failed | Code::Rejected | Code::Expired | Code::Deleted | Code::Deleting => {
            Err(LabError::PeeringFailed(format!(
                "peering {id} is {}: {}",
                code.as_str(),
                if message.is_empty() {
                    "no message"
                } else {
                    message
                }
            )))
        }
        other => Err(LabError::not_ready(format!(
            "peering {id} is {}",
            other.as_str()
        ))),
    }
}

/// Find the lab's own peering between these VPCs that is not finished with (pending or active).
async fn find_live(
    ec2: &aws_sdk_ec2::Client,
    lab_id: &str,
    a: &str,
    b: &str,
) -> Result<Option<VpcPeeringConnection>> {
    let out = ec2
        .describe_vpc_peering_connections()
        .filters(lab_filter(lab_id))
        .filters(filter("requester-vpc-info.vpc-id", a))
        .filters(filter("accepter-vpc-info.vpc-id", b))
        .send()
        .await
        .map_err(|e| aws_error("finding the lab's peering", e))?;
    Ok(out
        .vpc_peering_connections()
        .iter()
        .find(|p| {
            matches!(
                status_of(p).0,
                Code::InitiatingRequest
                    | Code::PendingAcceptance
                    | Code::Provisioning
                    | Code::Active
            )
        })
        .cloned())
}

/// request-peering: A requests, B (maybe another account/region) will accept. Reuses its own on a re-run.
pub async fn request(
    clients: &Clients,
    lab: &LabPlan,
    a: &SideOutput,
    b: &SideOutput,
) -> Result<PeeringOutput> {
    check_disjoint(&a.cidr, &b.cidr)?;
    if let Some(existing) = find_live(&clients.ec2, &lab.lab_id, &a.vpc_id, &b.vpc_id).await? {
        let (code, _) = status_of(&existing);
        return Ok(PeeringOutput {
            peering_id: required(existing.vpc_peering_connection_id(), "the lab peering's id")?
                .to_string(),
            status: code.as_str().to_string(),
        });
    }
    let mut call = clients
        .ec2
        .create_vpc_peering_connection()
        .vpc_id(&a.vpc_id)
        .peer_vpc_id(&b.vpc_id)
        .tag_specifications(tags::spec(
            ResourceType::VpcPeeringConnection,
            &lab.lab_id,
            &lab.expires_at,
            "VpcA-VpcB",
            &[],
        ));
    if let Some(peer) = &lab.peer {
        call = call
            .set_peer_owner_id(peer.account_id.clone())
            .set_peer_region(peer.region.clone());
    }
    let out = call.send().await.map_err(|e| {
        aws_error(
            &format!("requesting peering {} -> {}", a.vpc_id, b.vpc_id),
            e,
        )
    })?;
    let pcx = out
        .vpc_peering_connection()
        .ok_or_else(|| LabError::not_ready("CreateVpcPeeringConnection returned no connection"))?;
    let id = pcx
        .vpc_peering_connection_id()
        .ok_or_else(|| LabError::not_ready("CreateVpcPeeringConnection returned no connection id"))?
        .to_string();
    // As create-vpc does for its VPC: a new peering is not listed for a moment (EC2 eventual consistency), and
    // CreateVpcPeeringConnection takes no ClientToken, so a run of this step that did not wait could be followed
    // by one that does not find it by tag and requests a second. Wait until it is visible, polling every 0.5 s for
    // at most VPC_VISIBLE_WITHIN (the SDK's VpcPeeringConnectionExists waiter would first sleep its 15 s minimum
    // delay, EC2's waiter model, longer than the lag's p99 of 5 s).
    let started = std::time::Instant::now();
    loop {
        match clients
            .ec2
            .describe_vpc_peering_connections()
            .vpc_peering_connection_ids(&id)
            .send()
            .await
        {
            Ok(_) => break,
            Err(e)
                if e.code() == Some("InvalidVpcPeeringConnectionID.NotFound")
                    && started.elapsed() < crate::vpc::VPC_VISIBLE_WITHIN =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await
            }
            Err(e) => {
                return Err(aws_error(
                    &format!("waiting for peering {id} to be visible"),
                    e,
                ))
            }
        }
    }
    Ok(PeeringOutput {
        peering_id: id,
        status: status_of(pcx).0.as_str().to_string(),
    })
}

/// accept-peering, as the accepter (`scope`: B's account and region). NotFound right after create and
/// not-yet-active states are `NotReady`; terminal states are `PeeringFailed`.
pub async fn accept(scope: &Scope, peering_id: &str) -> Result<PeeringOutput> {
    let described = scope
        .ec2
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(peering_id)
        .send()
        .await;
    let pcx = match described {
        Ok(out) => out.vpc_peering_connections().first().cloned(),
        Err(e) if e.code() == Some("InvalidVpcPeeringConnectionID.NotFound") => None,
        Err(e) => return Err(aws_error(&format!("describing peering {peering_id}"), e)),
    };
    let Some(pcx) = pcx else {
        return Err(LabError::not_ready(format!(
            "peering {peering_id} is not visible yet (eventual consistency)"
        )));
    };
    let (code, message) = status_of(&pcx);
    if code == Code::PendingAcceptance {
        match scope
            .ec2
            .accept_vpc_peering_connection()
            .vpc_peering_connection_id(peering_id)
            .send()
            .await
        {
            Ok(out) => {
                let code = out
                    .vpc_peering_connection()
                    .map(|p| status_of(p).0)
                    .unwrap_or(Code::Provisioning);
                judge(peering_id, &code, "")?;
                return Ok(PeeringOutput {
                    peering_id: peering_id.into(),
                    status: code.as_str().into(),
                });
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("InvalidVpcPeeringConnectionID.NotFound" | "InvalidStateTransition")
                ) =>
            {
                return Err(LabError::not_ready(format!(
                    "peering {peering_id} could not be accepted yet: {}",
                    e.code().unwrap_or("")
                )));
            }
            Err(e) => return Err(aws_error(&format!("accepting peering {peering_id}"), e)),
        }
    }
    judge(peering_id, &code, &message)?;
    Ok(PeeringOutput {
        peering_id: peering_id.into(),
        status: code.as_str().into(),
    })
}
