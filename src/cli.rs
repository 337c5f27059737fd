//! Command-line types (clap derive) only; the commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::spec::RepairsFormat;

#[derive(Debug, Parser)]
#[command(
    name = "recon",
    version,
    about = "Audit-focused reconciliation of two systems' snapshots"
)]
pub struct Cli {
    /// Log format on stderr (logs are filtered by RUST_LOG, default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Never show progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile the sources of SPEC and write a signed run folder.
    Run(RunArgs),
    /// Validate SPEC and the columns of its sources; compare nothing.
    Check(CheckArgs),
    /// Verify the hashes and signatures of a run folder.
    Verify(VerifyArgs),
    /// Create an Ed25519 signing key and its minisign public key (recon.pub).
    Keygen(KeygenArgs),
    /// Generate the demo fixtures (or a larger pair) with their ground truth.
    Generate(GenerateArgs),
    /// Apply a run's repair instructions to a snapshot file of one target system.
    Apply(ApplyArgs),
    /// Write a run's repair instructions for one target system as a guarded SQL script (PostgreSQL or MySQL/MariaDB).
    Sql(SqlArgs),
    /// Render report.html for an existing run (older runs, more history), leaving the run untouched.
    Report(ReportArgs),
    /// Remove old runs from a reports folder, keeping its hash chain verifiable.
    Prune(PruneArgs),
    /// Merge the parts of a sharded run (`run --shard`) into one sealed run folder.
    Merge(MergeArgs),
    /// Propose a first spec for two sources from samples of their data.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The left system's export (a path or URL; CSV, Parquet or NDJSON).
    pub left: String,
    /// The right system's export.
    pub right: String,
    /// A key part: a column both sides name alike, or LEFT_COLUMN=RIGHT_COLUMN;
    /// repeat for a composite key (default: proposed from the data).
    #[arg(long)]
    pub key: Vec<String>,
    /// The entity's name (default: the left file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the spec here (refused if it exists); default: stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Rows read from each side.
    #[arg(long, default_value_t = crate::infer::DEFAULT_SAMPLE)]
    pub sample: usize,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports folder (a path or a bucket URL) the shards wrote their parts to; the run folder is OUT/RUN_ID.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// The run id every shard was given.
    #[arg(long)]
    pub run_id: String,
    /// The previous run folder, when the shards were given `--prev`.
    #[arg(long)]
    pub prev: Option<PathBuf>,
    /// Signing key (as for `run`).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// `json` prints summary.json to stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Repair files (as for `run`).
    #[arg(long, value_name = "FORMAT[,FORMAT]", value_parser = parse_repairs_format)]
    pub repairs_format: Option<RepairsFormat>,
    /// Where a bucket's parts are downloaded and the run is built before its upload (default: a temporary folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// How long to wait while another run holds OUT (as for `run`).
    #[arg(long, value_name = "DURATION", default_value = crate::report::DEFAULT_WAIT, value_parser = crate::report::parse_wait)]
    pub wait: std::time::Duration,
    /// Findings report.html shows per entity and kind (default 100).
    #[arg(long, value_name = "N")]
    pub report_findings: Option<usize>,
    /// Wait up to this long for every shard to finish (a merge Job started
    /// beside the shards, as on Kubernetes): e.g. 30m, 3h; 0 = merge now.
    #[arg(long = "await", value_name = "DURATION", default_value = "0", value_parser = crate::report::parse_wait)]
    pub await_shards: std::time::Duration,
}

/// `--shard I/N` or `auto/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardArg {
    /// None for `auto`.
    pub index: Option<usize>,
    pub count: usize,
}

/// A `--shard` that is not `I/N` or `auto/N` with `0 <= I < N`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not I/N or auto/N (0 <= I < N, e.g. 0/4)")]
pub struct InvalidShard(String);

