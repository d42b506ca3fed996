//! Logs and progress lines, arranged so neither garbles the other.
//!
//! Logs are structured `tracing` events written to stderr as text or JSON lines. On a terminal,
//! a run also draws one live line per stream and per sink with indicatif. While those lines are
//! on screen, every log line is written through [`MultiProgress::suspend`], which lifts the
//! lines, prints the log line above them, and draws them again. Without a terminal (CI, cron,
//! pipes) no progress is drawn and the logs alone tell the story.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines with `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Dependencies whose debug output drowns ashflow's own; `-v` leaves them at info.
const CHATTY_DEPENDENCIES: &str =
    "hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info,tower=info,axum=info";

/// Installs the global log subscriber writing to stderr.
///
/// `verbosity` is the number of `-v` minus the number of `-q`: 0 logs at info, 1 at debug,
/// 2 or more at trace, -1 at warn, -2 or less at error. A non-empty `RUST_LOG` replaces this
/// choice entirely. Calling it again (as tests do) keeps the first subscriber.
pub fn init_logging(format: LogFormat, verbosity: i8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(default_directives(verbosity)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundProgress)
        .with_target(verbosity > 0);
    let _already_installed = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

fn default_directives(verbosity: i8) -> String {
    match verbosity {
        ..=-2 => "error".into(),
        -1 => "warn".into(),
        0 => "info".into(),
        1 => format!("debug,{CHATTY_DEPENDENCIES}"),
        _ => format!("trace,{CHATTY_DEPENDENCIES}"),
    }
}

/// The progress display on screen now, if any; log lines are printed around it.
static ACTIVE_PROGRESS: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn active_progress() -> Option<MultiProgress> {
    ACTIVE_PROGRESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}

fn set_active_progress(progress: Option<MultiProgress>) {
    *ACTIVE_PROGRESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = progress;
}

/// Makes one buffer per log event, written to stderr in one piece when dropped.
#[derive(Debug, Clone, Copy)]
struct StderrAroundProgress;

impl<'a> MakeWriter<'a> for StderrAroundProgress {
    type Writer = LogLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine(Vec::new())
    }
}

/// One formatted log event. Buffering the whole event means the progress lines are lifted
/// once per event, never in the middle of one.
struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        // A log line that cannot be written has nowhere better to go; dropping it is all
        // that is left.
        let write = || std::io::stderr().lock().write_all(&self.0);
        let _ = match active_progress() {
            Some(progress) => progress.suspend(write),
            None => write(),
        };
    }
}

/// The spinner's frames; the last one stays on a finished line.
const SPINNER_FRAMES: &str = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏•";

/// The live progress lines of one run; draws nothing unless enabled and stderr is a terminal.
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Starts drawing when `enabled` and stderr is a terminal.
    pub(crate) fn new(enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { multi: None };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        set_active_progress(Some(multi.clone()));
        Progress { multi: Some(multi) }
    }

    /// A new line titled `prefix`, padded to `width` so the lines' messages align.
    pub(crate) fn line(&self, prefix: &str, width: usize) -> Line {
        let Some(multi) = &self.multi else { return Line(None) };
        let style = ProgressStyle::with_template("{spinner:.cyan} {prefix} {msg}")
            .expect("the template is valid")
            .tick_chars(SPINNER_FRAMES);
        let bar = multi.add(ProgressBar::new_spinner().with_style(style));
        bar.set_prefix(format!("{prefix:<width$}"));
        bar.set_message("waiting");
        bar.enable_steady_tick(Duration::from_millis(120));
        Line(Some(bar))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(multi) = self.multi.take() {
            set_active_progress(None);
            let _ = multi.clear();
        }
    }
}

/// One stream's or sink's progress line; every method does nothing when progress is off.
#[derive(Clone)]
pub(crate) struct Line(Option<ProgressBar>);

impl Line {
    /// Shows what the component is doing now.
    pub(crate) fn update(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }

    /// Stops the spinner and leaves `message` as the line's final state.
    pub(crate) fn finish(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.finish_with_message(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_chooses_the_level_and_keeps_dependencies_quiet_when_verbose() {
        assert_eq!(default_directives(0), "info");
        assert_eq!(default_directives(-1), "warn");
        assert_eq!(default_directives(-5), "error");
        assert!(default_directives(1).starts_with("debug,hyper=info"));
        assert!(default_directives(3).starts_with("trace,"));
    }

    #[test]
    fn progress_is_not_drawn_when_disabled() {
        let progress = Progress::new(false);
        assert!(progress.multi.is_none());
        let line = progress.line("source ashby candidates", 30);
        assert!(line.0.is_none());
        line.update("reading".into());
        line.finish("done".into());
    }
}
