//! A bounded sample of each side: the first rows of every column as text,
//! read through the same loaders a run uses (so a file `init` can sample
//! is a file `run` can read).

use std::path::Path;

use polars::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::source;
use crate::spec::{self, Side};

/// One column's sampled values (None: null).
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub values: Vec<Option<String>>,
}

/// One side's sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// As given on the command line.
    pub path: String,
    pub columns: Vec<Column>,
    /// Rows sampled, and rows in the whole source when it was read to its
    /// end (None: reading stopped once the sample was full).
    pub rows: usize,
    pub total: Option<usize>,
    /// The source table's options besides its path (`encoding = "gbk"`).
    pub options: String,
}

impl Sample {
    /// The first `n` rows.
    pub fn head(mut self, n: usize) -> Sample {
        for c in self.columns.iter_mut() {
            c.values.truncate(n);
        }
        self.rows = self.rows.min(n);
        self
    }

    /// `58 of 58 rows read`, or `the first 100000 rows read` when the
    /// source has more.
    pub fn extent(&self) -> String {
        match self.total {
            Some(total) => format!("{} of {total} rows read", self.rows),
            None => format!("the first {} rows read (the source has more)", self.rows),
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The first `limit` rows of both sources (paths or URLs, any format a run
/// reads: the format from the extension).
pub fn read(left: &str, right: &str, limit: usize) -> Result<[Sample; 2]> {
    // The loaders take their options from a spec: a spec of the two paths.
    let options = [options_of(left), options_of(right)];
    let text = format!(
        "[run]\nname = \"init\"\n[sides]\nleft = \"left\"\nright = \"right\"\n[[entity]]\nname = \"e\"\nkey = [\"k\"]\n\
         left = {{ path = {}{} }}\nright = {{ path = {}{} }}\n[[entity.field]]\nname = \"k\"\n",
        toml_string(left),
        options[0],
        toml_string(right),
        options[1]
    );
    let spec = spec::parse(Path::new("init.toml"), &text, String::new())?;
    let entity = &spec.entities[0];
    let mut l = side(&entity.sources[Side::Left.idx()], left, limit)?;
    let mut r = side(&entity.sources[Side::Right.idx()], right, limit)?;
    [l.options, r.options] = options;
    Ok([l, r])
}

/// Options a source needs that its path does not say: a local CSV file
/// that is not UTF-8 but reads as GBK (exports of Chinese systems often are).
fn options_of(path: &str) -> String {
    use std::io::Read;
    let is_csv = Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"));
    if crate::storage::is_url(path) || !is_csv {
        return String::new();
    }
    let mut head = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return String::new();
    };
    if file.take(1 << 20).read_to_end(&mut head).is_err() {
        return String::new();
    }
    let utf8 = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // Cut in the middle of a character at the end of what was read.
        Err(e) => e.error_len().is_none(),
    };
    if utf8 {
        return String::new();
    }
    let (_, _, errors) = encoding_rs::GBK.decode(&head);
    match errors {
        false => ", encoding = \"gbk\"".into(),
        true => String::new(),
    }
}

fn side(src: &spec::Source, path: &str, limit: usize) -> Result<Sample> {
    let names = source::column_names(src)?;
    if names.is_empty() {
        return Err(Error::input(Path::new(path), "has no columns"));
    }
    let mut columns: Vec<Column> = names
        .iter()
        .map(|n| Column {
            name: n.clone(),
            values: Vec::new(),
        })
        .collect();
    let mut rows = 0;
    let read = source::for_each_chunk(src, &names, 64 * 1024, |frame: DataFrame| {
        let take = limit.saturating_sub(rows).min(frame.height());
        if take == 0 {
            // The sample is full: stop reading (a 10M-row file is not read whole).
            return Err(Error::Internal(FULL.into()));
        }
        for c in columns.iter_mut() {
            let Ok(col) = frame.column(&c.name).and_then(|s| s.str().cloned()) else {
                c.values.extend(std::iter::repeat_n(None, take));
                continue;
            };
            c.values.extend(col.iter().take(take).map(|v| v.map(str::to_string)));
        }
        rows += take;
        Ok(())
    });
    let total = match read {
        Ok(loaded) => Some(loaded.rows),
        Err(Error::Internal(m)) if m == FULL => None,
        Err(e) => return Err(e),
    };
    Ok(Sample {
        path: path.to_string(),
        columns,
        rows,
        total,
        options: String::new(),
    })
}

/// What the chunk callback returns to stop reading once the sample is full
/// (never shown: `side` turns it back into success).
const FULL: &str = "the sample is full";

/// `text` as a TOML basic string.
pub fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
