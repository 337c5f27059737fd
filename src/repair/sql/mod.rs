//! `recon sql`: a sealed run's repair instructions for one target system as
//! one SQL script for PostgreSQL or MySQL/MariaDB, in one transaction, that
//! a DBA reads and runs (`psql -f`, `mysql <`).
//!
//! Every statement is compare-and-set, as the instructions are:
//! - an update sets the one column it changes, where the key matches and
//!   the column still holds the instruction's `expected` value (null-safe);
//! - an insert adds the row only where no row has its key;
//! - a delete removes the row only while every compared column holds the
//!   instruction's `guard` (what the run saw);
//! - a `review`, and any instruction whose value or guard is personal data
//!   (its `value_ref` and keyed MAC) or has no exact literal, is a comment
//!   for a person, never a statement.
//!
//! Each instruction's outcome goes into a temporary table, `recon_outcome`
//! (`applied`, `already_applied`, `skipped_changed`: the row no longer
//! holds what the run saw, `skipped_missing`: the row is gone,
//! `skipped_exists`: a row with the key was inserted meanwhile), and the
//! script ends by selecting the counts and every instruction not applied,
//! so a stale instruction is visible, never silently lost. Running the
//! script twice changes nothing the second time.
//!
//! The target's table is the source's `table`; column names and values are
//! the target's own (values as repairs write them: the target's
//! representation, value maps reversed).

mod dialect;

use std::path::{Path, PathBuf};

pub use dialect::Dialect;

use super::repr::to_target;
use super::Repair;
use crate::error::{Error, Result};
use crate::evidence;
use crate::spec::{Entity, Side, Spec};

pub struct SqlOptions {
    pub run_dir: PathBuf,
    pub target: String,
    pub dialect: Dialect,
    pub entity: Option<String>,
    pub pubkey: Option<PathBuf>,
    pub spec: Option<PathBuf>,
}

pub enum SqlResult {
    /// The run's evidence does not verify: no script.
    Refused(Vec<String>),
    Done(Script),
}

/// The script and what it holds.
#[derive(Debug, Default)]
pub struct Script {
    pub text: String,
    /// Guarded statements (one per update, one per inserted row).
    pub statements: usize,
    /// Instructions written as comments for a person.
    pub comments: usize,
    /// Display name of the target system.
    pub target: String,
    /// The run the instructions are from.
    pub run_id: String,
}

impl Script {
    /// The script's minisign signature by `key` (a `.minisig` file's text),
    /// its trusted comment naming the run and target: a script written
    /// after the run is signed alongside, as the run's own files are.
    pub fn signature(&self, key: &crate::evidence::SigningKey) -> String {
        crate::evidence::minisign::sign(
            key,
            self.text.as_bytes(),
            &format!("recon sql for {} from run {}", self.target, self.run_id),
        )
    }
}

pub fn sql(o: &SqlOptions) -> Result<SqlResult> {
    let (pk, _) = crate::keys::trusted_public_key(o.pubkey.as_deref())?;
    let report = evidence::verify_run(&o.run_dir, &pk)?;
    if !report.ok() {
        return Ok(SqlResult::Refused(
            report.problems.into_iter().map(|p| p.what).collect(),
        ));
    }
    let spec = super::apply::load_spec(&o.run_dir, o.spec.as_deref())?;
    let side = super::apply::parse_side(&spec, &o.target)?;
    if let Some(name) = &o.entity {
        if spec.entity(name).is_none() {
            return Err(Error::usage(format!("the spec has no entity `{name}`"), None));
        }
    }
    let repairs: Vec<Repair> = super::read(&o.run_dir)?
        .into_iter()
        .filter(|r| r.target_side == side.as_str() && o.entity.as_ref().is_none_or(|e| *e == r.entity))
        .collect();
    // Every entity with an instruction for the target needs its table.
    for entity in &spec.entities {
        if entity.sources[side.idx()].table.is_none() && repairs.iter().any(|r| r.entity == entity.name) {
            return Err(Error::usage(
                format!(
                    "entity `{}`: its {} source names no `table`, so recon cannot write SQL for it",
                    entity.name,
                    side.as_str()
                ),
                Some(format!(
                    "add `table = \"schema.name\"` to the entity's `{}` source (or pass --entity for another)",
                    side.as_str()
                )),
            ));
        }
    }
    let run_id = run_id(&o.run_dir)?;
    let mut w = Writer::new(o.dialect, side);
    w.header(&run_id, &spec);
    let mut i = 0;
    while i < repairs.len() {
        let r = &repairs[i];
        let Some(entity) = spec.entity(&r.entity) else {
            return Err(Error::input(
                &o.run_dir,
                format!("an instruction names entity `{}`, which the spec lacks", r.entity),
            ));
        };
        if r.action == "insert" {
            let mut j = i;
            while j < repairs.len()
                && repairs[j].action == "insert"
                && repairs[j].key == r.key
                && repairs[j].entity == r.entity
            {
                j += 1;
            }
            w.insert(entity, &repairs[i..j]);
            i = j;
            continue;
        }
        match r.action.as_str() {
            "update" => w.update(entity, r),
            "delete" => w.delete(entity, r),
            _ => w.comment(r, &format!("review: {}", one_line(&r.detail))),
        }
        i += 1;
    }
    w.footer();
    Ok(SqlResult::Done(Script {
        text: w.out,
        statements: w.statements,
        comments: w.comments,
        target: spec.side_name(side).to_string(),
        run_id,
    }))
}

