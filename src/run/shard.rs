//! A run split into shards: each shard reconciles its share of the buckets
//! and writes a part ([`super::part`]); the merge checks the parts belong
//! together and seals one run folder, the one a single machine would have
//! written with the same buckets.
//!
//! Every shard reads every input and splits it into the run's buckets
//! (bucket `b` is shard `b % N`'s), so rules that need a whole side
//! (`unique` beyond the key, `references`, `fresh`, `row_count`) gather
//! their facts over all buckets exactly as a bucketed single run does; the
//! shard then reconciles only its own buckets. Column metrics travel as
//! mergeable accumulators, change state as one file per bucket, whose rows
//! the merge copies in bucket order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use super::bucketed::{bucket_plan, bucketed};
use super::part::{self, Part, PartEntity, PartInput, PartSpec, Shard};
use super::*;

/// What a shard wrote.
pub struct ShardOutcome {
    pub part: PathBuf,
    pub done: part::Done,
    /// Buckets per entity, the shard's own among them.
    pub buckets: Vec<usize>,
    pub own_buckets: usize,
}

/// The instant `fresh` and `age(...)` measure from, the same on every
/// shard: the run id when it is a time (`20261207T020000Z`, or Airflow's
/// `20261207T020000` read as UTC), else the start of `--as-of` in the run's
/// time zone. A spec without such rules needs neither (None).
fn shard_clock(spec: &Spec, run_id: &str, params: &spec::Params) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    if !spec.uses_clock() {
        return Ok(None);
    }
    if let Some(t) = run_id_time(run_id) {
        return Ok(Some(t));
    }
    if let Some(day) = params.as_of {
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        if let Some(t) = midnight.and_local_timezone(spec.timezone).earliest() {
            return Ok(Some(t.with_timezone(&chrono::Utc)));
        }
    }
    Err(Error::usage(
        format!(
            "the spec's `fresh` or `age(...)` rules measure from the run's start, which the shards of run {run_id} must share"
        ),
        Some("give the run id as its start time (--run-id 20261207T020000Z) or the business date (--as-of 2026-12-07) to every shard".into()),
    ))
}

