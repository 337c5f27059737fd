//! Turning one entity's drift into repair instructions: who wins each
//! differing field (change detection against the previous run's state, then
//! the authority), inserts for missing rows, deletes/reviews for rows deleted
//! since the previous run.

use polars::prelude::PlHashMap as HashMap;

use crate::compare::Drift;
use crate::keys::KeyRing;
use crate::prepare::{Cell, PreparedSide, SideKeys};
use crate::spec::{Authority, Deletes, Entity, Side};

use super::repr::{expected_of, to_target, to_target_from, NoInverse};
use super::state::{row_hashes, state_fields, EntityState, RowComparer};
use super::Repair;

/// Everything the planner reads for one entity.
pub struct Inputs<'a> {
    pub entity: &'a Entity,
    pub side_names: &'a [String; 2],
    pub sides: [&'a PreparedSide; 2],
    pub keys: [&'a SideKeys; 2],
    pub drift: &'a Drift,
    /// This run's state of the entity, and the previous run's (None: no base).
    pub current: &'a EntityState,
    pub previous: Option<&'a EntityState>,
    pub previous_run: Option<&'a str>,
    pub ring: &'a KeyRing,
}

/// Who a differing field's value should come from.
enum Decision {
    Take(Side, String),
    Review(String, String),
    Nothing,
}

impl Inputs<'_> {
    fn name(&self, side: Side) -> &str {
        &self.side_names[side.idx()]
    }

    fn base(&self) -> String {
        match self.previous_run {
            Some(r) => format!("run {r}"),
            None => "the previous run".into(),
        }
    }

    /// A delete's guard: row `row` of `side`'s compared columns as that
    /// side holds them, JSON column → text (null for null); None when one
    /// is personal data, unconvertible, normalized beyond trimming on that
    /// side, or has no exact representation.
    fn guard(&self, side: Side, row: usize) -> Option<String> {
        let prepared = self.sides[side.idx()];
        let mut columns = serde_json::Map::new();
        for f in state_fields(self.entity, prepared) {
            let field = &self.entity.fields[f];
            if super::sensitive(field) {
                return None;
            }
            // Normalized beyond trimming on this side: the stored text is
            // not known, so no exact guard.
            if field.steps[side.idx()]
                .iter()
                .any(|s| *s != crate::normalize::Step::Trim)
            {
                return None;
            }
            let raw = match prepared.cell(f, row) {
                Cell::Bad => return None,
                cell => to_target(field, side, cell.value()).ok()?,
            };
            let value = raw.map_or(serde_json::Value::Null, serde_json::Value::String);
            // One column mapped from two fields must agree on its text.
            match columns.get(&field.columns[side.idx()]) {
                Some(seen) if *seen != value => return None,
                _ => {
                    columns.insert(field.columns[side.idx()].clone(), value);
                }
            }
        }
        Some(serde_json::Value::Object(columns).to_string())
    }

    fn repair(&self, target: Side, action: &str, key: &str, reason: String, detail: String) -> Repair {
        Repair {
            entity: self.entity.name.clone(),
            target: self.name(target).to_string(),
            target_side: target.as_str().to_string(),
            action: action.to_string(),
            key: key.to_string(),
            reason,
            detail,
            ..Repair::default()
        }
    }

    fn review_both(&self, key: &str, field: usize, reason: String, detail: String) -> Repair {
        Repair {
            entity: self.entity.name.clone(),
            target: "both".into(),
            target_side: "both".into(),
            action: "review".into(),
            key: key.to_string(),
            field: Some(self.entity.fields[field].name.clone()),
            reason,
            detail,
            ..Repair::default()
        }
    }

    /// Change detection first (`comparer`: this run's state against the
    /// previous one, None without one), then the field's authority.
    fn decide(&self, key: &str, f: usize, rows: [usize; 2], comparer: Option<&RowComparer<'_>>) -> Decision {
        let entity = self.entity;
        let authority = entity.authority_of(f);
        if authority == Authority::None {
            return Decision::Nothing;
        }
        let name = &entity.fields[f].name;
        if let Some(comparer) = comparer {
            use super::state::Change::{Changed, Unchanged, Unknown};
            match Side::BOTH.map(|s| comparer.since_base(s, key, name)) {
                [Some(Changed), Some(Unchanged)] => return Decision::Take(Side::Left, "three_way".into()),
                [Some(Unchanged), Some(Changed)] => return Decision::Take(Side::Right, "three_way".into()),
                [Some(Changed), Some(Changed)] => {
                    return Decision::Review(
                        "three_way".into(),
                        format!(
                            "both sides changed `{name}` since they last agreed (base in {}), to different values",
                            self.base()
                        ),
                    )
                }
                // A row that changed on a side whose change state cannot
                // tell which field (their short hashes collided): neither
                // taken as unchanged nor as changed.
                [Some(Unknown), Some(Unknown)] => {
                    return Decision::Review(
                        "three_way".into(),
                        format!(
                            "both sides changed the row since they last agreed (base in {}); its change state cannot tell whether `{name}` changed on one side or on both; a person decides",
                            self.base()
                        ),
                    )
                }
                changed if changed.contains(&Some(Unknown)) => {
                    let sides: Vec<&str> = Side::BOTH
                        .iter()
                        .filter(|s| changed[s.idx()] == Some(Unknown))
                        .map(|&s| self.name(s))
                        .collect();
                    return Decision::Review(
                        "three_way".into(),
                        format!(
                            "the row changed on {} since {}, but its change state cannot tell whether `{name}` did; a person decides",
                            sides.join(" and "),
                            self.base()
                        ),
                    );
                }
                _ => {}
            }
        }
        let reason = authority.reason(self.side_names);
        match authority {
            Authority::Side(s) => Decision::Take(s, reason),
            Authority::None => Decision::Nothing,
            Authority::ThreeWay => Decision::Review(
                reason,
                format!(
                    "neither side changed `{name}` since they last agreed (base in {}), or there is no base; a person decides",
                    self.base()
                ),
            ),
            Authority::Latest => {
                let Some(u) = entity.updated_at else {
                    return Decision::Review(reason, "no updated_at field".into());
                };
                let at = |s: Side| self.sides[s.idx()].cell(u, rows[s.idx()]).value().cloned();
                match (at(Side::Left), at(Side::Right)) {
                    (Some(l), Some(r)) if l != r => {
                        let newer = match (&l, &r) {
                            (crate::normalize::Value::Ts(a), crate::normalize::Value::Ts(b)) => a > b,
                            (crate::normalize::Value::Date(a), crate::normalize::Value::Date(b)) => a > b,
                            _ => return Decision::Review(reason, "updated_at values are not comparable".into()),
                        };
                        Decision::Take(if newer { Side::Left } else { Side::Right }, reason)
                    }
                    (Some(_), Some(_)) => Decision::Review(
                        reason,
                        format!("both sides have the same `{}`; a tie", entity.fields[u].name),
                    ),
                    _ => Decision::Review(
                        reason,
                        format!("`{}` is null or invalid on a side", entity.fields[u].name),
                    ),
                }
            }
        }
    }

    fn update(
        &self,
        key: &str,
        f: usize,
        rows: [usize; 2],
        finding_id: &str,
        comparer: Option<&RowComparer<'_>>,
    ) -> Option<Repair> {
        let field = &self.entity.fields[f];
        let (source, reason) = match self.decide(key, f, rows, comparer) {
            Decision::Nothing => return None,
            Decision::Review(reason, detail) => {
                let mut r = self.review_both(key, f, reason, detail);
                r.finding_id = Some(finding_id.to_string());
                return Some(r);
            }
            Decision::Take(s, reason) => (s, reason),
        };
        let target = source.other();
        let value = self.sides[source.idx()].cell(f, rows[source.idx()]).value();
        let target_cell = self.sides[target.idx()].cell(f, rows[target.idx()]);
        let target_key = &self.keys[target.idx()].json[rows[target.idx()]];
        let mut r = self.repair(target, "update", target_key, reason, String::new());
        r.finding_id = Some(finding_id.to_string());
        r.field = Some(field.name.clone());
        r.column = Some(field.columns[target.idx()].clone());
        r.expected = expected_of(self.entity, f, target, target_cell, self.ring);
        match to_target_from(field, source, target, value) {
            Err(why) => {
                r.action = "review".into();
                r.detail = why.to_string();
            }
            Ok(raw) => {
                r.detail = format!("set `{}` to the {} value", field.name, self.name(source));
                if super::sensitive(field) {
                    r.value_ref = Some(self.value_ref(source, rows[source.idx()], f));
                } else {
                    r.new_value = raw;
                }
            }
        }
        Some(r)
    }

    fn value_ref(&self, side: Side, row: usize, f: usize) -> String {
        let key: serde_json::Value =
            serde_json::from_str(&self.keys[side.idx()].json[row]).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "side": side.as_str(),
            "entity": self.entity.name,
            "key": key,
            "column": self.entity.fields[f].columns[side.idx()],
            // The source value the instruction was planned with, as a keyed MAC.
            "mac": expected_of(self.entity, f, side, self.sides[side.idx()].cell(f, row), self.ring),
        })
        .to_string()
    }

    /// A row present only on `has`: deleted on the other side since the
    /// previous run, or missing there (insert).
    /// `rows` compares this run's rows with the previous run's (None: no
    /// previous state).
    fn only(&self, has: Side, row: usize, finding_id: &str, rows: Option<&RowComparer<'_>>) -> Vec<Repair> {
        let entity = self.entity;
        let lacking = has.other();
        let key = self.keys[has.idx()].json[row].as_str();
        if entity.authority == Authority::None {
            return Vec::new();
        }
        let deleted = self.previous.is_some_and(|p| p.has_row(lacking, key));
        let authoritative = match entity.authority {
            Authority::Side(s) => s == lacking,
            _ => true,
        };
        if deleted && authoritative {
            let reason = entity.authority.reason(self.side_names);
            let changed_here = rows.is_some_and(|rows| rows.changed(has, key));
            let (_, row_hash) = row_hashes(entity, self.sides[has.idx()], row, self.ring);
            let mut r = self.repair(has, "delete", key, reason, String::new());
            r.finding_id = Some(finding_id.to_string());
            r.expected = Some(hex::encode(row_hash));
            r.guard = self.guard(has, row);
            if changed_here {
                r.action = "review".into();
                r.detail = format!(
                    "deleted on {} since {} but changed on {}; a person decides",
                    self.name(lacking),
                    self.base(),
                    self.name(has)
                );
            } else if entity.deletes == Deletes::Review {
                r.action = "review".into();
                r.detail = format!(
                    "deleted on {} since {}; deletes = \"review\"",
                    self.name(lacking),
                    self.base()
                );
            } else {
                r.detail = format!("deleted on {} since {}", self.name(lacking), self.base());
            }
            return vec![r];
        }
        let reason = format!("only_on:{}", self.name(has));
        let mut out = Vec::new();
        let mut problem: Option<NoInverse> = None;
        for (f, field) in entity.fields.iter().enumerate() {
            // Only values the source has, into columns the target has.
            if !self.sides[has.idx()].fields[f].present || !self.sides[lacking.idx()].fields[f].present {
                continue;
            }
            let cell = self.sides[has.idx()].cell(f, row);
            let raw = match cell {
                Cell::Bad => Err(NoInverse::Unconvertible {
                    side: has.as_str(),
                    field: field.name.clone(),
                }),
                c => to_target_from(field, has, lacking, c.value()),
            };
            let raw = match raw {
                Ok(raw) => raw,
                Err(why) => {
                    problem.get_or_insert(why);
                    continue;
                }
            };
            let mut r = self.repair(
                lacking,
                "insert",
                key,
                reason.clone(),
                format!("row exists only on {}", self.name(has)),
            );
            r.finding_id = Some(finding_id.to_string());
            r.field = Some(field.name.clone());
            r.column = Some(field.columns[lacking.idx()].clone());
            if super::sensitive(field) {
                r.value_ref = Some(self.value_ref(has, row, f));
            } else {
                r.new_value = raw;
            }
            out.push(r);
        }
        if let Some(why) = problem {
            let mut r = self.repair(lacking, "review", key, reason, format!("row not inserted: {why}"));
            r.finding_id = Some(finding_id.to_string());
            return vec![r];
        }
        out
    }
}

