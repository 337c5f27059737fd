//! Helpers of the evidence unit tests: the interoperability checks run
//! the real `minisign` and `openssl` tools.

/// Whether the external `tool` answers `probe` (e.g. `-v`). A test that
/// needs it returns early where it is missing, except under `CI=true`,
/// where a missing tool fails the test: CI installs every tool its tests
/// use, so a skip there would be a test that cannot fail.
pub fn require_tool(tool: &str, probe: &str) -> bool {
    let present = std::process::Command::new(tool).arg(probe).output().is_ok();
    if !present {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "`{tool}` is not installed, and CI=true requires it (.ci/run installs it)"
        );
        eprintln!("note: `{tool}` not installed; this interop check did not run");
    }
    present
}
