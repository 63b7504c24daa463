//! Sources turn an input (a directory, a git repository, a log stream) into
//! bytes for the engine and findings with provenance for the collector.

pub mod archive;
pub mod fs;
pub mod git;
pub mod image;
pub mod known;
pub mod log;
