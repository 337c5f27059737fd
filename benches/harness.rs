//! Benchmark harness: recon's full default pipeline against a bare polars
//! baseline on the same generated pair.
//!
//! ```sh
//! cargo bench --bench harness -- --rows 1000000          # narrow pair (12 columns)
//! cargo bench --bench harness -- --wide 200 --rows 100000 # wide pair
//! cargo bench --bench harness -- --rows 10000000 --memory-limit 8GiB  # bucketed when above
//! cargo bench --bench harness -- --rows 100000000 --skip-baseline    # recon only
//! cargo bench --bench harness -- --rows 1000000 --s3  # also read from S3 (AWS_ENDPOINT: .ci/services)
//! cargo bench --bench harness -- --rows 1000000 --peers --runs 3  # against datacompy and polars-py
//! ```
//!
//! `--peers` also runs what a user would pick instead on the very same
//! files (benches/peers/: polars' Python lazy join and datacompy's polars
//! backend, in a venv `benches/peers/setup` makes under the data folder),
//! and `--runs N` repeats every phase N times, interleaved, reporting
//! medians. Without Python the peers are skipped, saying so.
//!
//! Each phase runs in a child process of this binary so that wall time and
//! peak RSS (VmHWM) are its own. The baseline reads both files, full-outer
//! joins them on the key and counts per-column inequalities, with no
//! normalization. Results are printed and written as JSON, with the size of
//! recon's run folder and each of its files next to the inputs' size (the
//! evidence a team keeps for years).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use polars::prelude::*;

/// The allocator the `recon` binary uses, for both phases.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    rows: u64,
    wide: Option<usize>,
    data: PathBuf,
    phase: Option<String>,
    /// Passed to recon as `--memory-limit` (default: recon's own default).
    memory_limit: Option<String>,
    /// Run recon only (the bare in-memory join does not fit at 100M rows).
    skip_baseline: bool,
    /// Also run recon on the same pair read from an S3 server (`AWS_ENDPOINT`).
    s3: bool,
    /// Also run the peers (datacompy, polars-py) on the same files.
    peers: bool,
    /// Rounds of every phase (medians reported).
    runs: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        rows: 1_000_000,
        wide: None,
        data: PathBuf::from("target/bench-data"),
        phase: None,
        memory_limit: None,
        skip_baseline: false,
        s3: false,
        peers: false,
        runs: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rows" => args.rows = it.next().and_then(|v| v.parse().ok()).unwrap_or(args.rows),
            "--wide" => args.wide = it.next().and_then(|v| v.parse().ok()),
            "--data" => args.data = it.next().map(PathBuf::from).unwrap_or(args.data),
            "--phase" => args.phase = it.next(),
            "--memory-limit" => args.memory_limit = it.next(),
            "--skip-baseline" => args.skip_baseline = true,
            "--s3" => args.s3 = true,
            "--peers" => args.peers = true,
            "--runs" => args.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn scan(path: &Path) -> PolarsResult<LazyFrame> {
    let p = path.to_str().unwrap_or_default();
    if p.ends_with(".csv") {
        LazyCsvReader::new(PlRefPath::from(p))
            .with_infer_schema_length(Some(0))
            .finish()
    } else {
        LazyFrame::scan_parquet(PlRefPath::from(p), ScanArgsParquet::default())
    }
}

fn baseline(dir: &Path, left: &str, right: &str) -> PolarsResult<u64> {
    let l = scan(&dir.join(left))?;
    let r = scan(&dir.join(right))?;
    let names: Vec<String> = l
        .clone()
        .collect_schema()?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let joined = l.join(
        r,
        [col("id")],
        [col("id")],
        JoinArgs::new(JoinType::Full).with_suffix(Some("_r".into())),
    );
    let diffs: Vec<Expr> = names
        .iter()
        .filter(|n| n.as_str() != "id")
        .map(|n| {
            col(n.as_str())
                .neq_missing(col(format!("{n}_r").as_str()))
                .sum()
                .alias(n.as_str())
        })
        .collect();
    let out = joined.select(diffs).collect()?;
    let mut total = 0u64;
    for c in out.columns() {
        total += c.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0);
    }
    Ok(total)
}

