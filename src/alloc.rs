//! Allocator tuning for the `recon` binary (which uses mimalloc).
//!
//! A run allocates and frees millions of small cells, keys and hashes per
//! stage. mimalloc's default returns freed memory to the OS after 10 ms, and
//! the next stage then pays for the kernel zeroing fresh pages again
//! (`clear_page_erms` was 23% of a 1M-row profile). A batch job keeps its
//! memory instead: peak RSS is unchanged, the page faults go.

/// mimalloc's `mi_option_purge_decommits`, `mi_option_purge_delay` and
/// `mi_option_allow_thp` (v3 `mimalloc.h`, `mi_option_e`).
const PURGE_DECOMMITS: libmimalloc_sys::mi_option_t = 5;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Never purge freed memory back to the OS during the run, and where
/// mimalloc purges anyway (huge blocks), reset the pages instead of
/// decommitting them (measured: 1.0 s less system time in a 1M-row run).
///
/// And no transparent huge pages: mimalloc asks for them on its arenas
/// (`madvise(MADV_HUGEPAGE)`), and the kernel then zeroes 2 MiB at each
/// first touch, most of it memory the run never uses (`clear_page_erms`
/// was still 23-30% of a 1M-row profile after the purge settings). Paired
/// runs (session 20, farm-bench, medians): 1M rows per side -14% CPU and
/// -13% wall (system time 1.6 → 0.5 s with `MIMALLOC_ALLOW_THP=0`, the
/// same switch set from outside), 10M -6.5% CPU and -6% wall
/// (system time 4.9 → 1.2 s), peak RSS unchanged. The process-wide switch
/// (`PR_SET_THP_DISABLE`) also covers the arenas mimalloc reserved before
/// `main`, and machines whose THP setting is `always`.
/// Only has an effect when mimalloc is the global allocator.
pub fn keep_freed_memory() {
    // SAFETY: setting an option is a plain store in mimalloc's option table;
    // it takes no pointer and is valid at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(PURGE_DECOMMITS, 0);
        libmimalloc_sys::mi_option_set(ALLOW_THP, 0);
    }
    // SAFETY: PR_SET_THP_DISABLE takes integers only and sets a flag of
    // this process; a kernel without it returns an error, ignored.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
