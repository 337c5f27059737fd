//! The `agent_account` entity, the access audit: the call center's agent
//! accounts (CSV, permissions as `;`-separated codes) and the CRM's users
//! (Parquet, permission sets as a list column), with different role and
//! permission vocabularies. Injected: leavers still active on one side,
//! role/profile mismatches, over-privileged and dormant accounts, a
//! separation-of-duties breach, permission drift, accounts on one side
//! only, and agents who handle calls without any account.
//!
//! Each account is built as canonical values per side; the expected
//! findings are derived from those values by a small implementation of the
//! demo spec's rules written here ([`Account::violations`]), independent
//! of recon's rule engine, and only then rendered in each system's format.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDateTime};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::fake::*;
use super::truth::{key1, Truth};
use super::Table;

/// Roles: canonical, the call center's code, the CRM's profile name.
pub(super) const ROLES: [(&str, &str, &str); 5] = [
    ("agent", "AGT", "Call Center Agent"),
    ("supervisor", "SUP", "Call Center Supervisor"),
    ("qa", "QA", "Quality Analyst"),
    ("billing", "BIL", "Billing Specialist"),
    ("admin", "ADM", "System Administrator"),
];

/// Permissions: canonical, the call center's code, the CRM's permission set.
pub(super) const PERMISSIONS: [(&str, &str, &str); 9] = [
    ("view_customer", "cust.view", "ViewCustomer"),
    ("edit_customer", "cust.edit", "EditCustomer"),
    ("create_ticket", "ticket.create", "CreateCase"),
    ("close_ticket", "ticket.close", "CloseCase"),
    ("listen_recordings", "rec.listen", "ListenRecordings"),
    ("export_pii", "pii.export", "ExportPersonalData"),
    ("refund_approve", "refund.approve", "ApproveRefunds"),
    ("refund_issue", "refund.issue", "IssueRefunds"),
    ("manage_users", "user.admin", "ManageUsers"),
];

/// The demo spec's policy: what each role may hold (rule `role-permissions`).
pub(super) fn allowed(role: &str) -> &'static [&'static str] {
    match role {
        "agent" => &["view_customer", "create_ticket"],
        "supervisor" => &[
            "view_customer",
            "edit_customer",
            "create_ticket",
            "close_ticket",
            "listen_recordings",
            "refund_approve",
        ],
        "qa" => &["view_customer", "listen_recordings"],
        "billing" => &["view_customer", "refund_issue", "export_pii"],
        "admin" => &["view_customer", "edit_customer", "manage_users"],
        _ => &[],
    }
}

/// Last logins before this are dormant (rule `no-dormant-active-accounts`).
fn dormant_before() -> NaiveDateTime {
    base_time() - Duration::days(90)
}

/// One side's canonical values of an account.
#[derive(Clone)]
struct Account {
    name: String,
    role: usize,
    active: bool,
    permissions: BTreeSet<&'static str>,
    /// UTC.
    last_login: NaiveDateTime,
}

impl Account {
    /// The kinds and fields of the quality findings the demo spec's rules
    /// raise on this account.
    fn violations(&self) -> Vec<(&'static str, Option<&'static str>)> {
        let mut out = Vec::new();
        let may = allowed(ROLES[self.role].0);
        if self.permissions.iter().any(|p| !may.contains(p)) {
            out.push(("policy", Some("permissions")));
        }
        let sod = self.permissions.contains("refund_approve") && self.permissions.contains("refund_issue");
        let dormant = self.active && self.last_login < dormant_before();
        if sod || dormant {
            out.push(("expr", None));
        }
        out
    }
}

/// The agent number of account `i` (agents are `A001`, `A002`, …).
fn agent_id(number: usize) -> String {
    format!("A{number:03}")
}

