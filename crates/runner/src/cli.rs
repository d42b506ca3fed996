//! The `ashflow` command line: `run`, `check`, `runs`, `plugins`, `demo` and `fake-ashby`.
//!
//! Each subcommand is a thin shell over the library: it parses arguments, calls one function,
//! prints the result (summaries on stdout, logs and errors on stderr) and turns it into an exit
//! code: 0 success, 1 a run that failed in part or whole, 2 an invalid spec or command line,
//! 130 interrupted.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::demo::{DemoOptions, FakeServerOptions, run_demo, serve_fake_ashby};
use crate::plugins::Registry;
use crate::preview::{PreviewError, preview_dataset};
use crate::replica::run_history;
use crate::run::{RunOptions, run_spec};
use crate::spec::{SpecError, check_spec};
use crate::summary::{EXIT_FAILED, EXIT_SUCCESS, EXIT_USAGE, render_history};
use crate::telemetry::{LogFormat, init_logging};

const ABOUT: &str =
    "Export Ashby recruiting data to Excel and AI-ready JSON, driven by a spec file";

const LONG_ABOUT: &str = "\
Export Ashby recruiting data to Excel and AI-ready JSON, driven by a spec file.

A spec is a TOML file naming sources (where data comes from) and sinks (where it goes):

    [sources.ashby]
    type = \"ashby\"
    api_key = \"${ASHBY_API_KEY}\"     # read from the environment, never printed

    [sinks.workbook]
    type = \"excel\"
    path = \"out/ashby.xlsx\"          # relative to the spec file's folder

Every stream a source reads becomes a dataset (a worksheet, a JSON Lines file); sinks publish
only when the run succeeds for them, so a failed run leaves previous outputs in place.";

const AFTER_HELP: &str = "\
Examples:
  ashflow demo                                  See it work on a built-in demo account
  ashflow check examples/quickstart.toml        Validate a spec offline
  ASHBY_API_KEY=... ashflow run examples/quickstart.toml
  ashflow plugins                               List sources and sinks with example tables

Exit codes: 0 success, 1 the run failed in part or whole, 2 invalid spec or usage,
130 interrupted (nothing published).
The summary goes to stdout; logs go to stderr. RUST_LOG, when set, overrides -v and -q.";

const RUN_AFTER_HELP: &str = "\
Examples:
  ASHBY_API_KEY=... ashflow run examples/quickstart.toml
  ashflow run spec.toml --no-progress --log-format json 2> run.log

  ashflow run spec.toml --full-refresh          Read everything again, dropping deleted records

Every stream is read concurrently into a local replica (state_dir, by default .ashflow/ beside
the spec); from the second run on, only what changed since the previous run is asked for. A
stream that fails (for example a key without the offersRead permission) does not stop the
others. Each sink then publishes complete datasets from the replica. The summary on stdout
lists every dataset and sink, what failed, what to do and where the state is.
Exit codes: 0 everything delivered, 1 something failed, 2 invalid spec, 130 interrupted.";

const RUNS_AFTER_HELP: &str = "\
Examples:
  ashflow runs examples/quickstart.toml
  ashflow runs spec.toml --limit 5 --json

Lists the runs kept in the spec's state file, newest first. A run killed before it ended shows
as interrupted. Delete the state file to forget the history and start again with a full read.";

const PREVIEW_AFTER_HELP: &str = "\
Examples:
  ashflow preview examples/datasets.toml pipeline
  ashflow preview spec.toml candidates --rows 5

Reads what the dataset is made from (only what changed since the last run, when the state
holds a complete copy), then prints its first rows. No sink is written. `ashflow check SPEC`
lists the datasets a spec has.";

const CHECK_AFTER_HELP: &str = "\
Examples:
  ashflow check examples/quickstart.toml

Reads only the spec file: no network, no environment variables, no output files. Problems are
printed as `spec.toml:LINE:COL: message`, all of them at once. Exit code 0 when valid, 2 when
not.";

const DEMO_AFTER_HELP: &str = "\
Examples:
  ashflow demo
  ashflow demo --out /tmp/ashflow-demo --candidates 5000

Starts a fake Ashby account on 127.0.0.1 (no account or network needed), writes DIR/demo.toml
(a copy of examples/quickstart.toml pointed at it), runs it, and prints where the outputs are:
DIR/ashby.xlsx and DIR/ai/.";

