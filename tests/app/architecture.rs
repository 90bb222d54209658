//! The house stands: the modules of `handlers/src` import only from the
//! layers below them (the table [`ALLOWED`], the same as in
//! `docs/architecture.md`), and no import cycle joins its files.
//!
//! Every `.rs` file is read; comments, doc comments, string and character
//! literals and `#[cfg(test)]` modules are set aside; every path starting
//! with `crate::`, `$crate::`, `super::`, `self::`, a child module or a
//! module imported by `use` is resolved to the file that defines what it
//! names — `use` lines with their `{a, b::{c}}` groups and paths written
//! inline in code alike, re-exports followed to where the item lives,
//! exported macros to the file that defines them. A file's use of its own
//! ancestors (a submodule using what its parent module defines) is part of
//! that module, not a dependency between modules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::helpers::app_root;

/// Which top-level modules each top-level module may import, besides
/// itself: layer by layer from the bottom. `prices` (the meter parser and
/// the price sync) sits above `billing`, whose catalogue format it writes
/// and whose prices its unit guard compares with; billing reads the synced
/// prices through its own trait, wired in startup. `reconcile` (the invoice
/// reconciliation, pure) sits below the rollup, whose finish step runs it.
pub const ALLOWED: &[(&str, &[&str])] = &[
    // Domain: what a record, a month, money, a name, a deployment is.
    ("domain", &[]),
    // Wire shapes of usage records, just above the domain.
    ("records", &["domain"]),
    // Store traits and one folder per backend.
    ("storage", &["domain"]),
    // Services, each with the dependencies it uses.
    ("directory", &["domain", "storage"]),
    ("usage", &["domain", "storage", "directory"]),
    ("ingest", &["domain", "records", "storage", "directory"]),
    ("billing", &["domain", "directory"]),
    ("prices", &["domain", "storage", "billing"]),
    ("reconcile", &["domain", "billing", "prices"]),
    ("rollup", &["domain", "storage", "billing", "reconcile"]),
    ("budgets", &["domain", "storage", "directory", "billing"]),
    ("maintenance", &["domain", "storage"]),
    ("replay", &["domain", "records", "storage", "ingest"]),
    // Adapters: the HTTP API; the host protocol (whose wrapped HTTP
    // functions answer with the API's answers); the command line.
    ("api", &["domain", "storage", "directory", "usage", "billing", "rollup", "reconcile"]),
    ("functions", &["domain", "records", "storage", "ingest", "rollup", "budgets", "maintenance", "prices", "api"]),
    (
        "cli",
        &[
            "domain",
            "records",
            "storage",
            "directory",
            "usage",
            "ingest",
            "billing",
            "rollup",
            "reconcile",
            "budgets",
            "maintenance",
            "prices",
            "replay",
            "config",
        ],
    ),
    // The composition root and the settings only it and the CLI read.
    ("config", &["domain"]),
    (
        "startup",
        &[
            "domain",
            "records",
            "storage",
            "directory",
            "usage",
            "ingest",
            "billing",
            "prices",
            "rollup",
            "budgets",
            "maintenance",
            "replay",
            "reconcile",
            "api",
            "functions",
            "cli",
            "config",
        ],
    ),
];

/// A module: its path from the crate root (`[]` is the root).
type ModulePath = Vec<String>;

/// One import that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// The importing file.
    pub file: String,
    /// Its top-level module.
    pub from: String,
    /// The imported top-level module.
    pub to: String,
    /// The path as written.
    pub path: String,
}

/// What the analysis found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Imports from a layer the table does not allow.
    pub violations: Vec<Violation>,
    /// Cycles among files: each the files of one strongly connected component.
    pub cycles: Vec<Vec<String>>,
    /// Edges file → file, for the curious.
    pub edges: BTreeSet<(String, String)>,
}