/// Builds both tables. `agents_with_calls` is the range of agent numbers the
/// calls use; `ghosts` of them get no account anywhere.
pub(super) fn build(
    rng: &mut ChaCha8Rng,
    accounts: usize,
    ghosts: &BTreeSet<usize>,
    k: usize,
    truth: &mut Truth,
) -> (Table, Table) {
    let e = "agent_account";
    let mut left = Table::new(&[
        "agent_id",
        "login",
        "display_name",
        "team",
        "role_code",
        "status",
        "permissions",
        "last_login",
    ]);
    let mut right = Table::new(&[
        "Id",
        "FederationIdentifier",
        "Username",
        "Name",
        "ProfileName",
        "IsActive",
        "PermissionSets",
        "LastLoginDate",
    ]);
    // Account i is agent number i + 1; ghosts are never written.
    let numbers: Vec<usize> = (1..=accounts).filter(|n| !ghosts.contains(n)).collect();
    let mut pick = Picker::new(numbers.len(), rng);
    let only_left: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let only_right: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let leaver: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let profile_diff: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let over_privileged: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let dormant: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    let sod: BTreeSet<usize> = pick.take(k).into_iter().collect();
    let perm_drift: BTreeSet<usize> = pick.take(k + 1).into_iter().collect();
    const TEAMS: [&str; 3] = ["sales", "support", "billing"];
    for (i, &number) in numbers.iter().enumerate() {
        let id = agent_id(number);
        let key = key1("agent_id", &id);
        let role = match number % 10 {
            0 => 1,
            3 => 2,
            7 => 3,
            9 if number % 20 == 9 => 4,
            _ => 0,
        };
        let name = format!(
            "{}{}{}",
            SURNAMES[rng.random_range(0..10)],
            GIVEN[rng.random_range(0..10)],
            GIVEN[rng.random_range(0..10)]
        );
        let team = TEAMS[rng.random_range(0..3)];
        let mut base = Account {
            name,
            role,
            active: true,
            permissions: allowed(ROLES[role].0).iter().copied().collect(),
            last_login: base_time() - Duration::minutes(rng.random_range(30..20 * 24 * 60)),
        };
        if over_privileged.contains(&i) {
            // An agent who may export personal data: the same on both sides.
            base.role = 0;
            base.permissions = allowed("agent").iter().copied().collect();
            base.permissions.insert("export_pii");
        }
        if dormant.contains(&i) {
            base.last_login = dormant_before() - Duration::days(rng.random_range(1..200));
        }
        if sod.contains(&i) {
            // Billing staff who may also approve the refunds they issue.
            base.role = 3;
            base.permissions = allowed("billing").iter().copied().collect();
            base.permissions.insert("refund_approve");
        }
        let (mut l, mut r) = (base.clone(), base);
        if leaver.contains(&i) {
            // Left the company: disabled in the call center, still active in the CRM.
            l.active = false;
        }
        if profile_diff.contains(&i) {
            // The CRM profile maps to a more powerful role than the agent's.
            l.role = 0;
            l.permissions = allowed("agent").iter().copied().collect();
            r.role = 1;
            r.permissions = l.permissions.clone();
        }
        if perm_drift.contains(&i) {
            // A permission granted in the CRM only.
            r.permissions.insert(if r.permissions.contains("create_ticket") {
                "close_ticket"
            } else {
                "create_ticket"
            });
        }
        let login = format!("agent{number:03}");
        let on_left = !only_right.contains(&i);
        let on_right = !only_left.contains(&i);
        if on_left {
            for (kind, field) in l.violations() {
                truth.add(e, "quality", kind, "left", &key, field);
            }
            left.rows.push(vec![
                Some(id.clone()),
                Some(login.clone()),
                Some(l.name.clone()),
                Some(team.to_string()),
                Some(ROLES[l.role].1.to_string()),
                Some(if l.active { "1" } else { "0" }.to_string()),
                Some(
                    // Granted order, a stray space: the spec's steps absorb both.
                    l.permissions
                        .iter()
                        .rev()
                        .map(|p| code(p, 1))
                        .collect::<Vec<_>>()
                        .join(if number % 4 == 0 { "; " } else { ";" }),
                ),
                Some(utc_text(l.last_login)),
            ]);
        } else {
            truth.add(e, "drift", "missing_left", "left", &key, None);
        }
        if on_right {
            for (kind, field) in r.violations() {
                truth.add(e, "quality", kind, "right", &key, field);
            }
            let sets: Vec<&str> = r.permissions.iter().map(|p| code(p, 2)).collect();
            right.rows.push(vec![
                Some(format!("005{number:012}")),
                Some(id.clone()),
                Some(format!("{login}@crm.example.com")),
                Some(r.name.clone()),
                Some(ROLES[r.role].2.to_string()),
                Some(r.active.to_string()),
                Some(serde_json::to_string(&sets).unwrap_or_default()),
                Some(utc_text(shanghai(r.last_login))),
            ]);
        } else {
            truth.add(e, "drift", "missing_right", "right", &key, None);
        }
        if on_left && on_right {
            let mut differs = |field: &str, yes: bool| {
                if yes {
                    truth.add(e, "drift", "value_mismatch", "both", &key, Some(field));
                }
            };
            differs("role", l.role != r.role);
            differs("active", l.active != r.active);
            differs("permissions", l.permissions != r.permissions);
        }
    }
    (left, right)
}

/// A permission's code in one system's vocabulary (1: call center, 2: CRM).
fn code(canonical: &str, system: usize) -> &'static str {
    PERMISSIONS
        .iter()
        .find(|p| p.0 == canonical)
        .map(|p| if system == 1 { p.1 } else { p.2 })
        .unwrap_or("")
}

/// The `references` findings of rule `call-agent-has-account`: each call
/// row, on each side, whose agent (trimmed, upper-cased, as the spec maps
/// it) has no account on the same side.
pub(super) fn call_agents(calls: &(Table, Table), accounts: &(Table, Table), truth: &mut Truth) {
    use super::truth::{call_key, cells, col};
    let known: [BTreeSet<&str>; 2] = [
        cells(&accounts.0, "agent_id").collect(),
        cells(&accounts.1, "FederationIdentifier").collect(),
    ];
    let sides = [
        ("left", &calls.0, ["call_id", "leg", "agent_id"]),
        ("right", &calls.1, ["CallId", "Leg", "AgentCode"]),
    ];
    for (s, (side, t, [id, leg, agent])) in sides.iter().enumerate() {
        let (id, leg, agent) = (col(t, id), col(t, leg), col(t, agent));
        for row in &t.rows {
            let Some(a) = row[agent].as_deref().map(|a| a.trim().to_uppercase()) else {
                continue;
            };
            if a.is_empty() || known[s].contains(a.as_str()) {
                continue;
            }
            let leg: u32 = row[leg].as_deref().and_then(|l| l.parse().ok()).unwrap_or(1);
            let call = row[id].as_deref().unwrap_or_default();
            truth.add(
                "interaction",
                "quality",
                "references",
                side,
                &call_key(call, leg),
                Some("agent"),
            );
        }
    }
}
