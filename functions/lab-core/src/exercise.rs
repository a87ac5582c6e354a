//! Break-and-fix exercises: a lab built with exactly one hop missing. The steps that build that hop leave it out
//! (`skips`), the final ping is meant to fail, and the lab succeeds when the diagnosis names exactly that hop; a
//! student then repairs it by hand while the lab is held (`peerlab check` says when it works).

use serde::{Deserialize, Serialize};

use crate::hop::Hop;

/// Which hop the lab is built without (input field `exercise`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Exercise {
    /// add-routes leaves out A's route to B's CIDR.
    MissingRouteA,
    /// add-routes leaves out B's route back to A's CIDR.
    MissingRouteB,
    /// update-sg creates group InstanceB and attaches it to B, without the rule admitting A.
    SgRuleMissing,
    /// update-sg creates group InstanceB with its rule, and does not attach it to instance B.
    SgNotAttached,
    /// update-sg puts B's subnet behind a lab network ACL whose first inbound rule denies ICMP from VPC A.
    NaclDeny,
    /// accept-peering leaves the request pending acceptance (routes through it are blackholes until accepted).
    PeeringNotAccepted,
}

/// The rule number of the deny entry of `nacl-deny`: below the allow-all rule (100), so it is evaluated first
/// (Amazon VPC User Guide, "Network ACL rules": rules are evaluated from the lowest number, the first match wins).
pub const NACL_DENY_RULE: i32 = 90;
pub const NACL_ALLOW_RULE: i32 = 100;

impl Exercise {
    pub const ALL: [Exercise; 6] = [
        Exercise::MissingRouteA,
        Exercise::MissingRouteB,
        Exercise::SgRuleMissing,
        Exercise::SgNotAttached,
        Exercise::NaclDeny,
        Exercise::PeeringNotAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Exercise::MissingRouteA => "missing-route-a",
            Exercise::MissingRouteB => "missing-route-b",
            Exercise::SgRuleMissing => "sg-rule-missing",
            Exercise::SgNotAttached => "sg-not-attached",
            Exercise::NaclDeny => "nacl-deny",
            Exercise::PeeringNotAccepted => "peering-not-accepted",
        }
    }

    /// The hop the diagnosis must name.
    pub fn hop(self) -> Hop {
        match self {
            Exercise::MissingRouteA => Hop::RouteA,
            Exercise::MissingRouteB => Hop::RouteB,
            Exercise::SgRuleMissing => Hop::SgIngressB,
            Exercise::SgNotAttached => Hop::SgNotAttached,
            Exercise::NaclDeny => Hop::NaclB,
            Exercise::PeeringNotAccepted => Hop::Peering,
        }
    }

    /// What was left out, for the report.
    pub fn broken(self) -> &'static str {
        match self {
            Exercise::MissingRouteA => {
                "VPC A's route table has no route to VPC B's CIDR through the peering"
            }
            Exercise::MissingRouteB => {
                "VPC B's route table has no route back to VPC A's CIDR through the peering"
            }
            Exercise::SgRuleMissing => {
                "group InstanceB is attached to instance B but has no rule admitting A"
            }
            Exercise::SgNotAttached => "group InstanceB admits A but is not attached to instance B",
            Exercise::NaclDeny => {
                "B's subnet is behind a network ACL whose rule 90 denies ICMP from VPC A"
            }
            Exercise::PeeringNotAccepted => {
                "the peering request was never accepted (pending-acceptance)"
            }
        }
    }

    /// How a student repairs it by hand (the README's exercises table says the same).
    pub fn fix(self) -> &'static str {
        match self {
            Exercise::MissingRouteA => "add a route to VPC B's CIDR via the peering in A's lab route table",
            Exercise::MissingRouteB => "add a route to VPC A's CIDR via the peering in B's lab route table",
            Exercise::SgRuleMissing => "add an inbound rule to group InstanceB admitting A's group (or ICMP from A)",
            Exercise::SgNotAttached => "attach group InstanceB to instance B (Change security groups)",
            Exercise::NaclDeny => "delete inbound rule 90 of the lab's network ACL (or associate B's subnet with the default ACL)",
            Exercise::PeeringNotAccepted => "accept the peering connection",
        }
    }
}

/// What an exercise lab's final ping found: the report's `exercise`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ExerciseOutcome {
    pub exercise: Exercise,
    /// What the lab was built without.
    pub broken: String,
    /// The hop the diagnosis named, and its words.
    pub diagnosed_hop: Hop,
    pub diagnosis: String,
    /// True: the diagnosis named exactly the hop the exercise removed.
    pub matched: bool,
    /// How to repair it by hand.
    pub fix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exercise_has_its_own_hop_and_round_trips_by_name() {
        let hops: std::collections::HashSet<Hop> = Exercise::ALL.iter().map(|e| e.hop()).collect();
        assert_eq!(hops.len(), Exercise::ALL.len());
        for e in Exercise::ALL {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json, serde_json::json!(e.as_str()));
            assert_eq!(serde_json::from_value::<Exercise>(json).unwrap(), e);
        }
    }
}
