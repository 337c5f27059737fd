//! A proposal written as a spec: TOML a person reads, each guess with its
//! evidence as comments and `# REVIEW` where the support is weak.

use std::fmt::Write as _;

use super::guess::{Field, Proposal, Ty};
use super::sample::{toml_string, Sample};

/// What the spec's header says about the samples and the paths it names.
pub struct Header<'a> {
    pub name: &'a str,
    pub sides: [&'a str; 2],
    /// The sources as the spec names them (relative to the spec's folder).
    pub paths: [&'a str; 2],
    pub samples: &'a [Sample; 2],
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn table(map: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v)))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// The spec text.
pub fn spec(h: &Header<'_>, p: &Proposal) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A first spec proposed by `recon init` from samples of the two sources:"
    );
    for (side, s) in ["left", "right"].iter().zip(h.samples) {
        let _ = writeln!(out, "#   {side}: {} — {}", s.path, s.extent());
    }
    let _ = writeln!(
        out,
        "# Every guess says why; `# REVIEW` marks weak support. Check it with `recon check`,\n\
         # then adjust it (rules/README.md has every key) before the first nightly run.\n"
    );
    let _ = writeln!(out, "[run]\nname = {}\n", toml_string(h.name));
    let _ = writeln!(
        out,
        "[sides]\nleft = {}\nright = {}\n",
        toml_string(h.sides[0]),
        toml_string(h.sides[1])
    );
    let Some(key) = &p.key else {
        let _ = writeln!(
            out,
            "# No key: no column is unique on both sides with values the other side shares.\n\
             # Give one with `recon init LEFT RIGHT --key LEFT_COLUMN=RIGHT_COLUMN`."
        );
        return out;
    };
    let names: Vec<String> = p.fields[..key.columns.len()].iter().map(|f| f.name.clone()).collect();
    let _ = writeln!(out, "[[entity]]\nname = {}", toml_string(h.name));
    let _ = writeln!(out, "key = {}", list(&names));
    let _ = writeln!(
        out,
        "left = {{ path = {}{} }}",
        toml_string(h.paths[0]),
        h.samples[0].options
    );
    let _ = writeln!(
        out,
        "right = {{ path = {}{} }}",
        toml_string(h.paths[1]),
        h.samples[1].options
    );
    let _ = writeln!(
        out,
        "# {} sampled keys found on both sides; key {}.",
        p.matched,
        key.describe()
    );
    for f in &p.fields {
        field(&mut out, f);
    }
    for (side, cols) in ["left", "right"].iter().zip(&p.unpaired) {
        if !cols.is_empty() {
            let _ = writeln!(out, "\n# Not paired on the {side}: {}", cols.join(", "));
        }
    }
    out
}

fn field(out: &mut String, f: &Field) {
    let _ = writeln!(out);
    for e in &f.evidence {
        let _ = writeln!(out, "  # {e}");
    }
    let _ = writeln!(out, "  [[entity.field]]");
    let _ = writeln!(out, "  name = {}", toml_string(&f.name));
    let _ = writeln!(out, "  left = {}", toml_string(&f.columns[0]));
    let _ = writeln!(out, "  right = {}", toml_string(&f.columns[1]));
    match &f.ty {
        Ty::String => {}
        Ty::Int => {
            let _ = writeln!(out, "  type = \"int\"");
        }
        Ty::Decimal(s) => {
            let _ = writeln!(out, "  type = \"decimal(38,{s})\"");
        }
        Ty::Date { .. } | Ty::Timestamp { .. } => {
            let _ = writeln!(out, "  type = {}", toml_string(&f.ty.spec_name()));
            let formats = f.ty.formats();
            if !formats.is_empty() {
                let _ = writeln!(out, "  formats = {}", list(&formats));
            }
        }
        Ty::Set([l, r]) => {
            let _ = writeln!(out, "  type = \"set\"");
            match (l, r) {
                (Some(a), Some(b)) if a == b => {
                    let _ = writeln!(out, "  separator = {}", toml_string(a));
                }
                (None, None) => {}
                _ => {
                    let side =
                        |s: &Option<String>, name: &str| s.as_ref().map(|v| format!("{name} = {}", toml_string(v)));
                    let parts: Vec<String> = [side(l, "left"), side(r, "right")].into_iter().flatten().collect();
                    let _ = writeln!(out, "  separator = {{ {} }}", parts.join(", "));
                }
            }
        }
        Ty::Bool { yes, no } => {
            let _ = writeln!(out, "  type = \"bool\"");
            let _ = writeln!(out, "  true_values = {}", list(yes));
            let _ = writeln!(out, "  false_values = {}", list(no));
        }
    }
    let [l, r] = &f.normalize;
    if l == r {
        if !l.is_empty() {
            let _ = writeln!(out, "  normalize = {}", list(l));
        }
    } else {
        let _ = writeln!(out, "  normalize = {{ left = {}, right = {} }}", list(l), list(r));
    }
    if let Some([ml, mr]) = &f.map {
        let _ = writeln!(out, "  map = {{ left = {}, right = {} }}", table(ml), table(mr));
    }
    if let Some(abs) = &f.tolerance {
        let _ = writeln!(out, "  tolerance = {{ {abs} }}");
    }
    if f.scan {
        let _ = writeln!(out, "  scan = true");
    }
    if !f.compare {
        let _ = writeln!(out, "  compare = false");
    }
    if let Some(pii) = &f.pii {
        let _ = writeln!(out, "  pii = {}", toml_string(pii));
    }
    if let Some([ml, mr]) = &f.mask {
        let _ = writeln!(
            out,
            "  mask = {{ left = {}, right = {} }}",
            toml_string(ml),
            toml_string(mr)
        );
    }
}
