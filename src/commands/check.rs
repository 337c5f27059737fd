//! `recon check SPEC`: validate the spec and confirm every declared column
//! exists in its source. Compares nothing and writes nothing.

use crate::cli::CheckArgs;
use crate::error::{Error, Result};
use crate::exit::ExitCode;
use crate::source;
use crate::spec::{self, Side};

pub fn execute(args: &CheckArgs) -> Result<ExitCode> {
    let spec = spec::load(&args.spec)?;
    let mut problems = 0;
    for entity in &spec.entities {
        for side in Side::BOTH {
            let src = &entity.sources[side.idx()];
            let names = source::column_names(src)?;
            for f in &entity.fields {
                let col = &f.columns[side.idx()];
                if !names.contains(col) {
                    let is_key = entity.key.iter().any(|&k| entity.fields[k].name == f.name);
                    if is_key {
                        return Err(Error::Input {
                            path: src.path.clone(),
                            line: None,
                            field: Some(col.clone()),
                            message: format!(
                                "key column `{col}` (entity `{}`, field `{}`) is missing",
                                entity.name, f.name
                            ),
                            hint: Some(format!("columns in the file: {}", names.join(", "))),
                        });
                    }
                    problems += 1;
                    eprintln!(
                        "warning: {}: column `{col}` (entity `{}`, field `{}`) is missing; `run` will report it and skip the field",
                        src.path.display(), entity.name, f.name
                    );
                }
            }
        }
    }
    eprintln!(
        "spec {} is valid: {} entit{}, {} source file(s) checked{}",
        args.spec.display(),
        spec.entities.len(),
        if spec.entities.len() == 1 { "y" } else { "ies" },
        spec.entities.len() * 2,
        if problems > 0 {
            format!(", {problems} missing column(s)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::Ok)
}
