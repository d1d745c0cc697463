//! The `kmodel` command: see `kmodel --help`.

fn main() -> std::process::ExitCode {
    kmodel::cli::main()
}
