//! One reconciliation run, start to finish: load → prepare → compare and
//! check → findings → summary → sealed run folder.
//!
//! This is the library entry point the `run` command calls; it owns the
//! order of stages and the failure decision, not the stages themselves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::bucket;
use crate::compare::{self, Coverage};
use crate::display::Display;
/// The report's display policy, also named here by the change state's tests.
pub use crate::display::ReportDisplay;
use crate::error::{Error, Result};
use crate::evidence;
use crate::exit::ExitCode;
use crate::files;
use crate::finding::{Category, Finding};
use crate::keys::KeyRing;
use crate::prepare::{self, KeyIndex, PreparedSide, SideKeys};
use crate::repair;
use crate::report::{self, EntitySummary, FindingRow, RunFolder, SideInfo, Summary};
use crate::source::{self, Loaded};
use crate::spec::{self, Entity, Side, Spec};

pub struct RunOptions {
    pub spec: PathBuf,
    pub out: PathBuf,
    pub run_id: Option<String>,
    pub prev: Option<PathBuf>,
    pub keys: KeyRing,
    /// Also write `repairs-<target>.csv` per target system.
    pub repairs_csv: bool,
    /// Memory budget in bytes; entities estimated above it are reconciled
    /// in buckets (default: half of the machine's memory).
    pub memory_limit: Option<u64>,
    /// Force this many buckets per entity (1: always in memory).
    pub buckets: Option<usize>,
    /// Where buckets are spilled (default: `out`).
    pub work_dir: Option<PathBuf>,
}

pub struct RunOutcome {
    pub folder: PathBuf,
    pub summary: Summary,
    pub summary_json: String,
    pub exit: ExitCode,
    /// Repair instructions written, by action.
    pub repairs: BTreeMap<String, usize>,
}

/// Everything computed for one entity before it is written.
pub struct EntityResult {
    pub name: String,
    pub findings: Vec<Finding>,
    pub coverage: [Coverage; 2],
    pub matched: usize,
    pub drifted_keys: usize,
    pub rows: [usize; 2],
    pub inputs: [InputMeta; 2],
    /// Column metrics and per-rule results.
    pub quality: crate::quality::QualitySummary,
    pub repairs: Vec<repair::Repair>,
    pub state: repair::state::EntityState,
    /// Rows inserted/updated/deleted per side since the previous state.
    pub changes: Option<[repair::state::Changes; 2]>,
}

/// What repair planning needs besides the entity itself.
struct RepairCtx<'a> {
    previous: Option<&'a repair::state::State>,
    previous_run: Option<String>,
    keys: &'a KeyRing,
}

/// One entity loaded and prepared (typed cells and keys), before any check.
/// Every entity is prepared before rules run, so `references` can read the
/// other entity's prepared side.
pub struct PreparedEntity {
    pub loaded: [Loaded; 2],
    pub sides: [PreparedSide; 2],
    pub keys: [SideKeys; 2],
    /// The keys of both sides and their rows.
    pub index: KeyIndex,
    /// Per right row, a left row of the same key (`u32::MAX`: none).
    pub twins: Vec<u32>,
}

pub struct InputMeta {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub rows: usize,
    pub physical_types: BTreeMap<String, String>,
    pub hash_micros: u64,
}

