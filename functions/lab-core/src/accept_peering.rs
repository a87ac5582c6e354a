//! accept-peering, as the accepter (B's account and region). NotFound right after create and not-yet-active
//! states are `NotReady`; terminal states are `PeeringFailed`. The exercise `peering-not-accepted` stops at
//! pending-acceptance without accepting.

use aws_sdk_ec2::types::VpcPeeringConnectionStateReasonCode as Code;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::clients::Aws;
use crate::error::{aws_error, LabError, Result};
use crate::exercise::Exercise;
use crate::model::{PairEvent, PeeringOutput};
use crate::peering::{judge, status_of};

pub async fn handler(event: PairEvent, aws: &impl Aws) -> Result<PeeringOutput> {
    let peering_id = event.peering()?;
    let scope = aws.peer(event.lab.peer_access()).await?;
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
    if code == Code::PendingAcceptance && event.lab.exercise == Some(Exercise::PeeringNotAccepted) {
        // the exercise: the request stays pending acceptance for the student to accept
        return Ok(PeeringOutput {
            peering_id: peering_id.into(),
            status: code.as_str().into(),
        });
    }
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

#[cfg(test)]
mod tests;