/// The run id summary.json records.
fn run_id(run_dir: &Path) -> Result<String> {
    let path = run_dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("not JSON: {e}")))?;
    Ok(summary["run_id"].as_str().unwrap_or_default().to_string())
}

/// The spec's field an instruction names.
fn field_of<'e>(entity: &'e Entity, r: &Repair) -> Option<&'e crate::spec::Field> {
    r.field
        .as_deref()
        .and_then(|f| entity.field(f))
        .map(|f| &entity.fields[f])
}

/// `<repair_id> <action> <key>[ <field>]`, as a comment line names an
/// instruction (the field when `with_field`).
fn label(r: &Repair, with_field: bool) -> String {
    let field = r.field.as_deref().filter(|_| with_field);
    format!(
        "{} {} {}{}",
        r.repair_id,
        one_line(&r.action),
        one_line(&r.key),
        field.map(|f| format!(" {}", one_line(f))).unwrap_or_default()
    )
}

/// `text` on one line (a comment ends at a line break).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The script as it is written.
struct Writer {
    d: Dialect,
    side: Side,
    out: String,
    statements: usize,
    comments: usize,
}

/// Why an instruction cannot be written as a statement (it becomes a
/// comment saying so).
struct NotWritable(String);

impl From<String> for NotWritable {
    fn from(why: String) -> NotWritable {
        NotWritable(why)
    }
}

impl From<dialect::Unwritable> for NotWritable {
    fn from(e: dialect::Unwritable) -> NotWritable {
        NotWritable(e.0.to_string())
    }
}

/// The outcome table's columns.
const OUTCOME_COLUMNS: &str = "(repair_id, action, entity, key_json, field, outcome)";

impl Writer {
    fn new(d: Dialect, side: Side) -> Writer {
        Writer {
            d,
            side,
            out: String::new(),
            statements: 0,
            comments: 0,
        }
    }

    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn header(&mut self, run_id: &str, spec: &Spec) {
        let target = spec.side_name(self.side).to_string();
        self.line(&format!(
            "-- recon repairs for {} ({} side) from run {}, spec sha256 {}",
            one_line(&target),
            self.side.as_str(),
            one_line(run_id),
            spec.sha256
        ));
        self.line("-- Review it, then run it in one go:");
        match self.d {
            Dialect::Postgres => self.line("--   psql -v ON_ERROR_STOP=1 -f THIS_FILE"),
            Dialect::Mysql => self.line("--   mysql --default-character-set=utf8mb4 DATABASE < THIS_FILE"),
        }
        self.line("-- Every statement is guarded: an update or delete applies only where the row still holds");
        self.line("-- what the run saw, an insert only where no row has the key. The outcome of each instruction");
        self.line("-- is selected at the end (applied, already_applied, skipped_changed, skipped_missing,");
        self.line("-- skipped_exists); instructions left for a person are comments.");
        match self.d {
            Dialect::Postgres => {
                self.line("SET client_encoding = 'UTF8';");
                self.line("BEGIN;");
                self.line("SET LOCAL standard_conforming_strings = on;");
                self.line("CREATE TEMP TABLE recon_outcome (repair_id text PRIMARY KEY, action text, entity text, key_json text, field text, outcome text) ON COMMIT DROP;");
            }
            Dialect::Mysql => {
                self.line("SET NAMES utf8mb4;");
                // A value the column cannot hold is an error (the script
                // stops, nothing applied), never a silent 0 or truncation.
                self.line(
                    "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'));",
                );
                self.line("START TRANSACTION;");
                self.line("CREATE TEMPORARY TABLE recon_outcome (repair_id VARCHAR(64) PRIMARY KEY, action VARCHAR(16), entity VARCHAR(255), key_json TEXT, field VARCHAR(255), outcome VARCHAR(32)) DEFAULT CHARSET = utf8mb4;");
            }
        }
    }