const FAKE_AFTER_HELP: &str = "\
Examples:
  ashflow fake-ashby
  ashflow fake-ashby --port 9000 --latency-ms 50 --candidates 20000

Serves the Ashby API with generated data on 127.0.0.1 until Ctrl-C, for trying specs and
measuring runs without a real account. In another terminal:
  ASHBY_API_KEY=demo-key ashflow run examples/quickstart.toml";

/// The `ashflow` command line.
#[derive(Debug, Parser)]
#[command(
    name = "ashflow",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// How log lines on stderr are written: `text` for people, `json` for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log more: -v adds debug details (one line per page), -vv everything.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log less: -q only warnings and errors, -qq only errors.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a spec once: read every source, write every sink, print a summary.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),

    /// Validate a spec offline and show what it would run.
    #[command(after_help = CHECK_AFTER_HELP)]
    Check(CheckArgs),

    /// List the history of runs of a spec: when, how long, outcome, rows and requests.
    #[command(after_help = RUNS_AFTER_HELP)]
    Runs(RunsArgs),

    /// Show the first rows of one dataset of a spec in the terminal, writing no sink.
    #[command(after_help = PREVIEW_AFTER_HELP)]
    Preview(PreviewArgs),

    /// List the source and sink types a spec can use, each with an example table.
    Plugins,

    /// Export a built-in demo account to an Excel workbook and an AI folder.
    #[command(after_help = DEMO_AFTER_HELP)]
    Demo(DemoArgs),

    /// Serve a fake Ashby API with generated data, until Ctrl-C.
    #[command(name = "fake-ashby", after_help = FAKE_AFTER_HELP)]
    FakeAshby(FakeAshbyArgs),
}

/// Arguments of `ashflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The spec file (TOML); relative paths inside it are relative to its folder.
    pub spec: PathBuf,

    /// Do not draw live progress lines, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Read every stream in full instead of only what changed, so records deleted upstream
    /// leave the outputs.
    #[arg(long)]
    pub full_refresh: bool,
}

/// Arguments of `ashflow runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The spec file (TOML) whose history to list.
    pub spec: PathBuf,

    /// Show at most this many runs, newest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Print the history as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ashflow preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,

    /// The dataset to show: an entity (`candidates`), a `[datasets.NAME]` of the spec, or
    /// `pipeline`.
    pub dataset: String,

    /// Show at most this many rows.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rows: usize,

    /// Do not draw live progress lines, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Arguments of `ashflow check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec file (TOML) to validate.
    pub spec: PathBuf,
}

/// Arguments of `ashflow demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder for the demo spec and its outputs; created when missing.
    #[arg(long, value_name = "DIR", default_value = "demo-out")]
    pub out: PathBuf,

    /// Candidates in the demo account; the other entities scale with it.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub candidates: usize,

    /// Seed of the generated data; the same seed gives the same account.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Do not draw live progress lines, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Arguments of `ashflow fake-ashby`.
#[derive(Debug, Args)]
pub struct FakeAshbyArgs {
    /// Port on 127.0.0.1 to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Candidates in the account; the other entities scale with it.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub candidates: usize,

    /// Seed of the generated data; the same seed gives the same account.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// The API key the server accepts, with every permission.
    #[arg(long, default_value = crate::demo::DEMO_API_KEY)]
    pub api_key: String,

    /// Milliseconds added to every answer, to imitate a remote server.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// The largest page the server returns (Ashby's is 100).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_page_size: usize,

    /// Also accept KEY with only the listed permissions, to try what a run does when a key
    /// lacks one, e.g. `--limited-key no-offers=candidatesRead,jobsRead`. Repeatable.
    #[arg(long, value_name = "KEY=PERMISSION,...", value_parser = parse_limited_key)]
    pub limited_key: Vec<(String, Vec<String>)>,
}

/// Reads `KEY=PERMISSION,PERMISSION` for `--limited-key`.
fn parse_limited_key(text: &str) -> Result<(String, Vec<String>), String> {
    let (key, permissions) = text.split_once('=').ok_or_else(|| {
        "expected KEY=PERMISSION,... such as no-offers=candidatesRead".to_string()
    })?;
    if key.is_empty() {
        return Err("the key before `=` is empty".into());
    }
    let permissions = permissions.split(',').filter(|p| !p.is_empty()).map(String::from).collect();
    Ok((key.to_string(), permissions))
}

