//! `recon check SPEC`: validate the spec and confirm every declared column
//! exists in its source and, for Parquet, that its physical type can hold
//! the declared type. Compares nothing and writes nothing.
//!
//! Exit codes: 0 when every declared column is present with a usable type;
//! 1 when a column is missing or a Parquet column's type can never hold the
//! declared type (the spec itself is valid); 2 for a bad spec, an unreadable
//! source or a missing *key* column (which `run` refuses too). `--format json`
//! prints the report on stdout: see reports/README.md, section 8.

use serde_json::{json, Value as Json};

use crate::cli::{CheckArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::source;
use crate::spec::{self, Entity, Side};

pub fn execute(args: &CheckArgs) -> Result<ExitCode> {
    let spec = spec::load_with(&args.spec, &args.paths.params()?)?;
    let (mut missing, mut mistyped) = (0, 0);
    let mut entities = Vec::new();
    for entity in &spec.entities {
        let mut sides = serde_json::Map::new();
        for side in Side::BOTH {
            let found = check_side(entity, side)?;
            let src = &entity.sources[side.idx()];
            // The resolved paths: what `${NAME}`, `{date}` and a glob name tonight.
            if found.files.len() != 1 || found.files[0].0 != src.path.display().to_string() {
                eprintln!(
                    "{} {} ({}): {} file(s)",
                    entity.name,
                    side.as_str(),
                    src.path.display(),
                    found.files.len()
                );
                for (name, size) in &found.files {
                    eprintln!("  {name} ({size} bytes)");
                }
            }
            missing += found.missing.len();
            mistyped += found.type_problems.len();
            for (col, field) in &found.missing {
                eprintln!(
                    "error: {}: column `{col}` (entity `{}`, field `{field}`) is missing; `run` would report it and skip the field",
                    entity.sources[side.idx()].path.display(),
                    entity.name
                );
            }
            for p in &found.type_problems {
                eprintln!(
                    "error: {}: column `{}` (entity `{}`, field `{}`): {}",
                    entity.sources[side.idx()].path.display(),
                    p["column"].as_str().unwrap_or_default(),
                    entity.name,
                    p["field"].as_str().unwrap_or_default(),
                    p["message"].as_str().unwrap_or_default()
                );
            }
            sides.insert(side.as_str().into(), found.to_json(entity, side, spec.side_name(side)));
        }
        entities.push(json!({ "name": entity.name, "sides": sides }));
    }
    let ok = missing == 0 && mistyped == 0;
    if args.format == OutputFormat::Json {
        let report = json!({
            "spec": args.spec.display().to_string(),
            "spec_valid": true,
            "ok": ok,
            "missing_columns": missing,
            "type_problems": mistyped,
            "entities": entities,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON of plain values")
        );
    }
    let mut problems = Vec::new();
    if missing > 0 {
        problems.push(format!("{missing} missing column(s)"));
    }
    if mistyped > 0 {
        problems.push(format!("{mistyped} column type problem(s)"));
    }
    eprintln!(
        "spec {} is valid: {} entit{}, {} source file(s) checked{}",
        args.spec.display(),
        spec.entities.len(),
        if spec.entities.len() == 1 { "y" } else { "ies" },
        spec.entities.len() * 2,
        if problems.is_empty() {
            String::new()
        } else {
            format!("; {}", problems.join(", "))
        }
    );
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}

/// What `check` found in one side's source file.
struct SideCheck {
    /// The files the source names, with their sizes.
    files: Vec<(String, u64)>,
    /// Declared columns the file has, in field order.
    found: Vec<String>,
    /// (column, field) of declared columns the file lacks.
    missing: Vec<(String, String)>,
    type_problems: Vec<Json>,
}

impl SideCheck {
    fn to_json(&self, entity: &Entity, side: Side, system: &str) -> Json {
        let src = &entity.sources[side.idx()];
        json!({
            "system": system,
            "source": src.path.display().to_string(),
            "files": self.files.iter().map(|(n, s)| json!({ "name": n, "size": s })).collect::<Vec<_>>(),
            "format": src.format.as_str(),
            "columns_found": self.found,
            "columns_missing": self.missing.iter().map(|(c, _)| c).collect::<Vec<_>>(),
            "type_problems": self.type_problems,
        })
    }
}

fn check_side(entity: &Entity, side: Side) -> Result<SideCheck> {
    let src = &entity.sources[side.idx()];
    let columns = source::column_types(src, &entity.columns(side))?;
    let mut out = SideCheck {
        files: source::files(src)?,
        found: Vec::new(),
        missing: Vec::new(),
        type_problems: Vec::new(),
    };
    for f in &entity.fields {
        let col = &f.columns[side.idx()];
        let Some((_, physical)) = columns.iter().find(|(n, _)| n == col) else {
            if entity.key.iter().any(|&k| entity.fields[k].name == f.name) {
                return Err(Error::Input {
                    path: src.path.clone(),
                    line: None,
                    field: Some(col.clone()),
                    message: format!(
                        "key column `{col}` (entity `{}`, field `{}`) is missing",
                        entity.name, f.name
                    ),
                    hint: Some(format!(
                        "columns in the file: {}",
                        columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                });
            }
            out.missing.push((col.clone(), f.name.clone()));
            continue;
        };
        if !out.found.contains(col) {
            out.found.push(col.clone());
        }
        let declared = &f.ty[side.idx()];
        if let Some(message) = physical
            .as_ref()
            .and_then(|p| source::parquet_type_problem(p, declared))
        {
            out.type_problems.push(json!({
                "field": f.name,
                "column": col,
                "physical_type": physical.as_ref().map(|p| p.to_string()),
                "declared_type": declared.name(),
                "message": message,
            }));
        }
    }
    Ok(out)
}