    fn footer(&mut self) {
        self.line("");
        self.line("SELECT outcome, count(*) AS instructions FROM recon_outcome GROUP BY outcome ORDER BY outcome;");
        self.line("SELECT repair_id, action, entity, key_json, field, outcome FROM recon_outcome WHERE outcome NOT IN ('applied', 'already_applied') ORDER BY repair_id;");
        self.line("COMMIT;");
        let (s, c) = (self.statements, self.comments);
        self.line(&format!(
            "-- {s} guarded statement(s), {c} instruction(s) left for a person"
        ));
    }

    /// An instruction left for a person, as a comment.
    fn comment(&mut self, r: &Repair, why: &str) {
        self.comments += 1;
        self.line("");
        self.line(&format!("-- {}: {}", label(r, true), one_line(why)));
        if let Some(vr) = &r.value_ref {
            self.line(&format!("--   value_ref {}", one_line(vr)));
        }
    }

    fn table(&self, entity: &Entity) -> String {
        let parts = entity.sources[self.side.idx()]
            .table
            .as_ref()
            .map(|t| t.parts.clone())
            .unwrap_or_default();
        self.d.table(&parts)
    }

    /// `column = literal AND …` for the key of `key_json` in the target's
    /// columns and representation; Err says why it cannot be written.
    fn key_where(&self, entity: &Entity, key_json: &str) -> std::result::Result<String, NotWritable> {
        let i = self.side.idx();
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(key_json).map_err(|e| NotWritable(format!("the key is not a JSON object: {e}")))?;
        let mut parts = Vec::with_capacity(entity.key.len());
        for &f in &entity.key {
            let field = &entity.fields[f];
            if super::sensitive(field) {
                return Err(format!("key field `{}` is personal data (tokenized in the key)", field.name).into());
            }
            let text = match parsed.get(&field.name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => return Err(NotWritable(format!("the key has no value for `{}`", field.name))),
            };
            let value = field.ty[i]
                .convert(&text)
                .map_err(|e| NotWritable(format!("key field `{}`: {e}", field.name)))?;
            let raw = to_target(field, self.side, Some(&value))
                .map_err(|e| NotWritable(format!("key field `{}`: {e}", field.name)))?;
            // A key normalized on this side beyond trimming (case,
            // digits, phone form...) is not stored as the run writes it:
            // matching it would find no row, or another.
            if field.steps[i].iter().any(|s| *s != crate::normalize::Step::Trim) {
                return Err(format!(
                    "key field `{}` is normalized on this side, so the text the table stores is not known",
                    field.name
                )
                .into());
            }
            let literal = self.d.literal(&field.ty[i], raw.as_deref())?;
            parts.push(self.d.equal(&self.column(&field.columns[i])?, &literal));
        }
        Ok(parts.join(" AND "))
    }

    /// A column name, quoted (a NUL cannot be written).
    fn column(&self, name: &str) -> std::result::Result<String, NotWritable> {
        match name.contains('\0') {
            true => Err(NotWritable(format!("column name {name:?} holds a NUL character"))),
            false => Ok(self.d.ident(name)),
        }
    }

