//! The command line (INTERFACE.md). Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "cybrid-scan",
    version,
    about = "Find leaked Cybrid API credentials in directories, git history and logs",
    after_help = "Exit status: 0 no findings, 1 findings (or --exit-code), 2 usage error or scan could not run, 3 a finding was verified live."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files under each PATH (default: .)
    Dir(DirArgs),
    /// Scan every blob reachable from any ref of each REPO (a path or clone URL; default: .)
    Git(GitArgs),
    /// Scan log files, directories of logs, or standard input ('-'); .gz and .zip read transparently
    Logs(LogsArgs),
    /// Scan many repositories listed in a manifest, resumably and in shards
    Sweep(SweepArgs),
    /// Revoke the live credentials named in an earlier JSON report
    Revoke(RevokeArgs),
    /// Replace leaked credentials without downtime: create, deliver, check, then delete
    Rotate(RotateArgs),
    /// Work with detection rules
    Rules(RulesArgs),
    /// Write a baseline (a deterministic JSON report) from a scan
    Baseline(BaselineArgs),
    /// Merge JSON reports (e.g. from sweep shards) into one, de-duplicating findings
    Merge(MergeArgs),
    /// Sweep CI job logs through the GitHub Actions or GitLab CI API
    Ci(CiArgs),
    /// Scan container images: every layer (deleted files included) and the configuration
    Image(ImageArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish) to standard output
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to standard output: `cybrid-scan man | man -l -`
    #[command(hide = true)]
    Man,
    /// The datastore's incidents (one per credential): list, show, triage
    Incidents(IncidentsArgs),
    /// A report of every incident in a datastore, in any format (html too)
    Report(ReportArgs),
}

