//! peerlab's core: one module per step, named after it (`functions/add-routes/` runs `add_routes::handler`), and
//! what the steps share: the lab's input and plan, the payloads they pass each other, errors, tags, clients.
//! Each step's `handler` is a plain async function of (typed event, `&impl Aws`; create-vpc's also its `Config`) ->
//! typed output or a named error; the binaries in `functions/<step>/` only hand it to the Lambda runtime (with
//! what they read once at start), and the step's tests call it.

pub mod clients;
pub mod error;
pub mod exercise;
pub mod hop;
pub mod input;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod model;
pub mod security_groups;
pub mod tags;

// The steps, in the order the state machine runs them.
pub mod accept_peering;
pub mod add_routes;
pub mod create_vpc;
pub mod ping_test;
pub mod request_peering;
pub mod teardown;
pub mod update_sg;
pub mod validate_input;

// The workshop's steps: its preflight (quotas, the labs' plan) and its summary.
pub mod preflight;
pub mod summarize_workshop;

// What steps share: a peering's status (request-, accept-peering), why a ping failed (ping-test).
pub mod diagnose;
pub mod peering;

#[cfg(test)]
mod test_support;

pub use clients::{Aws, Clients, Scope};
pub use error::{LabError, Result};
