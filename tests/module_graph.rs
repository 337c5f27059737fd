//! The module graph runs one way: no import cycle between the crate's
//! top-level modules (`src/<module>.rs` or `src/<module>/`).
//!
//! A module uses another where its code names a path `crate::<other>…`: in
//! a `use` line or inline in code, in `use crate::{a, b::c}` groups too, or
//! through `super::` past the crate root. Comments and string literals are
//! not code. Test code (`#[cfg(test)]` items and `mod tests;` files) counts
//! like the rest: a unit test that reaches up a stage ties the modules as
//! much as library code does, so it uses the owning, lower module instead
//! (helpers shared by unit tests live in `test_support`). The modules are
//! found from `src/lib.rs` down, as rustc finds them (`mod x;` → `x.rs` or
//! `x/mod.rs`).
//!
//! It also holds polars behind one door: only `src/columnar/` may name
//! polars' internal crates.
//!
//! `.ci/cycles` runs this module alone; `cargo test` runs it with the rest.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = Graph::read(|rel| std::fs::read_to_string(src.join(rel)).ok());
    assert!(graph.modules.len() > 10, "found only {:?} under src/", graph.modules);
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/ (data must flow one way: \
         move the shared piece down to the module that owns it):\n{}",
        cycles.join("\n")
    );
}

/// polars behind one door: only `src/columnar/` names polars' internal
/// crates (`polars_parquet`, `polars_arrow`), so that a polars upgrade
/// changes that module alone. Comments and string literals do not count.
#[test]
fn only_columnar_touches_polars_internals() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let door = root.join("src").join("columnar");
    let mut files = Vec::new();
    let mut dirs: Vec<std::path::PathBuf> = ["src", "tests", "benches"].iter().map(|d| root.join(d)).collect();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.starts_with(&door) {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "found only {files:?}");
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for t in lex(&text) {
            if t.text == "polars_parquet" || t.text == "polars_arrow" {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                found.push(format!("  {}:{} names {}", rel.display(), t.line, t.text));
            }
        }
    }
    assert!(
        found.is_empty(),
        "polars internals used outside src/columnar/ (add what you need to the columnar \
         module and call it from there):\n{}",
        found.join("\n")
    );
}

/// Who uses whom among the top-level modules, and where.
struct Graph {
    modules: BTreeSet<String>,
    /// from → to → each place (file under src/, line) that names `to`.
    edges: BTreeMap<String, BTreeMap<String, Vec<(String, usize)>>>,
}

impl Graph {
    /// The graph of the crate whose files under `src/` `read` returns (by
    /// path relative to `src/`).
    fn read(read: impl Fn(&str) -> Option<String>) -> Graph {
        let mut uses = Vec::new();
        let mut modules = BTreeSet::new();
        let mut queue = VecDeque::from([("lib.rs".to_string(), String::new(), Vec::<String>::new())]);
        while let Some((file, children_dir, path)) = queue.pop_front() {
            let Some(text) = read(&file) else {
                panic!("{file}: declared but not found under src/");
            };
            let scan = scan(&lex(&text), path.len());
            for child in scan.children {
                let candidates = [
                    format!("{children_dir}{child}.rs"),
                    format!("{children_dir}{child}/mod.rs"),
                ];
                let Some(found) = candidates.into_iter().find(|c| read(c).is_some()) else {
                    panic!("{file}: `mod {child};` has no {children_dir}{child}.rs nor {children_dir}{child}/mod.rs");
                };
                if path.is_empty() {
                    modules.insert(child.clone());
                }
                let mut child_path = path.clone();
                child_path.push(child.clone());
                queue.push_back((found, format!("{children_dir}{child}/"), child_path));
            }
            if let Some(top) = path.first() {
                uses.extend(
                    scan.uses
                        .into_iter()
                        .map(|(to, line)| (top.clone(), to, file.clone(), line)),
                );
            }
        }
        let mut edges: BTreeMap<String, BTreeMap<String, Vec<(String, usize)>>> = BTreeMap::new();
        for (from, to, file, line) in uses {
            if from != to && modules.contains(&to) {
                edges.entry(from).or_default().entry(to).or_default().push((file, line));
            }
        }
        Graph { modules, edges }
    }

    fn uses(&self, from: &str) -> impl Iterator<Item = &String> {
        self.edges.get(from).into_iter().flat_map(|m| m.keys())
    }

