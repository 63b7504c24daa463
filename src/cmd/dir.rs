//! `cybrid-scan dir`: scan files under paths.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use cybrid_scan::cli::DirArgs;
use cybrid_scan::collect::Collector;
use cybrid_scan::config::Settings;
use cybrid_scan::exit::Outcome;
use cybrid_scan::source::fs::{scan_paths, FsOptions};

use super::{finish_scan, load_engine};

pub fn run(args: DirArgs) -> Result<Outcome> {
    let started = Instant::now();
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    if !roots.iter().any(|r| r.exists()) {
        let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        anyhow::bail!("nothing to scan: {} does not exist", shown.join(", "));
    }
    // The config file is looked for in the first root, when it is a directory.
    let settings = Settings::load(
        &args.common,
        roots.first().filter(|r| r.is_dir()).map(|r| r.as_path()),
    )?;
    let engine = load_engine(&settings)?;
    let opts = FsOptions {
        no_ignore: args.no_ignore,
        follow_links: args.follow,
        max_file_size: settings.max_file_size,
        threads: settings.threads,
    };
    let collector = Collector::with_max_findings(settings.max_findings);
    let notes = scan_paths(&roots, &opts, &engine, &collector);
    finish_scan(
        collector.into_gathered(),
        started,
        &settings,
        &engine,
        notes,
    )
}