/// Runs recon; returns its exit code and the run folder's files with their
/// sizes in bytes, measured before the folder is removed.
fn recon_run(dir: &Path, spec: &str, memory_limit: Option<&str>) -> Result<(u8, Vec<(String, u64)>), String> {
    let memory_limit = memory_limit
        .map(recon::bucket::parse_size)
        .transpose()
        .map_err(|e| e.to_string())?;
    let work = dir.join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let key = work.join("keys/recon.key");
    recon::evidence::write_keypair(&key).map_err(|e| e.to_string())?;
    // The pairs have personal data (phone numbers): tokens need a token
    // key, made here like the signing key (this phase is its own process).
    let token_key = work.join("keys/token.key");
    recon::keys::write_token_key(&token_key).map_err(|e| e.to_string())?;
    std::env::set_var("RECON_TOKEN_KEY_FILE", &token_key);
    let opts = recon::run::RunOptions {
        spec: dir.join(spec),
        out: work.join("reports"),
        run_id: Some("bench".into()),
        prev: None,
        keys: recon::keys::KeyRing::new(Some(key)),
        repairs_format: None,
        memory_limit,
        buckets: None,
        work_dir: None,
        wait: std::time::Duration::ZERO,
        params: Default::default(),
        report_findings: None,
    };
    let outcome = recon::run::execute(&opts).map_err(|e| e.to_string())?;
    let code = outcome.exit.code();
    let parts = folder_files(&outcome.folder).map_err(|e| format!("{}: {e}", outcome.folder.display()))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok((code, parts))
}

/// Every file under `folder` (path relative to it, `/` separators) with its
/// size in bytes, largest first.
fn folder_files(folder: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    let mut dirs = vec![folder.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(folder).unwrap_or(&entry.path()).to_path_buf();
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((name, meta.len()));
            }
        }
    }
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(files)
}

/// `12.3 MB` (10^6 bytes), `4.5 kB` or `12 B`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

fn child(args: &Args, phase: &str) -> serde_json::Value {
    let (left, right, spec) = files(args);
    let start = Instant::now();
    let mut parts = Vec::new();
    let detail = match phase {
        "baseline" => baseline(&args.data, left, right)
            .map(|n| format!("{n} unequal cells"))
            .unwrap_or_else(|e| format!("error: {e}")),
        _ => match recon_run(
            &args.data,
            if phase == "recon-s3" { S3_SPEC } else { spec },
            args.memory_limit.as_deref(),
        ) {
            Ok((code, files)) => {
                parts = files;
                format!("exit {code}")
            }
            Err(e) => format!("error: {e}"),
        },
    };
    let wall_s = start.elapsed().as_secs_f64();
    let mut out =
        serde_json::json!({ "wall_s": wall_s, "peak_rss_mb": peak_rss_kb() as f64 / 1024.0, "detail": detail });
    if !parts.is_empty() {
        // An array keeps the files in their order, largest first.
        let parts: Vec<serde_json::Value> = parts.iter().map(|(f, b)| serde_json::json!([f, b])).collect();
        out["run_folder"] = parts.into();
    }
    out
}

/// The spec of the pair with its paths in the S3 bucket.
const S3_SPEC: &str = "spec-s3.toml";
const S3_BUCKET: &str = "recon-bench";

