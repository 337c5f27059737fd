//! The deployment files in deploy/ (Kubernetes, Argo, Airflow, AWS Batch):
//! `.ci/deploy_check.py` validates them (the Kubernetes schemas through
//! kubernetes-validate, the others by structure, every recon command line
//! against the CLI), with the Python of `.ci/services` (its path in
//! `RECON_TEST_PYTHON`). Under `CI=true` a missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The services' Python and kubernetes-validate beside it, or `None` (skip)
/// outside CI when `.ci/services` has not been set up.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let python = std::env::var("RECON_TEST_PYTHON").ok().filter(|p| !p.is_empty());
    let found = python.map(PathBuf::from).and_then(|python| {
        let validate = python.with_file_name("kubernetes-validate");
        (python.exists() && validate.exists()).then_some((python, validate))
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("RECON_TEST_PYTHON with kubernetes-validate beside it is not set up under CI=true: run .ci/services start");
        }
        eprintln!("skipped: RECON_TEST_PYTHON not set (run `.ci/services start` and source its env file)");
    }
    found
}

fn check(root: &Path, python: &Path, validate: &Path) -> std::process::Output {
    Command::new(python)
        .arg(root.join(".ci/deploy_check.py"))
        .arg(env!("CARGO_BIN_EXE_recon"))
        .arg(validate)
        .output()
        .expect("run deploy_check.py")
}

#[test]
fn the_deployment_files_validate() {
    let Some((python, validate)) = tools() else { return };
    let o = check(&project_root(), &python, &validate);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn a_broken_deployment_file_fails_the_check_naming_it() {
    let Some((python, validate)) = tools() else { return };
    for (file, from, to, needle) in [
        // An unknown field: the Kubernetes schema refuses it.
        (
            "deploy/kubernetes/sharded.yaml",
            "completionMode: Indexed",
            "completionMode: Indexed\n      shards: 4",
            "sharded.yaml",
        ),
        // An option recon does not have.
        (
            "deploy/argo/recon-cronworkflow.yaml",
            "- --work-dir",
            "- --workdir",
            "has no option --workdir",
        ),
        // The merge no longer after the shards.
        ("deploy/airflow/recon_dag.py", "    shards >> merge\n", "", "downstream"),
        (
            "deploy/aws-batch/submit.sh",
            "--depends-on",
            "--after",
            "lacks --depends-on",
        ),
    ] {
        let env = Env::new();
        copy_dir(&project_root().join("deploy"), &env.path().join("deploy"));
        std::fs::create_dir_all(env.path().join(".ci")).unwrap();
        std::fs::copy(
            project_root().join(".ci/deploy_check.py"),
            env.path().join(".ci/deploy_check.py"),
        )
        .unwrap();
        let path = env.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let o = check(env.path(), &python, &validate);
        assert_eq!(code(&o), 1, "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{file}: {}", stderr(&o));
    }
}