pub fn default_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn execute(opts: &RunOptions) -> Result<RunOutcome> {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let spec = spec::load(&opts.spec)?;
    let run_id = opts.run_id.clone().unwrap_or_else(|| default_run_id(started));
    let signing = opts.keys.signing_key()?;
    if spec.entities.iter().any(|e| e.fields.iter().any(repair::sensitive)) {
        opts.keys.prepare_tokens()?;
    }
    let folder = RunFolder::create(&opts.out, &run_id)?;
    let history = report::previous_runs(&opts.out);
    let previous = match &opts.prev {
        Some(p) => Some(p.clone()),
        None => history.last().map(|r| r.path.clone()),
    };
    if let Some(p) = &previous {
        if !p.join("summary.json").exists() {
            return Err(Error::usage(
                format!("--prev {} is not a run folder (no summary.json)", p.display()),
                None,
            ));
        }
    }
    let baseline = report::choose_baseline(&history, opts.prev.as_deref())?;
    let display = ReportDisplay { keys: &opts.keys };
    let previous_state = match &previous {
        Some(p) => repair::state::read_state(p)?,
        None => None,
    };
    let ctx = RepairCtx {
        previous: previous_state.as_ref(),
        previous_run: previous
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        keys: &opts.keys,
    };
    let plan = bucket_plan(&spec, opts);
    let env = Env {
        spec: &spec,
        display: &display,
        now: started,
        baseline: &baseline,
        repair: &ctx,
    };
    // Written in the background; finished before the folder is sealed.
    let in_memory_run = plan.iter().all(|&n| n == 1);
    let queue = if in_memory_run { spec.entities.len() } else { 0 };
    let mut states = repair::state::StateSink::spawn(&folder.path().join(repair::state::STATE_FILE), queue)?;
    let (mut results, prepare_ms, compare_ms) = if in_memory_run {
        in_memory(&env, &mut states)?
    } else {
        let work = bucket::WorkDir::create(opts.work_dir.as_deref().unwrap_or(&opts.out), &run_id)?;
        let stage = Instant::now();
        let results = bucketed(&env, &plan, work.path(), previous.as_deref(), &mut states)?;
        (results, 0, stage.elapsed().as_millis())
    };
    if let Some(p) = &previous {
        type_changes(&spec, p, &mut results);
    }
    tracing::info!(compare_ms, "entities reconciled");
    for r in &results {
        for (side, c) in Side::BOTH.iter().zip(&r.coverage) {
            if !c.adds_up() {
                return Err(Error::Internal(format!(
                    "coverage of entity `{}` {} side does not add up: {} rows read, {} accounted",
                    r.name,
                    side.as_str(),
                    c.rows_read,
                    c.accounted()
                )));
            }
        }
    }
    let first_seen = match &previous {
        Some(p) => report::read_first_seen(p)?,
        None => HashMap::new(),
    };
    // Moved, not copied: the largest entity's instructions take the
    // others' (their order does not matter: they are sorted by content).
    let largest = (0..results.len()).max_by_key(|&i| results[i].repairs.len());
    let mut all_repairs: Vec<repair::Repair> = largest
        .map(|i| std::mem::take(&mut results[i].repairs))
        .unwrap_or_default();
    for r in results.iter_mut() {
        all_repairs.append(&mut r.repairs);
    }
    // Each finding's id (a digest) is computed once, in parallel.
    let mut findings: Vec<(&Finding, String)> = results
        .par_iter()
        .flat_map_iter(|r| r.findings.iter())
        .map(|f| (f, f.id()))
        .collect();
    findings.par_sort_by(|(a, _), (b, _)| {
        (&a.entity, a.category, &a.kind, &a.key, &a.field, a.side)
            .cmp(&(&b.entity, b.category, &b.kind, &b.key, &b.field, b.side))
    });
    // Rows sharing a duplicated key can raise the very same finding: keep one.
    findings.dedup_by(|a, b| a.1 == b.1);
    tracing::debug!(findings = findings.len(), "findings identified and ordered");
    let rows: Vec<FindingRow<'_>> = findings
        .into_iter()
        .map(|(f, id)| {
            let first = first_seen.get(&id).cloned().unwrap_or_else(|| run_id.clone());
            FindingRow {
                finding: f,
                id,
                first_seen: first,
            }
        })
        .collect();
    let (exit, thresholds_hit) = decide(&spec, &results);
    let entity_metrics: Vec<report::EntityMetrics<'_>> = results
        .iter()
        .map(|r| report::EntityMetrics {
            entity: &r.name,
            rows: r.rows,
            quality: &r.quality,
        })
        .collect();
    // Findings and repairs are written side by side.
    let (reports, repairs) = rayon::join(
        || -> Result<()> {
            report::write_findings(&folder.path().join("findings.parquet"), &run_id, &rows)?;
            tracing::debug!("findings.parquet written");
            report::write_quality_metrics(&folder.path().join("quality_metrics.parquet"), &run_id, &entity_metrics)
        },
        || -> Result<Vec<repair::Repair>> {
            let repairs = repair::finish(all_repairs, &run_id);
            tracing::debug!("repairs identified and ordered");
            repair::write(folder.path(), &repairs)?;
            Ok(repairs)
        },
    );
    reports?;
    let repairs = repairs?;
    tracing::info!(repairs = repairs.len(), "repair instructions written");
    if opts.repairs_csv {
        repair::write_csv(folder.path(), &spec, &repairs)?;
    }
    let finished = chrono::Utc::now();
    let mut metrics = BTreeMap::new();
    metrics.insert("prepare_ms".to_string(), serde_json::json!(prepare_ms));
    metrics.insert("compare_ms".to_string(), serde_json::json!(compare_ms));
    metrics.insert(
        "buckets".to_string(),
        serde_json::json!(spec
            .entities
            .iter()
            .zip(&plan)
            .map(|(e, n)| (e.name.clone(), *n))
            .collect::<BTreeMap<_, _>>()),
    );
    let hash_micros: u64 = results
        .iter()
        .flat_map(|r| r.inputs.iter().map(|i| i.hash_micros))
        .sum();
    metrics.insert(
        "input_hash_ms".to_string(),
        serde_json::json!(hash_micros as f64 / 1000.0),
    );
    let summary = build_summary(
        &spec,
        &run_id,
        &results,
        started,
        finished,
        clock,
        exit,
        thresholds_hit,
        previous.as_deref(),
        report::BaselineInfo::of(&baseline),
        metrics,
    );
    let summary_json = summary_with_repairs(&summary, &results, &repairs)?;
    files::write_file(&folder.path().join("summary.json"), summary_json.as_bytes())?;
    tracing::debug!("summary written");
    let predicate = predicate(&spec, &summary, previous.as_deref())?;
    let state_digest = states.finish()?;
    tracing::debug!("state.parquet finished");
    evidence::seal_with(
        folder.path(),
        &run_id,
        predicate,
        &signing,
        &[(repair::state::STATE_FILE, state_digest)],
    )?;
    tracing::debug!("run folder sealed");
    let path = folder.commit()?;
    tracing::debug!("run folder committed");
    let mut by_action = BTreeMap::new();
    for r in &repairs {
        *by_action.entry(r.action.clone()).or_default() += 1;
    }
    // Freeing millions of instructions and findings, string by string,
    // took 0.3 s of a 10M-row run after its folder was committed: a thread
    // of their own does it (the CLI exits without waiting for it). Where no
    // thread can be started, the refused closure frees them here.
    drop(rows);
    let _ = std::thread::Builder::new()
        .name("recon-free".into())
        .spawn(move || drop((results, repairs)));
    Ok(RunOutcome {
        folder: path,
        summary,
        summary_json,
        exit,
        repairs: by_action,
    })
}

