//! Settings: command-line flags and the config file (`.cybrid-scan.toml` in
//! the scanned root, or `--config FILE`) resolved into one plain value that
//! the commands read. Precedence: flags > config file > defaults. No detection
//! logic here.

pub mod file;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::CommonArgs;
use crate::exit::DEFAULT_FINDINGS_STATUS;
use crate::report::{Format, OutputOptions, Reveal};
use crate::revoke::RevokeSettings;
use crate::source::fs::DEFAULT_MAX_FILE_SIZE;
use crate::suppress::{AllowList, Suppressor};
use crate::verify::VerifySettings;
pub use file::{ConfigError, FileConfig, VerifyTable};

#[derive(Debug, Clone)]
pub struct Settings {
    pub output: OutputOptions,
    pub output_path: Option<PathBuf>,
    pub threads: usize,
    pub max_file_size: u64,
    /// Findings kept at most (memory grows with findings; see README "Hardening").
    pub max_findings: Option<u64>,
    pub rules_dirs: Vec<PathBuf>,
    pub findings_status: u8,
    /// Findings below it are neither reported nor counted for the exit status.
    pub min_confidence: crate::finding::Confidence,
    pub quiet: bool,
    pub baseline: Option<PathBuf>,
    /// Leave run-to-run noise (timings, counters) out of the report.
    pub deterministic: bool,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Allow-lists and baseline, applied after the scan.
    pub suppress: Suppressor,
    /// Verification options: flags over the config file's `[verify]`.
    pub verify: VerifySettings,
    pub revoke: RevokeSettings,
    /// `--fail-on-errors`: anything unreadable fails the run (exit 2).
    pub fail_on_errors: bool,
    /// `--all-refs`: every ref reaching a finding's commit, not the first few.
    pub all_refs: bool,
    /// `--datastore LOCATION`: where incidents are recorded.
    pub datastore: Option<String>,
    /// What resolving the settings changed and the user should know
    /// (a clamped `--threads`): reported as notes.
    pub notes: Vec<String>,
}

/// More worker threads than this many per core only add contention (and a
/// thread's stack each): `--threads` above it is clamped, with a note.
pub const MAX_THREADS_PER_CORE: usize = 4;

/// The worker threads to run: `asked`, or all cores, never more than
/// [`MAX_THREADS_PER_CORE`] times the cores; the note says when clamped.
pub fn worker_threads(asked: Option<usize>) -> (usize, Option<String>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = cores * MAX_THREADS_PER_CORE;
    match asked {
        None => (cores, None),
        Some(n) if n > most => (
            most,
            Some(format!(
                "--threads {n} is more than helps here: {most} used ({MAX_THREADS_PER_CORE} x {cores} core(s))"
            )),
        ),
        Some(n) => (n.max(1), None),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Baseline(#[from] crate::report::json::ReadError),
    #[error("invalid allow-list glob: {0}")]
    Glob(#[from] globset::Error),
}

impl Settings {
    /// Resolve flags, the config file and defaults. The config file is
    /// `--config FILE` when given, else `.cybrid-scan.toml` in `root` (the
    /// scanned directory or repository) when present. Reads the baseline
    /// now, so a bad one fails before a long scan.
    pub fn load(args: &CommonArgs, root: Option<&Path>) -> Result<Self, SettingsError> {
        let config_path = match &args.config {
            Some(p) => Some(p.clone()),
            None => root
                .map(|r| r.join(file::FILE_NAME))
                .filter(|p| p.is_file()),
        };
        let cfg = match &config_path {
            Some(p) => file::load(p)?,
            None => FileConfig::default(),
        };
        let mut settings = Self::resolve(args, &cfg)?;
        settings.config_file = config_path;
        if let Some(path) = &args.baseline {
            settings.suppress = settings.suppress.with_baseline(path)?;
        }
        Ok(settings)
    }

    fn resolve(args: &CommonArgs, cfg: &FileConfig) -> Result<Self, SettingsError> {
        let format = args.format.or(cfg.format).unwrap_or(Format::Human);
        let color = format == Format::Human
            && args.output.is_none()
            && !args.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        let mut rules_dirs = cfg.rules.clone();
        rules_dirs.extend(args.rules.iter().cloned());
        let allow = AllowList::new(&cfg.allow_paths, &cfg.allow_fingerprints)?;
        let (threads, threads_note) = worker_threads(args.threads);
        Ok(Settings {
            output: OutputOptions {
                format,
                reveal: if args.show_secrets {
                    Reveal::Show
                } else {
                    Reveal::Redact
                },
                color,
                sarif_category: args.sarif_category.clone(),
                command: std::env::args().collect(),
            },
            output_path: args.output.clone(),
            threads,
            max_file_size: args
                .max_file_size
                .or(cfg.max_file_size)
                .unwrap_or(DEFAULT_MAX_FILE_SIZE),
            max_findings: args.max_findings,
            rules_dirs,
            findings_status: args.exit_code.unwrap_or(DEFAULT_FINDINGS_STATUS),
            min_confidence: args.min_confidence,
            quiet: args.quiet,
            baseline: args.baseline.clone(),
            deterministic: args.deterministic,
            config_file: None,
            suppress: Suppressor::new(allow),
            verify: verify_settings(args, &cfg.verify),
            revoke: RevokeSettings {
                enabled: args.revoke,
                yes: args.yes,
                audit_log: args.audit_log.clone(),
                notify_webhook: args.notify_webhook.clone(),
            },
            fail_on_errors: args.fail_on_errors,
            all_refs: args.all_refs,
            datastore: args.datastore.clone(),
            notes: threads_note.into_iter().collect(),
        })
    }
}

/// Verification options: flags over the config file's `[verify]`; `None`
/// where neither says, so the verifier's own defaults apply. An endpoint
/// flag replaces the file's entry for the same environment.
fn verify_settings(args: &CommonArgs, file: &VerifyTable) -> VerifySettings {
    let mut endpoints: BTreeMap<String, String> = file
        .endpoints
        .iter()
        .map(|(env, url)| (env.clone(), format!("{env}={url}")))
        .collect();
    for e in &args.endpoint {
        let env = e.split_once('=').map_or(e.as_str(), |(env, _)| env);
        endpoints.insert(env.to_string(), e.clone());
    }
    let flags = VerifySettings::from_args(args);
    VerifySettings {
        endpoints: endpoints.into_values().collect(),
        concurrency: flags.concurrency.or(file.concurrency),
        rate: flags.rate.or(file.rate),
        timeout: flags.timeout.or(file.timeout),
        deadline: flags.deadline.or(file.deadline),
        proxy: flags.proxy.or_else(|| file.proxy.clone()),
        ..flags
    }
}
