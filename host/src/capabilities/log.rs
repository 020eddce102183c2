//! `log`: bounded, sanitised lines in the worker's log.

use super::Capabilities;
use crate::sanitizer::sanitize;

/// Longest log message kept; the rest is cut.
const MAX_LOG_MESSAGE: usize = 2_048;

/// How loud a plugin's log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Capabilities {
    /// Write one line to the worker's log, while the call has lines left.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if self.log_lines_left == 0 {
            return;
        }
        self.log_lines_left -= 1;
        let message = log_line(message);
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(target: "lava_conn::plugin", plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "lava_conn::plugin", plugin, "{message}"),
            LogLevel::Info => tracing::info!(target: "lava_conn::plugin", plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "lava_conn::plugin", plugin, "{message}"),
            LogLevel::Error => tracing::error!(target: "lava_conn::plugin", plugin, "{message}"),
        }
        if level == LogLevel::Error {
            self.last_error = Some(message);
        }
    }
}

/// A plugin's log message as one bounded line: sanitised (which also cuts
/// it to 1024 characters), then cut to 2 KiB on a character boundary.
fn log_line(message: &str) -> String {
    let mut line = sanitize(message);
    if line.len() > MAX_LOG_MESSAGE {
        let cut = (0..=MAX_LOG_MESSAGE).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
        line.truncate(cut);
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_sanitised_and_bounded_in_bytes() {
        assert_eq!(log_line("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(log_line(&"x".repeat(2048)).chars().count(), 1025, "sanitize's 1024 characters and `…`");
        let wide = log_line(&"😀".repeat(1000));
        assert!(wide.len() <= 2048 + '…'.len_utf8(), "{} bytes", wide.len());
        assert!(wide.ends_with('…') && wide.len() > 2040, "cut near 2 KiB, not before: {}", wide.len());
        let exact = "é".repeat(1024);
        assert_eq!(log_line(&exact), exact, "2048 bytes exactly are kept whole");
    }
}
