//! A run one bucket at a time: how many buckets each entity needs, and
//! each bucket read, reconciled and handed to the merger.

use std::path::Path;
use std::time::Instant;

use crate::bucket;
use crate::error::{Error, Result};
use crate::prepare::{PreparedSide, SideKeys};
use crate::repair;
use crate::source::Loaded;
use crate::spec::{Side, Spec};

use super::entity::{input_meta, prepare_loaded, reconcile_entity, schema_findings};
use super::merge::Merger;
use super::*;

/// Buckets per entity: forced by `--buckets`, else as many as the memory
/// budget and the largest bucket size need (1 everywhere: the run stays in
/// memory).
pub(super) fn bucket_plan(spec: &Spec, opts: &RunOptions) -> Vec<usize> {
    if let Some(n) = opts.buckets {
        return vec![n.clamp(1, bucket::MAX_BUCKETS); spec.entities.len()];
    }
    let limit = opts.memory_limit.unwrap_or_else(bucket::default_limit);
    let plan: Vec<usize> = spec
        .entities
        .iter()
        .map(|e| bucket::buckets_for(bucket::estimate(e), limit))
        .collect();
    if plan.iter().any(|&n| n > 1) {
        tracing::info!(?plan, limit, "reconciling in buckets");
    }
    plan
}

/// Where each bucket's change state goes: (entity, bucket, state).
pub(super) type StateOut<'a> = dyn FnMut(usize, usize, repair::state::EntityState) -> Result<()> + 'a;

/// Entities split into buckets by key and reconciled one bucket at a time;
/// the results are merged as if the whole entity had been in memory.
/// Only the buckets `own` accepts are reconciled (a shard's share; every
/// bucket still counts for the facts of rules that see a whole side).
/// Returns each reconciled entity's result and its column metrics'
/// accumulator (the caller finishes the metrics, or hands them on).
pub(super) fn bucketed(
    env: &Env<'_>,
    plan: &[usize],
    own: bucket::Keep<'_>,
    work: &Path,
    previous: Option<&Path>,
    on_state: &mut StateOut<'_>,
) -> Result<(Vec<EntityResult>, Vec<crate::quality::metrics::EntityAcc>)> {
    let spec = env.spec;
    let clock = Instant::now();
    let parts: Vec<std::sync::Arc<bucket::Partitioned>> = spec
        .entities
        .iter()
        .zip(plan)
        .enumerate()
        .map(|(i, (e, &n))| {
            // A shard keeps only its own buckets' rows, unless a rule needs
            // facts of the whole side from this entity (read from every bucket).
            let whole = !crate::quality::global::needed_fields(&spec.entities, i).is_empty();
            let keep = (!whole).then_some(own);
            bucket::partition(e, n, work, env.display, keep).map(std::sync::Arc::new)
        })
        .collect::<Result<_>>()?;
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "partitioned into buckets");
    let clock = Instant::now();
    let rows: Vec<[usize; 2]> = parts.iter().map(|p| [p.meta[0].rows, p.meta[1].rows]).collect();
    let load = |e: usize, b: usize, cols: &[String]| parts[e].load(b, Some(cols));
    let run_clock = crate::quality::expr::Clock::new(env.now, spec.timezone);
    let global = crate::quality::global::gather(&spec.entities, rows, plan, run_clock, &load)?;
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "global rule facts gathered");
    let counts: polars::prelude::PlHashMap<String, usize> = spec
        .entities
        .iter()
        .zip(plan)
        .map(|(e, &n)| (e.name.clone(), n))
        .collect();
    let previous_state = match previous {
        Some(p) => repair::state::partition_state(p, work, &counts, bucket::bucket_of)?,
        None => None,
    };
    let mut results = Vec::new();
    let mut accs = Vec::new();
    for (e, entity) in spec.entities.iter().enumerate() {
        let mine: Vec<usize> = (0..plan[e]).filter(|&b| own(b)).collect();
        let merger = Merger::spawn(mine.len().max(1))?;
        let mut acc = crate::quality::metrics::EntityAcc::new();
        // The next bucket's spill is read on a thread of its own while this
        // bucket is reconciled, its metrics gathered and its state handed
        // over (the two cores were a quarter idle there). A run that fails
        // meanwhile leaves the reader to finish on its own: it only reads.
        let mut next: Option<std::thread::JoinHandle<Result<[Loaded; 2]>>> = None;
        for (at, &b) in mine.iter().enumerate() {
            let clock = Instant::now();
            let loaded = match next.take() {
                Some(reader) => reader
                    .join()
                    .map_err(|_| Error::Internal("the spill reader panicked".into()))??,
                None => parts[e].take(b)?,
            };
            tracing::info!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket loaded");
            let p = prepare_loaded(entity, loaded, env.display);
            tracing::info!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket typed and keyed");
            let prev: Option<repair::state::State> = match &previous_state {
                Some(ps) => Some([(entity.name.clone(), ps.load(&entity.name, b)?)].into_iter().collect()),
                None => None,
            };
            let repair_ctx = RepairCtx {
                previous: prev.as_ref(),
                previous_run: env.repair.previous_run.clone(),
                keys: env.repair.keys,
            };
            let empty_sides = [PreparedSide::empty(Side::Left), PreparedSide::empty(Side::Right)];
            let empty_keys = [SideKeys::default(), SideKeys::default()];
            let n = spec.entities.len();
            let sides = only_entity(n, e, &p.sides, &empty_sides);
            let keys = only_entity(n, e, &p.keys, &empty_keys);
            let buckets = crate::quality::global::Buckets {
                global: &global,
                first: b == 0,
            };
            let rules = env.rules(&sides, &keys, Some(buckets));
            if let Some(&following) = mine.get(at + 1) {
                let part = std::sync::Arc::clone(&parts[e]);
                let reader = std::thread::Builder::new()
                    .name("recon-spill-reader".into())
                    .spawn(move || part.take(following))
                    .map_err(|e| Error::thread("spill reader", e))?;
                next = Some(reader);
            }
            // The column metrics need only the typed cells: gathered beside
            // the reconciliation, they fill the cores where its steps run on
            // one (repair planning, the rules, parts of the change state).
            let (r, ()) = rayon::join(
                || reconcile_entity(spec, e, &p, &rules, env.display, &repair_ctx),
                || crate::quality::metrics::accumulate(entity, [&p.sides[0], &p.sides[1]], &mut acc),
            );
            let mut r = r?;
            tracing::debug!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket reconciled and its metrics gathered");
            on_state(e, b, std::mem::take(&mut r.state))?;
            tracing::debug!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket state handed over");
            merger.send(r, p)?;
            tracing::info!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket reconciled");
        }
        let Some(mut m) = merger.finish()? else { continue };
        let meta = &parts[e].meta;
        // Once per run: the shard with bucket 0 reports them.
        if own(0) {
            m.findings.splice(0..0, schema_findings(entity, meta));
        }
        m.rows = [meta[0].rows, meta[1].rows];
        m.inputs = [&meta[0], &meta[1]].map(input_meta);
        results.push(m);
        accs.push(acc);
    }
    Ok((results, accs))
}

/// Per entity, both sides: entity `e`'s own, the empty ones for the `n - 1`
/// others (a bucket holds one entity; rules reach others through global facts).
fn only_entity<'a, T>(n: usize, e: usize, own: &'a [T; 2], empty: &'a [T; 2]) -> Vec<[&'a T; 2]> {
    (0..n)
        .map(|i| {
            let s = if i == e { own } else { empty };
            [&s[0], &s[1]]
        })
        .collect()
}
