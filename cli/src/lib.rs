//! peerlab's command line: start a lab and follow it, on the local AWS or on AWS. The binary is `src/main.rs`;
//! these modules are what it renders and reads, kept apart from AWS so recorded histories test them.

pub mod history;
pub mod progress;
pub mod report;
pub mod runs;
pub mod timeline;
