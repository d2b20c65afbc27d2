//! The exit codes (README, "Exit status"), named in one place.

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// A runtime failure; one clear line was printed on stderr.
pub const FAILURE: u8 = 1;
/// A usage error (clap's own code for bad arguments).
pub const USAGE: u8 = 2;
/// Stopped by Ctrl-C or SIGTERM (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Turns a binary's result into its exit code, printing an error once, with
/// its chain, as `PROGRAM: error: cause`.
pub fn report(program: &str, result: anyhow::Result<u8>) -> std::process::ExitCode {
    std::process::ExitCode::from(match result {
        Ok(code) => code,
        Err(err) => {
            crate::status::say(&format!("{program}: {err:#}"));
            FAILURE
        }
    })
}

/// `--generate`: writes the man page or a completion for the command
/// `cmd` builds to stdout, in English (man pages and completions are not
/// translated).
pub fn generated(
    program: &str,
    what: crate::cli::Generate,
    cmd: impl FnOnce() -> clap::Command,
) -> std::process::ExitCode {
    rust_i18n::set_locale("en");
    let cmd = cmd();
    let result = crate::cli::generate(what, cmd, &mut std::io::stdout().lock());
    report(
        program,
        result.map(|()| SUCCESS).map_err(anyhow::Error::from),
    )
}
