//! One reconciliation run, start to finish: load → prepare → compare and
//! check → findings → summary → sealed run folder.
//!
//! This is the library entry point the `run` command calls; it owns the
//! order of stages and the failure decision, not the stages themselves.
//! This file holds the run's types and its order of stages; `entity`
//! reconciles one entity, `bucketed` runs one bucket at a time, `merge`
//! joins bucket results and `summary` writes the summary and decides.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use crate::bucket;
use crate::compare::Coverage;
use crate::display::ReportDisplay;
use crate::error::{Error, Result};
use crate::evidence;
use crate::exit::ExitCode;
use crate::files;
use crate::finding::Finding;
use crate::keys::KeyRing;
use crate::prepare::{KeyIndex, PreparedSide, SideKeys};
use crate::repair;
use crate::report::{self, FindingRow, RunFolder, Summary};
use crate::source::Loaded;
use crate::spec::{self, Side, Spec};

mod bucketed;
mod entity;
mod merge;
pub mod part;
mod shard;
mod summary;

pub use part::Shard;
pub use shard::{execute_shard, merge_shards, MergeOptions, ShardOutcome};

use bucketed::{bucket_plan, bucketed};
use entity::in_memory;
use summary::{build_summary, decide, predicate, summary_with_repairs, type_changes};

pub struct RunOptions {
    pub spec: PathBuf,
    pub out: PathBuf,
    pub run_id: Option<String>,
    pub prev: Option<PathBuf>,
    pub keys: KeyRing,
    /// Which repair files to write (default: the spec's `[run] repairs_format`).
    pub repairs_format: Option<spec::RepairsFormat>,
    /// Memory budget in bytes; entities estimated above it are reconciled
    /// in buckets (default: half of the machine's memory).
    pub memory_limit: Option<u64>,
    /// Force this many buckets per entity (1: always in memory).
    pub buckets: Option<usize>,
    /// Where buckets are spilled (default: `out`).
    pub work_dir: Option<PathBuf>,
    /// How long to wait for another run's lock on `out`.
    pub wait: std::time::Duration,
    /// What `${NAME}` and `{date}` in the spec's paths stand for.
    pub params: spec::Params,
    /// Findings report.html shows per entity and kind (default 100).
    pub report_findings: Option<usize>,
}

pub struct RunOutcome {
    pub folder: PathBuf,
    pub summary: Summary,
    pub summary_json: String,
    pub exit: ExitCode,
    /// Repair instructions written, by action.
    pub repairs: BTreeMap<String, usize>,
    /// The files that hold them (`repairs.parquet`, `repairs.jsonl`).
    pub repairs_files: Vec<&'static str>,
    /// The spec's webhooks, told of the outcome once the folder is where it stays.
    pub webhooks: Vec<spec::Webhook>,
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
    /// Every file read (see `source::Loaded::files`).
    pub files: Vec<crate::source::InputFile>,
}

/// The token key id the run folder `run` recorded, if any.
fn previous_token_key(run: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("token_key_id")?.as_str().map(String::from)
}