/// The time a run id names, if it is one (UTC).
pub(crate) fn run_id_time(run_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::NaiveDateTime;
    let naive = run_id.strip_suffix('Z').unwrap_or(run_id);
    NaiveDateTime::parse_from_str(naive, "%Y%m%dT%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Reconciles shard `shard` of the run `opts.run_id` and writes its part
/// into `part_dir` (replacing an earlier attempt's).
pub fn execute_shard(opts: &RunOptions, shard: Shard, part_dir: &Path) -> Result<ShardOutcome> {
    if shard.count == 0 || shard.index >= shard.count {
        return Err(Error::usage(
            format!(
                "--shard {}/{}: the index runs from 0 to the count less one",
                shard.index, shard.count
            ),
            None,
        ));
    }
    let spec_text = std::fs::read(&opts.spec).map_err(|e| Error::io(&opts.spec, e))?;
    let spec = spec::load_with(&opts.spec, &opts.params)?;
    let Some(run_id) = opts.run_id.clone() else {
        return Err(Error::usage(
            "--shard needs --run-id: every shard of one run, and its merge, name the same run",
            Some("a Kubernetes Indexed Job can pass its job name, Airflow its {{ ts_nodash }}".into()),
        ));
    };
    report::validate_run_id(&run_id)?;
    let started = chrono::Utc::now();
    let clock = shard_clock(&spec, &run_id, &opts.params)?;
    if spec.entities.iter().any(|e| e.fields.iter().any(repair::sensitive)) {
        opts.keys.prepare_tokens()?;
    }
    let History {
        previous,
        baseline,
        token_key_id,
        token_key_changed,
    } = History::choose(&opts.out, opts.prev.as_deref(), &opts.keys)?;
    let display = ReportDisplay { keys: &opts.keys };
    let state_base = previous.as_deref().filter(|_| !token_key_changed);
    // The same plan on every shard: --buckets as given, else N times what
    // this machine's budget needs (each shard then holds a bucket at a time).
    let plan: Vec<usize> = match opts.buckets {
        Some(k) => vec![k.clamp(1, bucket::MAX_BUCKETS); spec.entities.len()],
        None => bucket_plan(&spec, opts)
            .iter()
            .map(|&n| (n * shard.count).min(bucket::MAX_BUCKETS))
            .collect(),
    };
    part::clear(part_dir)?;
    let work = bucket::WorkDir::create(
        opts.work_dir.as_deref().unwrap_or(&opts.out),
        &format!("{run_id}-shard{}", shard.index),
    )?;
    let ctx = RepairCtx {
        previous: None,
        previous_run: previous
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string()),
        keys: &opts.keys,
    };
    let env = Env {
        spec: &spec,
        display: &display,
        now: clock.unwrap_or(started),
        baseline: &baseline,
        repair: &ctx,
    };
    let mut write_state = |e: usize, b: usize, state: repair::state::EntityState| -> Result<()> {
        if state.is_empty() {
            return Ok(());
        }
        let mut w = repair::state::StateWriter::create(&part_dir.join(part::state_file(e, b)))?;
        w.append(&spec.entities[e].name, &state)?;
        w.finish()?;
        Ok(())
    };
    let stage = Instant::now();
    let (results, accs) = bucketed(
        &env,
        &plan,
        &|b| shard.owns(b),
        work.path(),
        state_base,
        &mut write_state,
    )?;
    tracing::info!(
        ms = stage.elapsed().as_millis() as u64,
        shard = shard.index,
        "shard reconciled"
    );
    let mut inputs = Vec::new();
    let mut entities = Vec::new();
    for (mut r, acc) in results.into_iter().zip(accs) {
        // In a total order: a retried shard writes the same part.
        r.findings.par_sort_unstable();
        inputs.push((r.name.clone(), [r.inputs[0].sha256.clone(), r.inputs[1].sha256.clone()]));
        entities.push(PartEntity {
            findings: r.findings,
            coverage: r.coverage,
            matched: r.matched,
            drifted_keys: r.drifted_keys,
            rows: r.rows,
            inputs: r.inputs.map(|m| PartInput {
                path: m.path,
                sha256: m.sha256,
                size: m.size,
                rows: m.rows,
                physical_types: m.physical_types,
                files: m.files,
            }),
            rules: r.quality.rules,
            repairs: r.repairs,
            changes: r.changes,
            metrics: acc,
            name: r.name,
        });
    }
    let part = Part {
        format: part::PART_FORMAT,
        run_id: run_id.clone(),
        shard: shard.index,
        shards: shard.count,
        spec: PartSpec {
            path: opts.spec.to_string_lossy().to_string(),
            sha256: spec.sha256.clone(),
            text: String::from_utf8_lossy(&spec_text).to_string(),
        },
        buckets: plan.clone(),
        inputs,
        clock: clock.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        previous_run: ctx.previous_run.clone(),
        baseline_run: baseline.run_id.clone(),
        token_key_id,
        token_key_changed,
        entities,
    };
    let done = part::write(part_dir, &part, started)?;
    let own_buckets = plan.iter().map(|&n| (0..n).filter(|&b| shard.owns(b)).count()).sum();
    Ok(ShardOutcome {
        part: part_dir.to_path_buf(),
        done,
        buckets: plan,
        own_buckets,
    })
}

pub struct MergeOptions {
    /// Reports folder: the merged run is OUT/RUN_ID.
    pub out: PathBuf,
    pub run_id: String,
    /// Where the parts are (default `OUT/.shards/RUN_ID`).
    pub parts: Option<PathBuf>,
    /// The previous run the shards chained to, when they were given `--prev`.
    pub prev: Option<PathBuf>,
    pub keys: KeyRing,
    pub repairs_format: Option<spec::RepairsFormat>,
    pub wait: std::time::Duration,
    pub report_findings: Option<usize>,
}

/// Checks the parts of run `opts.run_id`, merges them and seals one run
/// folder in OUT (create-only); removes the parts when it is committed.
pub fn merge_shards(opts: &MergeOptions) -> Result<RunOutcome> {
    let root = opts
        .parts
        .clone()
        .unwrap_or_else(|| opts.out.join(part::SHARDS_DIR).join(&opts.run_id));
    report::validate_run_id(&opts.run_id)?;
    if opts.out.join(&opts.run_id).exists() {
        return Err(Error::usage(
            format!("run {} already exists", opts.out.join(&opts.run_id).display()),
            Some("a run is merged once; existing runs are evidence and are never overwritten".into()),
        ));
    }
    let clock = Instant::now();
    let marked = part::read_markers(&root, &opts.run_id)?;
    // The state: every bucket's file, in entity and bucket order, its row
    // groups copied page for page on a thread of its own from now on,
    // while the parts are parsed, checked, added up and written; moved
    // into the run folder before it is sealed.
    let mut state_parts: Vec<(usize, usize, PathBuf)> = marked.iter().flat_map(|m| m.state_files()).collect();
    state_parts.sort();
    let partial = root.join(".state.parquet.partial");
    let mut writer = repair::state::StateWriter::create(&partial)?;
    let state = Background::spawn("recon-state", move || {
        for (_, _, path) in &state_parts {
            writer.append_file(path)?;
        }
        writer.finish()
    })?;
    let parts = part::parse_all(marked, &opts.run_id)?;
    tracing::debug!(
        ms = clock.elapsed().as_millis() as u64,
        parts = parts.len(),
        "parts read and checked"
    );
    let first = &parts[0].part;
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, first.spec.text.as_bytes()));
    if digest != first.spec.sha256 {
        return Err(Error::input(
            &parts[0].dir.join(part::PART_FILE),
            "the spec it carries does not hash to the spec's recorded SHA-256",
        ));
    }
    // The spec as the shards read it; its sources are not read again.
    let lenient = spec::Params {
        strict: false,
        ..spec::Params::default()
    };
    let spec = spec::parse_with(
        Path::new(&first.spec.path),
        &first.spec.text,
        first.spec.sha256.clone(),
        &lenient,
    )?;
    let mut lock = report::HistoryLock::acquire(&opts.out, opts.wait)?;
    let started = parts
        .iter()
        .filter_map(|p| chrono::DateTime::parse_from_rfc3339(&p.done.started_at).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .min()
        .unwrap_or_else(chrono::Utc::now);
    lock.record(&opts.run_id, chrono::Utc::now());
    let signing = opts.keys.signing_key()?;
    if spec.entities.iter().any(|e| e.fields.iter().any(repair::sensitive)) {
        opts.keys.prepare_tokens()?;
    }
    let history = History::choose(&opts.out, opts.prev.as_deref(), &opts.keys)?;
    let previous_run = history
        .previous
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_string());
    if previous_run != first.previous_run || history.baseline.run_id != first.baseline_run {
        return Err(Error::usage(
            format!(
                "the shards of run {} chained to run {} (baseline {}), but in {} that is now run {} (baseline {})",
                opts.run_id,
                first.previous_run.as_deref().unwrap_or("none"),
                first.baseline_run.as_deref().unwrap_or("none"),
                opts.out.display(),
                previous_run.as_deref().unwrap_or("none"),
                history.baseline.run_id.as_deref().unwrap_or("none"),
            ),
            Some("another run was sealed meanwhile: rerun the shards, then merge".into()),
        ));
    }
    if history.token_key_id != first.token_key_id {
        return Err(Error::usage(
            format!(
                "the shards of run {} used token key {}, this merge has {}",
                opts.run_id,
                first.token_key_id.as_deref().unwrap_or("none"),
                history.token_key_id.as_deref().unwrap_or("none")
            ),
            Some("give the merge the shards' token key (RECON_TOKEN_KEY_FILE)".into()),
        ));
    }
    let folder = RunFolder::create(&opts.out, &opts.run_id)?;
    let display = ReportDisplay { keys: &opts.keys };
    let plan = first.buckets.clone();
    let count = first.shards;
    let token_key_changed = first.token_key_changed;
    let state_file = folder.path().join(repair::state::STATE_FILE);
    let finish_state = move || {
        let digest = state.join()?;
        std::fs::rename(&partial, &state_file).map_err(|e| Error::io(&state_file, e))?;
        Ok(digest)
    };
    let mut seconds = Vec::new();
    let mut by_entity: BTreeMap<String, (EntityResult, crate::quality::metrics::EntityAcc)> = BTreeMap::new();
    for p in parts {
        seconds.push(p.done.seconds);
        for pe in p.part.entities {
            let (r, acc) = entity_result(pe);
            match by_entity.get_mut(&r.name) {
                None => {
                    by_entity.insert(r.name.clone(), (r, acc));
                }
                Some((m, macc)) => {
                    m.absorb(r);
                    crate::quality::metrics::merge_acc(macc, acc);
                }
            }
        }
    }
    tracing::debug!(ms = clock.elapsed().as_millis() as u64, "parts added up");
    let mut results = Vec::new();
    for entity in &spec.entities {
        let Some((mut r, acc)) = by_entity.remove(&entity.name) else {
            continue;
        };
        r.quality.fields = crate::quality::metrics::finish(entity, &acc, &display);
        results.push(r);
    }
    let mut metrics = BTreeMap::new();
    metrics.insert(
        "shards".to_string(),
        serde_json::json!({ "count": count, "seconds": seconds }),
    );
    metrics.insert("merge_ms".to_string(), serde_json::json!(clock.elapsed().as_millis()));
    let sealing = Sealing {
        spec: &spec,
        out: &opts.out,
        run_id: &opts.run_id,
        folder,
        previous: history.previous,
        baseline: &history.baseline,
        signing: &signing,
        token_key_id: history.token_key_id,
        token_key_changed,
        plan: &plan,
        repairs_format: opts.repairs_format.unwrap_or(spec.repairs_format),
        report_findings: opts.report_findings,
        started,
        clock,
        metrics,
    };
    let outcome = conclude(sealing, results, finish_state)?;
    // The run is sealed and committed: its parts are spent.
    if opts.parts.is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(outcome)
}

