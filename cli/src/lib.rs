//! peerlab's command line: start a lab and follow it, on the local AWS or on AWS. The binary is `src/main.rs`;
//! these modules are what it renders and reads, kept apart from AWS so recorded histories test them, and the
//! local AWS launcher (`local`) and stack tool (`stack`) it shares with the end-to-end tests.

pub mod history;
pub mod local;
pub mod progress;
pub mod report;
pub mod runs;
pub mod stack;
pub mod timeline;