    /// The cycles, per set of modules that all reach each other: for each
    /// use between two of them, the shortest loop it closes, shortest
    /// first, leaving out a loop that shares a use with one shown (cutting
    /// the loops shown may leave others: the check then names them). Every
    /// step comes with the places that make it.
    fn cycles(&self) -> Vec<String> {
        let mut out = Vec::new();
        for set in self.strongly_connected() {
            let mut seen: Vec<Vec<String>> = Vec::new();
            let mut loops = Vec::new();
            for from in &set {
                for to in self.uses(from).filter(|to| set.contains(to)) {
                    let mut path = vec![from.clone()];
                    path.extend(self.shortest_path(to, from, &set));
                    // The same loop found from another of its uses: a rotation.
                    let mut steps = path[..path.len() - 1].to_vec();
                    steps.sort();
                    if !seen.contains(&steps) {
                        seen.push(steps);
                        loops.push(path);
                    }
                }
            }
            loops.sort_by_key(|p| p.len());
            let mut shown: Vec<(String, String)> = Vec::new();
            let mut hidden = 0;
            for path in loops {
                let steps: Vec<(String, String)> = path.windows(2).map(|s| (s[0].clone(), s[1].clone())).collect();
                if steps.iter().any(|s| shown.contains(s)) {
                    hidden += 1;
                    continue;
                }
                shown.extend(steps);
                let mut text = format!("  cycle: {}\n", path.join(" → "));
                for step in path.windows(2) {
                    let places = &self.edges[&step[0]][&step[1]];
                    let shown: Vec<String> = places.iter().take(3).map(|(f, l)| format!("src/{f}:{l}")).collect();
                    let more = places.len().saturating_sub(3);
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    text.push_str(&format!(
                        "    {} uses crate::{} at {}{more}\n",
                        step[0],
                        step[1],
                        shown.join(", ")
                    ));
                }
                out.push(text);
            }
            out.push(format!(
                "  (and {hidden} longer loops through those uses; modules caught: {})\n",
                set.join(", ")
            ));
        }
        out
    }

    /// Sets of two or more modules that all reach each other (Tarjan).
    fn strongly_connected(&self) -> Vec<Vec<String>> {
        struct State<'g> {
            graph: &'g Graph,
            next: usize,
            index: BTreeMap<&'g str, (usize, usize)>,
            stack: Vec<&'g str>,
            sets: Vec<Vec<String>>,
        }
        fn visit<'g>(s: &mut State<'g>, v: &'g str) {
            let i = s.next;
            s.next += 1;
            s.index.insert(v, (i, i));
            s.stack.push(v);
            let graph = s.graph;
            for w in graph.uses(v) {
                match s.index.get(w.as_str()) {
                    None => {
                        visit(s, w);
                        let low = s.index[w.as_str()].1;
                        let e = s.index.get_mut(v).expect("visited");
                        e.1 = e.1.min(low);
                    }
                    Some(&(wi, _)) if s.stack.contains(&w.as_str()) => {
                        let e = s.index.get_mut(v).expect("visited");
                        e.1 = e.1.min(wi);
                    }
                    Some(_) => {}
                }
            }
            if s.index[v].0 == s.index[v].1 {
                let at = s.stack.iter().rposition(|&x| x == v).expect("on stack");
                let mut set: Vec<String> = s.stack.drain(at..).map(String::from).collect();
                if set.len() > 1 {
                    set.sort();
                    s.sets.push(set);
                }
            }
        }
        let mut s = State {
            graph: self,
            next: 0,
            index: BTreeMap::new(),
            stack: Vec::new(),
            sets: Vec::new(),
        };
        for m in &self.modules {
            if !s.index.contains_key(m.as_str()) {
                visit(&mut s, m);
            }
        }
        s.sets.sort();
        s.sets
    }

    /// The shortest path `from → … → to` within `set` (`[to]` when they
    /// are one).
    fn shortest_path(&self, from: &str, to: &str, set: &[String]) -> Vec<String> {
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut reached = from == to;
        while let Some(v) = queue.pop_front().filter(|_| !reached) {
            for w in self.uses(v).filter(|w| set.contains(w)) {
                if w != from && !came_from.contains_key(w.as_str()) {
                    came_from.insert(w, v);
                    queue.push_back(w);
                }
                reached |= w == to;
            }
        }
        assert!(reached, "{to} is reachable from {from} in a strongly connected set");
        let mut path = vec![to.to_string()];
        let mut at = to;
        while at != from {
            at = came_from[at];
            path.push(at.to_string());
        }
        path.reverse();
        path
    }
}

