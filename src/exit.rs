//! Exit statuses, in one place (INTERFACE.md).

/// How a run ended, mapped to the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No findings remain.
    Clean,
    /// Findings remain; carries the status to use (default 1, `--exit-code`).
    Findings(u8),
    /// Usage error, or the scan could not run at all.
    Failed,
    /// The scan ran, but an input could not be scanned at all (or, with
    /// `--fail-on-errors`, anything could not be read): never clean.
    Incomplete,
    /// At least one finding was verified live.
    Live,
    /// `revoke`: every deletion was made, but at least one could not be
    /// confirmed at the token endpoint yet (a rerun retries the confirmation).
    Unconfirmed,
}

pub const DEFAULT_FINDINGS_STATUS: u8 = 1;

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Findings(n) => n,
            Outcome::Failed | Outcome::Incomplete => 2,
            Outcome::Live => 3,
            Outcome::Unconfirmed => 4,
        }
    }

    /// The outcome of a finished scan: a live credential first, then
    /// findings, then an input that could not be scanned. Each fails a gate;
    /// what matters is that a scan that missed an input is never clean.
    pub fn of_scan(findings: usize, live: usize, incomplete: bool, findings_status: u8) -> Self {
        if live > 0 {
            Outcome::Live
        } else if findings > 0 {
            Outcome::Findings(findings_status)
        } else if incomplete {
            Outcome::Incomplete
        } else {
            Outcome::Clean
        }
    }
}
