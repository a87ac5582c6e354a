//! request-peering: A requests the peering, B (maybe another account or region) will accept it. Reuses the lab's
//! own pending or active connection on a re-run.

use aws_sdk_ec2::types::{
    ResourceType, VpcPeeringConnection, VpcPeeringConnectionStateReasonCode as Code,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Aws;
use crate::error::{aws_error, required, LabError, Result};
use crate::model::{PairEvent, PeeringOutput};
use crate::peering::{check_disjoint, status_of};
use crate::tags::{self, filter, lab_filter};

pub async fn handler(event: PairEvent, aws: &impl Aws) -> Result<PeeringOutput> {
    let (lab, a, b) = (&event.lab, &event.vpc_a, &event.vpc_b);
    let home = aws.home();
    check_disjoint(&a.cidr, &b.cidr)?;
    if let Some(existing) = find_live(&home.ec2, &lab.lab_id, &a.vpc_id, &b.vpc_id).await? {
        let (code, _) = status_of(&existing);
        return Ok(PeeringOutput {
            peering_id: required(existing.vpc_peering_connection_id(), "the lab peering's id")?
                .to_string(),
            status: code.as_str().to_string(),
        });
    }
    let mut call = home
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
        match home
            .ec2
            .describe_vpc_peering_connections()
            .vpc_peering_connection_ids(&id)
            .send()
            .await
        {
            Ok(_) => break,
            Err(e)
                if e.code() == Some("InvalidVpcPeeringConnectionID.NotFound")
                    && started.elapsed() < crate::create_vpc::VPC_VISIBLE_WITHIN =>
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

#[cfg(test)]
mod tests;
