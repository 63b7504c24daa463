//! Settings: command-line flags (and, later, the config file) resolved into
//! one plain value that the commands read. No detection logic here.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::CommonArgs;
use crate::exit::DEFAULT_FINDINGS_STATUS;
use crate::report::{Format, OutputOptions, Reveal};
use crate::source::fs::DEFAULT_MAX_FILE_SIZE;
use crate::verify::VerifySettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub output: OutputOptions,
    pub output_path: Option<PathBuf>,
    pub threads: usize,
    pub max_file_size: u64,
    pub rules_dirs: Vec<PathBuf>,
    pub findings_status: u8,
    pub quiet: bool,
    pub baseline: Option<PathBuf>,
    pub verify: VerifySettings,
}

impl Settings {
    pub fn from_args(args: &CommonArgs) -> Self {
        let format = args.format.unwrap_or(Format::Human);
        let color = format == Format::Human
            && args.output.is_none()
            && !args.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        Settings {
            output: OutputOptions {
                format,
                reveal: if args.show_secrets {
                    Reveal::Show
                } else {
                    Reveal::Redact
                },
                color,
                sarif_category: args.sarif_category.clone(),
            },
            output_path: args.output.clone(),
            threads: args
                .threads
                .filter(|n| *n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            max_file_size: args.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            rules_dirs: args.rules.clone(),
            findings_status: args.exit_code.unwrap_or(DEFAULT_FINDINGS_STATUS),
            quiet: args.quiet,
            baseline: args.baseline.clone(),
            verify: VerifySettings::from_args(args),
        }
    }
}