/// A token of Rust code: an identifier, `::`, or one other character; with
/// its line. Comments, literals and whitespace are dropped.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                i += 1;
            }
            i += 1;
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r')) && raw_string_hashes(&chars, i).is_some() {
            let (hashes, body) = raw_string_hashes(&chars, i).expect("checked");
            i = body;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    i += 1 + hashes;
                    break;
                }
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                // Past the quote, the backslash and the escaped character.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[s..i].iter().collect(),
                line: start_line,
            });
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// At `r"`, `r#…#"`, `br"` or `br#…#"`: the number of `#` and where the
/// string's body starts. (`r#ident` is a raw identifier, not a string.)
fn raw_string_hashes(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i + if chars[i] == 'b' { 2 } else { 1 };
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

/// What one file declares and names.
#[derive(Debug, Default, PartialEq)]
struct Scan {
    /// Modules declared `mod x;` (under `#[cfg(test)]` too), read from their own files.
    children: Vec<String>,
    /// Top-level modules named by a path from the crate root, with their line.
    uses: Vec<(String, usize)>,
}

/// The scan of one file's tokens; the file is a module `depth` levels
/// below the crate root (`lib.rs`: 0).
fn scan(tokens: &[Token], depth: usize) -> Scan {
    let mut out = Scan::default();
    let text = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    // Per open brace, whether it opens an inline `mod x { … }`.
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match text(i) {
            "mod" if text(i + 2) == ";" => out.children.push(text(i + 1).to_string()),
            "mod" if text(i + 2) == "{" => {
                braces.push(true);
                i += 3;
                continue;
            }
            "{" => braces.push(false),
            "}" => {
                braces.pop();
            }
            "crate" if text(i + 1) == "::" => {
                heads(tokens, i + 2, &mut out.uses);
            }
            "super" if text(i + 1) == "::" && text(i.wrapping_sub(1)) != "::" => {
                let mut j = i;
                let mut up = 0;
                while text(j) == "super" && text(j + 1) == "::" {
                    up += 1;
                    j += 2;
                }
                let level = depth + braces.iter().filter(|&&m| m).count();
                if up >= level {
                    heads(tokens, j, &mut out.uses);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The first segment of each path that starts at `tokens[i]`, just after
/// `crate::`: one name, or each item of a `{a::b, c}` group.
fn heads(tokens: &[Token], i: usize, out: &mut Vec<(String, usize)>) {
    let Some(t) = tokens.get(i) else { return };
    if t.text != "{" {
        if t.text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
            out.push((t.text.clone(), t.line));
        }
        return;
    }
    let mut depth = 0;
    let mut item_start = true;
    for t in &tokens[i..] {
        match t.text.as_str() {
            "{" => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            "," if depth == 1 => {
                item_start = true;
                continue;
            }
            _ if depth == 1 && item_start => out.push((t.text.clone(), t.line)),
            _ => {}
        }
        item_start = false;
    }
}

/// The graph of a crate given as (path under src/, text) pairs.
fn graph_of(files: &[(&str, &str)]) -> Graph {
    let files: BTreeMap<String, String> = files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect();
    Graph::read(|rel| files.get(rel).cloned())
}

#[test]
fn the_check_names_a_cycle_made_by_an_inline_path() {
    let graph = graph_of(&[
        (
            "lib.rs",
            "pub mod spec;\npub mod run;\n#[cfg(test)]\nmod test_support;\n",
        ),
        ("spec/mod.rs", "//! The spec.\nmod model;\npub use model::Spec;\n"),
        (
            "spec/model.rs",
            "pub struct Spec;\nfn f() {\n    let _ = crate::run::execute;\n}\n",
        ),
        ("run.rs", "use crate::spec::Spec;\npub fn execute() {}\n"),
        ("test_support.rs", "use crate::run;\n"),
    ]);
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 2, "{cycles:?}");
    assert!(cycles[1].contains("modules caught: run, spec"), "{}", cycles[1]);
    assert!(cycles[0].contains("cycle: run → spec → run"), "{}", cycles[0]);
    assert!(
        cycles[0].contains("spec uses crate::run at src/spec/model.rs:3"),
        "{}",
        cycles[0]
    );
    assert!(
        cycles[0].contains("run uses crate::spec at src/run.rs:1"),
        "{}",
        cycles[0]
    );
}

#[test]
fn groups_paths_past_the_root_and_test_code_are_uses_while_comments_and_strings_are_not() {
    let graph = graph_of(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod e;\npub mod f;\n",
        ),
        (
            "a/mod.rs",
            "use crate::{\n    b::X,\n    c::{self, Y},\n};\nmod inner;\n",
        ),
        (
            "a/inner.rs",
            "fn g() { super::super::d::h(); }\nmod deeper { use super::super::b; use super::super::super::e; }\n",
        ),
        (
            "b.rs",
            "//! See [`crate::a`].\n/* crate::a */ const S: &str = \"crate::a\";\nconst R: &str = r#\"crate::a\"#;\n\
             fn l<'a>(x: &'a str) -> char { 'a' }\nfn q() -> [char; 2] { ['\\'', '\\\\'] }\n\
             #[cfg(test)]\n#[allow(dead_code)]\nmod tests {\n    use crate::e;\n    fn t() { crate::e::x(); }\n}\n\
             #[cfg(test)]\nuse crate::e::Z;\n#[cfg(test)]\nmod more;\n",
        ),
        ("b/more.rs", "use crate::d;\n"),
        ("c.rs", "pub(crate) fn y() {}\n"),
        ("d.rs", ""),
        ("e.rs", ""),
        ("f.rs", "#![cfg(test)]\nuse crate::c;\n"),
    ]);
    let edges: BTreeMap<&str, Vec<&str>> = graph
        .edges
        .iter()
        .map(|(from, to)| (from.as_str(), to.keys().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        edges,
        BTreeMap::from([("a", vec!["b", "c", "d", "e"]), ("b", vec!["d", "e"]), ("f", vec!["c"])])
    );
    assert!(graph.cycles().is_empty());
}