impl Cli {
    /// True when the command will draw live progress lines: a run or the demo, on a terminal,
    /// with text logs (JSON logs mean a machine is reading stderr).
    fn draws_progress(&self) -> bool {
        let wants_progress = match &self.command {
            Command::Run(args) => !args.no_progress,
            Command::Demo(args) => !args.no_progress,
            Command::Preview(args) => !args.no_progress,
            _ => false,
        };
        wants_progress && self.log_format == LogFormat::Text && std::io::stderr().is_terminal()
    }

    /// The log verbosity: `-v` count minus `-q` count. While progress lines are drawn they
    /// show what info logs would, so the default drops to warnings.
    fn verbosity(&self, progress: bool) -> i8 {
        let requested = i16::from(self.verbose) - i16::from(self.quiet);
        let default_shift = if progress && requested == 0 { -1 } else { 0 };
        i8::try_from(requested + default_shift).unwrap_or(0)
    }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = cli.draws_progress();
    init_logging(cli.log_format, cli.verbosity(progress));

    let code = match cli.command {
        Command::Check(args) => check(&args),
        Command::Runs(args) => runs(&args),
        Command::Preview(args) => block_on(preview(&args, progress)),
        Command::Run(args) => block_on(run(&args, progress)),
        Command::Demo(args) => block_on(demo(&args, progress)),
        Command::FakeAshby(args) => block_on(fake_ashby(&args)),
        Command::Plugins => {
            print!("{}", Registry::linked().render());
            EXIT_SUCCESS
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs an async command on a multi-threaded runtime, so reads, the replica and sinks overlap.
fn block_on(command: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(command),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            EXIT_FAILED
        }
    }
}

async fn run(args: &RunArgs, progress: bool) -> i32 {
    let options = RunOptions { progress, full_refresh: args.full_refresh };
    match run_spec(&args.spec, &options).await {
        Ok(summary) => {
            print!("{}", summary.render());
            summary.exit_code()
        }
        Err(error) => report_spec_error(&error, "nothing ran"),
    }
}

async fn preview(args: &PreviewArgs, progress: bool) -> i32 {
    let options = RunOptions { progress, full_refresh: false };
    match preview_dataset(&args.spec, &args.dataset, args.rows, &options).await {
        Ok(table) => {
            print!("{table}");
            EXIT_SUCCESS
        }
        Err(PreviewError::Spec(error)) => report_spec_error(&error, "nothing was read"),
        Err(PreviewError::UnknownDataset(message)) => {
            eprintln!("error: {message}");
            EXIT_USAGE
        }
        Err(PreviewError::Failed(message)) => {
            eprintln!("error: cannot preview {}: {message}", args.dataset);
            EXIT_FAILED
        }
    }
}

fn check(args: &CheckArgs) -> i32 {
    match check_spec(&args.spec) {
        Ok(checked) => {
            print!("{}", checked.render());
            EXIT_SUCCESS
        }
        Err(error) => report_spec_error(&error, "fix and check again"),
    }
}

fn runs(args: &RunsArgs) -> i32 {
    let checked = match check_spec(&args.spec) {
        Ok(checked) => checked,
        Err(error) => return report_spec_error(&error, "fix the spec to find its state"),
    };
    let history = match run_history(&checked.state_file, args.limit) {
        Ok(history) => history,
        Err(error) => {
            eprintln!(
                "error: cannot read the history in {}: {error}",
                checked.state_file.display()
            );
            return EXIT_FAILED;
        }
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&history) {
            Ok(json) => format!("{json}\n"),
            Err(error) => {
                eprintln!("error: cannot write the history as JSON: {error}");
                return EXIT_FAILED;
            }
        }
    } else if history.is_empty() {
        format!(
            "No runs yet: {} does not hold any. `ashflow run {}` starts one.\n",
            checked.state_file.display(),
            args.spec.display()
        )
    } else {
        format!("{}\nState: {}\n", render_history(&history), checked.state_file.display())
    };
    // A reader that stops early (`| head`) closes the pipe; that is not an error of ours.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    EXIT_SUCCESS
}

fn report_spec_error(error: &SpecError, consequence: &str) -> i32 {
    eprintln!("{error}");
    let count = error.problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    eprintln!("error: the spec has {count} {noun}; {consequence}");
    EXIT_USAGE
}