/// summary.json: the summary plus `repairs` (counts per entity, target and
/// action) and `changes` (rows inserted/updated/deleted per entity and side
/// since the previous run; null without a previous state).
fn summary_with_repairs(summary: &Summary, results: &[EntityResult], repairs: &[repair::Repair]) -> Result<String> {
    let internal = |e: serde_json::Error| Error::Internal(e.to_string());
    let changes: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|r| {
            let c = r
                .changes
                .as_ref()
                .map(|[l, rt]| serde_json::json!({ "left": l, "right": rt }));
            (r.name.clone(), c.unwrap_or(serde_json::Value::Null))
        })
        .collect();
    // Appended after the summary's own keys, keeping their order.
    let base = serde_json::to_string_pretty(summary).map_err(internal)?;
    let body = base.trim_end().strip_suffix('}').unwrap_or(&base).trim_end();
    let mut out = body.to_string();
    for (name, value) in [
        ("repairs", repair::counts(repairs)),
        ("changes", serde_json::Value::Object(changes)),
    ] {
        let pretty = serde_json::to_string_pretty(&value).map_err(internal)?;
        out.push_str(&format!(",\n  \"{name}\": {}", pretty.replace('\n', "\n  ")));
    }
    out.push_str("\n}\n");
    Ok(out)
}

