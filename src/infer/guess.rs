//! The guesses `init` makes from two samples: the key, which columns
//! correspond, each pair's type, normalizers, code map and personal data,
//! each with the evidence it rests on. Values are judged with recon's own
//! conversions and normalizers, so a guess holds for `run` as it held here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::sample::{Column, Sample};
use crate::normalize::text::{apply_steps, Step};
use crate::normalize::types::{FieldType, TypeOptions};
use crate::normalize::Value;
use crate::pii::mask::MaskStyle;
use crate::pii::validate::Validator;

/// Rows on which each possible key is judged.
const KEY_ROWS: usize = 20_000;

/// Matched rows on which each possible pair of columns is judged.
const JUDGED_ROWS: usize = 5_000;

/// Share of matched rows from which a pairing or a map is taken without review.
const SURE: f64 = 0.9;
/// Below this share of agreeing rows a pair is not proposed at all (unless
/// the names agree).
const LEAST: f64 = 0.3;
/// A column with at most this many distinct values may hold codes.
const CODES: usize = 30;

/// The proposed key: one or more columns of each side, together nearly
/// unique and present, whose values overlap most between the sides.
#[derive(Debug, Clone)]
pub struct Key {
    /// Per key part: (left column, right column).
    pub columns: Vec<[String; 2]>,
    pub normalize: Vec<String>,
    /// Share of the smaller side's sampled keys found on the other side.
    pub overlap: f64,
    /// Declared by `--key` rather than guessed.
    pub declared: bool,
}

impl Key {
    /// A guessed key of `columns`, with the normalizer under which they overlap most.
    fn guessed(samples: &[Sample; 2], columns: Vec<[String; 2]>) -> Key {
        let (normalize, overlap) = key_overlap(samples, &columns);
        Key {
            columns,
            normalize,
            overlap,
            declared: false,
        }
    }

    /// `a ↔ b`, parts joined by ` + `.
    pub fn describe(&self) -> String {
        let side = |s: usize| {
            self.columns
                .iter()
                .map(|c| c[s].as_str())
                .collect::<Vec<_>>()
                .join(" + ")
        };
        format!("{} ↔ {}", side(0), side(1))
    }

    fn has(&self, side: usize, column: &str) -> bool {
        self.columns.iter().any(|c| c[side] == column)
    }
}

/// A field's type as the spec writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String,
    Int,
    Decimal(u32),
    Bool {
        yes: Vec<String>,
        no: Vec<String>,
    },
    /// Formats beyond recon's defaults (`%d/%m/%Y`), tried after them.
    Date {
        extra: Vec<String>,
    },
    /// Formats beyond recon's defaults (`%s`: seconds since 1970).
    Timestamp {
        extra: Vec<String>,
    },
    /// Elements split by each side's separator (None: a list column).
    Set([Option<String>; 2]),
}

impl Ty {
    pub fn spec_name(&self) -> String {
        match self {
            Ty::String => "string".into(),
            Ty::Int => "int".into(),
            Ty::Decimal(s) => format!("decimal(38,{s})"),
            Ty::Bool { .. } => "bool".into(),
            Ty::Date { .. } => "date".into(),
            Ty::Timestamp { .. } => "timestamp".into(),
            Ty::Set(_) => "set".into(),
        }
    }

    /// A date's or timestamp's formats: recon's defaults, then the extra
    /// ones (empty for other types and when there are none).
    pub fn formats(&self) -> Vec<String> {
        use crate::normalize::types::{DEFAULT_DATE_FORMATS, DEFAULT_TIMESTAMP_FORMATS};
        let (defaults, extra) = match self {
            Ty::Date { extra } => (DEFAULT_DATE_FORMATS, extra),
            Ty::Timestamp { extra } => (DEFAULT_TIMESTAMP_FORMATS, extra),
            _ => return Vec::new(),
        };
        if extra.is_empty() {
            return Vec::new();
        }
        defaults
            .iter()
            .map(|f| f.to_string())
            .chain(extra.iter().cloned())
            .collect()
    }

    /// The recon type this stands for (bool with its spellings).
    fn field_type(&self) -> Option<FieldType> {
        let mut opts = TypeOptions::default();
        if let Ty::Bool { yes, no } = self {
            opts.true_values = Some(yes.clone());
            opts.false_values = Some(no.clone());
        }
        let formats = self.formats();
        if !formats.is_empty() {
            opts.formats = Some(formats);
        }
        FieldType::from_spec(&self.spec_name(), &opts, chrono_tz::UTC).ok()
    }
}

/// One proposed field.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub columns: [String; 2],
    pub ty: Ty,
    pub normalize: [Vec<String>; 2],
    /// Per side: raw code → canonical value.
    pub map: Option<[BTreeMap<String, String>; 2]>,
    pub pii: Option<String>,
    pub mask: Option<[String; 2]>,
    /// `tolerance = { abs = … }`, when small differences are systematic.
    pub tolerance: Option<String>,
    /// Free text: searched for personal data (`scan = true`).
    pub scan: bool,
    /// False when the sides cannot be compared as proposed (a time zone read
    /// differently): loaded, never compared, until a person decides.
    pub compare: bool,
    /// Comment lines: why each guess was made.
    pub evidence: Vec<String>,
    pub review: bool,
}

/// Everything `init` proposes.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub key: Option<Key>,
    pub fields: Vec<Field>,
    /// Columns of each side no field uses.
    pub unpaired: [Vec<String>; 2],
    /// Sampled rows whose key is on both sides.
    pub matched: usize,
}

/// Proposes a spec's entity from two samples; `key` is a declared key
/// (`NAME` on both sides or `LEFT=RIGHT`).
pub fn propose(samples: &[Sample; 2], key: &[String]) -> Result<Proposal, String> {
    let key = match key.is_empty() {
        false => Some(declared_key(samples, key)?),
        // Judged on the first rows: every pair of columns is tried.
        true => guess_key(&samples.clone().map(|s| s.head(KEY_ROWS))).map(|mut k| {
            k.overlap = key_overlap(samples, &k.columns).1;
            k
        }),
    };
    let Some(key) = key else {
        return Ok(Proposal {
            key: None,
            fields: Vec::new(),
            unpaired: samples.clone().map(|s| s.columns.into_iter().map(|c| c.name).collect()),
            matched: 0,
        });
    };
    let pairs = matched_rows(samples, &key);
    // Columns are judged on the first matched rows by key: enough to tell
    // what corresponds (the evidence says how many), quick on wide files.
    let judged = &pairs[..pairs.len().min(JUDGED_ROWS)];
    let mut candidates: Vec<(f64, Field)> = Vec::new();
    let known: [Vec<(&Column, Facts)>; 2] = [0, 1].map(|s| {
        samples[s]
            .columns
            .iter()
            .filter(|c| !key.has(s, &c.name))
            .map(|c| (c, facts(c)))
            .collect()
    });
    for (l, lf) in &known[0] {
        for (r, rf) in &known[1] {
            if let Some(f) = pair_with(l, r, judged, [lf, rf]) {
                candidates.push(f);
            }
        }
    }
    // Best first; ties by name, so the choice never depends on order.
    candidates.sort_by(|(a, fa), (b, fb)| b.total_cmp(a).then_with(|| fa.columns.cmp(&fb.columns)));
    let mut used: [BTreeSet<String>; 2] = Default::default();
    let mut fields: Vec<Field> = (0..key.columns.len()).map(|i| key_field(&key, i)).collect();
    let parts = fields.len();
    for (_, f) in candidates {
        if used[0].contains(&f.columns[0]) || used[1].contains(&f.columns[1]) {
            continue;
        }
        used[0].insert(f.columns[0].clone());
        used[1].insert(f.columns[1].clone());
        fields.push(f);
    }
    // Fields in the left file's column order, the key first.
    let order: HashMap<&str, usize> = samples[0]
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    fields[parts..].sort_by_key(|f| order.get(f.columns[0].as_str()).copied().unwrap_or(usize::MAX));
    let mut names = BTreeSet::new();
    for f in fields.iter_mut() {
        let mut name = f.name.clone();
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{}_{n}", f.name);
            n += 1;
        }
        f.name = name;
    }
    let unpaired = [0, 1].map(|s| {
        samples[s]
            .columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| !key.has(s, n) && !used[s].contains(n))
            .collect()
    });
    Ok(Proposal {
        key: Some(key),
        fields,
        unpaired,
        matched: pairs.len(),
    })
}