fn parse_shard(text: &str) -> Result<ShardArg, InvalidShard> {
    let bad = || InvalidShard(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let count: usize = n.parse().map_err(|_| bad())?;
    if count == 0 || count > crate::bucket::MAX_BUCKETS {
        return Err(bad());
    }
    let index = match i {
        "auto" => None,
        i => Some(i.parse::<usize>().map_err(|_| bad())?).filter(|&i| i < count),
    };
    if i != "auto" && index.is_none() {
        return Err(bad());
    }
    Ok(ShardArg { index, count })
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("retention").required(true).args(["keep", "keep_days"])))]
pub struct PruneArgs {
    /// The reports folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the newest N runs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,
    /// Keep the runs started in the last D days (and always the newest).
    #[arg(long, value_name = "D")]
    pub keep_days: Option<u32>,
    /// Signing key for the checkpoint (as for `run`).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Verify the chain with these keys (after a key rotation; see `verify --trusted-keys`).
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// How long to wait for a run holding the folder's lock.
    #[arg(long, value_name = "DURATION", default_value = crate::report::DEFAULT_WAIT, value_parser = crate::report::parse_wait)]
    pub wait: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Earlier runs of the same reports folder the trends show.
    #[arg(long, default_value_t = crate::report::page::DEFAULT_HISTORY)]
    pub history: usize,
    /// Findings shown per entity and kind.
    #[arg(long, default_value_t = crate::report::page::DEFAULT_PER_KIND)]
    pub findings: usize,
    /// Where to write the page (default: RUN_ID.report.html in the current folder).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub spec: PathBuf,
    /// Reports folder; the run folder is OUT/RUN_ID.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Run id (default: UTC timestamp YYYYMMDDTHHMMSSZ).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Previous run folder (default: the newest earlier run in OUT).
    #[arg(long)]
    pub prev: Option<PathBuf>,
    /// Signing key (default: $RECON_SIGNING_KEY_FILE, else ~/.config/recon/recon.key).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// `json` prints summary.json to stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Repair files: `parquet` (repairs.parquet), `jsonl` (repairs.jsonl) or
    /// `both`, optionally `,csv` for repairs-<target>.csv per target system.
    /// Default: the spec's `[run] repairs_format`, else `parquet`.
    #[arg(long, value_name = "FORMAT[,FORMAT]", value_parser = parse_repairs_format)]
    pub repairs_format: Option<RepairsFormat>,
    /// Memory budget (e.g. 8GiB, 512M). An entity estimated above it is split
    /// by key hash into buckets spilled to disk and reconciled one bucket at
    /// a time, with the same findings. Default: half of the machine's memory.
    #[arg(long, value_parser = parse_memory_limit)]
    pub memory_limit: Option<u64>,
    /// Split every entity into exactly N buckets, whatever the budget (1: in memory).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub buckets: Option<u64>,
    /// Folder for the bucket spill files (default: OUT); removed when the run ends.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// How long to wait while another run holds OUT (its lock, OUT/.recon.lock)
    /// before giving up with exit 2: e.g. 30s, 10m, 1h; 0 = don't wait.
    #[arg(long, value_name = "DURATION", default_value = crate::report::DEFAULT_WAIT, value_parser = crate::report::parse_wait)]
    pub wait: std::time::Duration,
    #[command(flatten)]
    pub paths: PathArgs,
    /// Findings report.html shows per entity and kind (default 100).
    #[arg(long, value_name = "N")]
    pub report_findings: Option<usize>,
    /// Create a missing default signing key and token key (a first try;
    /// nightly jobs use keys made once by `recon keygen`). Also RECON_CREATE_KEYS=1.
    #[arg(long)]
    pub create_keys: bool,
    /// Run one shard of a run spread over machines: `I/N` (0-based), or
    /// `auto/N` to take I from --shard-index, JOB_COMPLETION_INDEX
    /// (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch).
    /// Needs --run-id; the shard writes its part under OUT/.shards/RUN_ID
    /// and `recon merge` seals the run.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, requires = "run_id")]
    pub shard: Option<ShardArg>,
    /// The shard index for `--shard auto/N`.
    #[arg(long, value_name = "I", requires = "shard")]
    pub shard_index: Option<usize>,
}

/// Values for `${NAME}` and `{date}` in source paths (see README.md,
/// "Where the data lives").
#[derive(Debug, Clone, Args)]
pub struct PathArgs {
    /// Sets `${NAME}` in source paths and storage settings (repeatable;
    /// taken before the environment variable of the same name).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// The business date `{date}` stands for (YYYY-MM-DD; default: today in
    /// the spec's `[run] timezone`).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
}

impl PathArgs {
    pub fn params(&self) -> Result<crate::spec::Params, crate::error::Error> {
        let params = crate::spec::Params {
            as_of: self.as_of,
            ..crate::spec::Params::default()
        };
        params
            .with_vars(&self.vars)
            .map_err(|m| crate::error::Error::usage(m.to_string(), None))
    }
}

/// `--as-of` that is not a date `YYYY-MM-DD` (the cause kept).
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a date YYYY-MM-DD: {source}")]
pub struct InvalidDate {
    text: String,
    source: chrono::ParseError,
}

fn parse_date(text: &str) -> Result<chrono::NaiveDate, InvalidDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|source| InvalidDate {
        text: text.to_string(),
        source,
    })
}