/// What every stage of a run reads.
struct Env<'a> {
    spec: &'a Spec,
    display: &'a ReportDisplay<'a>,
    now: chrono::DateTime<chrono::Utc>,
    baseline: &'a crate::quality::Baseline,
    repair: &'a RepairCtx<'a>,
}

impl<'a> Env<'a> {
    /// What rules read, over the given prepared sides and keys.
    fn rules(
        &self,
        sides: &'a [[&'a PreparedSide; 2]],
        keys: &'a [[&'a SideKeys; 2]],
        buckets: Option<crate::quality::global::Buckets<'a>>,
    ) -> crate::quality::Context<'a> {
        crate::quality::Context {
            entities: &self.spec.entities,
            sides,
            keys,
            display: self.display,
            now: self.now,
            baseline: self.baseline,
            buckets,
        }
    }
}

/// Buckets per entity: forced by `--buckets`, else as many as the memory
/// budget and the largest bucket size need (1 everywhere: the run stays in
/// memory).
fn bucket_plan(spec: &Spec, opts: &RunOptions) -> Vec<usize> {
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

/// Every entity loaded and reconciled in memory at once.
fn in_memory(env: &Env<'_>, states: &mut repair::state::StateSink) -> Result<(Vec<EntityResult>, u128, u128)> {
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

/// Entities split into buckets by key and reconciled one bucket at a time;
/// the results are merged as if the whole entity had been in memory.
fn bucketed(
    env: &Env<'_>,
    plan: &[usize],
    work: &Path,
    previous: Option<&Path>,
    states: &mut repair::state::StateSink,
) -> Result<Vec<EntityResult>> {
    let spec = env.spec;
    let clock = Instant::now();
    let parts: Vec<std::sync::Arc<bucket::Partitioned>> = spec
        .entities
        .iter()
        .zip(plan)
        .map(|(e, &n)| bucket::partition(e, n, work, env.display).map(std::sync::Arc::new))
        .collect::<Result<_>>()?;
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "partitioned into buckets");
    let clock = Instant::now();
    let rows: Vec<[usize; 2]> = parts.iter().map(|p| [p.meta[0].rows, p.meta[1].rows]).collect();
    let load = |e: usize, b: usize, cols: &[String]| parts[e].load(b, Some(cols));
    let global = crate::quality::global::gather(&spec.entities, rows, plan, &load)?;
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
    for (e, entity) in spec.entities.iter().enumerate() {
        let merger = Merger::spawn(plan[e])?;
        let mut acc = crate::quality::metrics::EntityAcc::new();
        // The next bucket's spill is read on a thread of its own while this
        // bucket is reconciled, its metrics gathered and its state handed
        // over (the two cores were a quarter idle there). A run that fails
        // meanwhile leaves the reader to finish on its own: it only reads.
        let mut next: Option<std::thread::JoinHandle<Result<[Loaded; 2]>>> = None;
        for b in 0..plan[e] {
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
            if b + 1 < plan[e] {
                let part = std::sync::Arc::clone(&parts[e]);
                let reader = std::thread::Builder::new()
                    .name("recon-spill-reader".into())
                    .spawn(move || part.take(b + 1))
                    .map_err(|e| Error::Internal(format!("cannot start the spill reader: {e}")))?;
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
            states.send(&entity.name, std::mem::take(&mut r.state))?;
            tracing::debug!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket state handed over");
            merger.send(r, p)?;
            tracing::info!(entity = %entity.name, bucket = b, ms = clock.elapsed().as_millis() as u64, "bucket reconciled");
        }
        let Some(mut m) = merger.finish()? else { continue };
        let meta = &parts[e].meta;
        m.findings.splice(0..0, schema_findings(entity, meta));
        m.quality.fields = crate::quality::metrics::finish(entity, &acc, env.display);
        m.rows = [meta[0].rows, meta[1].rows];
        m.inputs = [&meta[0], &meta[1]].map(input_meta);
        results.push(m);
    }
    Ok(results)
}

/// Merges one entity's bucket results on a thread of its own, where each
/// bucket's typed cells are freed too: appending a bucket's findings and
/// repairs to the growing lists and freeing its cells had taken 0.15–0.6 s
/// of every 10M-row bucket on the main path. At most one bucket waits for
/// it (a slower merger holds the next bucket back instead of piling up
/// buckets' cells in memory).
struct Merger {
    tx: std::sync::mpsc::SyncSender<(EntityResult, PreparedEntity)>,
    thread: std::thread::JoinHandle<Option<EntityResult>>,
}

impl Merger {
    /// A merger of the results of `buckets` buckets.
    fn spawn(buckets: usize) -> Result<Merger> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(EntityResult, PreparedEntity)>(1);
        let thread = std::thread::Builder::new()
            .name("recon-merger".into())
            .spawn(move || {
                let mut merged: Option<EntityResult> = None;
                for (r, prepared) in rx {
                    drop(prepared);
                    match merged.as_mut() {
                        None => merged = Some(r.reserved(buckets)),
                        Some(m) => m.absorb(r),
                    }
                }
                merged
            })
            .map_err(|e| Error::Internal(format!("cannot start the merger: {e}")))?;
        Ok(Merger { tx, thread })
    }

    /// Hands over one bucket's result and its prepared entity (to be freed).
    fn send(&self, r: EntityResult, prepared: PreparedEntity) -> Result<()> {
        self.tx
            .send((r, prepared))
            .map_err(|_| Error::Internal("the merger stopped".into()))
    }

    /// The merged result (None when no bucket was sent).
    fn finish(self) -> Result<Option<EntityResult>> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| Error::Internal("the merger panicked".into()))
    }
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

