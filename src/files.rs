//! Whole files written durably: the bytes written and fsynced before the
//! caller moves on (a run folder is renamed into place only after its files
//! are on disk). Knows nothing of what the files hold.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes a whole file and fsyncs it (the folder itself is renamed into place later).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}