fn parse_memory_limit(text: &str) -> Result<u64, crate::bucket::SizeError> {
    crate::bucket::parse_size(text)
}

fn parse_repairs_format(text: &str) -> Result<RepairsFormat, crate::spec::UnknownRepairsFormat> {
    RepairsFormat::parse(text)
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A sealed run folder (its evidence must verify).
    pub run_dir: PathBuf,
    /// The system to change: left, right or a side's display name.
    #[arg(long)]
    pub target: String,
    /// Snapshot file of the target (CSV, Parquet or NDJSON, as in the spec).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the repaired snapshot (same format; written atomically).
    #[arg(long)]
    pub output: PathBuf,
    /// Trusted public key (default: the local key's recon.pub).
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
    /// The spec of the run (default: the path recorded in the run's summary.json).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Entity of the snapshot (default: the one whose source file has the input's name).
    #[arg(long)]
    pub entity: Option<String>,
    /// Where to write the JSON report of applied, already applied, skipped
    /// and review instructions (default: `<output>.apply.json`).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// A sealed run folder or its URL (its evidence must verify).
    pub run_dir: PathBuf,
    /// The system to change: left, right or a side's display name.
    #[arg(long)]
    pub target: String,
    /// The database the script is for.
    #[arg(long, value_enum)]
    pub dialect: SqlDialect,
    /// Only this entity's instructions (default: every entity with one for the target).
    #[arg(long)]
    pub entity: Option<String>,
    /// Where to write the script (written atomically; default: standard output),
    /// with its minisign signature beside it as FILE.minisig.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write --output without its signature (no signing key on this machine).
    #[arg(long, requires = "output")]
    pub unsigned: bool,
    /// Signing key for FILE.minisig (as for `run`).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Trusted public key (default: the local key's recon.pub).
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
    /// The spec of the run (default: the path recorded in the run's summary.json).
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlDialect {
    /// PostgreSQL (`psql -f`).
    Postgres,
    /// MySQL or MariaDB (`mysql <`).
    Mysql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    pub spec: PathBuf,
    /// `json` prints a report on stdout: per entity and side the source,
    /// the declared columns found and missing, and type problems.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub paths: PathArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    pub run_dir: PathBuf,
    /// Trusted public key (minisign format; default: the local key's recon.pub).
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
    /// Also verify every run folder beside RUN_DIR and the hash chain linking them.
    #[arg(long)]
    pub chain: bool,
    /// Trust these keys instead of one `--pubkey`: a TOML file of `[[key]]`
    /// tables (public_key, valid_from, valid_until), for chains that span a
    /// key rotation.
    #[arg(long, value_name = "FILE", conflicts_with = "pubkey")]
    pub trusted_keys: Option<PathBuf>,
    /// With --chain: the run id the newest run must have (detects a removed newest run).
    #[arg(long, value_name = "RUN_ID")]
    pub latest: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Secret key path (default: ~/.config/recon/recon.key); recon.pub is written beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder (gets callcenter/, crm/ and ground_truth.jsonl).
    #[arg(long, default_value = "fixtures")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Customers to generate (calls and tickets scale with it).
    #[arg(long, default_value_t = 60)]
    pub customers: usize,
    /// Instead of the demo: a benchmark pair with this many keys (Parquet, written in chunks).
    #[arg(long, conflicts_with = "wide")]
    pub large: Option<u64>,
    /// Instead of the demo: a pair with this many mapped columns (see --rows).
    #[arg(long)]
    pub wide: Option<usize>,
    /// Rows of the --wide pair.
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
}

#[cfg(test)]
mod clap_tests {
    /// clap's own consistency checks of every command and argument (in a
    /// debug binary they would panic at the first use of a broken command).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn a_shard_is_i_of_n_or_auto_of_n() {
        use super::{parse_shard, ShardArg};
        let ok = |text: &str| parse_shard(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            ok("0/4"),
            ShardArg {
                index: Some(0),
                count: 4
            }
        );
        assert_eq!(
            ok("3/4"),
            ShardArg {
                index: Some(3),
                count: 4
            }
        );
        assert_eq!(ok("auto/2"), ShardArg { index: None, count: 2 });
        assert_eq!(
            ok("0/1"),
            ShardArg {
                index: Some(0),
                count: 1
            }
        );
        for bad in [
            "4/4", "0/0", "auto/0", "1", "/4", "a/4", "1/b", "-1/4", "0/4097", "auto", "",
        ] {
            let err = parse_shard(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
