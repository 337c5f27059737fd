//! Bucket results joined into one entity result, on a thread of its own.

use crate::error::{Error, Result};

use super::*;

/// Merges one entity's bucket results on a thread of its own, where each
/// bucket's typed cells are freed too: appending a bucket's findings and
/// repairs to the growing lists and freeing its cells had taken 0.15–0.6 s
/// of every 10M-row bucket on the main path. At most one bucket waits for
/// it (a slower merger holds the next bucket back instead of piling up
/// buckets' cells in memory).
pub(super) struct Merger {
    tx: std::sync::mpsc::SyncSender<(EntityResult, PreparedEntity)>,
    thread: std::thread::JoinHandle<Option<EntityResult>>,
}

impl Merger {
    /// A merger of the results of `buckets` buckets.
    pub(super) fn spawn(buckets: usize) -> Result<Merger> {
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
            .map_err(|e| Error::thread("merger", e))?;
        Ok(Merger { tx, thread })
    }

    /// Hands over one bucket's result and its prepared entity (to be freed).
    pub(super) fn send(&self, r: EntityResult, prepared: PreparedEntity) -> Result<()> {
        self.tx
            .send((r, prepared))
            .map_err(|_| Error::Internal("the merger stopped".into()))
    }

    /// The merged result (None when no bucket was sent).
    pub(super) fn finish(self) -> Result<Option<EntityResult>> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| Error::Internal("the merger panicked".into()))
    }
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
    pub(super) fn absorb(&mut self, mut o: EntityResult) {
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
