//! `cybrid-scan dir`: scan files under paths.

use std::path::PathBuf;

use anyhow::Result;
use cybrid_scan::cli::DirArgs;
use cybrid_scan::collect::Unit;
use cybrid_scan::exit::Outcome;
use cybrid_scan::source::fs::{scan_paths, FsOptions};

use super::pipeline::Pipeline;

pub fn run(args: DirArgs) -> Result<Outcome> {
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
    let mut pipeline = Pipeline::start(
        &args.common,
        roots.first().filter(|r| r.is_dir()).map(|r| r.as_path()),
    )?;
    let opts = FsOptions {
        no_ignore: args.no_ignore,
        follow_links: args.follow,
        max_file_size: pipeline.settings.max_file_size,
        threads: pipeline.settings.threads,
        known: pipeline.known_content(),
    };
    pipeline.record_roots(roots.iter().map(|r| r.as_path()));
    let notes = scan_paths(&roots, &opts, &pipeline.engine, &pipeline.collector);
    for note in notes {
        pipeline.note(note);
    }
    pipeline.finish(Unit::Files)
}
