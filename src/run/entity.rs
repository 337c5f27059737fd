//! One entity reconciled: loaded, prepared, compared and checked, repairs
//! planned; and every entity so in memory at once.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use crate::compare::{self};
use crate::display::Display;
use crate::error::Result;
use crate::finding::{Category, Finding};
use crate::prepare::{self, KeyIndex, PreparedSide, SideKeys};
use crate::repair;
use crate::source::{self, Loaded};
use crate::spec::{Entity, Side, Spec};

use super::*;

/// Every entity loaded and reconciled in memory at once.
pub(super) fn in_memory(
    env: &Env<'_>,
    states: &mut repair::state::StateSink,
) -> Result<(Vec<EntityResult>, u128, u128)> {
    let spec = env.spec;
    let stage = Instant::now();
    let prepared: Vec<PreparedEntity> = spec
        .entities
        .par_iter()
        .map(|e| prepare_entity(e, env.display))
        .collect::<Result<_>>()?;
    let prepare_ms = stage.elapsed().as_millis();
    let stage = Instant::now();
    let sides: Vec<[&PreparedSide; 2]> = prepared.iter().map(|p| [&p.sides[0], &p.sides[1]]).collect();
    let keys: Vec<[&SideKeys; 2]> = prepared.iter().map(|p| [&p.keys[0], &p.keys[1]]).collect();
    let rules = env.rules(&sides, &keys, None);
    let mut results: Vec<EntityResult> = (0..spec.entities.len())
        .into_par_iter()
        .map(|i| {
            let p = &prepared[i];
            let mut r = reconcile_entity(spec, i, p, &rules, env.display, env.repair)?;
            r.findings.splice(0..0, schema_findings(&spec.entities[i], &p.loaded));
            Ok(r)
        })
        .collect::<Result<_>>()?;
    // The change state is written on the sink's thread (mostly encoding
    // and compression) while the metrics and reports are produced.
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| results[a].name.cmp(&results[b].name));
    for i in order {
        let state = std::mem::take(&mut results[i].state);
        states.send(&results[i].name, state)?;
    }
    let metrics: Vec<_> = prepared
        .par_iter()
        .zip(&spec.entities)
        .map(|(p, entity)| {
            let clock = Instant::now();
            let m = crate::quality::metrics::field_metrics(entity, [&p.sides[0], &p.sides[1]], env.display);
            tracing::info!(entity = %entity.name, metrics_ms = clock.elapsed().as_millis() as u64, "column metrics");
            m
        })
        .collect();
    for (r, m) in results.iter_mut().zip(metrics) {
        r.quality.fields = m;
    }
    Ok((results, prepare_ms, stage.elapsed().as_millis()))
}

pub(super) fn input_meta(l: &Loaded) -> InputMeta {
    InputMeta {
        path: l.path.clone(),
        sha256: l.sha256.clone(),
        size: l.size,
        rows: l.rows,
        physical_types: l.physical_types.clone(),
        hash_micros: l.hash_micros,
        files: l.files.clone(),
    }
}

fn prepare_entity(entity: &Entity, display: &dyn Display) -> Result<PreparedEntity> {
    let (left, right) = rayon::join(|| load_side(entity, Side::Left), || load_side(entity, Side::Right));
    let loaded = [left?, right?];
    tracing::info!(entity = %entity.name, left_rows = loaded[0].rows, right_rows = loaded[1].rows, "loaded");
    Ok(prepare_loaded(entity, loaded, display))
}

/// Types both loaded sides and computes their keys: the left side and the
/// right's key first, then the rest of the right side, whose cells equal
/// to their key's left twin are copied instead of typed again
/// ([`prepare::prepare_right`]).
pub(super) fn prepare_loaded(entity: &Entity, loaded: [Loaded; 2], display: &dyn Display) -> PreparedEntity {
    let [mut left, mut right] = loaded;
    let clock = Instant::now();
    let ((pl, kl), (keyed, kr)) = rayon::join(
        || {
            let p = prepare::prepare(entity, Side::Left, &left);
            let k = prepare::side_keys(entity, &p, display);
            (p, k)
        },
        || {
            let p = prepare::prepare_fields(entity, Side::Right, &right, Some(&entity.key));
            let k = prepare::side_keys(entity, &p, display);
            (p, k)
        },
    );
    tracing::debug!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "left side and right key typed");
    let index = KeyIndex::new([&kl, &kr]);
    let twins = index.twins(right.rows);
    tracing::debug!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "key index built");
    let pr = prepare::prepare_right(entity, &mut right, keyed, &left.frame, &pl, &twins);
    tracing::debug!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "right side typed");
    // The raw text is no longer needed.
    left.frame = polars::prelude::DataFrame::empty();
    PreparedEntity {
        loaded: [left, right],
        sides: [pl, pr],
        keys: [kl, kr],
        index,
        twins,
    }
}

