//! The trial by which a per-field memo of repeated values (the change
//! state's cell hashes, the free-text scan's clean texts) decides whether
//! it pays: a memo whose lookups hit less than half the time over its
//! first [`Trial::LOOKUPS`] is turned off, its table freed, so a field of
//! values that rarely repeat pays only the trial.

/// Lookups and hits of one memo's trial, and its verdict.
#[derive(Debug, Default)]
pub struct Trial {
    lookups: u32,
    hits: u32,
    off: bool,
}

impl Trial {
    /// Lookups before deciding; at least half must hit (a miss costs a
    /// lookup and an insert on top of the work it remembers).
    pub const LOOKUPS: u32 = 4096;

    /// A trial already lost: the memo is off from the start.
    pub fn off() -> Trial {
        Trial {
            off: true,
            ..Trial::default()
        }
    }

    /// Whether the memo is off.
    #[inline]
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Counts one lookup (`hit`: it found its value); true when this one
    /// ended the trial and the memo is now off (its table can be freed).
    /// Lookups after the trial are not counted.
    #[inline]
    pub fn record(&mut self, hit: bool) -> bool {
        if self.lookups >= Self::LOOKUPS {
            return false;
        }
        self.lookups += 1;
        self.hits += u32::from(hit);
        if self.lookups == Self::LOOKUPS && self.hits < Self::LOOKUPS / 2 {
            self.off = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trial's verdict after `hits` hits among its lookups (the hits first).
    fn verdict(hits: u32) -> (bool, u32) {
        let mut trial = Trial::default();
        let mut ended = 0;
        for i in 0..2 * Trial::LOOKUPS {
            ended += u32::from(trial.record(i < hits));
        }
        (trial.is_off(), ended)
    }

    #[test]
    fn a_memo_stays_on_with_half_its_lookups_hitting() {
        assert_eq!(verdict(Trial::LOOKUPS / 2), (false, 0));
        assert_eq!(verdict(Trial::LOOKUPS), (false, 0));
    }

    #[test]
    fn a_memo_turns_off_once_when_fewer_than_half_hit() {
        assert_eq!(verdict(Trial::LOOKUPS / 2 - 1), (true, 1));
        assert_eq!(verdict(0), (true, 1));
        // Deciding on a hit as on a miss: the last lookup hits here.
        let mut trial = Trial::default();
        for i in 0..Trial::LOOKUPS {
            let ended = trial.record(i == Trial::LOOKUPS - 1);
            assert_eq!(ended, i == Trial::LOOKUPS - 1);
        }
        assert!(trial.is_off());
    }

    #[test]
    fn a_lost_trial_is_off_from_the_start() {
        let mut trial = Trial::off();
        assert!(trial.is_off());
        assert!(!trial.record(false));
    }
}