/// All instructions for one entity, unsorted and without ids.
pub fn plan(inp: &Inputs<'_>) -> Vec<Repair> {
    use rayon::prelude::*;
    // Planned on both cores, in the order of the findings and rows (an
    // order-preserving parallel collect): planning a bucket on one core
    // had left the other idle, 0.7 core-seconds of a 10M-row run.
    let ids: HashMap<(&str, &str, Option<&str>), String> = inp
        .drift
        .findings
        .par_iter()
        .map(|f| ((f.kind.as_str(), f.key.as_str(), f.field.as_deref()), f.id()))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    // The matched pairs of the keys with a mismatch (a few of them: a map
    // of every pair's key cost more than the planning itself).
    let mismatched: polars::prelude::PlHashSet<&str> = inp
        .drift
        .findings
        .iter()
        .filter(|f| f.kind == "value_mismatch")
        .map(|f| f.key.as_str())
        .collect();
    let pair_of: HashMap<&str, (u32, u32)> = if mismatched.is_empty() {
        HashMap::default()
    } else {
        inp.drift
            .pairs
            .par_iter()
            .map(|&(l, r)| (inp.keys[0].json[l as usize].as_str(), (l, r)))
            .filter(|(key, _)| mismatched.contains(key))
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    };
    let rows = inp.previous.map(|p| RowComparer::new(inp.current, p));
    let mut out: Vec<Repair> = inp
        .drift
        .findings
        .par_iter()
        .filter(|f| f.kind == "value_mismatch")
        .flat_map_iter(|f| {
            let (Some(name), Some(&(l, r))) = (f.field.as_deref(), pair_of.get(f.key.as_str())) else {
                return None;
            };
            let field = inp.entity.field(name)?;
            let id = ids.get(&(f.kind.as_str(), f.key.as_str(), f.field.as_deref()))?;
            inp.update(&f.key, field, [l as usize, r as usize], id, rows.as_ref())
        })
        .collect();
    let only: Vec<Repair> = inp
        .drift
        .only
        .par_iter()
        .flat_map_iter(|&(has, row)| {
            let key = inp.keys[has.idx()].json[row as usize].as_str();
            let kind = match has.other() {
                Side::Left => "missing_left",
                Side::Right => "missing_right",
            };
            let id = ids.get(&(kind, key, None)).map_or("", String::as_str);
            inp.only(has, row as usize, id, rows.as_ref())
        })
        .collect();
    out.extend(only);
    out
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