pub fn default_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn execute(opts: &RunOptions) -> Result<RunOutcome> {
    let spec = spec::load_with(&opts.spec, &opts.params)?;
    // Held from choosing the previous run to committing this run's folder
    // (dropped on return): two runs must never link to the same previous one.
    let mut lock = report::HistoryLock::acquire(&opts.out, opts.wait)?;
    // After the wait: the default run id and the duration are the run's own.
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let repairs_format = opts.repairs_format.unwrap_or(spec.repairs_format);
    let run_id = opts.run_id.clone().unwrap_or_else(|| default_run_id(started));
    lock.record(&run_id, started);
    let signing = opts.keys.signing_key()?;
    if spec.entities.iter().any(|e| e.fields.iter().any(repair::sensitive)) {
        opts.keys.prepare_tokens()?;
    }
    let folder = RunFolder::create(&opts.out, &run_id)?;
    let history = History::choose(&opts.out, opts.prev.as_deref(), &opts.keys)?;
    let History {
        previous,
        baseline,
        token_key_id,
        token_key_changed,
    } = history;
    let display = ReportDisplay { keys: &opts.keys };
    let state_base = previous.as_deref().filter(|_| !token_key_changed);
    let plan = bucket_plan(&spec, opts);
    let in_memory_run = plan.iter().all(|&n| n == 1);
    // A bucketed run reads the previous state bucket by bucket (partitioned
    // like this run's buckets), never whole: at 10M rows the whole read
    // took 40 s and 9 GB for nothing.
    let previous_state = match state_base {
        Some(p) if in_memory_run => repair::state::read_state(p)?,
        _ => None,
    };
    let ctx = RepairCtx {
        previous: previous_state.as_ref(),
        previous_run: previous
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        keys: &opts.keys,
    };
    let env = Env {
        spec: &spec,
        display: &display,
        now: started,
        baseline: &baseline,
        repair: &ctx,
    };
    // Written in the background; finished before the folder is sealed.
    let queue = if in_memory_run { spec.entities.len() } else { 0 };
    let mut states = repair::state::StateSink::spawn(&folder.path().join(repair::state::STATE_FILE), queue)?;
    let (results, prepare_ms, compare_ms) = if in_memory_run {
        in_memory(&env, &mut states)?
    } else {
        let work = bucket::WorkDir::create(opts.work_dir.as_deref().unwrap_or(&opts.out), &run_id)?;
        let stage = Instant::now();
        let mut write_state = |e: usize, _b: usize, state| states.send(&spec.entities[e].name, state);
        let (mut results, accs) = bucketed(&env, &plan, &|_| true, work.path(), state_base, &mut write_state)?;
        for (r, acc) in results.iter_mut().zip(&accs) {
            if let Some(entity) = spec.entity(&r.name) {
                r.quality.fields = crate::quality::metrics::finish(entity, acc, &display);
            }
        }
        (results, 0, stage.elapsed().as_millis())
    };
    tracing::info!(compare_ms, "entities reconciled");
    let mut metrics = BTreeMap::new();
    metrics.insert("prepare_ms".to_string(), serde_json::json!(prepare_ms));
    metrics.insert("compare_ms".to_string(), serde_json::json!(compare_ms));
    let hash_micros: u64 = results
        .iter()
        .flat_map(|r| r.inputs.iter().map(|i| i.hash_micros))
        .sum();
    metrics.insert(
        "input_hash_ms".to_string(),
        serde_json::json!(hash_micros as f64 / 1000.0),
    );
    let sealing = Sealing {
        spec: &spec,
        out: &opts.out,
        run_id: &run_id,
        folder,
        previous,
        baseline: &baseline,
        signing: &signing,
        token_key_id,
        token_key_changed,
        plan: &plan,
        repairs_format,
        report_findings: opts.report_findings,
        started,
        clock,
        metrics,
    };
    conclude(sealing, results, || states.finish())
}

/// What a run chains to: the previous run (`--prev`, else the newest in
/// OUT), the baseline of row counts, and whether the token key changed
/// since the previous run.
struct History {
    previous: Option<PathBuf>,
    baseline: crate::quality::Baseline,
    token_key_id: Option<String>,
    token_key_changed: bool,
}

impl History {
    fn choose(out: &std::path::Path, prev: Option<&std::path::Path>, keys: &KeyRing) -> Result<History> {
        let history = report::previous_runs(out);
        let previous = match prev {
            Some(p) => Some(p.to_path_buf()),
            None => history.last().map(|r| r.path.clone()),
        };
        if let Some(p) = &previous {
            if !p.join("summary.json").exists() {
                return Err(Error::usage(
                    format!("--prev {} is not a run folder (no summary.json)", p.display()),
                    None,
                ));
            }
            // An unsealed folder (an upload that stopped) would break the chain
            // and lend its unverified state to change detection.
            if !p.join(evidence::MANIFEST).exists() {
                return Err(Error::usage(
                    format!(
                        "the previous run {} is not sealed (no {})",
                        p.display(),
                        evidence::MANIFEST
                    ),
                    Some(
                        "name a complete run with --prev; an upload that stopped leaves a run without its manifest"
                            .into(),
                    ),
                ));
            }
        }
        let baseline = report::choose_baseline(&history, prev)?;
        // A token key other than the previous run's makes every personal-data
        // hash differ: its state would read as changes on both sides (false
        // conflicts), so change detection restarts instead, loudly.
        let token_key_id = keys.token_key_id();
        let token_key_changed = match (&previous, &token_key_id) {
            (Some(p), Some(id)) => previous_token_key(p).is_some_and(|prev| prev != *id),
            _ => false,
        };
        Ok(History {
            previous,
            baseline,
            token_key_id,
            token_key_changed,
        })
    }
}

