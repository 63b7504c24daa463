//! `cybrid-scan logs`: scan log files, directories of logs and standard
//! input, or (`--redact-in-place`) rewrite logs with their findings redacted.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cybrid_scan::cli::LogsArgs;
use cybrid_scan::collect::Collector;
use cybrid_scan::config::Settings;
use cybrid_scan::exit::Outcome;
use cybrid_scan::source::log::redact::RedactOptions;
use cybrid_scan::source::log::{scan_logs, stream, LogOptions, DEFAULT_MAX_DECOMPRESSED};

use super::{finish_scan, load_engine};

pub fn run(args: LogsArgs) -> Result<Outcome> {
    let started = Instant::now();
    // Logs have no project root: the config file is `--config` or the one in
    // the current directory.
    let settings = Settings::load(&args.common, Some(std::path::Path::new(".")))?;
    let inputs = if args.inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            bail!(
                "no log given: name files or directories, or pipe a log in (`-` is standard input)"
            );
        }
        vec![PathBuf::from("-")]
    } else {
        args.inputs
    };
    if args.redact_in_place && inputs.iter().any(|p| p.as_os_str() == "-") {
        bail!("--redact-in-place rewrites files; standard input ('-') cannot be rewritten");
    }
    let engine = load_engine(&settings)?;
    let opts = LogOptions {
        threads: settings.threads,
        chunk: args.chunk_size.map_or(stream::DEFAULT_CHUNK, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        }),
        max_decompressed: args
            .max_decompressed_size
            .unwrap_or(DEFAULT_MAX_DECOMPRESSED),
        max_file_size: args.common.max_file_size,
        redact: args.redact_in_place.then_some(RedactOptions {
            backup: args.backup,
        }),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads)
        .build()
        .context("cannot start worker threads")?;
    let collector = Collector::with_max_findings(settings.max_findings);
    let notes = pool.install(|| scan_logs(&inputs, &opts, &engine, &collector));
    finish_scan(
        collector.into_gathered(),
        started,
        &settings,
        &engine,
        notes,
    )
}
