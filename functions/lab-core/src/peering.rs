//! What request-peering and accept-peering share: the CIDR check and what a peering's status means.

use aws_sdk_ec2::types::{VpcPeeringConnection, VpcPeeringConnectionStateReasonCode as Code};
use ipnet::Ipv4Net;

use crate::error::{LabError, Result};

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

/// A peering's status code (pending acceptance when EC2 gives none yet) and message.
pub fn status_of(pcx: &VpcPeeringConnection) -> (Code, String) {
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
