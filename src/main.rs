fn main() -> std::process::ExitCode {
    strata::cli::main_with_args(std::env::args_os())
}