pub(super) fn reconcile_entity(
    spec: &Spec,
    index: usize,
    p: &PreparedEntity,
    rules: &crate::quality::Context<'_>,
    display: &dyn Display,
    ctx: &RepairCtx<'_>,
) -> Result<EntityResult> {
    let entity = &spec.entities[index];
    let (loaded, prepared, keys) = (&p.loaded, &p.sides, &p.keys);
    let mut findings = Vec::new();
    let clock = Instant::now();
    // Drift (its key index built in partitions, in parallel) and the row
    // checks of personal data run side by side; the pair checks need
    // drift's pairs.
    let sides = [&prepared[0], &prepared[1]];
    let side_keys = [&keys[0], &keys[1]];
    let (drift, masking) = rayon::join(
        || compare::compare(entity, sides, side_keys, &p.index, spec.timezone, display),
        || crate::masking::audit_rows(entity, sides, side_keys, &p.twins, display),
    );
    findings.extend(masking);
    findings.extend(crate::masking::audit_pairs(
        entity,
        sides,
        side_keys,
        &drift.pairs,
        display,
    ));
    tracing::info!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "drift and masking");
    let clock = Instant::now();
    let mut state = repair::state::entity_state(
        entity,
        [&prepared[0], &prepared[1]],
        [&keys[0], &keys[1]],
        &p.index,
        ctx.keys,
        &drift.pairs,
    );
    tracing::info!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "row hashes");
    let empty = repair::state::EntityState::default();
    let previous = ctx.previous.map(|p| p.get(&entity.name).unwrap_or(&empty));
    state.set_bases(
        entity,
        [&prepared[0], &prepared[1]],
        [&keys[0], &keys[1]],
        &drift,
        previous,
    );
    tracing::info!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "change state");
    let clock = Instant::now();
    let repairs = repair::plan::plan(&repair::plan::Inputs {
        entity,
        side_names: &spec.sides,
        sides: [&prepared[0], &prepared[1]],
        keys: [&keys[0], &keys[1]],
        drift: &drift,
        current: &state,
        previous,
        previous_run: ctx.previous_run.as_deref(),
        ring: ctx.keys,
    });
    let changes = previous.map(|p| {
        [
            repair::state::changes(p, &state, Side::Left),
            repair::state::changes(p, &state, Side::Right),
        ]
    });
    findings.extend(drift.findings);
    tracing::info!(entity = %entity.name, ms = clock.elapsed().as_millis() as u64, "repairs planned");
    let clock = Instant::now();
    let quality = crate::quality::check(rules, index);
    tracing::info!(entity = %entity.name, rules_ms = clock.elapsed().as_millis() as u64, "rules checked");
    findings.extend(quality.findings);
    Ok(EntityResult {
        name: entity.name.clone(),
        findings,
        coverage: drift.coverage,
        matched: drift.pairs.len(),
        drifted_keys: drift.drifted_keys,
        rows: [loaded[0].rows, loaded[1].rows],
        inputs: [&loaded[0], &loaded[1]].map(input_meta),
        quality: crate::quality::QualitySummary {
            fields: BTreeMap::new(),
            rules: quality.rules,
        },
        repairs,
        state,
        changes,
    })
}

fn load_side(entity: &Entity, side: Side) -> Result<Loaded> {
    let columns = entity.columns(side);
    let source = &entity.sources[side.idx()];
    let loaded = source::load(source, &columns)?;
    source::key_columns_present(entity, side, &loaded.missing)?;
    Ok(loaded)
}

pub(super) fn schema_findings(entity: &Entity, loaded: &[Loaded; 2]) -> Vec<Finding> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        let l = &loaded[side.idx()];
        for f in &entity.fields {
            let col = &f.columns[side.idx()];
            if l.missing.contains(col) {
                out.push(Finding {
                    entity: entity.name.clone(),
                    category: Category::Schema,
                    kind: "column_missing".into(),
                    rule: f.name.clone(),
                    severity: entity.drift_severity("column_missing"),
                    side: side.as_str(),
                    key: "{}".into(),
                    field: Some(f.name.clone()),
                    left_value: None,
                    right_value: None,
                    detail: format!(
                        "column `{col}` is missing from {}; the field is skipped",
                        l.path
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default()
                    ),
                });
            }
        }
    }
    out
}