    /// One guarded UPDATE of one column.
    fn update(&mut self, entity: &Entity, r: &Repair) {
        let Some(field) = field_of(entity, r) else {
            return self.comment(r, "update of a field the spec lacks: left for a person");
        };
        if super::sensitive(field) || r.value_ref.is_some() {
            return self.comment(
                r,
                "update of personal data: its value is not inlined and its guard is a keyed MAC; apply it from value_ref",
            );
        }
        let i = self.side.idx();
        let ty = &field.ty[i];
        let written = self.key_where(entity, &r.key).and_then(|key| {
            let new = self.d.literal(ty, r.new_value.as_deref())?;
            let expected = self.d.literal(ty, r.expected.as_deref())?;
            let column = self.column(r.column.as_deref().unwrap_or(&field.columns[i]))?;
            Ok((key, new, expected, column))
        });
        let (key, new, expected, column) = match written {
            Ok(w) => w,
            Err(why) => return self.comment(r, &format!("update left for a person: {}", why.0)),
        };
        let table = self.table(entity);
        let guard = self.d.same(&column, &expected);
        let update = format!("UPDATE {table} SET {column} = {new} WHERE {key} AND {guard}");
        let cases = [
            (
                format!(
                    "EXISTS (SELECT 1 FROM {table} WHERE {key} AND {})",
                    self.d.same(&column, &new)
                ),
                "already_applied",
            ),
            (format!("EXISTS (SELECT 1 FROM {table} WHERE {key})"), "skipped_changed"),
        ];
        self.statement(r, &update, &[r], &cases, "skipped_missing");
    }