/// Work on a thread of its own whose result is waited for; dropped
/// unwaited (the merge failed meanwhile), it is still waited for, so that
/// nothing writes on after the merge returned.
struct Background<T: Send + 'static>(Option<std::thread::JoinHandle<Result<T>>>);

impl<T: Send + 'static> Background<T> {
    fn spawn(name: &'static str, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<Background<T>> {
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(work)
            .map_err(|e| Error::thread(name, e))?;
        Ok(Background(Some(handle)))
    }

    fn join(mut self) -> Result<T> {
        match self.0.take().map(|h| h.join()) {
            Some(Ok(result)) => result,
            _ => Err(Error::Internal("a background writer panicked".into())),
        }
    }
}

impl<T: Send + 'static> Drop for Background<T> {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// A part's entity as the merge adds it up.
fn entity_result(pe: PartEntity) -> (EntityResult, crate::quality::metrics::EntityAcc) {
    let result = EntityResult {
        name: pe.name,
        findings: pe.findings,
        coverage: pe.coverage,
        matched: pe.matched,
        drifted_keys: pe.drifted_keys,
        rows: pe.rows,
        inputs: pe.inputs.map(|i| InputMeta {
            path: i.path,
            sha256: i.sha256,
            size: i.size,
            rows: i.rows,
            physical_types: i.physical_types,
            hash_micros: 0,
            files: i.files,
        }),
        quality: crate::quality::QualitySummary {
            fields: BTreeMap::new(),
            rules: pe.rules,
        },
        repairs: pe.repairs,
        state: repair::state::EntityState::default(),
        changes: pe.changes,
    };
    (result, pe.metrics)
}

#[cfg(test)]
mod tests {
    use super::run_id_time;

    #[test]
    fn a_run_id_that_is_a_time_gives_the_shards_their_clock() {
        let t = |s: &str| run_id_time(s).map(|t| t.to_rfc3339());
        assert_eq!(t("20261207T020000Z").as_deref(), Some("2026-12-07T02:00:00+00:00"));
        // Airflow's {{ ts_nodash }}, read as UTC.
        assert_eq!(t("20261207T020000").as_deref(), Some("2026-12-07T02:00:00+00:00"));
        for not in [
            "nightly-7",
            "20261307T020000Z",
            "20261207",
            "20261207T0200Z",
            "recon-nightly-29012345",
            "",
        ] {
            assert_eq!(t(not), None, "{not}");
        }
    }
}