/// What writing and sealing a run folder needs besides the entity results.
struct Sealing<'a> {
    spec: &'a Spec,
    out: &'a std::path::Path,
    run_id: &'a str,
    folder: RunFolder,
    previous: Option<PathBuf>,
    baseline: &'a crate::quality::Baseline,
    signing: &'a evidence::SigningKey,
    token_key_id: Option<String>,
    token_key_changed: bool,
    plan: &'a [usize],
    repairs_format: spec::RepairsFormat,
    report_findings: Option<usize>,
    started: chrono::DateTime<chrono::Utc>,
    clock: Instant,
    /// Timings and counts for summary.json's `metrics` (the bucket plan is added).
    metrics: BTreeMap<String, serde_json::Value>,
}

/// The entity results written and sealed into the run folder: findings
/// identified, ordered and deduplicated, repairs, summary, report.html,
/// the manifest and signatures; `finish_state` completes state.parquet.
/// A single run and a merge of shards end here alike.
fn conclude(
    s: Sealing<'_>,
    mut results: Vec<EntityResult>,
    finish_state: impl FnOnce() -> Result<evidence::FileDigest>,
) -> Result<RunOutcome> {
    let Sealing {
        spec,
        out,
        run_id,
        folder,
        previous,
        baseline,
        signing,
        token_key_id,
        token_key_changed,
        plan,
        repairs_format,
        report_findings,
        started,
        clock,
        mut metrics,
    } = s;
    let run_id = run_id.to_string();
    if let Some(p) = &previous {
        type_changes(spec, p, &mut results);
    }
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
    // Ordered for reading (entity, category, kind, key, field, side), then
    // by id and content: a total order, so a run's findings come out the
    // same however its threads, buckets or shards made them.
    findings.par_sort_by(|(a, ia), (b, ib)| {
        (&a.entity, a.category, &a.kind, &a.key, &a.field, a.side, ia)
            .cmp(&(&b.entity, b.category, &b.kind, &b.key, &b.field, b.side, ib))
            .then_with(|| a.cmp(b))
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
    let (exit, thresholds_hit) = decide(spec, &results);
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
            repair::write(folder.path(), &repairs, repairs_format)?;
            Ok(repairs)
        },
    );
    reports?;
    let repairs = repairs?;
    tracing::info!(repairs = repairs.len(), "repair instructions written");
    if repairs_format.csv {
        repair::write_csv(folder.path(), spec, &repairs)?;
    }
    let finished = chrono::Utc::now();
    metrics.insert(
        "buckets".to_string(),
        serde_json::json!(spec
            .entities
            .iter()
            .zip(plan)
            .map(|(e, n)| (e.name.clone(), *n))
            .collect::<BTreeMap<_, _>>()),
    );
    let mut summary = build_summary(
        spec,
        &run_id,
        &results,
        started,
        finished,
        clock,
        exit,
        thresholds_hit,
        previous.as_deref(),
        report::BaselineInfo::of(baseline),
        metrics,
    );
    summary.token_key_id = token_key_id;
    summary.token_key_changed = token_key_changed;
    let summary_json = summary_with_repairs(&summary, &results, &repairs)?;
    files::write_file(&folder.path().join("summary.json"), summary_json.as_bytes())?;
    tracing::debug!("summary written");
    // report.html, before sealing: the manifest and signatures cover it.
    let page = {
        let summary_value: serde_json::Value =
            serde_json::from_str(&summary_json).map_err(|e| Error::json("reading back summary.json", e))?;
        let sample = report::page::sample_rows(&rows, report_findings.unwrap_or(report::page::DEFAULT_PER_KIND));
        let history = report::page::history(out, None, report::page::DEFAULT_HISTORY);
        let key_id = signing.key_id_hex();
        report::page::render(&report::page::Page {
            summary: &summary_value,
            findings: &sample,
            history: &history,
            key_id: Some(&key_id),
        })
    };
    files::write_file(&folder.path().join(report::page::FILE), page.as_bytes())?;
    tracing::debug!("report.html written");
    let predicate = predicate(spec, &summary, previous.as_deref())?;
    let state_digest = finish_state()?;
    tracing::debug!("state.parquet finished");
    evidence::seal_with(
        folder.path(),
        &run_id,
        predicate,
        signing,
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
        repairs_files: repair::table_files(repairs_format),
        webhooks: spec.webhooks.clone(),
    })
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
            clock: crate::quality::expr::Clock::new(self.now, self.spec.timezone),
            baseline: self.baseline,
            buckets,
        }
    }
}
