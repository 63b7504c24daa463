//! What a long sweep says while it runs, on standard error: a progress bar
//! on a terminal (repositories done of total, bytes, findings, ETA), a plain
//! line every few seconds otherwise (CI logs, pods), nothing with `--quiet`.
//! It never prints a finding's content, only counts and repository names.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::collect::Collector;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Quiet,
    /// A redrawn bar (standard error is a terminal).
    Bar,
    /// A line every `every` and at the end.
    Lines {
        every: Duration,
    },
}

/// Counters of a running sweep, shared by its workers.
pub struct Progress {
    display: Display,
    bar: Option<ProgressBar>,
    total: u64,
    /// Repositories taken from the state directory at the start.
    resumed: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    findings_done: AtomicU64,
    bytes_done: AtomicU64,
    active: Mutex<Vec<(usize, Arc<Collector>)>>,
    started: Instant,
    stop: AtomicBool,
}

impl Progress {
    pub fn new(display: Display, total: u64) -> Self {
        let bar = (display == Display::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} repos  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            display,
            bar,
            total,
            resumed: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            findings_done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            active: Mutex::new(Vec::new()),
            started: Instant::now(),
            stop: AtomicBool::new(false),
        }
    }

    /// A repository finished in an earlier run.
    pub fn resumed(&self, findings: u64, bytes: u64) {
        self.resumed.fetch_add(1, Ordering::Relaxed);
        self.finished_counts(false, findings, bytes);
    }

    /// A repository's scan starts, writing into `collector` (slot `id`).
    pub fn start(&self, id: usize, collector: Arc<Collector>) {
        lock(&self.active).push((id, collector));
    }

    /// Repository `id` is done (or failed).
    pub fn finish(&self, id: usize, failed: bool, findings: u64, bytes: u64) {
        lock(&self.active).retain(|(i, _)| *i != id);
        self.finished_counts(failed, findings, bytes);
    }

    fn finished_counts(&self, failed: bool, findings: u64, bytes: u64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.findings_done.fetch_add(findings, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done.load(Ordering::Relaxed));
        }
    }

    /// Run `work` while a ticker thread keeps the display fresh.
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        if self.display == Display::Quiet {
            return work();
        }
        if let Some(bar) = &self.bar {
            // The bar's own rate covers only this run's repositories.
            bar.reset_eta();
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        let result = std::thread::scope(|s| {
            s.spawn(|| self.tick());
            let result = work();
            self.stop.store(true, Ordering::Relaxed);
            result
        });
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("{}", self.line()),
        }
        result
    }

    fn tick(&self) {
        let step = Duration::from_millis(200);
        let mut last_line = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(step);
            match self.display {
                Display::Bar => {
                    if let Some(bar) = &self.bar {
                        bar.set_message(self.message("  "));
                    }
                }
                Display::Lines { every } => {
                    if last_line.elapsed() >= every && !self.stop.load(Ordering::Relaxed) {
                        eprintln!("{}", self.line());
                        last_line = Instant::now();
                    }
                }
                Display::Quiet => return,
            }
        }
    }

    /// Bytes and findings so far, finished repositories and running ones.
    fn totals(&self) -> (u64, u64) {
        let mut bytes = self.bytes_done.load(Ordering::Relaxed);
        let mut findings = self.findings_done.load(Ordering::Relaxed);
        for (_, c) in lock(&self.active).iter() {
            bytes += c.bytes_so_far();
            findings += c.findings_so_far() as u64;
        }
        (bytes, findings)
    }

    /// Bytes, findings and failures so far, parts joined by `sep`.
    fn message(&self, sep: &str) -> String {
        let (bytes, findings) = self.totals();
        let failed = self.failed.load(Ordering::Relaxed);
        let mut s = format!("{}{sep}{findings} finding(s)", HumanBytes(bytes));
        if failed > 0 {
            s.push_str(&format!("{sep}{failed} failed"));
        }
        s
    }

    /// One plain progress line.
    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let mut s = format!(
            "cybrid-scan: sweep: {done}/{} repositories, {}, {:.0} s elapsed",
            self.total,
            self.message(", "),
            elapsed.as_secs_f64()
        );
        let scanned_now = done.saturating_sub(self.resumed.load(Ordering::Relaxed));
        if scanned_now > 0 && done < self.total {
            let per_repo = elapsed.as_secs_f64() / scanned_now as f64;
            let eta = Duration::from_secs_f64(per_repo * (self.total - done) as f64);
            s.push_str(&format!(", about {} left", HumanDuration(eta)));
        }
        s
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
