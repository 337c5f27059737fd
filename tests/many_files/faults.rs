//! Many-file sources that must fail or read exactly: unmatched globs and
//! folders, unset variables, parts that disagree, empty, corrupt and
//! truncated compressed files, multi-frame and multi-member files, Parquet
//! parts.

use super::*;

/// Runs `spec` (written into the temp dir) and expects exit 2 with every
/// one of `needles` in stderr; no run folder is left behind.
fn expect_input_error(env: &Env, spec: &str, extra: &[&str], needles: &[&str]) -> String {
    let spec = env.write("spec.toml", spec);
    let out = env.run_in(&spec, &env.reports(), "bad", extra);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "expected an input error: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!env.reports().join("bad").exists(), "no run folder for a failed input");
    err
}

fn with_right(path: &str) -> String {
    TWO_COLUMN_SPEC.replace(r#"right = { path = "r.csv" }"#, &format!("right = {{ {path} }}"))
}

#[test]
fn glob_matching_no_file_is_an_input_error_naming_the_pattern() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/dt=2026-12-06/other.txt", "id,v\n1,a\n");
    let err = expect_input_error(
        &env,
        &with_right(r#"path = "r/dt=*/part-*.csv""#),
        &[],
        &["r/dt=*/part-*.csv", "no file matches"],
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn glob_star_does_not_cross_folders() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    // `r/*.csv` names files directly in r/, not in r/dt=…/.
    env.write("r/dt=2026-12-06/part.csv", "id,v\n1,a\n");
    expect_input_error(
        &env,
        &with_right(r#"path = "r/*.csv""#),
        &[],
        &["r/*.csv", "no file matches"],
    );
}

#[test]
fn folder_without_a_file_of_the_format_is_an_input_error_naming_it() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/_SUCCESS", "");
    env.write("r/part-0.parquet.crc", "x");
    expect_input_error(
        &env,
        &with_right(r#"path = "r", format = "csv""#),
        &[],
        &["no file matches"],
    );
}

#[test]
fn folder_without_a_format_is_a_spec_error() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/part-0.csv", "id,v\n1,a\n");
    expect_input_error(
        &env,
        &with_right(r#"path = "r""#),
        &[],
        &["cannot tell the format", "format"],
    );
}

#[test]
fn unset_variable_is_an_error_naming_the_variable_and_the_path() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r_x.csv", "id,v\n1,a\n");
    let var = "RECON_MANY_FILES_TEST_UNSET_VAR";
    assert!(std::env::var(var).is_err());
    let err = expect_input_error(
        &env,
        &with_right(&format!(r#"path = "r_${{{var}}}.csv""#)),
        &[],
        &[var, "--var"],
    );
    assert!(err.contains(&format!("r_${{{var}}}.csv")), "the path as written: {err}");
    // Given, it resolves.
    let spec = env.path().join("spec.toml");
    let out = env.run_in(&spec, &env.reports(), "ok", &["--var", &format!("{var}=x")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn malformed_var_argument_is_a_usage_error() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,v\n1,a\n");
    let spec = env.write("spec.toml", TWO_COLUMN_SPEC);
    for bad in ["NOEQUALS", "1X=y"] {
        let out = env.run_in(&spec, &env.reports(), "bad", &["--var", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("--var"), "{bad}: {}", stderr(&out));
    }
}

#[test]
fn csv_parts_with_different_declared_columns_are_an_input_error_naming_the_file() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n2,b\n");
        env.write("r/part-0.csv", "id,v\n1,a\n");
        env.write("r/part-1.csv", "id\n2\n");
        let err = expect_input_error(
            &env,
            &with_right(r#"path = "r/part-*.csv""#),
            extra,
            &["r/part-1.csv", "part-0.csv", "lacks [\"v\"]"],
        );
        assert!(err.contains("differ"), "{extra:?}: {err}");
    }
}

#[test]
fn header_only_parts_without_allow_empty_are_an_input_error_naming_the_source() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n");
        env.write("r/part-0.csv", "id,v\n");
        env.write("r/part-1.csv", "id,v\n");
        expect_input_error(
            &env,
            &with_right(r#"path = "r", format = "csv""#),
            extra,
            &["none of its 2 files holds a row", "allow_empty"],
        );
        // With allow_empty the side is an empty table: key 1 is missing on the right.
        let spec = env.write(
            "spec.toml",
            with_right(r#"path = "r", format = "csv", allow_empty = true"#),
        );
        let out = env.run_in(&spec, &env.reports(), "empty", extra);
        assert_eq!(code(&out), 1, "{extra:?}: {}", stderr(&out));
        let s = summary(&env.reports().join("empty"));
        assert_eq!(s["entities"]["e"]["right"]["rows"], 0);
        assert_eq!(listed(input(&s, "e", "right")).len(), 2);
    }
}

#[test]
fn one_header_only_part_among_others_is_read_as_no_rows() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n2,b\n");
        env.write("r/part-0.csv", "id,v\n");
        env.write("r/part-1.csv", "id,v\n1,a\n");
        env.write("r/part-2.csv", "id,v\n");
        env.write("r/part-3.csv.zst", zstd(b"id,v\n2,b\n"));
        let spec = env.write("spec.toml", with_right(r#"path = "r", format = "csv""#));
        let out = env.run_in(&spec, &env.reports(), "r1", extra);
        assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
        let s = summary(&env.reports().join("r1"));
        assert_eq!(s["entities"]["e"]["matched"], 2, "{extra:?}");
        assert_eq!(listed(input(&s, "e", "right")).len(), 4, "{extra:?}");
    }
}

#[test]
fn ndjson_folder_whose_first_file_is_empty_reads_the_others() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n2,b\n");
        env.write("r/part-0.ndjson", "");
        env.write("r/part-1.ndjson", "{\"id\":\"1\",\"v\":\"a\"}\n");
        env.write("r/part-2.ndjson.gz", gzip(b"{\"id\":\"2\",\"v\":\"b\"}\n"));
        let spec = env.write("spec.toml", with_right(r#"path = "r", format = "ndjson""#));
        let out = env.run_in(&spec, &env.reports(), "r1", extra);
        assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
        let s = summary(&env.reports().join("r1"));
        assert_eq!(s["entities"]["e"]["matched"], 2, "{extra:?}");
    }
}

#[test]
fn corrupt_gzip_file_is_an_input_error_naming_it() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r.csv.gz", "id,v\n1,a\n");
    let err = expect_input_error(&env, &with_right(r#"path = "r.csv.gz""#), &[], &["r.csv.gz", "gzip"]);
    assert!(!err.contains(".recon-staged-"), "the staged copy is not named: {err}");
    // Also as one part of many.
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/part-0.csv", "id,v\n1,a\n");
    env.write("r/part-1.csv.gz", b"\x1f\x8b\x08\x00garbage".as_slice());
    expect_input_error(
        &env,
        &with_right(r#"path = "r", format = "csv""#),
        &[],
        &["part-1.csv.gz", "gzip"],
    );
}

#[test]
fn truncated_gzip_file_is_an_input_error_not_fewer_rows() {
    let env = Env::new();
    let mut csv = String::from("id,v\n");
    let mut left = String::from("id,v\n");
    for i in 0..2000 {
        csv.push_str(&format!("{i},value-{}\n", i * 7919 % 10007));
        left.push_str(&format!("{i},value-{}\n", i * 7919 % 10007));
    }
    env.write("l.csv", left);
    let gz = gzip(csv.as_bytes());
    env.write("r.csv.gz", &gz[..gz.len() / 2]);
    expect_input_error(
        &env,
        &with_right(r#"path = "r.csv.gz""#),
        &[],
        &["r.csv.gz", "cannot read as gzip"],
    );
}

#[test]
fn truncated_single_block_zstd_file_is_an_input_error_naming_it() {
    let env = Env::new();
    let mut csv = String::from("id,v\n");
    for i in 0..2000 {
        csv.push_str(&format!("{i},value-{}\n", i * 7919 % 10007));
    }
    env.write("l.csv", &csv);
    let z = zstd(csv.as_bytes());
    env.write("r.csv.zst", &z[..z.len() / 2]);
    expect_input_error(&env, &with_right(r#"path = "r.csv.zst""#), &[], &["r.csv.zst"]);
}

/// 1000 rows as CSV text, split after the header and 500 rows.
fn thousand_rows() -> (String, String) {
    let mut a = String::from("id,v\n");
    let mut b = String::new();
    for i in 0..1000 {
        let row = format!("{i},a{i}\n");
        if i < 500 {
            a.push_str(&row);
        } else {
            b.push_str(&row);
        }
    }
    (a, b)
}

#[test]
fn truncated_multi_frame_zstd_file_is_an_input_error_not_fewer_rows() {
    let env = Env::new();
    let (a, b) = thousand_rows();
    env.write("l.csv", format!("{a}{b}"));
    // Two frames (as `cat a.zst b.zst` or pzstd makes), the second cut in half.
    let mut z = zstd(a.as_bytes());
    let second = zstd(b.as_bytes());
    z.extend_from_slice(&second[..second.len() / 2]);
    env.write("r.csv.zst", z);
    expect_input_error(&env, &with_right(r#"path = "r.csv.zst""#), &[], &["r.csv.zst", "zstd"]);
}

#[test]
fn multi_frame_zstd_file_reads_every_frame() {
    let env = Env::new();
    let (a, b) = thousand_rows();
    env.write("l.csv", format!("{a}{b}"));
    let mut z = zstd(a.as_bytes());
    z.extend_from_slice(&zstd(b.as_bytes()));
    env.write("r.csv.zst", z);
    let spec = env.write("spec.toml", with_right(r#"path = "r.csv.zst""#));
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(summary(&env.reports().join("r1"))["entities"]["e"]["matched"], 1000);
}

#[test]
fn multi_member_gzip_file_reads_every_member() {
    let env = Env::new();
    let (a, b) = thousand_rows();
    env.write("l.csv", format!("{a}{b}"));
    let mut gz = gzip(a.as_bytes());
    gz.extend_from_slice(&gzip(b.as_bytes()));
    env.write("r.csv.gz", gz);
    let spec = env.write("spec.toml", with_right(r#"path = "r.csv.gz""#));
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(summary(&env.reports().join("r1"))["entities"]["e"]["matched"], 1000);
}

#[test]
fn single_gzip_file_is_hashed_and_sized_as_stored_without_a_files_list() {
    let env = Env::new();
    let (a, b) = thousand_rows();
    env.write("l.csv", format!("{a}{b}"));
    let gz = gzip(format!("{a}{b}").as_bytes());
    env.write("r.csv.gz", &gz);
    let spec = env.write("spec.toml", with_right(r#"path = "r.csv.gz""#));
    let out = env.run(&spec, "r1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = summary(&env.reports().join("r1"));
    let right = input(&s, "e", "right");
    assert_eq!(right["path"], "r.csv.gz");
    assert_eq!(right["sha256"], sha256(&gz), "{right}");
    assert_eq!(right["size"], gz.len() as u64, "{right}");
    assert_eq!(right["rows"], 1000);
    assert!(
        right
            .get("files")
            .is_none_or(|f| f.as_array().is_some_and(|a| a.is_empty())),
        "one file lists no files: {right}"
    );
}

#[test]
fn glob_whose_literal_folder_is_absent_is_an_input_error_naming_the_folder() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/dt=2026-12-06/part-0.csv", "id,v\n1,a\n");
    expect_input_error(
        &env,
        &with_right(r#"path = "r/dt=${DT}/part-*.csv""#),
        &["--var", "DT=2026-12-31"],
        &["r/dt=2026-12-31"],
    );
}

#[test]
fn glob_whose_literal_folder_is_absent_says_no_file_matches_the_pattern() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r/dt=2026-12-06/part-0.csv", "id,v\n1,a\n");
    expect_input_error(
        &env,
        &with_right(r#"path = "r/dt=${DT}/part-*.csv""#),
        &["--var", "DT=2026-12-31"],
        &["r/dt=2026-12-31/part-*.csv", "no file matches", "--var"],
    );
}

#[test]
fn csv_parts_with_columns_in_another_order_read_by_name() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n2,b\n3,c\n");
        env.write("r/part-0.csv", "id,v\n1,a\n");
        env.write("r/part-1.csv", "v,extra,id\nb,x,2\nc,y,3\n");
        let spec = env.write("spec.toml", with_right(r#"path = "r/part-*.csv""#));
        let out = env.run_in(&spec, &env.reports(), "r1", extra);
        assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
        let run = env.reports().join("r1");
        assert!(finding_set(&run).is_empty(), "{extra:?}: {:?}", finding_set(&run));
        assert_eq!(summary(&run)["entities"]["e"]["matched"], 3, "{extra:?}");
    }
}

fn write_parquet(path: &Path, ids: &[&str], vs: &[Option<&str>], with_v: bool) {
    use polars::prelude::*;
    let mut cols = vec![Column::new("id".into(), ids.to_vec())];
    if with_v {
        cols.push(Column::new("v".into(), vs.to_vec()));
    }
    let mut df = DataFrame::new(ids.len(), cols).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

#[test]
fn parquet_parts_read_as_one_table_and_must_share_declared_columns() {
    for extra in [&[][..], &["--buckets", "2"][..]] {
        let env = Env::new();
        env.write("l.csv", "id,v\n1,a\n2,b\n3,c\n");
        write_parquet(&env.path().join("r/part-0.parquet"), &["1"], &[Some("a")], true);
        write_parquet(&env.path().join("r/part-1.parquet"), &[], &[], true);
        write_parquet(
            &env.path().join("r/part-2.parquet"),
            &["2", "3"],
            &[Some("b"), Some("x")],
            true,
        );
        let spec = env.write("spec.toml", with_right(r#"path = "r", format = "parquet""#));
        let out = env.run_in(&spec, &env.reports(), "r1", extra);
        assert_eq!(code(&out), 1, "{extra:?}: {}", stderr(&out));
        let run = env.reports().join("r1");
        let found: Vec<_> = finding_set(&run).into_iter().collect();
        assert_eq!(found.len(), 1, "{extra:?}: {found:?}");
        assert_eq!(
            (found[0].kind.as_str(), found[0].field.as_deref()),
            ("value_mismatch", Some("v"))
        );
        assert_eq!(listed(input(&summary(&run), "e", "right")).len(), 3, "{extra:?}");

        // A part without `v`: an input error naming it.
        write_parquet(&env.path().join("r/part-2.parquet"), &["2", "3"], &[], false);
        let err = expect_input_error(
            &env,
            &with_right(r#"path = "r", format = "parquet""#),
            extra,
            &["part-2.parquet", "part-0.parquet"],
        );
        assert!(err.contains("differ"), "{extra:?}: {err}");
    }
}

#[test]
fn check_with_var_lists_the_resolved_files_and_their_sizes() {
    let env = Env::new();
    let demo = split_demo(&env);
    let spec = demo.spec.to_str().unwrap();
    let out = env.recon(&["check", spec, "--var", "DT=2026-12-06"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    for path in demo.calls.iter().chain(&demo.activities) {
        let size = std::fs::metadata(path).unwrap().len();
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            err.lines()
                .any(|l| l.contains(&*name) && l.contains(&format!("({size} bytes)"))),
            "{name} ({size} bytes) not listed: {err}"
        );
    }
    assert!(err.contains("2 file(s)") && err.contains("3 file(s)"), "{err}");
    assert!(!err.contains("_SUCCESS") && !err.contains("part-9"), "{err}");
    assert!(!err.contains("dt=2026-12-05"), "another day's folder: {err}");

    let out = env.recon(&["check", spec, "--var", "DT=2026-12-06", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let entity = report["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "interaction")
        .unwrap();
    let files = |side: &str| -> Vec<(String, u64)> {
        entity["sides"][side]["files"]
            .as_array()
            .unwrap_or_else(|| panic!("{side}: {entity}"))
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f["size"].as_u64().unwrap()))
            .collect()
    };
    for (side, paths) in [("left", &demo.calls[..]), ("right", &demo.activities[..])] {
        let found = files(side);
        assert_eq!(found.len(), paths.len(), "{side}: {found:?}");
        for ((name, size), path) in found.iter().zip(paths) {
            assert!(
                name.ends_with(&*path.file_name().unwrap().to_string_lossy()),
                "{side}: {name} vs {}",
                path.display()
            );
            assert_eq!(Path::new(name).canonicalize().unwrap(), path.canonicalize().unwrap());
            assert_eq!(*size, std::fs::metadata(path).unwrap().len(), "{name}");
        }
    }
    assert_eq!(entity["sides"]["right"]["format"], "ndjson");

    // A day without a folder: check fails on the input, naming that day's folder.
    let out = env.recon(&["check", spec, "--var", "DT=2026-12-31"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("dt=2026-12-31"), "{}", stderr(&out));
    // And without the variable, check names it.
    let out = env.recon(&["check", spec]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("`DT`"), "{}", stderr(&out));
}

#[test]
fn date_placeholder_with_format_resolves_from_as_of() {
    let env = Env::new();
    env.write("x_20261206.csv", "id,v\n1,a\n2,b\n");
    env.write("x_20261205.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,v\n1,a\n2,b\n");
    let spec = env.write(
        "spec.toml",
        TWO_COLUMN_SPEC.replace(
            r#"left = { path = "l.csv" }"#,
            r#"left = { path = "x_{date:%Y%m%d}.csv" }"#,
        ),
    );
    let out = env.run_in(&spec, &env.reports(), "d1", &["--as-of", "2026-12-06"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = summary(&env.reports().join("d1"));
    let left = input(&s, "e", "left");
    assert_eq!(left["path"], "x_20261206.csv", "{left}");
    assert_eq!(
        left["sha256"],
        sha256(&std::fs::read(env.path().join("x_20261206.csv")).unwrap())
    );
    assert_eq!(s["entities"]["e"]["matched"], 2);

    // The day before reads the other file (one row: key 2 missing on the left).
    let out = env.run_in(&spec, &env.reports(), "d0", &["--as-of", "2026-12-05"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let s = summary(&env.reports().join("d0"));
    assert_eq!(input(&s, "e", "left")["path"], "x_20261205.csv");

    // check resolves it the same way, and names the file when it is absent.
    let out = env.recon(&["check", spec.to_str().unwrap(), "--as-of", "2026-12-06"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.recon(&["check", spec.to_str().unwrap(), "--as-of", "2026-12-07"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("x_20261207.csv"), "{}", stderr(&out));
}

#[test]
fn plain_date_placeholder_is_iso_and_as_of_must_be_a_date() {
    let env = Env::new();
    env.write("x_2026-12-06.csv", "id,v\n1,a\n");
    env.write("r.csv", "id,v\n1,a\n");
    let spec = env.write(
        "spec.toml",
        TWO_COLUMN_SPEC.replace(r#"left = { path = "l.csv" }"#, r#"left = { path = "x_{date}.csv" }"#),
    );
    let out = env.run_in(&spec, &env.reports(), "d1", &["--as-of", "2026-12-06"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.run_in(&spec, &env.reports(), "d2", &["--as-of", "06/12/2026"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn variable_comes_from_the_environment_and_var_takes_precedence() {
    let env = Env::new();
    env.write("l.csv", "id,v\n1,a\n");
    env.write("r_env.csv", "id,v\n1,a\n");
    env.write("r_arg.csv", "id,v\n1,b\n");
    let spec = env.write("spec.toml", with_right(r#"path = "r_${RECON_MANY_FILES_SUFFIX}.csv""#));
    let spec = spec.to_str().unwrap();
    let reports = env.reports();
    let reports = reports.to_str().unwrap();
    let var = [("RECON_MANY_FILES_SUFFIX", "env")];
    let out = env.recon_with(&["run", spec, "--out", reports, "--run-id", "e"], &var);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = summary(&env.reports().join("e"));
    assert_eq!(input(&s, "e", "right")["path"], "r_env.csv");
    let out = env.recon_with(
        &[
            "run",
            spec,
            "--out",
            reports,
            "--run-id",
            "a",
            "--var",
            "RECON_MANY_FILES_SUFFIX=arg",
        ],
        &var,
    );
    assert_eq!(code(&out), 1, "r_arg.csv differs: {}", stderr(&out));
    let s = summary(&env.reports().join("a"));
    assert_eq!(input(&s, "e", "right")["path"], "r_arg.csv");
    // The spec's own hash is of the text with its placeholder.
    let text = std::fs::read(env.path().join("spec.toml")).unwrap();
    assert_eq!(s["spec"]["sha256"], sha256(&text));
}

#[test]
fn glob_characters_in_the_spec_folder_are_not_a_pattern() {
    let env = Env::new();
    let dir = "proj [2024] *";
    env.write(&format!("{dir}/l.csv"), "id,v\n1,a\n2,b\n");
    env.write(&format!("{dir}/parts/r-1.csv"), "id,v\n1,a\n");
    env.write(&format!("{dir}/parts/r-2.csv"), "id,v\n2,b\n");
    let spec = env.write(
        &format!("{dir}/spec.toml"),
        spec_keyed_by_id("  [[entity.field]]\n  name = \"v\"\n")
            .replace("path = \"r.csv\"", "path = \"parts/r-*.csv\""),
    );
    let out = env.run(&spec, "g1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(summary(&env.reports().join("g1"))["entities"]["e"]["matched"], 2);
}
