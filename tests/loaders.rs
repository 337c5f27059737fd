//! Property test of the loaders: random values of every type, with nulls
//! and empty texts, written through each loader (CSV UTF-8, CSV GBK,
//! Parquet, NDJSON) on either side. Identical data gives no finding at all;
//! data with one value changed in some rows gives exactly one
//! `value_mismatch` per changed row, on exactly that field and key.
//!
//! Every row is one case (its key is the case number), so one run checks
//! hundreds of cases; a failure names the seed and the loaders, and
//! `RECON_PROPTEST_SEED=<seed>` reruns just that seed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;
use recon::generate::Expected;

use crate::util::*;

/// Rows (cases) per run.
const ROWS: usize = 400;

/// splitmix64: small, seedable, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add((self.next() % span) as i64)
    }
}

/// The declared types, one field each.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Str,
    Int,
    Dec,
    Bool,
    Date,
    /// Naive timestamps stored at a unit: nanoseconds per tick.
    Naive(i64),
    /// Zoned timestamps (an offset in text, a UTC column in Parquet).
    Zoned(i64),
    Phone,
}

const FIELDS: &[(&str, Kind)] = &[
    ("s", Kind::Str),
    ("i", Kind::Int),
    ("d", Kind::Dec),
    ("b", Kind::Bool),
    ("dt", Kind::Date),
    ("t_s", Kind::Naive(1_000_000_000)),
    ("t_ms", Kind::Naive(1_000_000)),
    ("t_us", Kind::Naive(1_000)),
    ("t_ns", Kind::Naive(1)),
    ("z_us", Kind::Zoned(1_000)),
    ("z_ns", Kind::Zoned(1)),
    ("ph", Kind::Phone),
];

/// One typed value.
#[derive(Clone, PartialEq, Debug)]
enum V {
    Null,
    Str(String),
    Int(i64),
    /// Units at scale 4.
    Dec(i128),
    Bool(bool),
    Date(i32),
    /// Ticks of the field's unit since the epoch.
    Ts(i64),
    /// A CN mobile's 11 digits.
    Phone(String),
}

const DEC_SCALE: u32 = 4;
const DEC_MAX: i128 = 10i128.pow(38) - 1;
/// 0001-01-01 and 9999-12-31 in days since 1970-01-01.
const FIRST_DAY: i64 = -719_162;
const LAST_DAY: i64 = 2_932_896;

fn random_text(rng: &mut Rng) -> String {
    const POOL: &[&str] = &[
        "a", "Z", "7", " ", ",", "\"", "中", "文", "é", "-", "\n", "NULL", ";", "'",
    ];
    (0..rng.below(8) + 1)
        .map(|_| POOL[rng.below(POOL.len() as u64) as usize])
        .collect()
}

fn random_value(rng: &mut Rng, kind: Kind) -> V {
    if rng.chance(10) {
        return V::Null;
    }
    match kind {
        Kind::Str if rng.chance(8) => V::Str(String::new()),
        Kind::Str => V::Str(random_text(rng)),
        Kind::Int => V::Int(match rng.below(10) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => rng.between(-9, 9),
            _ => rng.next() as i64,
        }),
        Kind::Dec => V::Dec(match rng.below(6) {
            0 => DEC_MAX,
            1 => -DEC_MAX,
            2 => i128::from(rng.between(-99_999, 99_999)),
            _ => {
                (i128::from(rng.next()) << 60 | i128::from(rng.next() >> 4)) % DEC_MAX
                    * if rng.chance(50) { 1 } else { -1 }
            }
        }),
        Kind::Bool => V::Bool(rng.chance(50)),
        Kind::Date => V::Date(rng.between(FIRST_DAY, LAST_DAY) as i32),
        Kind::Naive(per) | Kind::Zoned(per) => {
            // Nanosecond columns end in 2262; the others span years 1..9999
            // (a day short of either end, so that any offset stays inside).
            let (lo, hi) = if per == 1 {
                (i64::MIN / 2, i64::MAX / 2)
            } else {
                let ns_per_day = 86_400_000_000_000i128 / i128::from(per);
                (
                    (i128::from(FIRST_DAY + 1) * ns_per_day) as i64,
                    (i128::from(LAST_DAY - 1) * ns_per_day) as i64,
                )
            };
            V::Ts(rng.between(lo, hi))
        }
        Kind::Phone => V::Phone(format!("1{}{:09}", rng.between(3, 9), rng.below(1_000_000_000))),
    }
}

