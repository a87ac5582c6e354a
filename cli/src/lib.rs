//! peerlab's command line: start a lab and follow it, on the local AWS or on AWS. The binary (`src/main.rs`)
//! parses and dispatches; the commands and the pieces they share are here:
//!
//! - `commands::*`: one module per command (its arguments, what it does);
//! - `place`: where a command acts (the global options, AWS or a local AWS), `error`: the exit-2 kind of error;
//! - `local`: the local AWS launcher and its endpoints, `stack`: stacks deployed on it (the end-to-end tests use
//!   both, through the `e2e` crate);
//! - `sfn`: reading and following executions; `input`: a lab's input checked before it starts;
//! - what the CLI renders and reads, apart from AWS so recorded histories test it: `history`, `runs`,
//!   `progress`, `report`, `timeline`.

pub mod aws_time;
pub mod commands;
pub mod error;
pub mod history;
pub mod input;
pub mod local;
pub mod place;
pub mod progress;
pub mod report;
pub mod runs;
pub mod sfn;
pub mod stack;
pub mod timeline;
