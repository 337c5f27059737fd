//! Deterministic demo data: a call-center export and a CRM export of the same
//! customers, calls, tickets and agent accounts, with drift, quality and format noise
//! injected on purpose, and the ground truth of every finding recon must
//! report (`ground_truth.jsonl`).
//!
//! Every injected defect touches its own rows, so the expected findings are
//! exact; everything else differs only in ways the spec's mapping absorbs
//! (phone formats, full-width digits, time zones, code lists, tolerances).
//!
//! `customers`, `calls`, `tickets` and `accounts` build each entity's two tables and
//! record its expected findings; `fake` makes the values (names, phones,
//! IDs, cards, notes, times); `truth` holds the expected findings; `write`
//! writes the tables in each system's format; `large` makes benchmark pairs.

mod accounts;
mod calls;
mod customers;
mod fake;
mod large;
mod tickets;
mod truth;
mod write;

pub use large::{large, wide};
pub use truth::{read_truth, Expected, Truth};

use std::collections::BTreeSet;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;

/// A table as rows of optional text cells, written by `write`.
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }
}

pub struct Config {
    pub seed: u64,
    pub customers: usize,
}

pub struct Generated {
    pub truth: Truth,
}

/// Generates the demo pair into `out` (callcenter/, crm/, ground_truth.jsonl).
pub fn generate(out: &Path, cfg: &Config) -> Result<Generated> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut truth = Truth::default();
    let n = cfg.customers.max(30);
    let k = (n / 30).max(1);
    let customers = customers::build(&mut rng, n, k, &mut truth);
    // Which call each ticket was opened for; those calls carry needs_ticket.
    let n_calls = customers.ids.len() * 3;
    let ticket_calls: Vec<usize> = (0..customers.ids.len()).map(|_| rng.random_range(0..n_calls)).collect();
    let ticketed: BTreeSet<usize> = ticket_calls.iter().copied().collect();
    let calls = calls::build(&mut rng, &customers.ids, &ticketed, k, &mut truth);
    let tickets = tickets::build(&mut rng, &customers.ids, &calls.ids, &ticket_calls, k, &mut truth);
    truth::references(&customers.tables, &calls.tables, &tickets.tables, &mut truth);
    // Agents 1..=39 handle the calls; two of them have no account anywhere.
    let ghosts: BTreeSet<usize> = (0..2).map(|g| 7 + 17 * g + rng.random_range(0..5)).collect();
    let accounts = accounts::build(&mut rng, (n * 3 / 4).max(45), &ghosts, k, &mut truth);
    accounts::call_agents(&calls.tables, &accounts, &mut truth);
    write::all(
        out,
        &customers.tables,
        &calls.tables,
        &tickets.tables,
        &accounts,
        &truth,
    )?;
    Ok(Generated { truth })
}

struct Built {
    ids: Vec<String>,
    tables: (Table, Table),
}
