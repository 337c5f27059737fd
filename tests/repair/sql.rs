//! `recon sql` against real servers (the throwaway PostgreSQL and MariaDB of
//! `.ci/services`): the target's table loaded, the script run, the table
//! exported and reconciled again; stale and deleted rows skipped and
//! reported; a second run of the script changes nothing; literals of every
//! type read back exactly. Under `CI=true` a missing server fails.

use std::process::{Command, Output, Stdio};

use recon::normalize::FieldType;
use recon::repair::sql::Dialect;

use super::{run_args, s};
use crate::util::*;

/// One of the test servers, with a database (MariaDB) or schema
/// (PostgreSQL) of the test's own.
struct Db {
    dialect: Dialect,
    /// The test's schema or database name.
    space: String,
}

impl Db {
    /// The server of `dialect`, or None (skip) outside CI when
    /// `.ci/services start` has not run.
    fn open(dialect: Dialect, space: &str) -> Option<Db> {
        let var = match dialect {
            Dialect::Postgres => "RECON_TEST_PG",
            Dialect::Mysql => "RECON_TEST_MYSQL_SOCKET",
        };
        if std::env::var(var).is_err() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{var} is not set under CI=true: .ci/run starts the databases (.ci/services start)");
            }
            eprintln!(
                "skipped: no test database ({var}); run `source \"$(.ci/services env)\"` after `.ci/services start`"
            );
            return None;
        }
        let db = Db {
            dialect,
            space: format!("{space}_{}", std::process::id()),
        };
        let create = match dialect {
            Dialect::Postgres => format!("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};", db.space),
            Dialect::Mysql => format!(
                "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;",
                db.space
            ),
        };
        db.ok(&create);
        Some(db)
    }

    fn client(&self) -> Command {
        match self.dialect {
            Dialect::Postgres => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]);
                c
            }
            Dialect::Mysql => {
                let socket = std::env::var("RECON_TEST_MYSQL_SOCKET").unwrap_or_default();
                let mut c = Command::new("mariadb");
                c.args([
                    "-uroot",
                    &format!("--socket={socket}"),
                    "--batch",
                    "--skip-column-names",
                    "--default-character-set=utf8mb4",
                    "-D",
                    "recon_test",
                ]);
                c
            }
        }
    }

    /// Runs `sql` (on standard input); its output.
    fn exec(&self, sql: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the database client");
        child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `sql`, which must succeed; its standard output.
    fn ok(&self, sql: &str) -> String {
        let out = self.exec(sql);
        assert!(out.status.success(), "{sql}\n{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// The table `name` of the test's space, quoted.
    fn table(&self, name: &str) -> String {
        self.dialect.table(&[self.space.clone(), name.to_string()])
    }

    /// Each row of `select` as its columns' texts (tab-separated output;
    /// values here hold no tab nor line break).
    fn rows(&self, select: &str) -> Vec<Vec<String>> {
        self.ok(select)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// The hex of a text column's UTF-8 bytes.
    fn hex(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("upper(encode(convert_to({column}, 'UTF8'), 'hex'))"),
            Dialect::Mysql => format!("HEX(CONVERT({column} USING utf8mb4))"),
        }
    }
}

const SPEC: &str = r#"
[run]
name = "sql"
[sides]
left = "crm"
right = "callcenter"
[[entity]]
name = "contact"
key = ["id"]
authority = "callcenter"
deletes = "propagate"
left = { path = "crm.csv", table = "TABLE" }
right = { path = "cc.csv" }
  [[entity.field]]
  name = "id"
  type = "int"
  [[entity.field]]
  name = "name"
  [[entity.field]]
  name = "amount"
  type = "decimal(20,4)"
"#;

const CRM: &str =
    "id,name,amount\n1,Ann,1.0000\n2,Bob,2.0000\n3,Cy,3.0000\n5,Eve,5.0000\n6,\"O'Brien \\ 张\",6.0000\n7,Gus,7.0000\n";
const CC: &str = "id,name,amount\n1,Ann,1.5000\n2,Bobby,2.0000\n4,\"Di \"\"D\"\" 😀\",12345678901234.5678\n5,Eve,5.5000\n6,\"O'Brien \\ 张 new\",6.0000\n7,Gus,-0.0001\n";

/// A CSV line of texts (quoted where needed).
fn csv_line(values: &[String]) -> String {
    values
        .iter()
        .map(|v| match v.contains([',', '"', '\n']) {
            true => format!("\"{}\"", v.replace('"', "\"\"")),
            false => v.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The crm table exported as recon reads it: id, name, amount by id.
fn export(db: &Db, table: &str) -> String {
    // Read back as hex and decoded, so no byte is lost to the client's
    // escaping.
    let name = db.hex("name");
    let rows = db.rows(&format!("SELECT id, {name}, amount FROM {table} ORDER BY id;"));
    let mut out = String::from("id,name,amount\n");
    for r in rows {
        let name = String::from_utf8(hex::decode(&r[1]).unwrap()).unwrap();
        out.push_str(&csv_line(&[r[0].clone(), name, r[2].clone()]));
        out.push('\n');
    }
    out
}

fn sql_script(env: &Env, run: &str, dialect: &str, extra: &[&str]) -> Output {
    let run_dir = env.reports().join(run);
    let mut args = vec![
        "sql",
        run_dir.to_str().unwrap(),
        "--target",
        "crm",
        "--dialect",
        dialect,
    ];
    args.extend_from_slice(extra);
    env.recon(&args)
}

/// (key id, outcome) of the instructions the script's last select lists
/// as not applied.
fn not_applied(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            match cols.as_slice() {
                [_, _, _, key, _, outcome] => {
                    let key: serde_json::Value = serde_json::from_str(key).ok()?;
                    Some((s(&key["id"]).to_string(), outcome.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

fn round_trip(dialect: Dialect) {
    let name = match dialect {
        Dialect::Postgres => "pg",
        Dialect::Mysql => "mysql",
    };
    let Some(db) = Db::open(dialect, &format!("recon_sql_{name}")) else {
        return;
    };
    let env = Env::new();
    let table = db.table("crm_contacts");
    let spec = env.write("s.toml", SPEC.replace("TABLE", &format!("{}.crm_contacts", db.space)));
    env.write("crm.csv", CRM);
    env.write("cc.csv", CC);
    let out = run_args(&env, &spec, "1", &[]);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    // The crm's table as its export holds it.
    let text = match dialect {
        Dialect::Postgres => "text",
        Dialect::Mysql => "VARCHAR(200)",
    };
    db.ok(&format!(
        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, name {text}, amount DECIMAL(20,4));"
    ));
    for line in CRM.lines().skip(1) {
        let (id, rest) = line.split_once(',').unwrap();
        let (name, amount) = rest.rsplit_once(',').unwrap();
        let name = name.trim_matches('"').replace("\"\"", "\"");
        let lit = dialect.literal(&FieldType::String, Some(&name)).unwrap();
        db.ok(&format!("INSERT INTO {table} VALUES ({id}, {lit}, {amount});"));
    }
    let script_path = env.path().join(format!("crm.{name}.sql"));
    let out = sql_script(
        &env,
        "1",
        dialect.as_str(),
        &["--output", script_path.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let script = std::fs::read_to_string(&script_path).unwrap();
    // Signed alongside with the run's key: the real minisign verifies it.
    if have("minisign") {
        let public = env.home().join("recon/recon.pub");
        let o = Command::new("minisign")
            .args(["-Vm", script_path.to_str().unwrap(), "-p", public.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(said.contains("recon sql for crm from run 1"), "{said}");
    }
    // Reviewed before it runs: guarded statements in one transaction;
    // nothing for row 3, which only the crm has (a first run deletes
    // nothing: a delete needs a previous run to tell a deletion).
    assert!(
        script.contains("BEGIN;") || script.contains("START TRANSACTION;"),
        "{script}"
    );
    assert!(stderr(&out).contains("guarded statement"), "{}", stderr(&out));
    let guard = match dialect {
        Dialect::Postgres => "IS NOT DISTINCT FROM",
        Dialect::Mysql => "<=>",
    };
    assert!(script.contains(guard), "{script}");
    assert!(!script.contains(r#"{"id":"3"}"#), "{script}");
    // Meanwhile the crm changes row 2 and deletes row 5.
    db.ok(&format!(
        "UPDATE {table} SET name = 'Rob' WHERE id = 2; DELETE FROM {table} WHERE id = 5;"
    ));
    let first = db.ok(&script);
    let mut skipped = not_applied(&first);
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("2".to_string(), "skipped_changed".to_string()),
            ("5".to_string(), "skipped_missing".to_string()),
        ],
        "{first}"
    );
    let after = export(&db, &table);
    // The repaired keys have no drift left; the stale and deleted rows and
    // the review are left as they were.
    env.write("crm.csv", &after);
    let out = run_args(&env, &spec, "2", &[]);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    let mut left: Vec<(String, String, Option<String>)> = super::drift(&env.reports().join("2"))
        .into_iter()
        .map(|(_, kind, key, field)| {
            let key: serde_json::Value = serde_json::from_str(&key).unwrap();
            (s(&key["id"]).to_string(), kind, field)
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ("2".to_string(), "value_mismatch".to_string(), Some("name".to_string())),
            ("3".to_string(), "missing_right".to_string(), None),
            ("5".to_string(), "missing_left".to_string(), None),
        ],
        "{after}"
    );
    assert!(after.contains("4,\"Di \"\"D\"\" 😀\",12345678901234.5678"), "{after}");
    assert!(after.contains("6,O'Brien \\ 张 new,6.0000"), "{after}");
    assert!(after.contains("7,Gus,-0.0001"), "{after}");
    // A second run of the script changes nothing: each instruction is
    // already applied or still skipped.
    let second = db.ok(&script);
    assert_eq!(export(&db, &table), after);
    assert!(second.contains("already_applied"), "{second}");
    assert!(!second.lines().any(|l| l.starts_with("applied")), "{second}");
    // Run 3: the call center (the authority) deletes rows 1 and 7, which
    // both sides held; the crm edits row 1 before the script runs. The
    // DELETE of 7 is guarded by its compared columns; 1 is skipped.
    let cc: String = CC
        .lines()
        .filter(|l| !l.starts_with("1,") && !l.starts_with("7,"))
        .map(|l| format!("{l}\n"))
        .collect();
    env.write("cc.csv", &cc);
    let out = run_args(&env, &spec, "3", &[]);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    let out = sql_script(
        &env,
        "3",
        dialect.as_str(),
        &["--output", script_path.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert_eq!(script.matches("DELETE FROM").count(), 2, "{script}");
    db.ok(&format!("UPDATE {table} SET name = 'Ann2' WHERE id = 1;"));
    let third = db.ok(&script);
    assert_eq!(
        not_applied(&third),
        [("1".to_string(), "skipped_changed".to_string())],
        "{third}"
    );
    let ids: Vec<Vec<String>> = db.rows(&format!("SELECT id FROM {table} ORDER BY id;"));
    let ids: Vec<&str> = ids.iter().map(|r| r[0].as_str()).collect();
    // (5, which the crm lost before, is inserted again; 2 takes the call
    // center's name.)
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    // Again: 7 is gone (no row has its key: reported), 1 still changed.
    let again = db.ok(&script);
    let mut skipped = not_applied(&again);
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("1".to_string(), "skipped_changed".to_string()),
            ("7".to_string(), "skipped_missing".to_string())
        ],
        "{again}"
    );
    assert!(again.contains("already_applied"), "{again}");
}

#[test]
fn sql_repairs_apply_to_postgres_guarded_and_reported() {
    round_trip(Dialect::Postgres);
}

#[test]
fn sql_repairs_apply_to_mariadb_guarded_and_reported() {
    round_trip(Dialect::Mysql);
}

/// Each (SQL type, recon type, text) written as a literal reads back as
/// exactly that text's bytes.
fn literals(dialect: Dialect) {
    let name = match dialect {
        Dialect::Postgres => "pg",
        Dialect::Mysql => "mysql",
    };
    let Some(db) = Db::open(dialect, &format!("recon_lit_{name}")) else {
        return;
    };
    let dec = FieldType::Decimal {
        precision: 38,
        scale: 10,
    };
    let text_type = match dialect {
        Dialect::Postgres => "text",
        Dialect::Mysql => "TEXT",
    };
    let texts = [
        "O'Brien",
        r"C:\new\table",
        "back\\'slash quote",
        "emoji 😀 and 张三 (GBK-origin)",
        "tab\there, line\nbreak",
        "",
        "-- not a comment */",
    ];
    let table = db.table("lit");
    db.ok(&format!(
        "CREATE TABLE {table} (n INTEGER PRIMARY KEY, t {text_type}, d DECIMAL(38,10), i BIGINT);"
    ));
    for (n, t) in texts.iter().enumerate() {
        let lit = dialect.literal(&FieldType::String, Some(t)).unwrap();
        db.ok(&format!("INSERT INTO {table} (n, t) VALUES ({n}, {lit});"));
    }
    let hex = db.hex("t");
    let got: Vec<Vec<String>> = db.rows(&format!("SELECT n, {hex} FROM {table} ORDER BY n;"));
    for (n, t) in texts.iter().enumerate() {
        assert_eq!(got[n][1], hex::encode_upper(t.as_bytes()), "{t:?}");
    }
    // A PostgreSQL whose strings still take backslashes as escapes reads
    // the same text from the same literal.
    if dialect == Dialect::Postgres {
        let t = r"x\'); DROP TABLE lit; --";
        let lit = dialect.literal(&FieldType::String, Some(t)).unwrap();
        db.ok(&format!(
            "SET standard_conforming_strings = off; INSERT INTO {table} (n, t) VALUES (50, {lit});"
        ));
        let got = db.rows(&format!("SELECT {hex} FROM {table} WHERE n = 50;"));
        assert_eq!(got, [[hex::encode_upper(t.as_bytes())]]);
    }
    // Decimals and integers exactly, nulls as nulls; and each compares
    // equal to its own literal (the guard of an update).
    let numbers = [
        ("1234567890123456789012345678.0123456789", "-9223372036854775808"),
        ("-0.0000000001", "0"),
        ("0.1000000000", "9223372036854775807"),
    ];
    for (n, (d, i)) in numbers.iter().enumerate() {
        let (dl, il) = (
            dialect.literal(&dec, Some(d)).unwrap(),
            dialect.literal(&FieldType::Int, Some(i)).unwrap(),
        );
        let row = 100 + n;
        db.ok(&format!("INSERT INTO {table} (n, d, i) VALUES ({row}, {dl}, {il});"));
        let same = format!("{} AND {}", dialect.same("d", &dl), dialect.same("i", &il));
        let got = db.rows(&format!("SELECT d, i FROM {table} WHERE n = {row} AND {same};"));
        assert_eq!(got, [[d.to_string(), i.to_string()]], "{d} {i}");
    }
    let null = dialect.literal(&dec, None).unwrap();
    db.ok(&format!("INSERT INTO {table} (n, d) VALUES (200, {null});"));
    let got = db.rows(&format!(
        "SELECT count(*) FROM {table} WHERE n = 200 AND {};",
        dialect.same("d", &null)
    ));
    assert_eq!(got, [["1".to_string()]]);
    // Timestamps: PostgreSQL reads an offset in the literal; MariaDB's
    // DATETIME holds the column's own convention, naive local text, across
    // a DST gap of New York as it is.
    match dialect {
        Dialect::Postgres => {
            db.ok(&format!(
                "CREATE TABLE {} (n INTEGER, z timestamptz, l timestamp(6));",
                db.table("ts")
            ));
            let z = dialect
                .literal(&FieldType::String, Some("2024-03-10T02:30:00.123456+08:00"))
                .unwrap();
            let l = dialect
                .literal(&FieldType::String, Some("2024-03-10 02:30:00.123456"))
                .unwrap();
            db.ok(&format!("INSERT INTO {} VALUES (1, {z}, {l});", db.table("ts")));
            let got = db.rows(&format!(
                "SELECT extract(epoch from z)::text, l::text FROM {} WHERE {} AND {};",
                db.table("ts"),
                dialect.same("z", &z),
                dialect.same("l", &l)
            ));
            assert_eq!(
                got,
                [[
                    "1710009000.123456".to_string(),
                    "2024-03-10 02:30:00.123456".to_string()
                ]]
            );
            // Booleans as the target spells them.
            db.ok(&format!("CREATE TABLE {} (b boolean);", db.table("b")));
            for spelling in ["true", "1", "t", "yes", "false", "0"] {
                let lit = dialect.literal(&FieldType::String, Some(spelling)).unwrap();
                db.ok(&format!("INSERT INTO {} VALUES ({lit});", db.table("b")));
            }
            let got = db.rows(&format!("SELECT b::text FROM {};", db.table("b")));
            let want: Vec<Vec<String>> = ["true", "true", "true", "true", "false", "false"]
                .iter()
                .map(|b| vec![b.to_string()])
                .collect();
            assert_eq!(got, want);
        }
        Dialect::Mysql => {
            // MySQL's usual collations ignore case, accents and trailing
            // spaces: a guard still matches only the same bytes.
            db.ok(&format!(
                "CREATE TABLE {} (c VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci);",
                db.table("ci")
            ));
            db.ok(&format!(
                "INSERT INTO {} VALUES ('BOB'), ('Bob '), ('Bób'), ('Bob');",
                db.table("ci")
            ));
            for (text, want) in [("Bob", "1"), ("BOB", "1"), ("bob", "0"), ("Bob ", "1")] {
                let lit = dialect.literal(&FieldType::String, Some(text)).unwrap();
                for cond in [dialect.same("c", &lit), dialect.equal("c", &lit)] {
                    let got = db.rows(&format!("SELECT count(*) FROM {} WHERE {cond};", db.table("ci")));
                    assert_eq!(got, [[want.to_string()]], "{text:?} {cond}");
                }
            }
            db.ok(&format!(
                "CREATE TABLE {} (n INTEGER, l DATETIME(6), b BOOLEAN);",
                db.table("ts")
            ));
            let l = dialect
                .literal(&FieldType::String, Some("2024-03-10 02:30:00.123456"))
                .unwrap();
            let b = dialect.literal(&FieldType::Int, Some("1")).unwrap();
            db.ok(&format!("INSERT INTO {} VALUES (1, {l}, {b});", db.table("ts")));
            let got = db.rows(&format!(
                "SELECT l, b FROM {} WHERE {} AND {};",
                db.table("ts"),
                dialect.same("l", &l),
                dialect.same("b", &b)
            ));
            assert_eq!(got, [["2024-03-10 02:30:00.123456".to_string(), "1".to_string()]]);
        }
    }
}

#[test]
fn sql_literals_read_back_exactly_in_postgres() {
    literals(Dialect::Postgres);
}

#[test]
fn sql_literals_read_back_exactly_in_mariadb() {
    literals(Dialect::Mysql);
}

#[test]
fn sql_without_a_table_or_for_a_tampered_run_writes_nothing() {
    let env = Env::new();
    let spec = env.write("s.toml", SPEC.replace(", table = \"TABLE\"", ""));
    env.write("crm.csv", CRM);
    env.write("cc.csv", CC);
    run_args(&env, &spec, "1", &[]);
    let out_file = env.path().join("out.sql");
    let out = sql_script(&env, "1", "postgres", &["--output", out_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("names no `table`"), "{}", stderr(&out));
    assert!(!out_file.exists());
    assert!(!env.path().join("out.sql.minisig").exists());
    // A run whose repairs were edited does not verify: refused, exit 1.
    let spec = env.write("s.toml", SPEC.replace("TABLE", "crm.contacts"));
    run_args(&env, &spec, "2", &[]);
    let repairs = env.reports().join("2").join("repairs.parquet");
    let mut bytes = std::fs::read(&repairs).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    std::fs::write(&repairs, bytes).unwrap();
    let out = sql_script(&env, "2", "mysql", &["--output", out_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    assert!(!out_file.exists());
    // A key the crm side normalizes beyond trimming is not stored as the
    // run writes it: its instructions are comments.
    let spec = env.write(
        "s.toml",
        SPEC.replace("TABLE", "crm.contacts").replace(
            "  name = \"id\"\n  type = \"int\"",
            "  name = \"id\"\n  type = \"int\"\n  normalize = { left = [\"digits_only\"] }",
        ),
    );
    let out = run_args(&env, &spec, "4", &[]);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    let out = sql_script(
        &env,
        "4",
        "postgres",
        &["--unsigned", "--output", out_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let script = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        !script.contains("UPDATE ") && !script.contains("INSERT INTO \""),
        "{script}"
    );
    assert!(script.contains("is normalized on this side"), "{script}");
    // A bad table name is a spec error naming it.
    let spec = env.write("s.toml", SPEC.replace("TABLE", "a..b"));
    let out = run_args(&env, &spec, "3", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("a..b"), "{}", stderr(&out));
}
