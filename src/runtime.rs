//! The process's one small async runtime, for the clients that only come
//! async (object stores, webhooks); everything that uses it blocks.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Runs `future` to completion on the process's runtime (started on first use).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = match RUNTIME.get() {
        Some(r) => r,
        None => {
            let built = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("recon-io")
                .enable_all()
                .build()
                .map_err(|e| Error::thread("async runtime", e))?;
            // Another thread may have won the race: its runtime is used.
            let _ = RUNTIME.set(built);
            RUNTIME
                .get()
                .ok_or_else(|| Error::Internal("the async runtime vanished".into()))?
        }
    };
    Ok(runtime.block_on(future))
}