/// The module of a file (`a/b.rs` → `a::b`, `a/mod.rs` → `a`, `lib.rs` → root).
fn module_of(file: &str) -> ModulePath {
    let without = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = without.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Source with comments, string and character literals blanked out (line breaks kept).
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident(chars[i - 1]) || (chars[i - 1] == 'b' && (i < 2 || !is_ident(chars[i - 2]))))
        {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &chars[i..j.min(chars.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\''), or a lifetime ('a), which stays.
            if next == Some('\\') {
                // Past the backslash and the escaped character, to the closing quote.
                let mut j = i + 3;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                for _ in i..=j.min(chars.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    Semicolon,
    Hash,
    Other(char),
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' || (c == '$' && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push(Token::PathSep);
                i += 2;
                continue;
            }
            '{' => out.push(Token::Open),
            '}' => out.push(Token::Close),
            ',' => out.push(Token::Comma),
            '*' => out.push(Token::Star),
            ';' => out.push(Token::Semicolon),
            '#' => out.push(Token::Hash),
            c if c.is_whitespace() => {}
            c => out.push(Token::Other(c)),
        }
        i += 1;
    }
    out
}

/// Removes `#[cfg(test)] mod name { … }` and `#[cfg(test)] mod name;`
/// (unit tests may import anything); the names of the latter are returned.
fn without_test_modules(tokens: Vec<Token>) -> (Vec<Token>, BTreeSet<String>) {
    let mut test_files = BTreeSet::new();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let is_cfg_test = tokens.get(i) == Some(&Token::Hash)
            && tokens.get(i + 1) == Some(&Token::Other('['))
            && tokens.get(i + 2) == Some(&Token::Ident("cfg".into()))
            && tokens.get(i + 3) == Some(&Token::Other('('))
            && tokens.get(i + 4) == Some(&Token::Ident("test".into()))
            && tokens.get(i + 5) == Some(&Token::Other(')'))
            && tokens.get(i + 6) == Some(&Token::Other(']'));
        if is_cfg_test {
            let mut j = i + 7;
            if tokens.get(j) == Some(&Token::Ident("mod".into())) && tokens.get(j + 2) == Some(&Token::Semicolon) {
                if let Some(Token::Ident(name)) = tokens.get(j + 1) {
                    test_files.insert(name.clone());
                }
                i = j + 3;
                continue;
            }
            if tokens.get(j) == Some(&Token::Ident("mod".into())) && tokens.get(j + 2) == Some(&Token::Open) {
                j += 3;
                let mut depth = 1;
                while j < tokens.len() && depth > 0 {
                    match tokens[j] {
                        Token::Open => depth += 1,
                        Token::Close => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                i = j;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    (out, test_files)
}

/// A path as written: its segments, the name it is imported as (for `use`),
/// and whether it names the module itself (`self` in a group).
#[derive(Debug, Clone)]
struct WrittenPath {
    segments: Vec<String>,
    alias: Option<String>,
}

/// Parses a use tree at `i` with `prefix` before it; returns the paths and the next index.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &[String], out: &mut Vec<WrittenPath>) -> usize {
    let mut segments = prefix.to_vec();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(name)) if name == "self" && !segments.is_empty() => {
                // `a::{self, …}`: the module itself.
                i += 1;
            }
            Some(Token::Ident(name)) => {
                segments.push(name.clone());
                i += 1;
            }
            Some(Token::Open) => {
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some(Token::Close) => return i + 1,
                        Some(Token::Comma) => i += 1,
                        None => return i,
                        _ => i = use_tree(tokens, i, &segments, out),
                    }
                }
            }
            Some(Token::Star) => {
                out.push(WrittenPath { segments: segments.clone(), alias: Some("*".into()) });
                return i + 1;
            }
            _ => break,
        }
        if tokens.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            break;
        }
    }
    let mut alias = None;
    if tokens.get(i) == Some(&Token::Ident("as".into())) {
        if let Some(Token::Ident(name)) = tokens.get(i + 1) {
            alias = Some(name.clone());
        }
        i += 2;
    }
    if !segments.is_empty() {
        out.push(WrittenPath { segments, alias });
    }
    i
}

/// What one file holds: its `use` paths (re-exports marked), its inline
/// paths, the child modules it declares and the macros it exports.
#[derive(Debug, Default)]
struct FileFacts {
    uses: Vec<(WrittenPath, bool)>,
    inline: Vec<Vec<String>>,
    children: BTreeSet<String>,
    test_children: BTreeSet<String>,
    macros: BTreeSet<String>,
}

