//! The `ashflow` command. All behaviour lives in the library so tests can call it directly.

fn main() -> std::process::ExitCode {
    ashflow_runner::cli::main()
}