fn key_field(key: &Key, part: usize) -> Field {
    let columns = key.columns[part].clone();
    let mut evidence = vec![match (key.declared, key.columns.len()) {
        (true, _) => "key: declared with --key".to_string(),
        (false, 1) => "key: unique and present in at least 95% of sampled rows on both sides".to_string(),
        (false, n) => format!(
            "key part {} of {n}: the first part repeats; with the others it is unique",
            part + 1
        ),
    }];
    if part == 0 {
        evidence.push(format!(
            "{:.0}% of the smaller side's sampled keys are on the other side",
            100.0 * key.overlap
        ));
    }
    Field {
        name: field_name(&columns[0], &columns[1]),
        columns,
        ty: Ty::String,
        normalize: [key.normalize.clone(), key.normalize.clone()],
        map: None,
        pii: None,
        mask: None,
        tolerance: None,
        scan: false,
        compare: true,
        review: key.overlap < 0.5,
        evidence,
    }
}

fn declared_key(samples: &[Sample; 2], parts: &[String]) -> Result<Key, String> {
    let mut columns = Vec::new();
    for k in parts {
        let (l, r) = k.split_once('=').unwrap_or((k, k));
        for (s, name) in [(0, l), (1, r)] {
            if samples[s].column(name).is_none() {
                return Err(format!(
                    "--key {k}: {} has no column `{name}` (it has {})",
                    samples[s].path,
                    samples[s]
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        columns.push([l.to_string(), r.to_string()]);
    }
    let (normalize, overlap) = key_overlap(samples, &columns);
    Ok(Key {
        columns,
        normalize,
        overlap,
        declared: true,
    })
}

/// Key normalizers tried, the plainest first.
const KEY_STEPS: [&[&str]; 3] = [&["trim"], &["trim", "upper"], &["nfkc", "trim", "upper"]];

/// Each row's key under `steps` (None: a part is missing), parts joined
/// by a separator no text holds.
fn key_values(sample: &Sample, columns: &[&str], steps: &[&str]) -> Vec<Option<String>> {
    let steps = parsed(steps);
    let steps = steps.as_slice();
    let cols: Vec<&Column> = columns.iter().filter_map(|c| sample.column(c)).collect();
    (0..sample.rows)
        .map(|i| {
            let parts: Option<Vec<String>> = cols
                .iter()
                .map(|c| normalized(steps, c.values.get(i).and_then(|v| v.as_deref())))
                .collect();
            parts.map(|p| p.join("\u{1f}"))
        })
        .collect()
}

/// Share of rows whose key is present, and share of rows with a key of their own.
fn keyness(values: &[Option<String>]) -> (f64, f64) {
    let present: Vec<&String> = values.iter().flatten().collect();
    let distinct: std::collections::HashSet<&String> = present.iter().copied().collect();
    let n = values.len().max(1) as f64;
    (present.len() as f64 / n, distinct.len() as f64 / n)
}

/// The key normalizer under which `columns` overlap most, and that share.
fn key_overlap(samples: &[Sample; 2], columns: &[[String; 2]]) -> (Vec<String>, f64) {
    let mut best = (Vec::new(), -1.0);
    for steps in KEY_STEPS {
        // The plainest normalizer that finds (nearly) every key is enough.
        if best.1 >= 0.99 {
            break;
        }
        let sets = [0, 1].map(|s| {
            let cols: Vec<&str> = columns.iter().map(|c| c[s].as_str()).collect();
            key_values(&samples[s], &cols, steps)
                .into_iter()
                .flatten()
                .collect::<std::collections::HashSet<String>>()
        });
        let small = sets[0].len().min(sets[1].len());
        let overlap = match small {
            0 => 0.0,
            n => sets[0].intersection(&sets[1]).count() as f64 / n as f64,
        };
        if overlap > best.1 + 1e-9 {
            best = (steps.iter().map(|s| s.to_string()).collect(), overlap);
        }
    }
    (best.0, best.1.max(0.0))
}

/// Whether a column's name says it holds keys (`id`, `…_id`, `…No`,
/// `…_number`, `…code`, `key`).
fn key_like(name: &str) -> bool {
    let n = name.strip_suffix("__c").unwrap_or(name).to_lowercase();
    let words: Vec<&str> = n
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let last = words.last().copied().unwrap_or("");
    ["id", "no", "nr", "number", "num", "code", "key", "uuid", "guid"].contains(&last)
        || n.ends_with("id")
        || n.ends_with("number")
        || words.first() == Some(&"id")
}

/// A column's values that are there (trimmed, not empty).
fn present_values(c: &Column) -> impl Iterator<Item = &str> {
    c.values.iter().flatten().map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Whether a column's values look like identifiers (letters, digits and
/// `-_.:`, with a digit): codes are keys more often than names are.
fn id_like(c: &Column) -> bool {
    let present: Vec<&str> = present_values(c).collect();
    let ids = present
        .iter()
        .filter(|v| {
            v.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch))
                && v.chars().any(|ch| ch.is_ascii_digit())
        })
        .count();
    !present.is_empty() && ids as f64 >= 0.9 * present.len() as f64
}

/// How a key candidate ranks: overlap (%), key-like names, identifier-like
/// values, uniqueness (‰), alike names (%).
type KeyRank = (i64, bool, bool, i64, i64);

fn guess_key(samples: &[Sample; 2]) -> Option<Key> {
    // Columns present in nearly every row: the candidates for a key part.
    fn present(s: &Sample) -> Vec<&Column> {
        s.columns
            .iter()
            .filter(|c| keyness(&key_values(s, &[c.name.as_str()], &["trim"])).0 >= 0.95)
            .collect()
    }
    let (ls, rs) = (present(&samples[0]), present(&samples[1]));
    let unique = |s: usize, cols: &[&str]| keyness(&key_values(&samples[s], cols, &["trim"])).1;
    let singles: [BTreeMap<&str, f64>; 2] = [(&ls, 0), (&rs, 1)].map(|(cols, s)| {
        cols.iter()
            .map(|c| (c.name.as_str(), unique(s, &[c.name.as_str()])))
            .collect()
    });
    // Ranked by overlap, then key-like names, identifier-like values,
    // uniqueness and alike names.
    let mut best: Option<(KeyRank, Key)> = None;
    let mut consider = |columns: Vec<[String; 2]>, rank_extra: (bool, bool, f64, f64)| {
        let key = Key::guessed(samples, columns);
        // Half the keys at least: two unrelated files never get a key.
        if key.overlap < 0.5 {
            return;
        }
        let overlap = key.overlap;
        let rank = (
            (overlap * 100.0).round() as i64,
            rank_extra.0,
            rank_extra.1,
            (rank_extra.2 * 1000.0).round() as i64,
            (rank_extra.3 * 100.0).round() as i64,
        );
        if best
            .as_ref()
            .is_none_or(|(r, k)| rank > *r || (rank == *r && key.columns < k.columns))
        {
            best = Some((rank, key));
        }
    };
    // Which unique columns share values at all (trimmed, upper case): an
    // index of the left's values, looked up with the right's, so that a
    // wide file's 40,000 column pairs are not each compared in full.
    let keyed = |s: usize, cols: &[&Column]| -> Vec<(usize, std::collections::HashSet<u64>)> {
        cols.iter()
            .enumerate()
            .filter(|(_, c)| singles[s][c.name.as_str()] >= 0.95)
            .map(|(i, c)| {
                let set = present_values(c)
                    .map(|v| {
                        use std::hash::{Hash, Hasher};
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        v.to_uppercase().hash(&mut h);
                        h.finish()
                    })
                    .collect();
                (i, set)
            })
            .collect()
    };
    let (lk, rk) = (keyed(0, &ls), keyed(1, &rs));
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, set) in &lk {
        for h in set {
            index.entry(*h).or_default().push(*i);
        }
    }
    let ids: [Vec<bool>; 2] = [
        ls.iter().map(|c| id_like(c)).collect(),
        rs.iter().map(|c| id_like(c)).collect(),
    ];
    for (j, set) in &rk {
        let mut shared: BTreeMap<usize, usize> = BTreeMap::new();
        for h in set {
            for &i in index.get(h).into_iter().flatten() {
                *shared.entry(i).or_default() += 1;
            }
        }
        for (i, n) in shared {
            let small = lk
                .iter()
                .find(|(x, _)| *x == i)
                .map_or(0, |(_, l)| l.len())
                .min(set.len());
            if small == 0 || (n as f64) < 0.3 * small as f64 {
                continue;
            }
            let (l, r) = (ls[i], rs[*j]);
            let (ul, ur) = (singles[0][l.name.as_str()], singles[1][r.name.as_str()]);
            consider(
                vec![[l.name.clone(), r.name.clone()]],
                (
                    key_like(&l.name) && key_like(&r.name),
                    ids[0][i] && ids[1][*j],
                    ul.min(ur),
                    name_score(&l.name, &r.name),
                ),
            );
        }
    }
    // A key whose values repeat (a call with several legs) takes a second
    // part of alike names that sets more rows apart on both sides.
    if let Some((rank, key)) = best.clone() {
        let [l1, r1] = &key.columns[0];
        if unique(0, &[l1]) < 1.0 || unique(1, &[r1]) < 1.0 {
            let mut second: Option<(f64, [String; 2])> = None;
            // A second part numbers the rows of one key (a leg, a line, a
            // version): few distinct values, alike names.
            let few_of = |c: &Column| c.values.iter().flatten().collect::<BTreeSet<_>>().len() <= 20;
            let few: [Vec<bool>; 2] = [
                ls.iter().map(|c| few_of(c)).collect(),
                rs.iter().map(|c| few_of(c)).collect(),
            ];
            for l in ls
                .iter()
                .enumerate()
                .filter(|(i, c)| &c.name != l1 && few[0][*i])
                .map(|(_, c)| c)
            {
                for r in rs
                    .iter()
                    .enumerate()
                    .filter(|(j, c)| &c.name != r1 && few[1][*j])
                    .map(|(_, c)| c)
                {
                    let alike = name_score(&l.name, &r.name);
                    if alike < 0.5 {
                        continue;
                    }
                    // More rows of their own on a side, fewer on none (a duplicated
                    // key the export holds stays a duplicate).
                    let (u1, u2) = (
                        [unique(0, &[l1]), unique(1, &[r1])],
                        [unique(0, &[l1, &l.name]), unique(1, &[r1, &r.name])],
                    );
                    let whole = u2[0] >= u1[0] && u2[1] >= u1[1] && (u2[0] > u1[0] || u2[1] > u1[1]);
                    let columns = vec![key.columns[0].clone(), [l.name.clone(), r.name.clone()]];
                    if whole
                        && key_overlap(samples, &columns).1 >= key.overlap - 0.02
                        && second.as_ref().is_none_or(|(a, _)| alike > *a)
                    {
                        second = Some((alike, [l.name.clone(), r.name.clone()]));
                    }
                }
            }
            if let Some((_, part)) = second {
                best = Some((rank, Key::guessed(samples, vec![key.columns[0].clone(), part])));
            }
        }
    }
    best.map(|(_, k)| k)
}

/// Step names parsed once (every name here is one recon knows).
fn parsed(steps: &[&str]) -> Vec<Step> {
    steps.iter().filter_map(|s| Step::parse(s).ok()).collect()
}

/// `raw` after `steps`, None when null or empty.
fn normalized(steps: &[Step], raw: Option<&str>) -> Option<String> {
    apply_steps(steps, raw).ok().flatten().filter(|v| !v.is_empty())
}

/// Whether `a` and `b` are equal and not empty after `steps`.
fn same(steps: &[Step], a: &str, b: &str) -> bool {
    matches!((normalized(steps, Some(a)), normalized(steps, Some(b))), (Some(x), Some(y)) if x == y)
}

/// Pairs of (left row, right row) whose keys are equal under the key's normalizer.
fn matched_rows(samples: &[Sample; 2], key: &Key) -> Vec<(usize, usize)> {
    let steps: Vec<&str> = key.normalize.iter().map(String::as_str).collect();
    let index = |s: usize| -> BTreeMap<String, usize> {
        let cols: Vec<&str> = key.columns.iter().map(|c| c[s].as_str()).collect();
        let mut out = BTreeMap::new();
        for (i, k) in key_values(&samples[s], &cols, &steps).into_iter().enumerate() {
            if let Some(k) = k {
                out.entry(k).or_insert(i);
            }
        }
        out
    };
    let (l, r) = (index(0), index(1));
    l.iter().filter_map(|(k, &li)| r.get(k).map(|&ri| (li, ri))).collect()
}

/// How alike two column names are (0..1): equal once case, separators and
/// CRM suffixes (`__c`) are set aside; one inside the other; shared words.
pub fn name_score(a: &str, b: &str) -> f64 {
    // Chinese names are compared by their pinyin (客户编号 ~ kehu_bianhao).
    let (a, b) = (romanized(a), romanized(b));
    let (a, b) = (a.as_str(), b.as_str());
    let plain = |s: &str| -> String {
        let s = s.strip_suffix("__c").unwrap_or(s);
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (pa, pb) = (plain(a), plain(b));
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    if pa == pb {
        return 1.0;
    }
    if pa.len() >= 3 && pb.len() >= 3 && (pa.contains(&pb) || pb.contains(&pa)) {
        return 0.8;
    }
    let words = |s: &str| -> BTreeSet<String> {
        let s = s.strip_suffix("__c").unwrap_or(s);
        let mut out = BTreeSet::new();
        let mut word = String::new();
        let mut prev_lower = false;
        for c in s.chars() {
            let boundary = !c.is_alphanumeric() || (c.is_uppercase() && prev_lower);
            if boundary && !word.is_empty() {
                out.insert(std::mem::take(&mut word));
            }
            if c.is_alphanumeric() {
                word.extend(c.to_lowercase());
            }
            prev_lower = c.is_lowercase();
        }
        if !word.is_empty() {
            out.insert(word);
        }
        out
    };
    let (wa, wb) = (words(a), words(b));
    let union = wa.union(&wb).count();
    match union {
        0 => 0.0,
        n => 0.7 * wa.intersection(&wb).count() as f64 / n as f64,
    }
}

/// `name` with each Chinese character as its pinyin syllable (plain, no
/// tone) and a `_` between syllables and words.
fn romanized(name: &str) -> String {
    use pinyin::ToPinyin;
    let mut out = String::new();
    for c in name.chars() {
        match c.to_pinyin() {
            Some(p) => {
                if !out.is_empty() && !out.ends_with('_') {
                    out.push('_');
                }
                out.push_str(p.plain());
                out.push('_');
            }
            None => out.push(c),
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The field's name: the left column's, in lower snake case.
fn field_name(left: &str, right: &str) -> String {
    let base = if left.chars().any(char::is_alphanumeric) {
        left
    } else {
        right
    };
    let mut out = String::new();
    let mut prev_lower = false;
    for c in base.strip_suffix("__c").unwrap_or(base).chars() {
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        match c.is_alphanumeric() {
            true => out.extend(c.to_lowercase()),
            false if !out.ends_with('_') && !out.is_empty() => out.push('_'),
            false => {}
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "field".into()
    } else {
        out
    }
}

/// The values of matched rows where both sides have one.
fn both<'a>(l: &'a Column, r: &'a Column, pairs: &[(usize, usize)]) -> Vec<(&'a str, &'a str)> {
    pairs
        .iter()
        .filter_map(|&(li, ri)| {
            let a = l.values.get(li)?.as_deref()?;
            let b = r.values.get(ri)?.as_deref()?;
            (!a.trim().is_empty() && !b.trim().is_empty()).then_some((a, b))
        })
        .collect()
}

/// The type every non-empty value of `values` converts to, the most
/// specific first (int, decimal with the widest scale, bool, date,
/// timestamp), else string.
fn type_of<'a>(values: impl Iterator<Item = &'a str> + Clone) -> Ty {
    let trimmed = values.map(str::trim).filter(|v| !v.is_empty());
    // Nearly every value: a few unconvertible ones are findings, not another type.
    let all = |ty: &Ty| -> bool {
        let Some(ft) = ty.field_type() else { return false };
        let n = trimmed.clone().count();
        let ok = trimmed.clone().filter(|v| ft.convert(v).is_ok()).count();
        n > 0 && ok as f64 >= 0.95 * n as f64
    };
    // Codes with leading zeros are text, not numbers.
    let leading_zero = trimmed
        .clone()
        .any(|v| v.len() > 1 && v.trim_start_matches(['+', '-']).starts_with('0') && !v.contains('.'));
    if !leading_zero && all(&Ty::Int) {
        // 0/1 flags are codes or booleans as much as numbers: bool wins.
        let distinct: BTreeSet<&str> = trimmed.clone().collect();
        if distinct.iter().all(|v| ["0", "1"].contains(v)) && distinct.len() == 2 {
            return Ty::Bool {
                yes: vec!["1".into()],
                no: vec!["0".into()],
            };
        }
        return Ty::Int;
    }
    if !leading_zero {
        let scale = trimmed
            .clone()
            .map(|v| v.split_once('.').map_or(0, |(_, f)| f.len() as u32))
            .max()
            .unwrap_or(0);
        if scale > 0 && scale <= 18 && all(&Ty::Decimal(scale)) {
            return Ty::Decimal(scale);
        }
    }
    let spellings: BTreeSet<String> = trimmed.clone().map(str::to_lowercase).collect();
    let yes = ["true", "t", "yes", "y"];
    let no = ["false", "f", "no", "n"];
    if !spellings.is_empty()
        && spellings
            .iter()
            .all(|s| yes.contains(&s.as_str()) || no.contains(&s.as_str()))
    {
        let pick = |set: &[&str]| -> Vec<String> {
            set.iter()
                .filter(|s| spellings.contains(**s))
                .map(|s| s.to_string())
                .collect()
        };
        let (mut y, mut n) = (pick(&yes), pick(&no));
        // A column that holds one truth value only (every account active)
        // is still a bool: the other spelling is its usual partner.
        let partner = |s: &str| -> String { no[yes.iter().position(|x| *x == s).unwrap_or(0)].to_string() };
        let partner_yes = |s: &str| -> String { yes[no.iter().position(|x| *x == s).unwrap_or(0)].to_string() };
        if n.is_empty() {
            n = y.iter().map(|s| partner(s)).collect();
        }
        if y.is_empty() {
            y = n.iter().map(|s| partner_yes(s)).collect();
        }
        if !y.is_empty() && !n.is_empty() {
            return Ty::Bool { yes: y, no: n };
        }
    }
    // Recon's default formats first, then common others, one at a time.
    if all(&Ty::Date { extra: Vec::new() }) {
        return Ty::Date { extra: Vec::new() };
    }
    if all(&Ty::Timestamp { extra: Vec::new() }) {
        return Ty::Timestamp { extra: Vec::new() };
    }
    for f in EXTRA_DATES {
        let ty = Ty::Date {
            extra: vec![f.to_string()],
        };
        if all(&ty) {
            return ty;
        }
    }
    for f in EXTRA_TIMESTAMPS {
        let ty = Ty::Timestamp {
            extra: vec![f.to_string()],
        };
        if all(&ty) {
            return ty;
        }
    }
    Ty::String
}

/// `a`'s items, then `b`'s that `a` lacks.
fn union(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    let mut out = a;
    for x in b {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Dates in formats beyond recon's defaults, tried in this order (day
/// first before month first: an export that fits both is read day first,
/// and the agreement with the other side tells whether that was right).
const EXTRA_DATES: [&str; 5] = ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y年%m月%d日", "%d-%m-%Y"];

/// Timestamps in formats beyond recon's defaults.
const EXTRA_TIMESTAMPS: [&str; 4] = [
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y%m%d%H%M%S",
];

/// The type of a pair: both sides' types joined (int and decimal give
/// decimal, two bools join their spellings); None when they differ.
fn join(a: Ty, b: Ty) -> Option<Ty> {
    match (a, b) {
        (a, b) if a == b => Some(a),
        (Ty::Int, Ty::Decimal(s)) | (Ty::Decimal(s), Ty::Int) => Some(Ty::Decimal(s)),
        (Ty::Decimal(a), Ty::Decimal(b)) => Some(Ty::Decimal(a.max(b))),
        // Seconds since 1970 on one side (the agreement tells whether they are).
        (Ty::Int, Ty::Timestamp { extra }) | (Ty::Timestamp { extra }, Ty::Int) => Some(Ty::Timestamp {
            extra: union(extra, vec!["%s".to_string()]),
        }),
        (Ty::Date { extra: a }, Ty::Date { extra: b }) => Some(Ty::Date { extra: union(a, b) }),
        (Ty::Timestamp { extra: a }, Ty::Timestamp { extra: b }) => Some(Ty::Timestamp { extra: union(a, b) }),
        (Ty::Bool { yes: y1, no: n1 }, Ty::Bool { yes: y2, no: n2 }) => {
            let merge = |a: Vec<String>, b: Vec<String>| -> Vec<String> {
                let mut v: Vec<String> = a.into_iter().chain(b).collect::<BTreeSet<_>>().into_iter().collect();
                v.sort();
                v
            };
            Some(Ty::Bool {
                yes: merge(y1, y2),
                no: merge(n1, n2),
            })
        }
        _ => None,
    }
}

/// Text normalizers tried on string pairs, in order of preference when
/// they explain as many rows (text as it is; then the Unicode-compatible,
/// whitespace-collapsed form that names and addresses want).
const TEXT_STEPS: [&[&str]; 6] = [
    &[],
    &["nfkc", "collapse_whitespace"],
    &["trim"],
    &["trim", "upper"],
    &["trim", "lower"],
    &["digits_only"],
];

/// Regions tried for phone numbers without a country code, in order of
/// preference when they explain as many rows.
const PHONE_REGIONS: [&str; 10] = ["CN", "US", "GB", "DE", "FR", "IN", "JP", "SG", "HK", "AU"];

/// Whether a value looks like a phone number: 7 to 15 digits among
/// `+ - . ( )` and spaces only.
fn phone_like(v: &str) -> bool {
    let v = v.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits) && v.chars().all(|c| c.is_ascii_digit() || "+-.() ".contains(c))
}

/// Personal-data detectors tried, the most specific first.
const DETECTORS: [&str; 6] = ["cn_resident_id", "cn_mobile", "bank_card", "email", "iban", "cn_uscc"];

/// Mask styles a side may show.
const MASKS: [&str; 5] = ["cn_id", "card", "phone", "keep_last4", "full"];

/// How a column holds sets: `Some(Some(sep))` elements between a
/// separator, `Some(None)` JSON arrays (a list column); None: not sets.
fn set_shape(values: &[&str]) -> Option<Option<String>> {
    if values.len() < 5 {
        return None;
    }
    let lists = share(values, |v| serde_json::from_str::<Vec<String>>(v.trim()).is_ok());
    if lists >= 0.9 {
        return Some(None);
    }
    for sep in [";", "|"] {
        let split = share(values, |v| v.contains(sep));
        let short = values
            .iter()
            .flat_map(|v| v.split(sep))
            .all(|e| e.trim().chars().count() <= 40);
        if split >= 0.3 && short {
            return Some(Some(sep.to_string()));
        }
    }
    None
}

/// A value's elements under its shape.
fn elements(value: &str, shape: &Option<String>) -> BTreeSet<String> {
    match shape {
        None => serde_json::from_str::<Vec<String>>(value.trim())
            .map(|v| {
                v.into_iter()
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_else(|_| [value.trim().to_string()].into_iter().collect()),
        Some(sep) => value
            .split(sep.as_str())
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
    }
}

/// The elements of each side paired by the rows they appear in (the pairs
/// sharing the largest part of their rows first, each element once),
/// as maps to a shared canonical value (None when the elements are already
/// alike), and the share of rows whose sets then agree.
fn element_map(
    sets: &[[BTreeSet<String>; 2]],
    all: &[BTreeSet<String>; 2],
) -> (Option<[BTreeMap<String, String>; 2]>, f64) {
    let rows = |s: usize| -> BTreeMap<&str, BTreeSet<usize>> {
        let mut out: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, pair) in sets.iter().enumerate() {
            for e in &pair[s] {
                out.entry(e.as_str()).or_default().insert(i);
            }
        }
        out
    };
    let (left, right) = (rows(0), rows(1));
    let alike = share(sets, |p| p[0] == p[1]);
    let mut lmap = BTreeMap::new();
    let mut rmap = BTreeMap::new();
    // Every (left, right) element pair by the rows they share, the closest
    // first, each element paired once.
    // (Drift shows here as rows where one side lacks an element: the
    // closest pairs go first, then what is left pairs by any shared row.)
    let mut candidates: Vec<(f64, &str, &str)> = Vec::new();
    for (e, er) in &left {
        for (f, fr) in &right {
            let j = er.intersection(fr).count() as f64 / er.union(fr).count() as f64;
            if j > 0.0 {
                candidates.push((j, e, f));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| (a.1, a.2).cmp(&(b.1, b.2))));
    for (_, e, f) in candidates {
        if lmap.contains_key(e) || rmap.contains_key(f) {
            continue;
        }
        let canonical = f.to_lowercase();
        lmap.insert(e.to_string(), canonical.clone());
        rmap.insert(f.to_string(), canonical);
    }
    // Elements without a partner (or seen only on rows the other side
    // lacks) stand for themselves (lower case).
    for e in &all[0] {
        lmap.entry(e.to_string()).or_insert_with(|| e.to_lowercase());
    }
    for f in &all[1] {
        rmap.entry(f.to_string()).or_insert_with(|| f.to_lowercase());
    }
    let mapped = share(sets, |p| {
        let l: BTreeSet<Option<&String>> = p[0].iter().map(|e| lmap.get(e)).collect();
        let r: BTreeSet<Option<&String>> = p[1].iter().map(|e| rmap.get(e)).collect();
        !l.contains(&None) && !r.contains(&None) && l == r
    });
    match mapped > alike && !lmap.is_empty() {
        true => (Some([lmap, rmap]), mapped),
        false => (None, alike),
    }
}

/// Whether values read as free text: they average 20 characters or more
/// and most hold spaces or sentence punctuation (in any script).
fn free_text(values: &[&str]) -> bool {
    if values.len() < 10 {
        return false;
    }
    let chars: usize = values.iter().map(|v| v.chars().count()).sum();
    let sentence = |v: &&str| {
        v.trim()
            .contains(|c: char| c.is_whitespace() || "，。；！？,.;!?".contains(c))
    };
    chars as f64 / values.len() as f64 >= 20.0 && share(values, sentence) >= 0.5
}

/// Share of `values` for which `ok` holds (0 when there are none).
fn share<T>(values: &[T], ok: impl Fn(&T) -> bool) -> f64 {
    match values.len() {
        0 => 0.0,
        n => values.iter().filter(|v| ok(v)).count() as f64 / n as f64,
    }
}

/// What one column's first rows say on their own, worked out once per
/// column (not once per possible pair: a 200-column pair has 40,000).
pub struct Facts {
    ty: Ty,
    /// Detectors most values pass, with their share.
    pii: Vec<(&'static str, f64)>,
    mask: Option<(&'static str, f64)>,
    set: Option<Option<String>>,
    free: bool,
    phone: bool,
    /// Distinct values when few (maybe codes), else None.
    codes: Option<usize>,
}

/// The facts of a column, from its first [`JUDGED_ROWS`] values.
fn facts(c: &Column) -> Facts {
    let values: Vec<&str> = c
        .values
        .iter()
        .take(JUDGED_ROWS)
        .flatten()
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .collect();
    let pii = DETECTORS
        .into_iter()
        .filter_map(|d| {
            let v = Validator::parse(d).ok()?;
            // Cards and phones are often written with spaces or dashes.
            let valid = |x: &str| {
                v.is_valid(x.trim())
                    || (matches!(d, "bank_card" | "cn_mobile") && v.is_valid(&x.replace([' ', '-'], "")))
            };
            let s = share(&values, |x| valid(x));
            (s >= 0.8).then_some((d, s))
        })
        .collect();
    let mask = match values.iter().any(|v| v.contains('*')) {
        false => None,
        true => MASKS.into_iter().find_map(|m| {
            let style = MaskStyle::parse(m).ok()?;
            let s = share(&values, |x| style.has_shape(x.trim()));
            (s >= 0.8).then_some((m, s))
        }),
    };
    let distinct: BTreeSet<&str> = values.iter().map(|v| v.trim()).collect();
    Facts {
        ty: type_of(values.iter().copied()),
        pii,
        mask,
        set: set_shape(&values),
        free: free_text(&values),
        phone: share(&values, |v| phone_like(v)) >= 0.8,
        codes: (2..=CODES).contains(&distinct.len()).then_some(distinct.len()),
    }
}

/// Proposes `l` ↔ `r` as a field, with its score; None when nothing
/// suggests they hold the same thing (the tests' way in).
#[cfg(test)]
fn pair(l: &Column, r: &Column, pairs: &[(usize, usize)]) -> Option<(f64, Field)> {
    pair_with(l, r, pairs, [&facts(l), &facts(r)])
}

/// [`pair`] with the columns' facts worked out beforehand.
fn pair_with(l: &Column, r: &Column, pairs: &[(usize, usize)], f: [&Facts; 2]) -> Option<(f64, Field)> {
    let values = both(l, r, pairs);
    let name = name_score(&l.name, &r.name);
    // Most pairs of a wide file hold nothing alike: a glance at the first
    // rows turns them away before any normalizer is tried.
    let joined = join(f[0].ty.clone(), f[1].ty.clone()).filter(|t| *t != Ty::String);
    let glance = &values[..values.len().min(300)];
    let loose = share(glance, |(a, b)| a.trim().to_lowercase() == b.trim().to_lowercase());
    let typed = joined.as_ref().and_then(Ty::field_type).is_some_and(|ft| {
        share(
            glance,
            |(a, b)| matches!((ft.convert(a.trim()), ft.convert(b.trim())), (Ok(x), Ok(y)) if x == y),
        ) >= 0.05
    });
    // Times are few and may be hours apart (a zone read differently).
    let times = matches!(joined, Some(Ty::Date { .. } | Ty::Timestamp { .. }));
    let plausible = name >= 0.5
        || loose >= 0.05
        || typed
        || times
        || (f[0].phone && f[1].phone)
        // Two code lists of (nearly) one length: a map may join them.
        || matches!((f[0].codes, f[1].codes), (Some(a), Some(b)) if a.abs_diff(b) <= 1)
        || !f[0].pii.is_empty()
        || !f[1].pii.is_empty()
        || f[0].set.is_some()
        || f[1].set.is_some();
    if !plausible {
        return None;
    }
    let mut evidence = Vec::new();
    let mut field = Field {
        name: field_name(&l.name, &r.name),
        columns: [l.name.clone(), r.name.clone()],
        ty: Ty::String,
        normalize: [Vec::new(), Vec::new()],
        map: None,
        pii: None,
        mask: None,
        tolerance: None,
        scan: false,
        compare: true,
        evidence: Vec::new(),
        review: false,
    };
    let raw = share(&values, |(a, b)| a == b);
    // Personal data: a detector most values of one side pass (a masked side passes none).
    let pii = DETECTORS.into_iter().find_map(|d| {
        let best = f
            .iter()
            .flat_map(|x| x.pii.iter())
            .filter(|(x, _)| *x == d)
            .map(|(_, s)| *s)
            .fold(0.0, f64::max);
        (best >= 0.8).then_some((d, best))
    });
    let masks: [Option<(&str, f64)>; 2] = [f[0].mask, f[1].mask];
    let (agree, how) = if let Some((detector, s)) = pii {
        field.pii = Some(detector.to_string());
        evidence.push(format!(
            "personal data: {:.0}% of one side's values are valid `{detector}`",
            100.0 * s
        ));
        let steps: Vec<String> = match detector {
            "cn_mobile" => vec!["trim".into(), "empty_is_null".into(), "phone_e164:CN".into()],
            "bank_card" => vec!["digits_only".into()],
            "cn_resident_id" => vec!["trim".into(), "upper".into()],
            _ => vec!["trim".into()],
        };
        if masks.iter().any(Option::is_some) {
            let shown = masks.map(|m| m.map_or("clear".to_string(), |(m, _)| m.to_string()));
            evidence.push(format!("masks seen: left {}, right {}", shown[0], shown[1]));
            field.mask = Some(shown);
            // The masked side keeps its mask characters: only trim it.
            field.normalize = [0, 1].map(|i| match masks[i] {
                Some(_) => vec!["trim".to_string()],
                None => steps.clone(),
            });
            (
                share(&values, |(a, b)| {
                    let last4 = |x: &str| -> String { x.chars().rev().filter(char::is_ascii_digit).take(4).collect() };
                    last4(a) == last4(b)
                }),
                "on their last 4 digits (a side is masked)".to_string(),
            )
        } else {
            let refs = parsed(&steps.iter().map(String::as_str).collect::<Vec<_>>());
            field.normalize = [steps.clone(), steps.clone()];
            (
                share(&values, |(a, b)| same(&refs, a, b)),
                format!("after {}", steps.join(", ")),
            )
        }
    } else if let Some(ty) = joined {
        let ft = ty.field_type()?;
        let conv = |x: &str| ft.convert(x.trim()).ok();
        let agree = share(
            &values,
            |(a, b)| matches!((conv(a), conv(b)), (Some(x), Some(y)) if x == y),
        );
        field.normalize = [vec!["trim".to_string()], vec!["trim".to_string()]];
        let how = format!("as {}", ty.spec_name());
        let mut agree = agree;
        if let (Ty::Timestamp { .. }, true) = (&ty, agree < SURE) {
            if let Some((hours, explained)) = constant_offset(&values, &ft) {
                field.review = true;
                field.compare = false;
                agree = explained;
                evidence.push(format!(
                    "REVIEW: the right side is {hours:+} h from the left on {:.0}% of rows: a time zone read differently; not compared until a `timezone` on one source says which",
                    100.0 * explained
                ));
            }
        }
        // One unit apart (a cent, a second) on a few rows at least:
        // rounding between the systems, proposed as a tolerance.
        let unit = match &ty {
            Ty::Decimal(_) => Some(("abs = 0.01", 0.011, "cents")),
            Ty::Int => Some(("abs = 1", 1.0, "one unit")),
            Ty::Timestamp { .. } if field.compare => Some(("seconds = 1", 1.0, "a second")),
            _ => None,
        };
        if let Some((abs, within, what)) = unit {
            let close = share(&values, |(a, b)| match (conv(a), conv(b)) {
                (Some(Value::Ts(x)), Some(Value::Ts(y))) => (x.nanos() - y.nanos()).abs() as f64 <= within * 1e9,
                (Some(Value::Dec { .. } | Value::Int(_)), Some(Value::Dec { .. } | Value::Int(_))) => {
                    let f = |x: &str| x.trim().parse::<f64>().unwrap_or(f64::NAN);
                    (f(a) - f(b)).abs() <= within
                }
                _ => false,
            });
            let rows = ((close - agree) * values.len() as f64).round();
            if rows >= 2.0 && close - agree >= 0.005 {
                evidence.push(format!(
                    "{:.0}% agree within {what} ({abs}): a tolerance proposed",
                    100.0 * close
                ));
                field.tolerance = Some(abs.into());
                agree = close;
            }
        }
        field.ty = ty;
        (agree, how)
    } else if let Some(shapes) = Some([f[0].set.clone(), f[1].set.clone()])
        .filter(|s| s.iter().all(Option::is_some) && s.iter().any(|x| matches!(x, Some(Some(_)))))
        .map(|[a, b]| [a.flatten(), b.flatten()])
    {
        // Sets: a delimited list on a side (a list column shows as a JSON array).
        let sets: Vec<[BTreeSet<String>; 2]> = values
            .iter()
            .map(|(a, b)| [elements(a, &shapes[0]), elements(b, &shapes[1])])
            .collect();
        let all = [(l, 0), (r, 1)].map(|(c, i)| {
            c.values
                .iter()
                .flatten()
                .filter(|v| !v.trim().is_empty())
                .flat_map(|v| elements(v, &shapes[i]))
                .collect::<BTreeSet<String>>()
        });
        let (map, support) = element_map(&sets, &all);
        field.ty = Ty::Set(shapes);
        field.normalize = [vec!["trim".into()], vec!["trim".into()]];
        if let Some([left, right]) = map {
            evidence.push(format!(
                "a set on each side; elements paired by the rows they share: {}",
                left.iter()
                    .map(|(a, c)| format!(
                        "{a} → {}",
                        right.iter().find(|(_, rc)| *rc == c).map_or("?", |(r, _)| r.as_str())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            field.map = Some([left, right]);
        }
        (support, "as sets".to_string())
    } else if f[0].free {
        // Notes and comments: searched for personal data, not compared.
        field.scan = true;
        field.compare = false;
        field.review = true;
        evidence.push(
            "REVIEW: free text (long, varied, with spaces): searched for personal data (`scan`), not compared".into(),
        );
        let s = share(&values, |(a, b)| a.trim() == b.trim());
        (s, "as they are".to_string())
    } else {
        let mut best = (-1.0, Vec::new());
        let mut tried: Vec<Vec<String>> = TEXT_STEPS
            .iter()
            .map(|s| s.iter().map(|x| x.to_string()).collect())
            .collect();
        // Phone numbers: E.164 in the region that explains most rows.
        if f[0].phone || f[1].phone {
            for region in PHONE_REGIONS {
                tried.push(vec![
                    "trim".into(),
                    "empty_is_null".into(),
                    format!("phone_e164:{region}"),
                ]);
            }
        }
        for steps in &tried {
            let parsed_steps = parsed(&steps.iter().map(String::as_str).collect::<Vec<_>>());
            let s = share(&values, |(a, b)| same(&parsed_steps, a, b));
            if s > best.0 + 1e-9 {
                best = (s, steps.clone());
            }
        }
        field.normalize = [best.1.clone(), best.1.clone()];
        let how = match best.1.is_empty() {
            true => "as they are".to_string(),
            false => format!("after {}", best.1.join(", ")),
        };
        (best.0, how)
    };
    let mut agree = agree;
    let mut how = how;
    // Codes: few distinct values on both sides that rarely agree as they are.
    if field.pii.is_none() && agree < SURE {
        if let Some((map, support, ambiguous)) = code_map(&values) {
            if support > agree {
                evidence.push(format!(
                    "code map from {} matched rows: {}",
                    values.len(),
                    map.iter()
                        .map(|(a, (b, n))| format!("{a} → {b} ({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if !ambiguous.is_empty() {
                    field.review = true;
                    evidence.push(format!(
                        "REVIEW: codes left out of the map (unconvertible until mapped): {}",
                        ambiguous.join(", ")
                    ));
                }
                let canonical = |b: &str| -> String { b.trim().to_lowercase() };
                let mut left: BTreeMap<String, String> =
                    map.iter().map(|(a, (b, _))| (a.clone(), canonical(b))).collect();
                let mut right: BTreeMap<String, String> =
                    map.values().map(|(b, _)| (b.clone(), canonical(b))).collect();
                // Codes seen only on rows the other side lacks have no partner
                // to learn from: each stands for itself (lower case), to review.
                let left_out: BTreeSet<&str> = ambiguous.iter().map(|a| a.split(" (").next().unwrap_or(a)).collect();
                let mut alone = Vec::new();
                for (column, into) in [(l, &mut left), (r, &mut right)] {
                    let seen: BTreeSet<&str> = present_values(column).collect();
                    for v in seen {
                        if !into.contains_key(v) && !left_out.contains(v) {
                            into.insert(v.to_string(), canonical(v));
                            alone.push(v.to_string());
                        }
                    }
                }
                if !alone.is_empty() {
                    field.review = true;
                    evidence.push(format!(
                        "REVIEW: codes seen only on rows the other side lacks, mapped to themselves: {}",
                        alone.join(", ")
                    ));
                }
                field.map = Some([left, right]);
                field.ty = Ty::String;
                field.normalize = [vec!["trim".into()], vec!["trim".into()]];
                agree = support;
                how = "through the code map".into();
            }
        }
    }
    if agree < LEAST && name < 0.9 {
        return None;
    }
    evidence.insert(
        0,
        format!(
            "{} ↔ {}: name alike {:.2}; {:.0}% of {} matched rows agree {how} ({:.0}% as they are)",
            l.name,
            r.name,
            name,
            100.0 * agree,
            values.len(),
            100.0 * raw
        ),
    );
    if agree < SURE {
        field.review = true;
        evidence.push("REVIEW: weak support".into());
    }
    field.evidence = evidence;
    Some((0.7 * agree + 0.3 * name, field))
}

/// A map from each left code to the right code it appears with most, with
/// its count; the share of rows it explains; the codes without a clear
/// partner. None when the columns do not look like codes.
type CodeMap = (BTreeMap<String, (String, usize)>, f64, Vec<String>);

fn code_map(values: &[(&str, &str)]) -> Option<CodeMap> {
    let distinct = |i: usize| -> BTreeSet<&str> {
        values
            .iter()
            .map(|p| if i == 0 { p.0.trim() } else { p.1.trim() })
            .collect()
    };
    let (dl, dr) = (distinct(0), distinct(1));
    // One value on a side tells nothing about which codes correspond.
    if values.len() < 10 || dl.len() > CODES || dr.len() > CODES || dl == dr || dl.len() < 2 || dr.len() < 2 {
        return None;
    }
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (a, b) in values {
        *counts.entry(a.trim()).or_default().entry(b.trim()).or_default() += 1;
    }
    let mut map = BTreeMap::new();
    let mut ambiguous = Vec::new();
    for (a, partners) in &counts {
        let total: usize = partners.values().sum();
        let Some((b, n)) = partners.iter().max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0))) else {
            continue;
        };
        if (*n as f64) < 0.6 * total as f64 {
            ambiguous.push(a.to_string());
            continue;
        }
        map.insert(a.to_string(), (b.to_string(), *n));
    }
    // A rare code that shares its partner with a common one is more likely a
    // code one system added than a synonym: left out, for a person to map.
    let rare = (values.len() as f64 * 0.05).max(3.0);
    let mut shared: BTreeMap<&str, usize> = BTreeMap::new();
    for (b, _) in map.values() {
        *shared.entry(b.as_str()).or_default() += 1;
    }
    let left_out: Vec<String> = map
        .iter()
        .filter(|(_, (b, n))| shared[b.as_str()] > 1 && (*n as f64) < rare)
        .map(|(a, _)| a.clone())
        .collect();
    for a in left_out {
        if let Some((b, n)) = map.remove(&a) {
            ambiguous.push(format!("{a} (seen {n} times with {b})"));
        }
    }
    let explained: usize = map.values().map(|(_, n)| n).sum();
    (!map.is_empty()).then(|| (map, explained as f64 / values.len() as f64, ambiguous))
}

/// The whole-hour offset between the sides on most matched rows, and the
/// share of rows it explains, if any.
fn constant_offset(values: &[(&str, &str)], ft: &FieldType) -> Option<(i64, f64)> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for (a, b) in values {
        if let (Ok(Value::Ts(x)), Ok(Value::Ts(y))) = (ft.convert(a.trim()), ft.convert(b.trim())) {
            let d = y.micros() - x.micros();
            if d != 0 && d % 3_600_000_000 == 0 {
                *counts.entry(d / 3_600_000_000).or_default() += 1;
            }
        }
    }
    let (hours, n) = counts.into_iter().max_by_key(|&(h, n)| (n, -h.abs()))?;
    let explained = n as f64 / values.len().max(1) as f64;
    (explained >= 0.5).then_some((hours, explained))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, values: &[&str]) -> Column {
        Column {
            name: name.into(),
            values: values.iter().map(|v| (!v.is_empty()).then(|| v.to_string())).collect(),
        }
    }

    fn sample(columns: Vec<Column>) -> Sample {
        let rows = columns.first().map_or(0, |c| c.values.len());
        Sample {
            path: "s".into(),
            columns,
            rows,
            total: Some(rows),
            options: String::new(),
        }
    }

    #[test]
    fn names_are_alike_across_case_separators_and_crm_suffixes() {
        assert_eq!(name_score("card_no", "CardNo__c"), 1.0);
        assert_eq!(name_score("VIP", "VIP__c"), 1.0);
        assert_eq!(name_score("full_name", "Name"), 0.8);
        assert!(name_score("last_login", "LastLoginDate") >= 0.8);
        assert_eq!(name_score("state", "StatusCode"), 0.0);
        // Chinese names against pinyin ones, whatever the separators.
        assert_eq!(name_score("客户编号", "kehu_bianhao"), 1.0);
        assert_eq!(name_score("KeHuBianHao", "客户编号"), 1.0);
        assert!(name_score("手机号码", "shouji") >= 0.8);
        assert!(name_score("客户编号", "金额") < 0.5);
        assert_eq!(name_score("", "x"), 0.0);
        assert!(key_like("cust_no") && key_like("External_Id__c") && key_like("id") && key_like("CaseNumber"));
        assert!(!key_like("amount") && !key_like("status") && !key_like("name"));
        assert_eq!(field_name("LastModifiedDate", "x"), "last_modified_date");
        assert_eq!(field_name("--", "Name"), "name");
    }

    #[test]
    fn types_are_the_narrowest_that_nearly_every_value_converts_to() {
        let t = |v: &[&str]| type_of(v.iter().copied());
        assert_eq!(t(&["1", "22", "-3"]), Ty::Int);
        // Leading zeros: codes, not numbers.
        assert_eq!(t(&["007", "012"]), Ty::String);
        assert_eq!(t(&["1.5", "2", "3.25"]), Ty::Decimal(2));
        assert_eq!(
            t(&["1", "0", "1"]),
            Ty::Bool {
                yes: vec!["1".into()],
                no: vec!["0".into()]
            }
        );
        // One truth value only is still a bool, its partner assumed.
        assert_eq!(
            t(&["true", "true"]),
            Ty::Bool {
                yes: vec!["true".into()],
                no: vec!["false".into()]
            }
        );
        assert_eq!(t(&["2026-12-07", "2026-01-31"]), Ty::Date { extra: Vec::new() });
        assert_eq!(
            t(&["07/12/2026", "31/01/2026"]),
            Ty::Date {
                extra: vec!["%d/%m/%Y".into()]
            }
        );
        assert_eq!(
            t(&["12/07/2026", "01/31/2026"]),
            Ty::Date {
                extra: vec!["%m/%d/%Y".into()]
            }
        );
        assert_eq!(
            t(&["2026-12-07 02:00:00", "2026-12-07T02:00:00Z"]),
            Ty::Timestamp { extra: Vec::new() }
        );
        assert_eq!(
            join(Ty::Int, Ty::Timestamp { extra: Vec::new() }),
            Some(Ty::Timestamp {
                extra: vec!["%s".into()]
            })
        );
        // One bad value in twenty is a finding, not another type.
        let mut many = vec!["5"; 19];
        many.push("n/a");
        assert_eq!(t(&many), Ty::Int);
        assert_eq!(t(&["5", "n/a"]), Ty::String);
        assert_eq!(join(Ty::Int, Ty::Decimal(2)), Some(Ty::Decimal(2)));
        assert_eq!(join(Ty::Int, Ty::Date { extra: Vec::new() }), None);
    }

    #[test]
    fn code_maps_come_from_co_occurrence_and_leave_rare_synonyms_out() {
        let mut values: Vec<(&str, &str)> = Vec::new();
        values.extend(std::iter::repeat_n(("1", "Active"), 30));
        values.extend(std::iter::repeat_n(("0", "Inactive"), 10));
        values.extend(std::iter::repeat_n(("9", "Active"), 2));
        let (map, support, left_out) = code_map(&values).expect("a map");
        assert_eq!(map["1"].0, "Active");
        assert_eq!(map["0"].0, "Inactive");
        assert!(!map.contains_key("9"), "{map:?}");
        assert!(left_out[0].starts_with("9 "), "{left_out:?}");
        assert!((support - 40.0 / 42.0).abs() < 1e-9);
        // One value on a side says nothing; identical code lists need no map.
        assert!(code_map(&vec![("a", "x"); 20]).is_none());
        let same: Vec<(&str, &str)> = (0..20)
            .map(|i| if i % 2 == 0 { ("a", "a") } else { ("b", "b") })
            .collect();
        assert!(code_map(&same).is_none());
    }

    #[test]
    fn phone_numbers_are_compared_in_the_region_that_explains_them() {
        let local: Vec<String> = (0..12).map(|i| format!("(415) 555-26{:02}", 10 + i)).collect();
        let e164: Vec<String> = (0..12).map(|i| format!("+1415555 26{:02}", 10 + i)).collect();
        let l = col("Mobile", &local.iter().map(String::as_str).collect::<Vec<_>>());
        let r = col("phone", &e164.iter().map(String::as_str).collect::<Vec<_>>());
        let pairs: Vec<(usize, usize)> = (0..12).map(|i| (i, i)).collect();
        let (_, f) = pair(&l, &r, &pairs).expect("paired");
        assert_eq!(f.normalize[0], ["trim", "empty_is_null", "phone_e164:US"]);
        assert!(
            f.evidence[0].contains("100% of 12 matched rows agree"),
            "{:?}",
            f.evidence
        );
        assert!(phone_like("+86 139 1234 5678") && !phone_like("12") && !phone_like("call me"));
    }

    #[test]
    fn epoch_seconds_pair_with_timestamps_and_seconds_apart_get_a_tolerance() {
        let epoch: Vec<String> = (0..12).map(|i| (1_733_536_800 + 3_600 * i).to_string()).collect();
        let text: Vec<String> = (0..12).map(|i| format!("2024-12-07 {:02}:00:00", 2 + i)).collect();
        let l = col("created", &epoch.iter().map(String::as_str).collect::<Vec<_>>());
        let r = col("CreatedDate", &text.iter().map(String::as_str).collect::<Vec<_>>());
        let pairs: Vec<(usize, usize)> = (0..12).map(|i| (i, i)).collect();
        let (_, f) = pair(&l, &r, &pairs).expect("paired");
        assert_eq!(
            f.ty,
            Ty::Timestamp {
                extra: vec!["%s".into()]
            }
        );
        assert!(f.evidence[0].contains("100% of 12"), "{:?}", f.evidence);
        // A second apart on three rows: a tolerance of a second.
        let later: Vec<String> = (0..12)
            .map(|i| format!("2024-12-07 {:02}:00:0{}", 2 + i, if i < 3 { 1 } else { 0 }))
            .collect();
        let r = col("CreatedDate", &later.iter().map(String::as_str).collect::<Vec<_>>());
        let l = col("created_at", &text.iter().map(String::as_str).collect::<Vec<_>>());
        let (_, f) = pair(&l, &r, &pairs).expect("paired");
        assert_eq!(f.tolerance.as_deref(), Some("seconds = 1"), "{:?}", f.evidence);
    }

    #[test]
    fn sets_and_free_text_are_told_apart() {
        let listed = vec![r#"["A","B"]"#; 6];
        assert_eq!(set_shape(&listed), Some(None));
        let split = vec!["a;b", "c", "a; d", "b;c", "a", "e;f"];
        assert_eq!(set_shape(&split), Some(Some(";".into())));
        assert_eq!(set_shape(&["plain"; 6]), None);
        assert_eq!(
            elements(" a; b ;;a", &Some(";".into())),
            ["a", "b"].map(String::from).into()
        );
        let notes = vec!["Customer asked about the November invoice; resolved."; 12];
        assert!(free_text(&notes));
        assert!(!free_text(&["Active"; 12]));
        // Elements pair by the rows they share, one to one.
        let sets: Vec<[BTreeSet<String>; 2]> = (0..10)
            .map(|i| {
                let l: BTreeSet<String> = if i < 5 {
                    ["x.view".into()].into()
                } else {
                    ["x.edit".into()].into()
                };
                let r: BTreeSet<String> = if i < 5 {
                    ["View".into()].into()
                } else {
                    ["Edit".into()].into()
                };
                [l, r]
            })
            .collect();
        let all = [
            sets.iter().flat_map(|s| s[0].clone()).collect(),
            sets.iter().flat_map(|s| s[1].clone()).collect(),
        ];
        let (map, support) = element_map(&sets, &all);
        let [l, r] = map.expect("a map");
        assert_eq!(l["x.view"], r["View"]);
        assert_eq!(l["x.edit"], r["Edit"]);
        assert_eq!(support, 1.0);
    }

    #[test]
    fn a_key_is_unique_shared_and_key_like_and_takes_a_numbering_part() {
        let ids: Vec<String> = (0..40).map(|i| format!("C{i:04}")).collect();
        let amounts: Vec<String> = (0..40).map(|i| format!("{}.5", 100 + i)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let amounts: Vec<&str> = amounts.iter().map(String::as_str).collect();
        let left = sample(vec![col("amount", &amounts), col("cust_no", &ids)]);
        let right = sample(vec![col("Amount", &amounts), col("External_Id__c", &ids)]);
        let key = guess_key(&[left, right]).expect("a key");
        assert_eq!(key.columns, vec![["cust_no".to_string(), "External_Id__c".to_string()]]);
        // One call in twenty has a second leg: the leg joins the key.
        let calls: Vec<&str> = ids
            .iter()
            .flat_map(|i| {
                if ["C0000", "C0020"].contains(i) {
                    vec![*i, *i]
                } else {
                    vec![*i]
                }
            })
            .collect();
        let legs: Vec<&str> = calls
            .iter()
            .enumerate()
            .map(|(n, c)| if n > 0 && calls[n - 1] == *c { "2" } else { "1" })
            .collect();
        let left = sample(vec![col("call_id", &calls), col("leg", &legs)]);
        let right = sample(vec![col("CallId", &calls), col("Leg", &legs)]);
        let key = guess_key(&[left.clone(), right.clone()]).expect("a key");
        assert_eq!(
            key.columns,
            vec![
                ["call_id".to_string(), "CallId".to_string()],
                ["leg".to_string(), "Leg".to_string()]
            ]
        );
        // Half the rows repeating a call id: too few of their own for a key.
        let halves: Vec<&str> = ids.iter().flat_map(|i| [*i, *i]).take(40).collect();
        let left2 = sample(vec![col("call_id", &halves)]);
        let right2 = sample(vec![col("CallId", &halves)]);
        assert!(guess_key(&[left2, right2]).is_none());
        let key = declared_key(&[left, right], &["call_id=CallId".into(), "leg=Leg".into()]).expect("declared");
        assert_eq!(key.overlap, 1.0);
        // Unrelated values: no key at all.
        let other: Vec<String> = (0..40).map(|i| format!("Z{i:04}")).collect();
        let other: Vec<&str> = other.iter().map(String::as_str).collect();
        let left = sample(vec![col("id", &ids)]);
        let right = sample(vec![col("id", &other)]);
        assert!(guess_key(&[left, right]).is_none());
    }
}