fn facts(text: &str) -> FileFacts {
    let (tokens, test_children) = without_test_modules(tokens(&strip(text)));
    let mut f = FileFacts { test_children, ..FileFacts::default() };
    let mut i = 0;
    let mut exported_macro = false;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Hash => {
                if tokens.get(i + 2) == Some(&Token::Ident("macro_export".into())) {
                    exported_macro = true;
                }
                i += 1;
            }
            Token::Ident(word) if word == "macro_rules" => {
                if let Some(Token::Ident(name)) = tokens.get(i + 2)
                    && exported_macro
                {
                    f.macros.insert(name.clone());
                }
                exported_macro = false;
                i += 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Semicolon)) = (tokens.get(i + 1), tokens.get(i + 2)) {
                    f.children.insert(name.clone());
                }
                i += 1;
            }
            Token::Ident(word) if word == "use" => {
                let public = i > 0 && (is_visibility(&tokens, i - 1));
                let mut paths = Vec::new();
                i = use_tree(&tokens, i + 1, &[], &mut paths);
                f.uses.extend(paths.into_iter().map(|p| (p, public)));
            }
            Token::Ident(first) => {
                // An inline path: an identifier followed by `::`.
                let preceded_by_sep = i > 0 && tokens[i - 1] == Token::PathSep;
                if !preceded_by_sep && tokens.get(i + 1) == Some(&Token::PathSep) {
                    let mut segments = vec![first.clone()];
                    let mut j = i + 1;
                    while tokens.get(j) == Some(&Token::PathSep) {
                        match tokens.get(j + 1) {
                            Some(Token::Ident(name)) => {
                                segments.push(name.clone());
                                j += 2;
                            }
                            _ => break,
                        }
                    }
                    f.inline.push(segments);
                    i = j;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    f
}

/// Whether the token before `use` ends a visibility (`pub`, `pub(crate)`, …).
fn is_visibility(tokens: &[Token], at: usize) -> bool {
    match &tokens[at] {
        Token::Ident(w) => w == "pub",
        Token::Other(')') => {
            let mut j = at;
            while j > 0 && tokens[j] != Token::Other('(') {
                j -= 1;
            }
            j > 0 && tokens[j - 1] == Token::Ident("pub".into())
        }
        _ => false,
    }
}

/// The crate as modules: which file defines each module, what each
/// re-exports, which macros the crate root exports.
struct Crate {
    files: BTreeMap<ModulePath, String>,
    facts: BTreeMap<ModulePath, FileFacts>,
    reexports: HashMap<ModulePath, HashMap<String, ModulePath>>,
    macros: HashMap<String, ModulePath>,
}

impl Crate {
    fn new(sources: &[(String, String)]) -> Self {
        let mut files = BTreeMap::new();
        let mut facts_by = BTreeMap::new();
        let mut macros = HashMap::new();
        for (file, text) in sources {
            let module = module_of(file);
            let f = facts(text);
            for m in &f.macros {
                macros.insert(m.clone(), module.clone());
            }
            files.insert(module.clone(), file.clone());
            facts_by.insert(module, f);
        }
        // Files of `#[cfg(test)] mod name;` (and theirs) are unit tests, not checked.
        let tests: Vec<ModulePath> = facts_by
            .iter()
            .flat_map(|(module, f)| {
                f.test_children.iter().map(move |c| {
                    let mut m = module.clone();
                    m.push(c.clone());
                    m
                })
            })
            .collect();
        files.retain(|m, _| !tests.iter().any(|t| m.starts_with(t)));
        facts_by.retain(|m, _| !tests.iter().any(|t| m.starts_with(t)));
        let mut this = Self { files, facts: facts_by, reexports: HashMap::new(), macros };
        let mut reexports: HashMap<ModulePath, HashMap<String, ModulePath>> = HashMap::new();
        for (module, f) in &this.facts {
            for (path, public) in &f.uses {
                if !public {
                    continue;
                }
                let Some(absolute) = this.absolute(module, &path.segments) else { continue };
                let name = path.alias.clone().or_else(|| path.segments.last().cloned()).unwrap_or_default();
                if name != "*" {
                    reexports.entry(module.clone()).or_default().insert(name, absolute);
                }
            }
        }
        this.reexports = reexports;
        this
    }

    fn is_module(&self, path: &ModulePath) -> bool {
        self.files.contains_key(path)
    }

    /// A path as written in `module`, made absolute; `None` when it is not
    /// this crate's (`std::…`, another crate, a local name).
    fn absolute(&self, module: &ModulePath, segments: &[String]) -> Option<ModulePath> {
        let first = segments.first()?;
        let mut base: ModulePath;
        let mut rest = segments;
        match first.as_str() {
            "crate" | "$crate" => {
                base = Vec::new();
                rest = &segments[1..];
            }
            "self" => {
                base = module.clone();
                rest = &segments[1..];
            }
            "super" => {
                base = module.clone();
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            name => {
                let mut child = module.clone();
                child.push(name.to_owned());
                if self.is_module(&child) {
                    base = module.clone();
                } else if let Some(target) = self.imported_module(module, name) {
                    base = target;
                    rest = &segments[1..];
                } else if module.is_empty() && self.macros.contains_key(name) {
                    base = Vec::new();
                } else {
                    return None;
                }
            }
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// A module that `module` imports by `use` under `name`.
    fn imported_module(&self, module: &ModulePath, name: &str) -> Option<ModulePath> {
        let f = self.facts.get(module)?;
        f.uses.iter().find_map(|(path, _)| {
            let imported_as = path.alias.clone().or_else(|| path.segments.last().cloned())?;
            if imported_as != name || path.segments.first().is_some_and(|s| s == name) {
                return None;
            }
            let absolute = self.absolute(module, &path.segments)?;
            let resolved = self.resolve(&absolute, 0);
            (resolved == absolute).then_some(absolute).filter(|a| self.is_module(a))
        })
    }

    /// The module that defines what an absolute path names.
    fn resolve(&self, path: &ModulePath, depth: usize) -> ModulePath {
        let mut module: ModulePath = Vec::new();
        let mut i = 0;
        while i < path.len() {
            let mut child = module.clone();
            child.push(path[i].clone());
            if !self.is_module(&child) {
                break;
            }
            module = child;
            i += 1;
        }
        if i < path.len() && depth < 16 {
            if let Some(target) = self.reexports.get(&module).and_then(|r| r.get(&path[i])) {
                let mut next = target.clone();
                next.extend(path[i + 1..].iter().cloned());
                return self.resolve(&next, depth + 1);
            }
            if module.is_empty()
                && let Some(defined_in) = self.macros.get(&path[i])
            {
                return defined_in.clone();
            }
        }
        module
    }
}

/// Analyses a crate given as (file relative to `src/`, text) pairs.
pub fn analyze(sources: &[(String, String)]) -> Findings {
    let krate = Crate::new(sources);
    let allowed: HashMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut findings = Findings::default();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, f) in &krate.facts {
        let file = &krate.files[module];
        if module.is_empty() {
            continue;
        }
        graph.entry(file.clone()).or_default();
        let written = f.uses.iter().map(|(p, _)| &p.segments).chain(f.inline.iter());
        for segments in written {
            let Some(absolute) = krate.absolute(module, segments) else { continue };
            let target = krate.resolve(&absolute, 0);
            // A module's own ancestors are part of it; the crate root declares modules only.
            if target.is_empty() || module.starts_with(&target) {
                continue;
            }
            let target_file = krate.files[&target].clone();
            findings.edges.insert((file.clone(), target_file.clone()));
            graph.entry(file.clone()).or_default().insert(target_file);
            let (from, to) = (&module[0], &target[0]);
            if from != to && !allowed.get(from.as_str()).is_some_and(|a| a.contains(&to.as_str())) {
                findings.violations.push(Violation {
                    file: file.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    path: segments.join("::"),
                });
            }
        }
    }
    findings.violations.sort();
    findings.violations.dedup();
    findings.cycles = cycles(&graph);
    findings
}

/// The strongly connected components of more than one file (each sorted).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm (recursive: the graph has a few hundred files).
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        on_stack: BTreeSet<&'a str>,
        stack: Vec<&'a str>,
        next: usize,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.components.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.components
}

/// The crate's sources, relative to `handlers/src` (the binary's `main.rs`
/// is another crate).
fn handler_sources() -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                if relative != "main.rs" {
                    out.push((relative, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    let root = app_root().join("handlers/src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn modules_import_only_from_the_layers_below_and_no_files_form_a_cycle() {
    let sources = handler_sources();
    let findings = analyze(&sources);
    let tops: BTreeSet<String> = sources.iter().filter_map(|(f, _)| module_of(f).first().cloned()).collect();
    for top in &tops {
        assert!(ALLOWED.iter().any(|(m, _)| m == top), "module {top} has no layer in ALLOWED; add it");
    }
    assert!(findings.edges.len() > 150, "the analysis sees the imports: {} edges", findings.edges.len());
    let violations: Vec<String> = findings
        .violations
        .iter()
        .map(|v| format!("{} ({}) imports {} via {}", v.file, v.from, v.to, v.path))
        .collect();
    let cycles: Vec<String> = findings.cycles.iter().map(|c| format!("{} files: {}", c.len(), c.join(", "))).collect();
    assert!(
        violations.is_empty() && cycles.is_empty(),
        "imports from a layer above or beside:\n{}\nimport cycles:\n{}",
        violations.join("\n"),
        cycles.join("\n")
    );
}

#[test]
fn the_layer_table_itself_has_no_cycle() {
    let table: BTreeMap<String, BTreeSet<String>> = ALLOWED
        .iter()
        .map(|(m, allowed)| ((*m).to_owned(), allowed.iter().map(|a| (*a).to_owned()).collect()))
        .collect();
    for (m, allowed) in &table {
        for a in allowed {
            assert!(table.contains_key(a), "{m} may import {a}, which has no layer");
        }
    }
    assert_eq!(cycles(&table), Vec::<Vec<String>>::new(), "modules allowed to import each other");
}

#[test]
fn a_use_of_the_api_in_the_rollup_is_reported() {
    let mut sources = handler_sources();
    let (_, rollup) = sources.iter_mut().find(|(f, _)| f == "rollup/mod.rs").unwrap();
    rollup.push_str("\nuse crate::api;\n");
    let findings = analyze(&sources);
    assert!(
        findings.violations.iter().any(|v| v.file == "rollup/mod.rs" && v.to == "api" && v.path == "crate::api"),
        "{:?}",
        findings.violations
    );
    assert!(!findings.cycles.is_empty(), "the API uses the rollup, so this also closes a cycle");
}

#[test]
fn paths_are_read_in_groups_and_inline_and_comments_and_strings_are_not() {
    let source = |file: &str, text: &str| (file.to_owned(), text.to_owned());
    let sources = vec![
        source("lib.rs", "pub mod domain;\npub mod storage;\npub mod rollup;\npub mod api;\n"),
        source("domain/mod.rs", "mod money;\npub use money::Money;\n"),
        source("domain/money.rs", "pub struct Money;\n"),
        source("storage/mod.rs", "use crate::{domain::{self, Money}, rollup};\n"),
        source(
            "rollup/mod.rs",
            "// use crate::api;\n/// [`crate::api`]\nfn f() { let s = \"crate::api::x\"; let c = '\"'; crate::storage::g(); }\n\
             #[cfg(test)]\nmod tests { use crate::api::X; }\n",
        ),
        source("api/mod.rs", "fn h() -> crate::rollup::R { r#\"crate::storage\"# }\n"),
    ];
    let findings = analyze(&sources);
    let violations: Vec<(String, String, String)> =
        findings.violations.iter().map(|v| (v.from.clone(), v.to.clone(), v.path.clone())).collect();
    assert_eq!(
        violations,
        [("storage".into(), "rollup".into(), "crate::rollup".into())],
        "the group's rollup is read; comments, strings and test modules are not"
    );
    assert!(
        findings.edges.contains(&("storage/mod.rs".to_owned(), "domain/money.rs".to_owned())),
        "re-export followed"
    );
    assert!(findings.edges.contains(&("rollup/mod.rs".to_owned(), "storage/mod.rs".to_owned())), "inline path read");
    assert_eq!(findings.cycles, [vec!["rollup/mod.rs".to_owned(), "storage/mod.rs".to_owned()]]);
}
