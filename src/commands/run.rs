//! `recon run SPEC`: reconcile and write a signed run folder.

use std::io::IsTerminal;

use crate::cli::{OutputFormat, RunArgs};
use crate::error::Result;
use crate::exit::ExitCode;
use crate::keys::KeyRing;
use crate::report::human_summary;
use crate::run::{execute as run, RunOptions};

pub fn execute(args: &RunArgs, progress: bool) -> Result<ExitCode> {
    let spinner =
        (progress && std::io::stderr().is_terminal() && std::env::var_os("NO_PROGRESS").is_none()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!("reconciling {}", args.spec.display()));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
    let opts = RunOptions {
        spec: args.spec.clone(),
        out: args.out.clone(),
        run_id: args.run_id.clone(),
        prev: args.prev.clone(),
        keys: KeyRing::new(args.key.clone()),
        repairs_format: args.repairs_format,
        memory_limit: args.memory_limit,
        buckets: args.buckets.map(|n| n as usize),
        work_dir: args.work_dir.clone(),
        wait: args.wait,
        params: args.paths.params()?,
    };
    let outcome = run(&opts);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    for note in opts.keys.notes() {
        eprintln!("note: {note}");
    }
    let outcome = outcome?;
    eprint!(
        "{}",
        human_summary(&outcome.summary, &outcome.folder.display().to_string())
    );
    // Only when there is something to repair (no authority: no instructions).
    let total: usize = outcome.repairs.values().sum();
    if total > 0 {
        let parts: Vec<String> = outcome.repairs.iter().map(|(a, n)| format!("{n} {a}")).collect();
        eprintln!(
            "  repairs: {total} instruction(s) in {} ({})",
            outcome.repairs_files.join(" and "),
            parts.join(", ")
        );
    }
    if args.format == OutputFormat::Json {
        print!("{}", outcome.summary_json);
    }
    Ok(outcome.exit)
}