/// Options every scanning subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Report format [default: human, or the config file's]
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Check each client_id + client_secret pair against Cybrid's token endpoint
    #[arg(long)]
    pub verify: bool,
    /// With --verify: read each live key's application for its IP allowlist, with the admin credential revoke uses (CYBRID_ADMIN_CLIENT_ID/_SECRET, scopes *_applications:read)
    #[arg(long, requires = "verify")]
    pub read_allowlists: bool,
    /// Send an environment's identity-service calls to URL (ENV=URL; plain http only for loopback)
    #[arg(long, value_name = "ENV=URL")]
    pub endpoint: Vec<String>,
    /// Drop findings whose fingerprint is in this earlier JSON report
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Settings file [default: .cybrid-scan.toml in the scanned root when present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads [default: all cores; at most 4x the cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Print secrets in full (default: redacted everywhere)
    #[arg(long)]
    pub show_secrets: bool,
    /// Exit status when findings remain
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=255))]
    pub exit_code: Option<u8>,
    /// Extra rules: a directory of *.toml rule files (or one file); repeatable
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Skip files larger than this (bytes; suffixes K, M, G) [default: 50M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,
    /// Keep at most N findings in memory and in the report; the rest are counted in `errors` [default: no limit]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_findings: Option<u64>,
    /// Report (and fail on) findings at or above this confidence; pre-commit hooks and the action use `medium`
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "low")]
    pub min_confidence: crate::finding::Confidence,
    /// No progress or notes on standard error
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Never colour the human report
    #[arg(long)]
    pub no_color: bool,
    /// Concurrent verification requests
    #[arg(long, value_name = "N")]
    pub verify_concurrency: Option<usize>,
    /// Verification requests per second, at most
    #[arg(long, value_name = "N")]
    pub verify_rate: Option<f64>,
    /// Per-request verification timeout in seconds
    #[arg(long, value_name = "SECS")]
    pub verify_timeout: Option<f64>,
    /// Give up on verification after this many seconds in all; unfinished checks are `unknown`
    #[arg(long, value_name = "SECS")]
    pub verify_deadline: Option<f64>,
    /// Send verification requests through this proxy (environment proxies are never used)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// After --verify, revoke live credentials (needs CYBRID_ADMIN_CLIENT_ID/SECRET; --yes when not interactive)
    #[arg(long, requires = "verify")]
    pub revoke: bool,
    /// Do not ask before revoking (required with --revoke when standard input is not a terminal)
    #[arg(long, requires = "revoke")]
    pub yes: bool,
    /// Append each revocation step to this JSON-lines audit log (with --revoke) [default: $XDG_STATE_HOME/cybrid-scan/audit.jsonl]
    #[arg(long, value_name = "FILE", requires = "revoke")]
    pub audit_log: Option<PathBuf>,
    /// POST a redacted JSON summary of live findings and revocations to this URL (with --verify)
    #[arg(long, value_name = "URL", requires = "verify")]
    pub notify_webhook: Option<String>,
    /// SARIF runAutomationDetails.id (e.g. cybrid-scan/pr)
    #[arg(long, value_name = "ID")]
    pub sarif_category: Option<String>,
    /// Leave out what changes from run to run (timings, byte and file counts),
    /// so a committed report changes only when findings do (`baseline` sets it)
    #[arg(long, hide = true)]
    pub deterministic: bool,
    /// Exit 2 when anything could not be read, even if the rest was scanned
    #[arg(long)]
    pub fail_on_errors: bool,
    /// List every ref that reaches a finding's commit (default: branches and tags first, at most 32, plus `refs_total`)
    #[arg(long)]
    pub all_refs: bool,
    /// Record every finding as an occurrence of its incident in this SQLite file (no secret is stored), and skip what it has already scanned under the same rules
    #[arg(long, value_name = "LOCATION")]
    pub datastore: Option<String>,
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Files or directories to scan
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan files that .gitignore and .ignore would exclude
    #[arg(long)]
    pub no_ignore: bool,
    /// Follow symbolic links
    #[arg(long, short = 'L')]
    pub follow: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// REGISTRY/NAME:TAG or @DIGEST (a registry, Docker Hub when none is named), docker-archive:FILE (a `docker save` tarball) or oci:DIR[:TAG] (an OCI image layout)
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// Platform to scan from a multi-platform index (OS/ARCH[/VARIANT]) [default: linux/amd64]
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Stop reading a layer after SIZE inflated bytes (a bomb) [default: 8G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_layer_size: Option<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct GitArgs {
    /// Repositories: paths or clone URLs (https://, ssh://, file://)
    #[arg(value_name = "REPO")]
    pub repos: Vec<String>,
    /// Only what commits in BASE..HEAD added; with no value, taken from CI variables
    #[arg(long, value_name = "BASE..HEAD", num_args = 0..=1, default_missing_value = "")]
    pub range: Option<String>,
    /// Only what is staged in the index compared to HEAD (pre-commit)
    #[arg(long, conflicts_with = "range")]
    pub staged: bool,
    /// Keep the clone of a URL in DIR instead of deleting it
    #[arg(long, value_name = "DIR")]
    pub keep_clone: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Log files, directories of logs, or '-' for standard input
    #[arg(value_name = "FILE|DIR|-")]
    pub inputs: Vec<PathBuf>,
    /// Rewrite each given log with every finding redacted (no backup unless --backup)
    #[arg(long)]
    pub redact_in_place: bool,
    /// With --redact-in-place: keep the original as FILE.bak (mode 0600; it holds the secrets in plaintext)
    #[arg(long, requires = "redact_in_place")]
    pub backup: bool,
    /// Accepted for compatibility: no backup is the default now
    #[arg(
        long,
        requires = "redact_in_place",
        conflicts_with = "backup",
        hide = true
    )]
    pub no_backup: bool,
    /// Stop decompressing an input after this many bytes (suffixes K, M, G) and report it [default: 64G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_decompressed_size: Option<u64>,
    /// New bytes read per scanning window (tests force small windows)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, hide = true)]
    pub chunk_size: Option<u64>,
    /// Read big plain files with read(2) instead of memory maps (Linux; same findings, maps skip the kernel's copy)
    #[arg(long)]
    pub no_mmap: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("repositories").required(true).args(["manifest", "github_org", "gitlab_group"])),
    group(clap::ArgGroup::new("org").args(["github_org", "gitlab_group"]))
)]
pub struct SweepArgs {
    /// One repository per line: a local path or a clone URL; '#' comments
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Every repository of a GitHub organisation (or user), listed through the API; token from GITHUB_TOKEN (also used to clone)
    #[arg(long, value_name = "ORG")]
    pub github_org: Option<String>,
    /// Every project of a GitLab group, subgroups included; token from GITLAB_TOKEN (also used to clone)
    #[arg(long, value_name = "GROUP")]
    pub gitlab_group: Option<String>,
    /// With --github-org / --gitlab-group: the REST root (GitHub: https://api.github.com, or https://HOST/api/v3; GitLab: the instance, e.g. https://gitlab.com); http only for loopback
    #[arg(long, value_name = "URL", requires = "org")]
    pub api_url: Option<String>,
    /// With --github-org / --gitlab-group: also sweep archived repositories
    #[arg(long, requires = "org")]
    pub include_archived: bool,
    /// With --github-org / --gitlab-group: also sweep forks
    #[arg(long, requires = "org")]
    pub include_forks: bool,
    /// Scan only shard K of N (0-based), by a stable hash of each repository URL
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Record each finished repository here; a rerun skips them
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Repositories opened, cloned and walked at once [default: --threads, at least 2]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrent_repos: Option<u64>,
    /// With --state and --verify: trust remembered verdicts this long (seconds)
    #[arg(long, value_name = "SECS", default_value_t = 86400.0)]
    pub verify_cache_ttl: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub provider: CiProvider,
}

