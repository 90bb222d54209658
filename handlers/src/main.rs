//! The `chargeback` binary: the custom handler (`serve`) and the CLI.

fn main() -> std::process::ExitCode {
    chargeback::startup::main()
}
