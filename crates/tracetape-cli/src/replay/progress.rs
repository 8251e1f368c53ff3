//! The progress line on standard error while replaying, when standard
//! error is a terminal: `[##########....................] 12/36`.

use std::io::{self, IsTerminal as _, Write};

/// Columns of the bar.
const WIDTH: usize = 30;

/// The progress line.
#[derive(Debug)]
pub(crate) struct Progress {
    shown: bool,
    total: usize,
    done: usize,
}

impl Progress {
    /// A progress line over `total` recordings, shown only when standard
    /// error is a terminal.
    pub(crate) fn new(total: usize) -> Self {
        let progress = Self {
            shown: io::stderr().is_terminal(),
            total,
            done: 0,
        };
        progress.draw();
        progress
    }

    /// One more recording is done.
    pub(crate) fn advance(&mut self) {
        self.done += 1;
        self.draw();
    }

    /// Clears the line, for the report to follow.
    pub(crate) fn finish(&self) {
        if self.shown {
            let blank = " ".repeat(line(self.done, self.total).len());
            let _ = write!(io::stderr().lock(), "\r{blank}\r");
        }
    }

    fn draw(&self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{}", line(self.done, self.total));
            let _ = err.flush();
        }
    }
}

/// `[#####.....] 5/10`.
fn line(done: usize, total: usize) -> String {
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_count() {
        assert_eq!(line(0, 3), format!("[{}] 0/3", ".".repeat(WIDTH)));
        assert_eq!(
            line(1, 3),
            format!("[{}{}] 1/3", "#".repeat(10), ".".repeat(20))
        );
        assert_eq!(line(3, 3), format!("[{}] 3/3", "#".repeat(WIDTH)));
        assert_eq!(line(0, 0), format!("[{}] 0/0", "#".repeat(WIDTH)));
    }
}