#[derive(Debug, Subcommand)]
pub enum CiProvider {
    /// GitHub Actions run logs of OWNER's repositories (or OWNER/REPO); token from GITHUB_TOKEN
    Github(CiSourceArgs),
    /// GitLab CI job traces of GROUP's projects, subgroups included (or GROUP/PROJECT); token from GITLAB_TOKEN
    Gitlab(CiSourceArgs),
}

/// `ci github` / `ci gitlab`. `--yes` and `--audit-log` (from the common
/// options) also serve `--delete-leaking-logs` here, so they do not need `--revoke`.
#[derive(Debug, Args)]
#[command(
    mut_arg("yes", |a| a.requires(clap::builder::Resettable::<clap::Id>::Reset).help("Do not ask before revoking or deleting logs (required when standard input is not a terminal)")),
    mut_arg("audit_log", |a| a.requires(clap::builder::Resettable::<clap::Id>::Reset).help("Append each revocation and log-deletion step to this JSON-lines audit log [default: $XDG_STATE_HOME/cybrid-scan/audit.jsonl]"))
)]
pub struct CiSourceArgs {
    /// GitHub: OWNER (an org or user) or OWNER/REPO; GitLab: GROUP or GROUP/PROJECT
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
    /// REST root (GitHub: https://api.github.com, or https://HOST/api/v3; GitLab: the instance, e.g. https://gitlab.com); http only for loopback
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Only runs/jobs created on or after DATE (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// At most N runs (GitHub) or jobs (GitLab) per repository, newest first [default: all the CI retains]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_runs: Option<u64>,
    /// Also scan the runs' artifacts (GitHub) or the jobs' artifacts archives (GitLab): text entries as logs, binary ones as bytes
    #[arg(long)]
    pub artifacts: bool,
    /// Record each finished run/job here; a rerun skips them and reports the same
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Sweep only shard K of N (0-based) of the repositories, by a stable hash of their names
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Runs/jobs downloaded and scanned at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// After the scan, delete the logs of runs (GitHub) or erase the jobs (GitLab) that have findings
    #[arg(long)]
    pub delete_leaking_logs: bool,
    /// With --delete-leaking-logs: print and log the plan, delete nothing
    #[arg(long, requires = "delete_leaking_logs")]
    pub dry_run: bool,
    /// End the sweep after this many seconds in all: requests and downloads are cut off at it; what is left is listed in `errors` (rerun with --state to finish it)
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// Per-request timeout (and per read of a download) in seconds
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Stop reading one run's archive or one job's trace after this many (inflated) bytes [default: 4G]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_decompressed_size: Option<u64>,
    /// New bytes read per scanning window (tests force small windows)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, hide = true)]
    pub chunk_size: Option<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// An earlier JSON report from a --verify scan (or take the live credentials of --datastore)
    #[arg(long, value_name = "FILE", required_unless_present = "datastore")]
    pub report: Option<PathBuf>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Send an environment's identity-service calls to URL (ENV=URL)
    #[arg(long, value_name = "ENV=URL")]
    pub endpoint: Vec<String>,
    /// Append each step to this JSON-lines audit log (written only when the run goes ahead) [default: $XDG_STATE_HOME/cybrid-scan/audit.jsonl, else ~/.local/state/cybrid-scan/audit.jsonl]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// POST a redacted JSON summary of the revocations to this URL
    #[arg(long, value_name = "URL")]
    pub notify_webhook: Option<String>,
    /// Per-request timeout in seconds
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Send the identity-service and webhook requests through this proxy (environment proxies are never used)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Record each confirmed revocation in this datastore (SQLite file or postgres:// URL): the incident's status becomes revoked, with who, when and a note in its history; without --report, its open live credentials are the ones revoked
    #[arg(long, value_name = "LOCATION")]
    pub datastore: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["report", "datastore"])))]
