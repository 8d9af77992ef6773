fn main() -> std::process::ExitCode {
    drumbeat::cli::main()
}