    /// One guarded INSERT of the row the instructions `group` (one key,
    /// one per column) make.
    fn insert(&mut self, entity: &Entity, group: &[Repair]) {
        let Some(first) = group.first() else { return };
        let i = self.side.idx();
        let mut columns: Vec<(String, String, Option<String>)> = Vec::new();
        for r in group {
            let Some(field) = field_of(entity, r) else {
                return self.comment_all(group, "insert of a field the spec lacks: left for a person");
            };
            if super::sensitive(field) || r.value_ref.is_some() {
                return self.comment_all(
                    group,
                    &format!(
                        "insert of a row with personal data (`{}`): its value is not inlined; apply it from value_ref",
                        field.name
                    ),
                );
            }
            let literal = match self.d.literal(&field.ty[i], r.new_value.as_deref()) {
                Ok(l) => l,
                Err(e) => return self.comment_all(group, &format!("insert left for a person: {}", e.0)),
            };
            let column = r.column.clone().unwrap_or_else(|| field.columns[i].clone());
            // One column mapped from two fields is written once, when both
            // give it the same text.
            match columns.iter().find(|(c, _, _)| *c == column) {
                Some((_, _, v)) if *v == r.new_value => continue,
                Some(_) => {
                    return self.comment_all(
                        group,
                        &format!("insert left for a person: two fields give column `{column}` different values"),
                    )
                }
                None => columns.push((column, literal, r.new_value.clone())),
            }
        }
        let written = self.key_where(entity, &first.key).and_then(|key| {
            let names = columns
                .iter()
                .map(|(c, _, _)| self.column(c))
                .collect::<std::result::Result<Vec<String>, NotWritable>>()?;
            Ok((key, names))
        });
        let (key, names) = match written {
            Ok(w) => w,
            Err(why) => return self.comment_all(group, &format!("insert left for a person: {}", why.0)),
        };
        let table = self.table(entity);
        let insert = match self.d {
            Dialect::Postgres => {
                // Typed by the table itself: each value goes through its
                // column's input function, as a quoted literal would.
                let record: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .map(|(c, _, v)| {
                        (
                            c.clone(),
                            v.clone().map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                let json = serde_json::Value::Object(record).to_string();
                let picked: Vec<String> = names.iter().map(|n| format!("r.{n}")).collect();
                format!(
                    "INSERT INTO {table} ({}) SELECT {} FROM json_populate_record(NULL::{table}, {}) AS r WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {key})",
                    names.join(", "),
                    picked.join(", "),
                    self.d.text(&json)
                )
            }
            Dialect::Mysql => {
                let values: Vec<&str> = columns.iter().map(|(_, l, _)| l.as_str()).collect();
                format!(
                    "INSERT INTO {table} ({}) SELECT {} FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {key})",
                    names.join(", "),
                    values.join(", ")
                )
            }
        };
        let same: Vec<String> = names
            .iter()
            .zip(&columns)
            .map(|(n, (_, l, _))| self.d.same(n, l))
            .collect();
        let cases = [(
            format!("EXISTS (SELECT 1 FROM {table} WHERE {key} AND {})", same.join(" AND ")),
            "already_applied",
        )];
        let all: Vec<&Repair> = group.iter().collect();
        self.statement(first, &insert, &all, &cases, "skipped_exists");
    }

    /// One guarded DELETE: the row goes only while every compared column
    /// still holds what the run saw (the instruction's `guard`).
    fn delete(&mut self, entity: &Entity, r: &Repair) {
        let Some(guard) = &r.guard else {
            return self.comment(
                r,
                "delete left for a person: its row holds personal data or a value with no exact literal, so only its row hash (which SQL cannot compute) guards it",
            );
        };
        let i = self.side.idx();
        let written = self.key_where(entity, &r.key).and_then(|key| {
            let columns: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(guard).map_err(|e| NotWritable(format!("the guard is not a JSON object: {e}")))?;
            let mut same = Vec::with_capacity(columns.len());
            for (column, value) in &columns {
                let field = entity.fields.iter().find(|f| f.columns[i] == *column).ok_or_else(|| {
                    NotWritable(format!(
                        "the guard names column `{column}`, which the spec does not map"
                    ))
                })?;
                let text = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.as_str()),
                    _ => return Err(NotWritable(format!("the guard's `{column}` is not text"))),
                };
                let literal = self.d.literal(&field.ty[i], text)?;
                same.push(self.d.same(&self.column(column)?, &literal));
            }
            Ok((key, same))
        });
        let (key, same) = match written {
            Ok(w) => w,
            Err(why) => return self.comment(r, &format!("delete left for a person: {}", why.0)),
        };
        let table = self.table(entity);
        let mut condition = key.clone();
        for s in &same {
            condition.push_str(" AND ");
            condition.push_str(s);
        }
        let delete = format!("DELETE FROM {table} WHERE {condition}");
        let cases = [(format!("EXISTS (SELECT 1 FROM {table} WHERE {key})"), "skipped_changed")];
        self.statement(r, &delete, &[r], &cases, "skipped_missing");
    }

    fn comment_all(&mut self, group: &[Repair], why: &str) {
        for r in group {
            self.comment(r, why);
        }
    }

    /// `statement`, then one outcome row per instruction of `done`:
    /// `applied` when it changed a row, else the first of `cases` that
    /// holds, else `otherwise`.
    fn statement(&mut self, r: &Repair, statement: &str, done: &[&Repair], cases: &[(String, &str)], otherwise: &str) {
        self.statements += 1;
        self.line("");
        self.line(&format!(
            "-- {} ({})",
            label(r, r.action == "update"),
            one_line(&r.reason)
        ));
        let applied = match self.d {
            Dialect::Postgres => "EXISTS (SELECT 1 FROM done)",
            Dialect::Mysql => "@recon_n > 0",
        };
        let mut case = format!("CASE WHEN {applied} THEN 'applied'");
        for (cond, label) in cases {
            case.push_str(&format!(" WHEN {cond} THEN '{label}'"));
        }
        case.push_str(&format!(" ELSE '{otherwise}' END"));
        let d = self.d;
        let quoted = |t: &str| {
            d.literal(&crate::normalize::FieldType::String, Some(t))
                .unwrap_or_else(|_| "NULL".into())
        };
        let rows: Vec<String> = done
            .iter()
            .map(|x| {
                format!(
                    "SELECT {} AS repair_id, {} AS action, {} AS entity, {} AS key_json, {} AS field",
                    quoted(&x.repair_id),
                    quoted(&x.action),
                    quoted(&x.entity),
                    quoted(&x.key),
                    x.field.as_deref().map_or("NULL".to_string(), &quoted)
                )
            })
            .collect();
        let record = format!(
            "INSERT INTO recon_outcome {OUTCOME_COLUMNS} SELECT v.repair_id, v.action, v.entity, v.key_json, v.field, {case} FROM ({}) AS v;",
            rows.join(" UNION ALL ")
        );
        match self.d {
            Dialect::Postgres => {
                self.line(&format!("WITH done AS ({statement} RETURNING 1)"));
                self.line(&record);
            }
            Dialect::Mysql => {
                self.line(&format!("{statement};"));
                self.line("SET @recon_n = ROW_COUNT();");
                self.line(&record);
            }
        }
    }
}

#[cfg(test)]
mod tests;
