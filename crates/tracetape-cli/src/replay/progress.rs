//! The progress line on standard error while replaying, when standard
//! error is a terminal: `[##########....................] 12/36  11 passed
//! 1 failed  4.2s`, redrawn as each recording is done and every second.

use std::io::{self, IsTerminal as _, Write};
use std::time::Duration;

use tokio::time::Instant;

/// Columns of the bar.
const WIDTH: usize = 30;
/// How often the elapsed time is redrawn while nothing finishes.
const TICK: Duration = Duration::from_secs(1);

/// The progress line.
#[derive(Debug)]
pub(crate) struct Progress {
    shown: bool,
    started: Instant,
    total: usize,
    counts: Counts,
    /// The length of the line last drawn, to blank it.
    drawn: usize,
}

/// Recordings done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    passed: usize,
    failed: usize,
}

impl Progress {
    /// A progress line over `total` recordings, shown only when standard
    /// error is a terminal.
    pub(crate) fn new(total: usize) -> Self {
        let mut progress = Self {
            shown: io::stderr().is_terminal(),
            started: Instant::now(),
            total,
            counts: Counts::default(),
            drawn: 0,
        };
        progress.draw();
        progress
    }

    /// One more recording is done; `passed` says how it went.
    pub(crate) fn advance(&mut self, passed: bool) {
        if passed {
            self.counts.passed += 1;
        } else {
            self.counts.failed += 1;
        }
        self.draw();
    }

    /// Resolves a second from now with the line redrawn; never when the
    /// line is not shown.
    pub(crate) async fn tick(&mut self) {
        if !self.shown {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(TICK).await;
        self.draw();
    }

    /// Clears the line, for the report to follow.
    pub(crate) fn finish(&self) {
        if self.shown {
            let blank = " ".repeat(self.drawn);
            let _ = write!(io::stderr().lock(), "\r{blank}\r");
        }
    }

    fn draw(&mut self) {
        if self.shown {
            let text = line(self.total, self.counts, self.started.elapsed());
            // Pad over a longer line drawn before.
            let pad = " ".repeat(self.drawn.saturating_sub(text.len()));
            self.drawn = text.len();
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{text}{pad}");
            let _ = err.flush();
        }
    }
}

/// `[#####.....] 5/10  4 passed  1 failed  3.2s`.
fn line(total: usize, counts: Counts, elapsed: Duration) -> String {
    let done = counts.passed + counts.failed;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    format!(
        "[{}{}] {done}/{total}  {} passed  {} failed  {:.1}s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        counts.passed,
        counts.failed,
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: usize, failed: usize) -> Counts {
        Counts { passed, failed }
    }

    #[test]
    fn the_bar_fills_with_the_count_and_says_how_they_went() {
        let second = Duration::from_millis(1_250);
        assert_eq!(
            line(3, counts(0, 0), Duration::ZERO),
            format!("[{}] 0/3  0 passed  0 failed  0.0s", ".".repeat(WIDTH))
        );
        assert_eq!(
            line(3, counts(0, 1), second),
            format!(
                "[{}{}] 1/3  0 passed  1 failed  1.2s",
                "#".repeat(10),
                ".".repeat(20)
            )
        );
        assert_eq!(
            line(3, counts(2, 1), second),
            format!("[{}] 3/3  2 passed  1 failed  1.2s", "#".repeat(WIDTH))
        );
        assert_eq!(
            line(0, counts(0, 0), second),
            format!("[{}] 0/0  0 passed  0 failed  1.2s", "#".repeat(WIDTH))
        );
    }
}
