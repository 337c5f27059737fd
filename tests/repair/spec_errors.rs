//! Repair spec errors: `authority`, `updated_at`, `deletes` and `write`
//! mistakes exit 2 with a location and no run folder.

use super::SMALL;
use crate::util::*;

fn expect_spec_error(authority_line: &str, extra_field: &str, needles: &[&str]) {
    let env = Env::new();
    let spec = env.write(
        "s.toml",
        SMALL
            .replace("authority = \"b\"", authority_line)
            .replace("DELETES", "")
            .replace("  name = \"name\"", &format!("  name = \"name\"\n{extra_field}")),
    );
    env.write("l.csv", "id,name,amount\n1,a,1.00\n");
    env.write("r.csv", "id,name,amount\n1,a,1.00\n");
    let out = env.run(&spec, "r1");
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
    assert!(report_entries(&env).is_empty(), "no run folder");
}

#[test]
fn bad_spec_latest_without_updated_at_and_unknown_side() {
    expect_spec_error("authority = \"latest\"", "", &["s.toml:10:", "updated_at"]);
    expect_spec_error(
        "authority = \"erp\"",
        "",
        &["s.toml:10:", "unknown authority `erp`", "hint:"],
    );
    expect_spec_error(
        "authority = \"a\"",
        "  authority = \"latest\"",
        &["s.toml:18:", "updated_at"],
    );
    expect_spec_error(
        "authority = \"a\"",
        "  authority = \"crm\"",
        &["s.toml:18:", "unknown authority"],
    );
    expect_spec_error("updated_at = \"nope\"", "", &["s.toml:10:", "nope"]);
    expect_spec_error("deletes = \"maybe\"", "", &["s.toml:10:", "maybe"]);
    expect_spec_error("authority = \"a\"", "  write = \"%Y\"", &["s.toml:18:", "write"]);
}