impl EntityResult {
    /// The first bucket's result, its findings and repairs moved to lists
    /// with room for `buckets` buckets like it and a quarter more.
    /// Appended bucket by bucket to lists that grew by doubling, they were
    /// copied into fresh memory at every doubling (10M rows: a 190 MB list
    /// of repairs, 1.3 s of CPU spent mostly by the kernel zeroing new
    /// pages); room that is not used is never touched. Room the system
    /// refuses (an unusually large first bucket) is not taken: the lists
    /// then grow as they must.
    fn reserved(mut self, buckets: usize) -> EntityResult {
        fn with_room<T>(first: Vec<T>, buckets: usize) -> Vec<T> {
            let mut all = Vec::new();
            let room = first.len().saturating_mul(buckets).saturating_mul(5) / 4;
            if all.try_reserve_exact(room).is_err() {
                return first;
            }
            all.extend(first);
            all
        }
        self.findings = with_room(std::mem::take(&mut self.findings), buckets);
        self.repairs = with_room(std::mem::take(&mut self.repairs), buckets);
        self
    }

    /// Adds another bucket of the same entity.
    fn absorb(&mut self, mut o: EntityResult) {
        self.findings.append(&mut o.findings);
        self.repairs.append(&mut o.repairs);
        for (c, oc) in self.coverage.iter_mut().zip(&o.coverage) {
            c.absorb(oc);
        }
        self.matched += o.matched;
        self.drifted_keys += o.drifted_keys;
        for (rule, stats) in o.quality.rules {
            match self.quality.rules.get_mut(&rule) {
                Some(s) => s.absorb(stats),
                None => {
                    self.quality.rules.insert(rule, stats);
                }
            }
        }
        if let (Some(c), Some(oc)) = (self.changes.as_mut(), o.changes.as_ref()) {
            c[0].absorb(&oc[0]);
            c[1].absorb(&oc[1]);
        }
    }
}