/// A different value of the same field (a null among the alternatives).
fn changed(rng: &mut Rng, kind: Kind, v: &V) -> V {
    if *v != V::Null && rng.chance(15) {
        return V::Null;
    }
    match (kind, v) {
        (_, V::Null) => loop {
            let next = random_value(rng, kind);
            if next != V::Null {
                return next;
            }
        },
        (_, V::Str(s)) => V::Str(format!("{s}x")),
        (_, V::Int(i)) => V::Int(if *i == i64::MAX { i - 1 } else { i + 1 }),
        (_, V::Dec(u)) => V::Dec(if *u == DEC_MAX { u - 1 } else { u + 1 }),
        (_, V::Bool(b)) => V::Bool(!b),
        (_, V::Date(d)) => V::Date(if i64::from(*d) == LAST_DAY { d - 1 } else { d + 1 }),
        (_, V::Ts(t)) => V::Ts(t - 1),
        (_, V::Phone(p)) => {
            let last = p.as_bytes()[10] - b'0';
            V::Phone(format!("{}{}", &p[..10], (last + 1) % 10))
        }
    }
}

/// Nanoseconds per tick of a timestamp field.
fn per(kind: Kind) -> i64 {
    match kind {
        Kind::Naive(p) | Kind::Zoned(p) => p,
        _ => 1,
    }
}

fn utc(kind: Kind, ticks: i64) -> chrono::NaiveDateTime {
    let nanos = i128::from(ticks) * i128::from(per(kind));
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub).unwrap().naive_utc()
}

fn decimal_text(units: i128) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let p = 10u128.pow(DEC_SCALE);
    let abs = units.unsigned_abs();
    format!("{sign}{}.{:04}", abs / p, abs % p)
}

/// The text a CSV export (or an NDJSON string) holds for `v`; the style
/// varies with `rng` where the type accepts several spellings.
fn text(rng: &mut Rng, kind: Kind, v: &V) -> Option<String> {
    Some(match v {
        // Outside text fields an empty or blank text is null too.
        V::Null if kind != Kind::Str => match rng.below(3) {
            0 => String::new(),
            1 => "  ".into(),
            _ => return None,
        },
        V::Null => return None,
        V::Str(s) => s.clone(),
        V::Int(i) => i.to_string(),
        V::Dec(u) => {
            let t = decimal_text(*u);
            if rng.chance(50) && t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t
            }
        }
        V::Bool(b) => ["true/false", "1/0", "yes/no", "T/F"][rng.below(4) as usize]
            .split('/')
            .nth(if *b { 0 } else { 1 })
            .unwrap()
            .to_string(),
        V::Date(d) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::TimeDelta::days(i64::from(*d)))
            .format("%Y-%m-%d")
            .to_string(),
        V::Ts(t) => {
            let at = utc(kind, *t);
            match kind {
                Kind::Zoned(_) => {
                    let offset_h = rng.between(-12, 14) as i32;
                    let zone = chrono::FixedOffset::east_opt(offset_h * 3600).unwrap();
                    let local = chrono::TimeZone::from_utc_datetime(&zone, &at);
                    local.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                }
                _ => at
                    .format(if rng.chance(50) {
                        "%Y-%m-%d %H:%M:%S%.f"
                    } else {
                        "%Y-%m-%dT%H:%M:%S%.f"
                    })
                    .to_string(),
            }
        }
        V::Phone(p) => match rng.below(4) {
            0 => p.clone(),
            1 => format!("+86 {p}"),
            2 => format!("0086-{}-{}-{}", &p[..3], &p[3..7], &p[7..]),
            _ => format!("{} {} {}", &p[..3], &p[3..7], &p[7..]),
        },
    })
}

/// Where a side is written.
#[derive(Clone, Copy, Debug)]
enum Loader {
    Csv,
    CsvGbk,
    Parquet,
    Ndjson,
}

impl Loader {
    fn file(self, side: &str) -> String {
        match self {
            Loader::Csv | Loader::CsvGbk => format!("{side}.csv"),
            Loader::Parquet => format!("{side}.parquet"),
            Loader::Ndjson => format!("{side}.ndjson"),
        }
    }

