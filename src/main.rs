//! The `recon` binary: parse arguments, run one command, map the outcome to
//! the documented exit codes. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use recon::cli::{Cli, Command, LogFormat};
use recon::commands;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    recon::alloc::keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.log_format);
    // A panic is a bug: say so in one line instead of a backtrace, exit 3.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // The panic's own words only when asked for (RUST_BACKTRACE set):
        // a message may quote the value it failed on, which can be personal.
        let what = std::env::var_os("RUST_BACKTRACE")
            .and_then(|_| {
                info.payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
            })
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        eprintln!("error: internal error (a bug in recon){at}{what}; please report it");
    }));
    let progress = !cli.no_progress;
    let result = std::panic::catch_unwind(|| match &cli.command {
        Command::Run(a) => commands::run::execute(a, progress),
        Command::Check(a) => commands::check::execute(a),
        Command::Verify(a) => commands::verify::execute(a),
        Command::Keygen(a) => commands::keygen::execute(a),
        Command::Generate(a) => commands::generate::execute(a),
        Command::Apply(a) => commands::apply::execute(a),
        Command::Sql(a) => commands::sql::execute(a),
        Command::Report(a) => commands::report::execute(a),
        Command::Prune(a) => commands::prune::execute(a),
        Command::Merge(a) => commands::merge::execute(a),
        Command::Init(a) => commands::init::execute(a),
    });
    match result {
        Ok(Ok(code)) => ExitCode::from(code.code()),
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("\nhint: {h}");
            }
            ExitCode::from(e.exit_code().code())
        }
        Err(_) => ExitCode::from(3),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
