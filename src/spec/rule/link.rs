//! Linking `references` rules once every entity is compiled: the other
//! entity and its fields resolved by name, with a [`LinkError`] naming
//! what to fix.

use super::compile::field_names;
use super::Check;
use crate::spec::Entity;

/// A `references` rule that cannot be resolved: which entity and rule, and
/// which key to blame.
#[derive(Debug)]
pub struct LinkError {
    pub entity: usize,
    pub rule: usize,
    pub at: LinkAt,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAt {
    Entity,
    To,
}

/// Resolves the other entity and fields of every `references` rule.
pub fn link_rules(entities: &mut [Entity]) -> Result<(), LinkError> {
    let mut updates = Vec::new();
    for (ei, e) in entities.iter().enumerate() {
        for (ri, rule) in e.rules.iter().enumerate() {
            let Check::References(r) = &rule.check else { continue };
            let fail = |at, message: String, hint: Option<String>| LinkError {
                entity: ei,
                rule: ri,
                at,
                message,
                hint,
            };
            let target = entities.iter().position(|t| t.name == r.entity).ok_or_else(|| {
                fail(
                    LinkAt::Entity,
                    format!("rule `{}` references unknown entity `{}`", rule.id, r.entity),
                    Some(format!(
                        "declared entities: {}",
                        entities.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                )
            })?;
            let t = &entities[target];
            let mut to = Vec::new();
            for (name, &from) in r.to_names.iter().zip(&rule.fields) {
                let i = t.field(name).ok_or_else(|| {
                    fail(
                        LinkAt::To,
                        format!(
                            "rule `{}` points to unknown field `{name}` of entity `{}`",
                            rule.id, t.name
                        ),
                        Some(format!("fields of `{}`: {}", t.name, field_names(&t.fields))),
                    )
                })?;
                let (a, b) = (&e.fields[from], &t.fields[i]);
                if a.ty[0].name() != b.ty[0].name() {
                    return Err(fail(
                        LinkAt::To,
                        format!(
                            "rule `{}`: `{}` is {} but `{}.{}` is {}; values of different types never match",
                            rule.id,
                            a.name,
                            a.ty[0].name(),
                            t.name,
                            b.name,
                            b.ty[0].name()
                        ),
                        Some("declare the same `type` on both fields".into()),
                    ));
                }
                to.push(i);
            }
            updates.push((ei, ri, target, to));
        }
    }
    for (ei, ri, target, to) in updates {
        if let Check::References(r) = &mut entities[ei].rules[ri].check {
            r.target = target;
            r.to = to;
        }
    }
    Ok(())
}
