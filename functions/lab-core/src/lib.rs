//! peerlab's core: the lab's domain types, validation, errors and the EC2/SSM operations of every step.
//! The step binaries in `functions/<step>/` are thin wrappers around these functions.

pub mod clients;
pub mod diagnose;
pub mod error;
pub mod handlers;
pub mod input;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod model;
pub mod peering;
pub mod ping;
pub mod placement;
pub mod routes;
pub mod security;
#[cfg(test)]
mod step_tests;
pub mod tags;
pub mod teardown;
pub mod vpc;

pub use clients::{Clients, Scope};
pub use error::{LabError, Result};