async fn demo(args: &DemoArgs, progress: bool) -> i32 {
    let options = DemoOptions {
        out: args.out.clone(),
        candidates: args.candidates,
        seed: args.seed,
        progress,
    };
    match run_demo(&options).await {
        Ok(outcome) => {
            print!("{}", outcome.summary.render());
            println!();
            print!("{}", outcome.render_outputs());
            outcome.summary.exit_code()
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_FAILED
        }
    }
}

async fn fake_ashby(args: &FakeAshbyArgs) -> i32 {
    let options = FakeServerOptions {
        port: args.port,
        candidates: args.candidates,
        seed: args.seed,
        api_key: args.api_key.clone(),
        latency: Duration::from_millis(args.latency_ms),
        max_page_size: args.max_page_size,
        limited_keys: args.limited_key.clone(),
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match serve_fake_ashby(&options, stop).await {
        Ok(()) => EXIT_SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_a_spec_and_logging_flags_anywhere() {
        let cli = Cli::try_parse_from([
            "ashflow",
            "run",
            "spec.toml",
            "--no-progress",
            "--log-format",
            "json",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert_eq!(cli.verbose, 2);
        let Command::Run(args) = cli.command else { panic!("parsed as run") };
        assert_eq!(args.spec, PathBuf::from("spec.toml"));
        assert!(args.no_progress);
        assert!(!args.full_refresh);
    }

    #[test]
    fn runs_takes_a_spec_a_limit_and_json() {
        let cli = Cli::try_parse_from(["ashflow", "runs", "spec.toml", "--limit", "3", "--json"])
            .unwrap();
        let Command::Runs(args) = cli.command else { panic!("parsed as runs") };
        assert_eq!((args.spec, args.limit, args.json), (PathBuf::from("spec.toml"), 3, true));
        let cli = Cli::try_parse_from(["ashflow", "run", "spec.toml", "--full-refresh"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("parsed as run") };
        assert!(args.full_refresh);
    }

    #[test]
    fn demo_and_fake_ashby_have_the_documented_defaults() {
        let cli = Cli::try_parse_from(["ashflow", "demo"]).unwrap();
        let Command::Demo(demo) = cli.command else { panic!("parsed as demo") };
        assert_eq!((demo.out, demo.candidates, demo.seed), (PathBuf::from("demo-out"), 1000, 42));

        let cli = Cli::try_parse_from(["ashflow", "fake-ashby"]).unwrap();
        let Command::FakeAshby(fake) = cli.command else { panic!("parsed as fake-ashby") };
        assert_eq!((fake.port, fake.candidates, fake.seed), (8080, 1000, 42));
        assert_eq!(
            (fake.api_key.as_str(), fake.latency_ms, fake.max_page_size),
            ("demo-key", 0, 100)
        );
    }

    #[test]
    fn limited_keys_read_as_a_key_and_its_permissions() {
        assert_eq!(
            parse_limited_key("no-offers=candidatesRead,jobsRead"),
            Ok(("no-offers".to_string(), vec!["candidatesRead".into(), "jobsRead".into()]))
        );
        assert_eq!(parse_limited_key("nothing="), Ok(("nothing".to_string(), Vec::new())));
        assert!(parse_limited_key("no-equals-sign").is_err());
        assert!(parse_limited_key("=candidatesRead").is_err());
    }

    #[test]
    fn progress_lines_lower_the_default_log_level_but_not_an_explicit_one() {
        let cli = Cli::try_parse_from(["ashflow", "run", "spec.toml"]).unwrap();
        assert_eq!(cli.verbosity(true), -1);
        assert_eq!(cli.verbosity(false), 0);
        let cli = Cli::try_parse_from(["ashflow", "run", "spec.toml", "-v"]).unwrap();
        assert_eq!(cli.verbosity(true), 1);
        let cli = Cli::try_parse_from(["ashflow", "-qq", "check", "spec.toml"]).unwrap();
        assert_eq!(cli.verbosity(false), -2);
    }

    #[test]
    fn a_missing_spec_argument_is_a_usage_error() {
        let error = Cli::try_parse_from(["ashflow", "run"]).unwrap_err();
        assert_eq!(error.exit_code(), EXIT_USAGE);
    }
}
