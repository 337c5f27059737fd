//! `recon report RUN [--history N] [--findings N] [--output FILE]`: render
//! report.html for an existing run — an older one, or with more history —
//! into a file of its own; the sealed run folder is only read.

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::error::Result;
use crate::exit::ExitCode;
use crate::report::page;

pub fn execute(args: &ReportArgs) -> Result<ExitCode> {
    let run = &args.run_dir;
    let summary = page::read::summary(run)?;
    let findings = page::read::sample(run, args.findings)?;
    let key_id = page::read::key_id(run);
    // The runs of the same reports folder that finished before this one.
    let reports = run.parent().map(PathBuf::from).unwrap_or_default();
    let history = page::history(&reports, summary["finished_at"].as_str(), args.history);
    let html = page::render(&page::Page {
        summary: &summary,
        findings: &findings,
        history: &history,
        key_id: key_id.as_deref(),
    });
    let output = args.output.clone().unwrap_or_else(|| {
        // The run id names a file here: only if it is a plain name.
        let id = summary["run_id"]
            .as_str()
            .filter(|id| {
                !id.is_empty()
                    && !id.starts_with('.')
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            })
            .unwrap_or("run");
        PathBuf::from(format!("{id}.report.html"))
    });
    crate::files::write_file(&output, html.as_bytes())?;
    eprintln!(
        "wrote {} ({} earlier run(s) in the trends)",
        output.display(),
        history.len()
    );
    Ok(ExitCode::Ok)
}