    fn source(self, side: &str) -> String {
        match self {
            Loader::CsvGbk => format!("{{ path = \"{}\", encoding = \"gbk\" }}", self.file(side)),
            _ => format!("{{ path = \"{}\" }}", self.file(side)),
        }
    }
}

fn csv_cell(out: &mut String, kind: Kind, text: Option<&str>) {
    match text {
        None => {}
        // A string's empty text is quoted: an unquoted empty cell is null.
        Some(t) if kind == Kind::Str || t.contains([',', '"', '\n']) || t.is_empty() => {
            let _ = write!(out, "\"{}\"", t.replace('"', "\"\""));
        }
        Some(t) => out.push_str(t),
    }
}

fn write_side(dir: &Path, side: &str, loader: Loader, ids: &[String], rows: &[Vec<V>], rng: &mut Rng) {
    let path = dir.join(loader.file(side));
    match loader {
        Loader::Csv | Loader::CsvGbk => {
            let mut out = String::from("id");
            for (name, _) in FIELDS {
                let _ = write!(out, ",{name}");
            }
            out.push('\n');
            for (id, row) in ids.iter().zip(rows) {
                out.push_str(id);
                for ((_, kind), v) in FIELDS.iter().zip(row) {
                    out.push(',');
                    csv_cell(&mut out, *kind, text(rng, *kind, v).as_deref());
                }
                out.push('\n');
            }
            let bytes = match loader {
                Loader::CsvGbk => {
                    let (bytes, _, lossy) = encoding_rs::GBK.encode(&out);
                    assert!(!lossy);
                    bytes.into_owned()
                }
                _ => out.into_bytes(),
            };
            std::fs::write(path, bytes).unwrap();
        }
        Loader::Ndjson => {
            let mut out = String::new();
            for (id, row) in ids.iter().zip(rows) {
                let _ = write!(out, "{{\"id\":\"{id}\"");
                for ((name, kind), v) in FIELDS.iter().zip(row) {
                    let json = match v {
                        V::Null => text(rng, *kind, v).map_or("null".into(), |t| format!("\"{t}\"")),
                        V::Int(i) => i.to_string(),
                        // The exact digits, as a JSON number.
                        V::Dec(u) => decimal_text(*u),
                        V::Bool(b) => b.to_string(),
                        other => serde_json::to_string(&text(rng, *kind, other).unwrap()).unwrap(),
                    };
                    let _ = write!(out, ",\"{name}\":{json}");
                }
                out.push_str("}\n");
            }
            std::fs::write(path, out).unwrap();
        }
        Loader::Parquet => {
            let mut columns = vec![Column::new("id".into(), ids.to_vec())];
            for (f, (name, kind)) in FIELDS.iter().enumerate() {
                let cells = rows.iter().map(|r| &r[f]);
                let name: PlSmallStr = (*name).into();
                let column = match kind {
                    Kind::Int => Column::new(
                        name,
                        cells
                            .map(|v| match v {
                                V::Int(i) => Some(*i),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Kind::Bool => Column::new(
                        name,
                        cells
                            .map(|v| match v {
                                V::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    ),
                    Kind::Date => Column::new(
                        name,
                        cells
                            .map(|v| match v {
                                V::Date(d) => Some(*d),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                    )
                    .cast(&DataType::Date)
                    .unwrap(),
                    Kind::Naive(p) | Kind::Zoned(p) => {
                        // Parquet has no seconds unit: whole seconds go in ms.
                        let (unit, scale) = match p {
                            1 => (TimeUnit::Nanoseconds, 1),
                            1_000 => (TimeUnit::Microseconds, 1),
                            1_000_000 => (TimeUnit::Milliseconds, 1),
                            _ => (TimeUnit::Milliseconds, 1_000),
                        };
                        let zone = matches!(kind, Kind::Zoned(_)).then_some(TimeZone::UTC);
                        Column::new(
                            name,
                            cells
                                .map(|v| match v {
                                    V::Ts(t) => Some(t * scale),
                                    _ => None,
                                })
                                .collect::<Vec<_>>(),
                        )
                        .cast(&DataType::Datetime(unit, zone))
                        .unwrap()
                    }
                    // Text columns; decimals as their exact text.
                    _ => Column::new(name, cells.map(|v| text(rng, *kind, v)).collect::<Vec<_>>()),
                };
                columns.push(column);
            }
            let mut df = DataFrame::new(ids.len(), columns).unwrap();
            ParquetWriter::new(std::fs::File::create(path).unwrap())
                .with_row_group_size(Some(97))
                .finish(&mut df)
                .unwrap();
        }
    }
}

fn spec_text(left: Loader, right: Loader) -> String {
    let mut s = format!(
        "[run]\nname = \"p\"\n[sides]\nleft = \"a\"\nright = \"b\"\n\
         [[entity]]\nname = \"e\"\nkey = [\"id\"]\nleft = {}\nright = {}\n\
         [[entity.field]]\nname = \"id\"\n",
        left.source("l"),
        right.source("r")
    );
    for (name, kind) in FIELDS {
        let decl = match kind {
            Kind::Str => String::new(),
            Kind::Int => "type = \"int\"\n".into(),
            Kind::Dec => "type = \"decimal(38,4)\"\n".into(),
            Kind::Bool => "type = \"bool\"\n".into(),
            Kind::Date => "type = \"date\"\n".into(),
            Kind::Naive(_) | Kind::Zoned(_) => "type = \"timestamp\"\n".into(),
            Kind::Phone => "normalize = [\"phone_e164:CN\"]\n".into(),
        };
        let _ = write!(s, "[[entity.field]]\nname = \"{name}\"\n{decl}");
    }
    s
}

/// One seed over one pair of loaders: identical sides, then sides with one
/// value changed in about a fifth of the rows.
fn check(seed: u64, left: Loader, right: Loader) {
    let mut rng = Rng(seed * 1_000 + left as u64 * 10 + right as u64);
    let ids: Vec<String> = (0..ROWS).map(|i| format!("K{i:04}")).collect();
    let rows: Vec<Vec<V>> = (0..ROWS)
        .map(|_| FIELDS.iter().map(|(_, k)| random_value(&mut rng, *k)).collect())
        .collect();
    let mut other = rows.clone();
    let mut truth = BTreeSet::new();
    for (i, row) in other.iter_mut().enumerate() {
        if rng.chance(20) {
            let f = rng.below(FIELDS.len() as u64) as usize;
            row[f] = changed(&mut rng, FIELDS[f].1, &row[f]);
            truth.insert(Expected {
                entity: "e".into(),
                category: "drift".into(),
                kind: "value_mismatch".into(),
                side: "both".into(),
                key: format!("{{\"id\":\"{}\"}}", ids[i]),
                field: Some(FIELDS[f].0.into()),
            });
        }
    }
    for (run, right_rows, expected) in [("same", &rows, BTreeSet::new()), ("changed", &other, truth)] {
        let env = Env::new();
        write_side(env.path(), "l", left, &ids, &rows, &mut rng);
        write_side(env.path(), "r", right, &ids, right_rows, &mut rng);
        let spec = env.write("s.toml", spec_text(left, right));
        let out = env.run(&spec, run);
        let context = format!("{left:?} vs {right:?}, {run}, seed {seed} (rerun: RECON_PROPTEST_SEED={seed})");
        assert!(matches!(code(&out), 0 | 1), "{context}: {}", stderr(&out));
        let found = finding_set(&env.reports().join(run));
        if found != expected {
            let extra: Vec<_> = found.difference(&expected).take(5).collect();
            let missed: Vec<_> = expected.difference(&found).take(5).collect();
            let df = read_parquet(&env.reports().join(run).join("findings.parquet"));
            panic!(
                "{context}: {} findings, {} expected\nunexpected: {extra:#?}\nmissed: {missed:#?}\n{df}",
                found.len(),
                expected.len()
            );
        }
    }
}

#[test]
fn every_type_survives_every_loader_exactly() {
    let loaders = [Loader::Csv, Loader::CsvGbk, Loader::Parquet, Loader::Ndjson];
    let seeds: Vec<u64> = match std::env::var("RECON_PROPTEST_SEED") {
        Ok(s) => vec![s.parse().expect("RECON_PROPTEST_SEED is a number")],
        Err(_) => vec![1, 2, 3, 4],
    };
    for seed in seeds {
        // Each seed pairs every loader with another (seeds 1 to 3 between
        // them: every ordered pair, and each loader against itself).
        for (n, left) in loaders.iter().enumerate() {
            let right = loaders[(n + 1 + seed as usize) % loaders.len()];
            check(seed, *left, right);
        }
    }
}