pub struct RotateArgs {
    /// An earlier JSON report from a --verify scan
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Instead of --report: the open live credentials a --verify scan recorded in this datastore (their incidents become rotated)
    #[arg(long, value_name = "LOCATION", conflicts_with = "report")]
    pub datastore: Option<String>,
    /// Where the new pair goes: github:OWNER/REPO, gitlab:GROUP/PROJECT, exec:COMMAND or file:PATH (repeatable)
    #[arg(long, value_name = "DEST")]
    pub deliver: Vec<String>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// The names the new client id and secret are delivered under [default: the key the leak was found under]
    #[arg(long, value_name = "ID,SECRET")]
    pub secret_names: Option<String>,
    /// GitHub REST API root (github: destinations; token from GITHUB_TOKEN)
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// GitLab root (gitlab: destinations; token from GITLAB_TOKEN)
    #[arg(long, value_name = "URL", default_value = "https://gitlab.com")]
    pub gitlab_api_url: String,
    /// Take a pair made in the dashboard from standard input (client id, then secret): deliver it, check it, and watch the leaked one stop working
    #[arg(long)]
    pub new_from_stdin: bool,
    /// Rotate only the credential with this fingerprint (or a prefix of it)
    #[arg(long, value_name = "FINGERPRINT")]
    pub fingerprint: Option<String>,
    /// With --new-from-stdin: how long to watch the leaked pair, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 900.0)]
    pub watch_for: f64,
    /// With --new-from-stdin: seconds between two tries of the leaked pair (at least 1)
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub watch_interval: f64,
    /// Send an environment's identity-service calls to URL (ENV=URL)
    #[arg(long, value_name = "ENV=URL")]
    pub endpoint: Vec<String>,
    /// Append each step to this JSON-lines audit log [default: $XDG_STATE_HOME/cybrid-scan/audit.jsonl, else ~/.local/state/cybrid-scan/audit.jsonl]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Per-request timeout in seconds
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Send the identity-service and destination requests through this proxy
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Compile every rule and run its examples; fails on any misbehaviour
    Check {
        /// Extra rules directories to check with the built-in ones
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
    /// List the rules
    List {
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Where to write the baseline
    #[arg(value_name = "FILE")]
    pub output: PathBuf,
    /// What to scan: `dir PATH...` (default `dir .`) or `git REPO...`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "SCAN"
    )]
    pub scan: Vec<String>,
}

/// The datastore a command reads or triages.
#[derive(Debug, Args)]
pub struct DatastoreArg {
    /// The datastore: an SQLite file written by a scan's --datastore
    #[arg(long, value_name = "LOCATION", required = true)]
    pub datastore: String,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: IncidentsCommand,
}

/// How `incidents list` and `show` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IncidentsFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// Every incident (one per distinct credential), most recently seen first
    List {
        #[command(flatten)]
        store: DatastoreArg,
        /// Only incidents with this status
        #[arg(long, value_enum)]
        status: Option<crate::datastore::Status>,
        #[arg(short = 'f', long, value_enum, default_value = "human")]
        format: IncidentsFormat,
    },
    /// One incident: its occurrences and triage history
    Show {
        #[command(flatten)]
        store: DatastoreArg,
        /// The incident's fingerprint, or enough of its start to name one
        #[arg(value_name = "FINGERPRINT")]
        fingerprint: String,
        #[arg(short = 'f', long, value_enum, default_value = "human")]
        format: IncidentsFormat,
    },
    /// Set incidents' status, with a note; kept in their history and honoured by later scans
    Triage {
        #[command(flatten)]
        store: DatastoreArg,
        /// Fingerprints (or unique prefixes)
        #[arg(value_name = "FINGERPRINT", required = true)]
        fingerprints: Vec<String>,
        #[arg(long, value_enum)]
        status: crate::datastore::Status,
        /// Why (the SARIF suppression's justification for false_positive, test_credential, accepted_risk)
        #[arg(long, value_name = "TEXT")]
        note: String,
        /// Who decides [default: $USER]
        #[arg(long, value_name = "NAME")]
        who: Option<String>,
    },
}

/// Formats of `report --datastore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreReportFormat {
    Human,
    Json,
    Jsonl,
    Sarif,
    Gitlab,
    /// One self-contained page, sortable and filterable (no network request)
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub store: DatastoreArg,
    #[arg(short = 'f', long, value_enum, default_value = "human")]
    pub format: StoreReportFormat,
    /// Write the report to FILE instead of standard output
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only incidents with this status
    #[arg(long, value_enum)]
    pub status: Option<crate::datastore::Status>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports to merge
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// Output format (json, sarif, or any scan format: hook gives one line per finding)
    #[arg(short = 'f', long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write the merged report here instead of standard output
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// SARIF runAutomationDetails.id (with --format sarif)
    #[arg(long, value_name = "ID")]
    pub sarif_category: Option<String>,
}

/// Parse `123`, `64K`, `50M`, `2G` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("invalid size {s:?}"))
}

/// `--threads`: at least 1. Too many is clamped later, with a note (the
/// number of cores is a property of the machine, not of the flag).
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (0 worker threads cannot scan anything)".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a thread count: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50M"), Ok(50 << 20));
        assert_eq!(parse_size("10"), Ok(10));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}
