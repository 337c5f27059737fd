//! The lock on a run history: one `run` at a time per reports folder, from
//! choosing the previous run to sealing its own folder, so two runs never
//! link to the same previous run and fork the hash chain.
//!
//! The lock is an OS advisory lock (`flock(2)`; `std::fs::File::try_lock`
//! is the same call but newer than the crate's MSRV) on `OUT/.recon.lock`. The kernel releases it when the holder exits,
//! however it dies, so a lock left by a killed run is simply free. The
//! file's text (pid, host, run id, since when) only names the holder for
//! the waiting run's message; each new holder rewrites it. The file is
//! never removed: removing it would let a run lock a fresh file while
//! another still holds the old one. It is hidden (`.`), so it is never
//! taken for a run folder, never sealed, and `verify --chain` skips it.
//!
//! Not here: object storage (a create-only lease with expiry will be its
//! own backend) and locks on any other command.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lock file's name in a reports folder.
pub const LOCK_FILE: &str = ".recon.lock";

/// How long `recon run` waits for the lock unless told (`--wait`): longer
/// than a slow night's overlap with a retry, short enough that a stuck
/// scheduler slot is noticed.
pub const DEFAULT_WAIT: &str = "10m";

/// How often a waiting run tries again.
const POLL: Duration = Duration::from_millis(100);

/// Who holds (or last held) the lock: informational text in the lock file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run `{}` (pid {} on {}, since {})",
            self.run_id, self.pid, self.host, self.since
        )
    }
}

/// The exclusive lock on a reports folder; released when dropped (or when
/// the process ends).
#[derive(Debug)]
pub struct HistoryLock {
    file: File,
    path: PathBuf,
}

impl HistoryLock {
    /// Locks `out` (created if missing), waiting up to `wait` for a holder
    /// to finish; after that, a usage error (exit 2) naming the holder.
    pub fn acquire(out: &Path, wait: Duration) -> Result<HistoryLock> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let path = out.join(LOCK_FILE);
        // Never truncated on open: until it holds the lock, this process
        // must not erase the holder's name.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let deadline = Instant::now() + wait;
        let mut told = false;
        loop {
            match try_lock(&file) {
                Ok(true) => return Ok(HistoryLock { file, path }),
                Ok(false) => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(busy(out, &path, wait));
            }
            if !told {
                tracing::warn!(
                    out = %out.display(),
                    holder = %holder_text(&path),
                    wait = ?wait,
                    "another run holds the reports folder; waiting"
                );
                told = true;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Writes this process's name into the lock file (best effort: the
    /// text is only read for messages).
    pub fn record(&mut self, run_id: &str, since: chrono::DateTime<chrono::Utc>) {
        let holder = LockHolder {
            pid: std::process::id(),
            host: hostname(),
            run_id: run_id.to_string(),
            since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let text = serde_json::to_string(&holder).unwrap_or_default() + "\n";
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            tracing::warn!(file = %self.path.display(), error = %e, "could not name the lock's holder");
        }
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: Ok(false) when another open file holds it.
/// The lock belongs to the open file, so it ends with the process.
fn try_lock(file: &File) -> std::io::Result<bool> {
    loop {
        // SAFETY: a valid open descriptor, borrowed for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// The holder named in the lock file at `path`, if it can be read.
pub fn read_holder(path: &Path) -> Option<LockHolder> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.trim()).ok()
}

fn holder_text(path: &Path) -> String {
    match read_holder(path) {
        Some(h) => h.to_string(),
        None => "another recon process (not named yet)".to_string(),
    }
}

fn busy(out: &Path, path: &Path, wait: Duration) -> Error {
    let waited = if wait.is_zero() {
        String::new()
    } else {
        format!(" after waiting {}", humanize(wait))
    };
    Error::usage(
        format!(
            "reports folder {} is locked by {}{waited}",
            out.display(),
            holder_text(path)
        ),
        Some(format!(
            "one run at a time per reports folder: let it finish, or pass a longer --wait (e.g. --wait 30m). \
             A lock whose holder died is released by the OS; {} itself only names the holder.",
            path.display()
        )),
    )
}

/// This machine's name (`gethostname`), or `unknown`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A `--wait` that is not `0` nor a number with a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidWait(pub String);

/// Parses `--wait`: `0`, or a number with a unit `ms`, `s`, `m` or `h`
/// (`90s`, `10m`, `1h`).
pub fn parse_wait(text: &str) -> std::result::Result<Duration, InvalidWait> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| InvalidWait(format!("`{text}` is not a duration; use e.g. 0, 30s, 10m or 1h")))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => {
            return Err(InvalidWait(format!(
                "`{text}`: unit must be ms, s, m or h (e.g. 30s, 10m)"
            )))
        }
    };
    Ok(Duration::from_secs(seconds))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_durations() {
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_wait("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_wait("10").is_err());
        assert!(parse_wait("m").is_err());
        assert!(parse_wait("5d").is_err());
    }

    #[test]
    fn second_lock_in_the_same_folder_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = HistoryLock::acquire(dir.path(), Duration::ZERO).unwrap();
        first.record("night-1", chrono::Utc::now());
        let err = HistoryLock::acquire(dir.path(), Duration::from_millis(150)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("night-1"), "{message}");
        assert!(message.contains(&std::process::id().to_string()), "{message}");
        drop(first);
        let mut second = HistoryLock::acquire(dir.path(), Duration::ZERO).unwrap();
        second.record("night-2", chrono::Utc::now());
        assert_eq!(read_holder(&dir.path().join(LOCK_FILE)).unwrap().run_id, "night-2");
    }
}
