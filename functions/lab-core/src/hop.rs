//! A hop on the way A -> B -> A that can block the ping: what the diagnosis names (`diagnose`), and what a
//! break-and-fix exercise removes (`exercise`). Its own module, below both, so that neither imports the other.

use serde::{Deserialize, Serialize};

/// A hop; its JSON name is `as_str` (kebab-case).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Hop {
    /// No peering, or one that is not active.
    Peering,
    /// A's route table sends B's address nowhere, or not through the peering.
    RouteA,
    /// B's route table has no way back to A through the peering.
    RouteB,
    /// A's security groups let no ICMP out to B.
    SgEgressA,
    /// B's security groups admit no ICMP from A, and no group of VPC B that would is left unattached.
    SgIngressB,
    /// A group of VPC B admits A but is not attached to instance B.
    SgNotAttached,
    /// A network ACL of A's subnet (out, or the reply in).
    NaclA,
    /// A network ACL of B's subnet (in, or the reply out).
    NaclB,
    /// Every hop the EC2 state shows allows the ping.
    None,
}

impl Hop {
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Peering => "peering",
            Hop::RouteA => "route-a",
            Hop::RouteB => "route-b",
            Hop::SgEgressA => "sg-egress-a",
            Hop::SgIngressB => "sg-ingress-b",
            Hop::SgNotAttached => "sg-not-attached",
            Hop::NaclA => "nacl-a",
            Hop::NaclB => "nacl-b",
            Hop::None => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hops_name_is_its_serde_name() {
        for hop in [
            Hop::Peering,
            Hop::RouteA,
            Hop::RouteB,
            Hop::SgEgressA,
            Hop::SgIngressB,
            Hop::SgNotAttached,
            Hop::NaclA,
            Hop::NaclB,
            Hop::None,
        ] {
            assert_eq!(
                serde_json::to_value(hop).unwrap(),
                serde_json::json!(hop.as_str())
            );
        }
    }
}
