//! `cybrid-scan logs`: scan log files, directories of logs and standard
//! input, or (`--redact-in-place`) rewrite logs with their findings redacted.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cybrid_scan::cli::LogsArgs;
use cybrid_scan::collect::Unit;
use cybrid_scan::exit::Outcome;
use cybrid_scan::source::log::redact::RedactOptions;
use cybrid_scan::source::log::{scan_logs, stream, LogOptions, DEFAULT_MAX_DECOMPRESSED};

use super::pipeline::Pipeline;

pub fn run(args: LogsArgs) -> Result<Outcome> {
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
    // Logs have no project root: the config file is `--config` or the one in
    // the current directory.
    let mut pipeline = Pipeline::start(&args.common, Some(std::path::Path::new(".")))?;
    let opts = LogOptions {
        threads: pipeline.settings.threads,
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
        // Rewriting needs every log read: nothing is skipped then.
        known: pipeline.known_content().filter(|_| !args.redact_in_place),
        mmap: !args.no_mmap,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pipeline.settings.threads)
        .build()
        .context("cannot start worker threads")?;
    let notes = pool.install(|| scan_logs(&inputs, &opts, &pipeline.engine, &pipeline.collector));
    for note in notes {
        pipeline.note(note);
    }
    pipeline.finish(Unit::Lines)
}