fn input_meta(l: &Loaded) -> InputMeta {
    InputMeta {
        path: l.path.clone(),
        sha256: l.sha256.clone(),
        size: l.size,
        rows: l.rows,
        physical_types: l.physical_types.clone(),
        hash_micros: l.hash_micros,
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
fn prepare_loaded(entity: &Entity, loaded: [Loaded; 2], display: &dyn Display) -> PreparedEntity {
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

fn reconcile_entity(
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

fn schema_findings(entity: &Entity, loaded: &[Loaded; 2]) -> Vec<Finding> {
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

/// `schema/type_changed` for every declared column whose physical type differs
/// from the one the previous run's summary recorded for the same source.
fn type_changes(spec: &Spec, previous: &Path, results: &mut [EntityResult]) {
    let Ok(text) = std::fs::read_to_string(previous.join("summary.json")) else {
        return;
    };
    let Ok(prev) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let Some(inputs) = prev.get("inputs").and_then(|v| v.as_array()) else {
        return;
    };
    for r in results.iter_mut() {
        let Some(entity) = spec.entity(&r.name) else { continue };
        for side in Side::BOTH {
            let before = inputs
                .iter()
                .find(|i| i["entity"] == r.name.as_str() && i["side"] == side.as_str());
            let Some(before) = before.and_then(|i| i.get("columns")) else {
                continue;
            };
            for f in &entity.fields {
                let col = &f.columns[side.idx()];
                let (Some(old), Some(new)) = (
                    before.get(col).and_then(|v| v.as_str()),
                    r.inputs[side.idx()].physical_types.get(col),
                ) else {
                    continue;
                };
                if old != new {
                    r.findings.push(Finding {
                        entity: r.name.clone(),
                        category: Category::Schema,
                        kind: "type_changed".into(),
                        rule: f.name.clone(),
                        severity: entity.drift_severity("type_changed"),
                        side: side.as_str(),
                        key: "{}".into(),
                        field: Some(f.name.clone()),
                        left_value: None,
                        right_value: None,
                        detail: format!("column `{col}` changed type from {old} to {new} since the previous run"),
                    });
                }
            }
        }
    }
}

/// Exit 1 when a counted finding reaches `[fail] on`, or when an entity's
/// drift ratio exceeds `max_drift_ratio` (when set, drift is judged by ratio).
fn decide(spec: &Spec, results: &[EntityResult]) -> (ExitCode, Vec<String>) {
    let mut hit = Vec::new();
    let silent: BTreeSet<(&str, &str)> = spec
        .entities
        .iter()
        .flat_map(|e| {
            e.rules
                .iter()
                .filter(|r| !r.fail)
                .map(move |r| (e.name.as_str(), r.id.as_str()))
        })
        .collect();
    for r in results {
        let rows = r.rows[0].max(r.rows[1]).max(1) as f64;
        let ratio = r.drifted_keys as f64 / rows;
        let mut counted = BTreeMap::<String, usize>::new();
        for f in &r.findings {
            // `fail = false` silences that quality rule only (a drift finding's
            // `rule` is a field name, which a rule id may equal).
            let silenced = f.category == Category::Quality && silent.contains(&(f.entity.as_str(), f.rule.as_str()));
            if f.severity < spec.fail.on || silenced {
                continue;
            }
            if f.category == Category::Drift && spec.fail.max_drift_ratio.is_some() {
                continue;
            }
            *counted
                .entry(format!("{}.{}", f.category.as_str(), f.kind))
                .or_default() += 1;
        }
        for (kind, n) in counted {
            hit.push(format!(
                "{}: {n} {kind} finding(s) at or above severity {}",
                r.name,
                spec.fail.on.as_str()
            ));
        }
        if let Some(max) = spec.fail.max_drift_ratio {
            if ratio > max {
                hit.push(format!(
                    "{}: drift ratio {ratio:.6} exceeds max_drift_ratio {max}",
                    r.name
                ));
            }
        }
    }
    let code = if hit.is_empty() { ExitCode::Ok } else { ExitCode::Failed };
    (code, hit)
}

#[allow(clippy::too_many_arguments)]
fn build_summary(
    spec: &Spec,
    run_id: &str,
    results: &[EntityResult],
    started: chrono::DateTime<chrono::Utc>,
    finished: chrono::DateTime<chrono::Utc>,
    clock: Instant,
    exit: ExitCode,
    thresholds_hit: Vec<String>,
    previous: Option<&Path>,
    baseline: report::BaselineInfo,
    metrics: BTreeMap<String, serde_json::Value>,
) -> Summary {
    let mut totals = report::summary::Counts::default();
    let mut entities = BTreeMap::new();
    let mut inputs = Vec::new();
    let spec_dir = spec.path.parent().unwrap_or(Path::new(""));
    for r in results {
        let mut counts = report::summary::Counts::default();
        for f in &r.findings {
            counts.add(f);
            totals.add(f);
        }
        let rows = r.rows[0].max(r.rows[1]).max(1) as f64;
        entities.insert(
            r.name.clone(),
            EntitySummary {
                left: SideInfo {
                    rows: r.rows[0],
                    coverage: r.coverage[0].clone(),
                },
                right: SideInfo {
                    rows: r.rows[1],
                    coverage: r.coverage[1].clone(),
                },
                matched: r.matched,
                drifted_keys: r.drifted_keys,
                drift_ratio: r.drifted_keys as f64 / rows,
                counts,
                quality: r.quality.clone(),
            },
        );
        let entity = spec.entity(&r.name);
        for side in Side::BOTH {
            let m = &r.inputs[side.idx()];
            inputs.push(report::summary::InputFile {
                entity: r.name.clone(),
                side: side.as_str().into(),
                path: relative(&m.path, spec_dir),
                format: entity
                    .map(|e| e.sources[side.idx()].format.as_str().to_string())
                    .unwrap_or_default(),
                sha256: m.sha256.clone(),
                size: m.size,
                rows: m.rows,
                columns: m.physical_types.clone(),
            });
        }
    }
    let mut tool = BTreeMap::new();
    tool.insert("name".into(), "recon".into());
    tool.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    let mut spec_info = BTreeMap::new();
    spec_info.insert("name".into(), spec.name.clone());
    spec_info.insert(
        "file".into(),
        spec.path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
    );
    spec_info.insert("sha256".into(), spec.sha256.clone());
    // As given on the command line; `recon apply` reads the spec from here.
    spec_info.insert("path".into(), spec.path.to_string_lossy().to_string());
    let mut sides = BTreeMap::new();
    sides.insert("left".into(), spec.sides[0].clone());
    sides.insert("right".into(), spec.sides[1].clone());
    Summary {
        run_id: run_id.to_string(),
        tool,
        spec: spec_info,
        sides,
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        duration_ms: clock.elapsed().as_millis(),
        exit_code: exit.code(),
        status: if exit == ExitCode::Ok {
            "passed".into()
        } else {
            "failed".into()
        },
        thresholds_hit,
        previous_run: previous
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        baseline,
        totals,
        entities,
        inputs,
        metrics,
    }
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn predicate(spec: &Spec, s: &Summary, previous: Option<&Path>) -> Result<serde_json::Value> {
    let previous_manifest_sha256 = match previous {
        Some(p) => evidence::manifest_sha256(p)?,
        None => None,
    };
    let by_category: BTreeMap<&str, usize> = Category::ALL
        .iter()
        .map(|c| (c.as_str(), s.totals.by_category.get(c.as_str()).copied().unwrap_or(0)))
        .collect();
    Ok(serde_json::json!({
        "run_id": s.run_id,
        "tool": s.tool,
        "spec": { "name": spec.name, "file": s.spec.get("file"), "sha256": spec.sha256 },
        "inputs": s.inputs,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "exit_code": s.exit_code,
        "totals": { "findings": s.totals.total, "by_category": by_category },
        "previous_manifest_sha256": previous_manifest_sha256,
    }))
}
