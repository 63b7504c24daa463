//! cybrid-scan: finds leaked Cybrid API credentials.
//!
//! Pipeline: sources (`source`) yield bytes with provenance → the engine
//! (`detect`, driven by `rules`) yields detections → `collect` turns them into
//! findings → reports (`report`). The binary (`main.rs`) wires these together.

pub mod ci;
pub mod cli;
pub mod collect;
pub mod config;
pub mod datastore;
pub mod detect;
pub mod exit;
pub mod finding;
pub mod idsim;
#[cfg(target_os = "linux")]
pub mod mapped;
pub mod project;
pub mod refs;
pub mod report;
pub mod revoke;
pub mod rotate;
pub mod rules;
pub mod secret;
pub mod source;
pub mod suppress;
pub mod sweep;
pub mod verify;
