//! The progress line on standard error: the phase (commits, trees, blobs,
//! attribution), blobs and bytes scanned, findings so far. Drawn only when
//! the caller asked (a terminal, no `--quiet`), from its own thread, so
//! workers only bump counters.

use std::sync::atomic::Ordering;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::scan::{Phase, Scan};

pub(crate) struct Progress<'scope> {
    handle: Option<ScopedJoinHandle<'scope, ()>>,
    ctx: &'scope Scan<'scope>,
}

impl<'scope> Progress<'scope> {
    pub fn start<'env>(
        s: &'scope Scope<'scope, 'env>,
        enabled: bool,
        ctx: &'scope Scan<'scope>,
    ) -> Self {
        let handle = enabled.then(|| {
            s.spawn(move || {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                while !ctx.done.load(Ordering::Relaxed) {
                    let trees = ctx.trees_read.load(Ordering::Relaxed);
                    let queued = ctx.blobs_queued.load(Ordering::Relaxed);
                    let blobs = match queued {
                        0 => format!("{} blobs", ctx.blobs_scanned()),
                        n => format!("{}/{n} blobs", ctx.blobs_scanned()),
                    };
                    let trees = match trees {
                        0 => String::new(),
                        n => format!("{n} trees, "),
                    };
                    let phase = ctx.phase();
                    let doing = match phase {
                        Phase::Attribution => format!(
                            "attributing {} finding(s) to commits and refs",
                            ctx.findings_so_far()
                        ),
                        _ => format!(
                            "{trees}{blobs}, {:.1} MB, {} finding(s)",
                            ctx.bytes_scanned() as f64 / 1e6,
                            ctx.findings_so_far()
                        ),
                    };
                    bar.set_message(format!("{} [{}] {doing}", ctx.shown, phase.name()));
                    bar.tick();
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            })
        });
        Progress { handle, ctx }
    }

    /// Stop drawing and clear the line.
    pub fn finish(mut self) {
        self.ctx.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
