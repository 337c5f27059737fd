//! `recon init`: a first spec for two sources, inferred from a bounded
//! sample of each — the key, which columns correspond, types, normalizers,
//! code maps and personal data — every guess commented with its evidence
//! and marked `# REVIEW` where the support is weak. `sample` reads the
//! rows, `guess` makes the guesses, `render` writes the spec. The result is
//! checked like any spec before it is handed out; the same inputs give the
//! same text.

mod guess;
mod render;
mod sample;

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

pub use guess::{name_score, Proposal};
pub use sample::Sample;

/// Rows read from each side by default.
pub const DEFAULT_SAMPLE: usize = 100_000;

pub struct InitOptions {
    /// The two sources (paths or URLs).
    pub left: String,
    pub right: String,
    /// A declared key, part by part: `NAME` (both sides) or `LEFT=RIGHT`.
    pub key: Vec<String>,
    /// The entity's name (default: the left file's name).
    pub name: Option<String>,
    /// Where the spec will be written (source paths are made relative to
    /// its folder; default: the current folder).
    pub output: Option<PathBuf>,
    /// Rows read from each side.
    pub sample: usize,
}

pub struct Initialized {
    pub text: String,
    pub proposal: Proposal,
    pub samples: [Sample; 2],
}

pub fn init(opts: &InitOptions) -> Result<Initialized> {
    let samples = sample::read(&opts.left, &opts.right, opts.sample.max(1))?;
    let proposal = guess::propose(&samples, &opts.key).map_err(|m| Error::usage(m, None))?;
    let spec_dir = opts
        .output
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let paths = [&opts.left, &opts.right].map(|p| relative_to(p, &spec_dir));
    let stem = |p: &str| -> String {
        Path::new(p)
            .file_stem()
            .map(|s| s.to_string_lossy().split('.').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| "data".into())
    };
    // A side is named after its file's folder (an export per system), else left/right.
    let system = |p: &str, fallback: &str| -> String {
        Path::new(p)
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().to_string())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .unwrap_or_else(|| fallback.to_string())
    };
    let mut sides = [system(&opts.left, "left"), system(&opts.right, "right")];
    if sides[0] == sides[1] {
        sides = ["left".into(), "right".into()];
    }
    let name = opts.name.clone().unwrap_or_else(|| stem(&opts.left));
    let header = render::Header {
        name: &name,
        sides: [&sides[0], &sides[1]],
        paths: [&paths[0], &paths[1]],
        samples: &samples,
    };
    let text = render::spec(&header, &proposal);
    if proposal.key.is_some() {
        // The proposal is a spec recon reads, or init has a bug.
        let at = opts.output.clone().unwrap_or_else(|| PathBuf::from("spec.toml"));
        crate::spec::parse(&at, &text, String::new())
            .map_err(|e| Error::Internal(format!("init proposed a spec recon refuses: {e}")))?;
    }
    Ok(Initialized {
        text,
        proposal,
        samples,
    })
}

/// `path` as the spec in `dir` names it: a URL as it is, a local path
/// relative to `dir` (absolute when they share no root).
fn relative_to(path: &str, dir: &Path) -> String {
    if crate::storage::is_url(path) {
        return path.to_string();
    }
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (target, base) = (abs(Path::new(path)), abs(dir));
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return target.to_string_lossy().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out.to_string_lossy().replace('\\', "/")
}