/// Puts the pair into the bucket `recon-bench` of the server at
/// `AWS_ENDPOINT` (created if missing) and writes [`S3_SPEC`] pointing at it.
fn stage_s3(args: &Args, label: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let endpoint = std::env::var("AWS_ENDPOINT")
        .map_err(|_| "--s3 needs AWS_ENDPOINT (run `.ci/services start` and source its env file)".to_string())?;
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = std::net::TcpStream::connect(&host).map_err(|e| format!("{host}: {e}"))?;
    write!(
        stream,
        "PUT /{S3_BUCKET} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let location = recon::storage::Location::parse(&format!("s3://{S3_BUCKET}")).map_err(|e| e.to_string())?;
    let store = recon::storage::Store::open(&location, &Default::default()).map_err(|e| e.to_string())?;
    let (left, right, spec) = files(args);
    let mut text = std::fs::read_to_string(args.data.join(spec)).map_err(|e| e.to_string())?;
    for name in [left, right] {
        let key = format!("{label}/{name}");
        let local = std::fs::metadata(args.data.join(name))
            .map_err(|e| e.to_string())?
            .len();
        if store.head(&key).map_err(|e| e.to_string())?.map(|o| o.size) != Some(local) {
            let bytes = std::fs::read(args.data.join(name)).map_err(|e| e.to_string())?;
            store.put(&key, bytes, false).map_err(|e| e.to_string())?;
        }
        text = text.replace(
            &format!("path = \"{name}\""),
            &format!("path = \"s3://{S3_BUCKET}/{key}\""),
        );
    }
    std::fs::write(args.data.join(S3_SPEC), text).map_err(|e| e.to_string())
}

/// The peers' python (benches/peers/setup's venv under the data root), or
/// why there is none.
fn peers_python(data_root: &Path) -> Result<PathBuf, String> {
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/setup");
    let out = Command::new(&setup)
        .arg(data_root)
        .output()
        .map_err(|e| format!("{}: {e}", setup.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            setup.display(),
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout.lines().last().unwrap_or_default().trim();
    match python.is_empty() {
        true => Err("the setup printed no python".into()),
        false => Ok(PathBuf::from(python)),
    }
}

/// One peer's run on the pair: its JSON line, with `wall_s` (timed in the
/// script, from the first read to the result, as recon's phase is timed
/// around its run), `process_wall_s` (imports included) and `peak_rss_mb`.
fn peer_run(python: &Path, data: &Path, spec: &str, peer: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/peers.py");
    let start = Instant::now();
    let out = Command::new(python)
        .arg(&script)
        .args(["--spec", spec, "--peer", peer])
        .current_dir(data)
        .output();
    let process_wall_s = start.elapsed().as_secs_f64();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => return serde_json::json!({ "error": String::from_utf8_lossy(&o.stderr).to_string() }),
        Err(e) => return serde_json::json!({ "error": e.to_string() }),
    };
    let line = String::from_utf8_lossy(&out.stdout);
    let mut v: serde_json::Value = line
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| serde_json::json!({ "error": format!("no JSON from {peer}: {line}") }));
    if let Some(o) = v.as_object_mut() {
        let rss_kb = o.get("peak_rss_kb").and_then(|k| k.as_f64()).unwrap_or(f64::NAN);
        o.insert("peak_rss_mb".into(), (rss_kb / 1024.0).into());
        o.insert("process_wall_s".into(), process_wall_s.into());
        o.remove("per_column");
    }
    v
}

/// The median of the finite `xs` (NaN when there is none).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.retain(|x| x.is_finite());
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn files(args: &Args) -> (&'static str, &'static str, &'static str) {
    match args.wide {
        Some(_) => ("left.csv", "right.parquet", "wide.toml"),
        None => ("left.parquet", "right.parquet", "large.toml"),
    }
}

fn main() {
    recon::alloc::keep_freed_memory();
    let mut args = parse_args();
    let label = match args.wide {
        Some(c) => format!("wide-{c}x{}", args.rows),
        None => format!("narrow-{}", args.rows),
    };
    if args.phase.is_none() {
        args.data = args.data.join(&label);
    }
    if let Some(phase) = args.phase.clone() {
        println!("{}", child(&args, &phase));
        return;
    }
    let (_, _, spec) = files(&args);
    if !args.data.join(spec).exists() {
        eprintln!("generating {label} into {} ...", args.data.display());
        let made = match args.wide {
            Some(cols) => recon::generate::wide(&args.data, args.rows as usize, cols, 1).map(|_| ()),
            None => recon::generate::large(&args.data, args.rows, 1),
        };
        if let Err(e) = made {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
    let exe = std::env::current_exe().expect("current exe");
    let data_root = args
        .data
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| args.data.clone());
    let python = match args.peers {
        false => None,
        true => match peers_python(&data_root) {
            Ok(p) => Some(p),
            Err(why) => {
                eprintln!("peers: skipped ({why}); the other phases run");
                None
            }
        },
    };
    // Every round's result of each phase; the report takes the medians.
    let mut rounds: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    let mut phases: Vec<&str> = if args.skip_baseline {
        vec!["recon"]
    } else {
        vec!["baseline", "recon"]
    };
    if args.s3 {
        if let Err(e) = stage_s3(&args, &label) {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        phases.push("recon-s3");
    }
    for round in 0..args.runs {
        if args.runs > 1 {
            eprintln!("round {} of {}", round + 1, args.runs);
        }
        for &phase in &phases {
            let out = Command::new(&exe)
                .args([
                    "--phase",
                    phase,
                    "--rows",
                    &args.rows.to_string(),
                    "--data",
                    args.data.to_str().unwrap_or("."),
                ])
                .args(
                    args.wide
                        .map(|w| vec!["--wide".to_string(), w.to_string()])
                        .unwrap_or_default(),
                )
                .args(
                    args.memory_limit
                        .iter()
                        .flat_map(|m| ["--memory-limit".to_string(), m.clone()]),
                )
                .args(args.s3.then_some("--s3"))
                .output()
                .expect("run phase");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| serde_json::json!({ "error": String::from_utf8_lossy(&out.stderr).to_string() }));
            // A phase that failed has no time worth reporting.
            let failed = v.get("error").map(|e| e.to_string()).or_else(|| {
                v.get("detail")
                    .and_then(|d| d.as_str())
                    .filter(|d| d.starts_with("error"))
                    .map(str::to_string)
            });
            if let Some(why) = failed {
                eprintln!("error: phase {phase} failed: {why}");
                std::process::exit(2);
            }
            rounds.entry(phase.to_string()).or_default().push(v);
        }
        if let Some(python) = &python {
            for peer in ["polars", "datacompy"] {
                let v = peer_run(python, &args.data, spec, peer);
                rounds.entry(format!("peer-{peer}")).or_default().push(v);
            }
        }
    }
    // Each phase: its last round, with the medians of every round's wall
    // time and peak RSS.
    let mut results = serde_json::Map::new();
    for (phase, all) in rounds {
        let walls: Vec<f64> = all.iter().map(|r| r["wall_s"].as_f64().unwrap_or(f64::NAN)).collect();
        let rsss: Vec<f64> = all
            .iter()
            .map(|r| r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN))
            .collect();
        let mut last = all.last().cloned().unwrap_or_default();
        if let Some(o) = last.as_object_mut() {
            o.insert("wall_s".into(), median(walls.clone()).into());
            o.insert("peak_rss_mb".into(), median(rsss).into());
            o.insert("walls_s".into(), walls.into());
        }
        results.insert(phase, last);
    }
    // The run folder's files, largest first, next to the inputs' size.
    let parts: Vec<(String, u64)> = results
        .get_mut("recon")
        .and_then(|r| r.as_object_mut())
        .and_then(|r| r.remove("run_folder"))
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let (left, right, _) = files(&args);
    let inputs_bytes: u64 = [left, right]
        .iter()
        .map(|f| std::fs::metadata(args.data.join(f)).map_or(0, |m| m.len()))
        .sum();
    let run_folder_bytes: u64 = parts.iter().map(|(_, b)| b).sum();
    let run_folder_ratio = run_folder_bytes as f64 / inputs_bytes as f64;
    let wall = |p: &str| results.get(p).and_then(|r| r["wall_s"].as_f64()).unwrap_or(f64::NAN);
    let rss = |p: &str| {
        results
            .get(p)
            .and_then(|r| r["peak_rss_mb"].as_f64())
            .unwrap_or(f64::NAN)
    };
    let report = serde_json::json!({
        "pair": label,
        "rows_per_side": args.rows,
        "baseline": results.get("baseline"),
        "recon": results["recon"],
        "recon_rows_per_s": args.rows as f64 / wall("recon"),
        "wall_ratio": wall("recon") / wall("baseline"),
        "rss_ratio": rss("recon") / rss("baseline"),
        "recon_s3": results.get("recon-s3").map(|r| {
            let mut r = r.clone();
            if let Some(o) = r.as_object_mut() {
                o.remove("run_folder");
            }
            r
        }),
        "s3_wall_ratio": wall("recon-s3") / wall("recon"),
        "runs": args.runs,
        "polars_py": results.get("peer-polars"),
        "datacompy": results.get("peer-datacompy"),
        "recon_vs_datacompy_wall": wall("recon") / wall("peer-datacompy"),
        "recon_vs_polars_py_wall": wall("recon") / wall("peer-polars"),
        "recon_vs_datacompy_rss": rss("recon") / rss("peer-datacompy"),
        "inputs_bytes": inputs_bytes,
        "run_folder_bytes": run_folder_bytes,
        "run_folder_ratio": run_folder_ratio,
        "parts": parts.iter().map(|(f, b)| (f.clone(), (*b).into())).collect::<serde_json::Map<_, _>>(),
    });
    println!(
        "{label}: baseline {:.2} s / {:.0} MB, recon {:.2} s / {:.0} MB ({:.0} rows/s), ratio wall {:.2}x, rss {:.2}x",
        wall("baseline"),
        rss("baseline"),
        wall("recon"),
        rss("recon"),
        args.rows as f64 / wall("recon"),
        wall("recon") / wall("baseline"),
        rss("recon") / rss("baseline"),
    );
    if python.is_some() {
        println!(
            "{label}: polars-py {:.2} s / {:.0} MB, datacompy {:.2} s / {:.0} MB; recon/datacompy wall {:.2}x, rss {:.2}x; recon/polars-py wall {:.2}x (medians of {})",
            wall("peer-polars"),
            rss("peer-polars"),
            wall("peer-datacompy"),
            rss("peer-datacompy"),
            wall("recon") / wall("peer-datacompy"),
            rss("recon") / rss("peer-datacompy"),
            wall("recon") / wall("peer-polars"),
            args.runs,
        );
    }
    if args.s3 {
        println!(
            "{label}: recon reading from S3 {:.2} s / {:.0} MB = {:.2}x the local read",
            wall("recon-s3"),
            rss("recon-s3"),
            wall("recon-s3") / wall("recon")
        );
    }
    if !parts.is_empty() {
        let list: Vec<String> = parts.iter().map(|(f, b)| format!("{f} {}", size(*b))).collect();
        println!(
            "run folder {} = {run_folder_ratio:.2}x inputs of {} ({})",
            size(run_folder_bytes),
            size(inputs_bytes),
            list.join(", ")
        );
    }
    let path = args.data.join("bench-results.json");
    let _ = std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default());
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
}
