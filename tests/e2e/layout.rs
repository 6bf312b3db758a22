//! The layout rules:
//!
//! - "no import circles": within every crate, the modules that use each other (a `crate::m`
//!   or, from a top-level module, `super::m` path outside comments) form no cycle;
//! - "areas talk through services": an area's code names another area's crate only through
//!   that area's `service` module (its service type and what it hands out);
//! - "one shape for every area": an area's crate has the same top-level modules in every area,
//!   each with one role (see [`AREA_MODULES`]); anything else is a child of one of them;
//! - "statements live in the store": an area runs SQL (`fetch_*`, `run`, `run_batch`) only in
//!   its `store` module;
//! - "http parses": an area's use cases (`service`) never see the HTTP request or answer
//!   (`lambda_http`, status codes, the request helpers): its `http` module reads the request
//!   into typed input and maps the result, so a use case is called the same from a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gsign_tests::root;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("readable source folder")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The modules `line` names after `prefix` (`crate::` or `super::`).
fn named_after<'l>(line: &'l str, prefix: &str) -> Vec<&'l str> {
    line.match_indices(prefix)
        .filter(|(at, _)| {
            // `gsign_platform::crate::…` cannot occur; `xcrate::` is another word.
            !line[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .filter_map(|(at, _)| {
            let rest = &line[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

/// Module → the modules of the same crate it uses. A module is a file or folder right under
/// `src` (everything inside a folder belongs to it).
fn module_graph(src: &Path) -> Graph {
    let mut modules: BTreeMap<String, (Vec<PathBuf>, bool)> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src").flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if matches!(name.as_str(), "lib" | "main" | "bin") {
            continue;
        }
        if path.is_dir() {
            modules.insert(name, (rust_files(&path), false));
        } else if path.extension().is_some_and(|e| e == "rs") {
            modules.insert(name, (vec![path], true));
        }
    }
    let mut graph = Graph::new();
    for (module, (files, top_level)) in &modules {
        let uses = graph.entry(module.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(file).expect("readable source");
            for line in text.lines().map(str::trim) {
                if line.starts_with("//") {
                    continue;
                }
                let mut named = named_after(line, "crate::");
                if *top_level {
                    named.extend(named_after(line, "super::"));
                }
                for other in named {
                    if other != module && modules.contains_key(other) {
                        uses.insert(other.to_owned());
                    }
                }
            }
        }
    }
    graph
}

/// The cycles of `graph`: its strongly connected components of more than one module.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        next: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

fn crate_sources() -> Vec<PathBuf> {
    let mut sources = Vec::new();
    for group in ["shared", "functions"] {
        for entry in std::fs::read_dir(root().join(group))
            .expect("crates")
            .flatten()
        {
            let src = entry.path().join("src");
            if src.is_dir() {
                sources.push(src);
            }
        }
    }
    sources.push(root().join("infra/local/src"));
    sources.push(root().join("tests/src"));
    sources.sort();
    sources
}

#[test]
fn the_finder_sees_a_circle_through_crate_and_super_paths() {
    let graph: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_owned(), uses.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        named_after(
            "use crate::lambda::{x}; let y = crate::http::z();",
            "crate::"
        ),
        vec!["lambda", "http"]
    );
    assert_eq!(named_after("use super::repo;", "super::"), vec!["repo"]);
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut found = Vec::new();
    for src in crate_sources() {
        let relative = src
            .strip_prefix(root())
            .unwrap_or(&src)
            .to_string_lossy()
            .into_owned();
        for circle in circles(&module_graph(&src)) {
            found.push(format!("{relative}: {}", circle.join(" -> ")));
        }
    }
    assert!(
        found.is_empty(),
        "import circles (break them: move what both sides need into a module of its own): \
         {found:#?}"
    );
}

/// The other area crates `line` reaches into, and the first path segment it names there.
fn foreign_paths<'l>(line: &'l str, own: &str) -> Vec<(&'l str, &'l str)> {
    line.match_indices("gsign_functions_")
        .filter_map(|(at, _)| {
            let rest = &line[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let krate = &rest[..end];
            let path = rest[end..].strip_prefix("::")?;
            let segment_end = path
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(path.len());
            (krate != own).then_some((krate, &path[..segment_end]))
        })
        .collect()
}

#[test]
fn foreign_paths_name_the_area_and_its_first_segment() {
    assert_eq!(
        foreign_paths(
            "use gsign_functions_envelopes::service::EnvelopesApi; gsign_functions_doc_packs::x",
            "gsign_functions_doc_packs"
        ),
        vec![("gsign_functions_envelopes", "service")]
    );
}

#[test]
fn no_area_reaches_into_another_areas_internals() {
    let mut reached = Vec::new();
    for entry in std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
    {
        let area = entry.file_name().to_string_lossy().replace('-', "_");
        let own = format!("gsign_functions_{area}");
        for file in rust_files(&entry.path().join("src")) {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for line in text.lines().map(str::trim) {
                if line.starts_with("//") {
                    continue;
                }
                for (krate, segment) in foreign_paths(line, &own) {
                    if segment != "service" {
                        reached.push(format!("{}: {krate}::{segment}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        reached.is_empty(),
        "another area's internals (use its `service` module): {reached:#?}"
    );
}

/// An area's top-level modules, each a file or a folder: `service` (the service type and
/// `from_env` in `service/mod.rs`, one child module per use case), `store` (SQL for the area's
/// own tables and the adapters of its other stores), `http` (the route table and each route's
/// parse → authorize → call → map glue), `jobs` (the queue consumers and schedules, with the work
/// only they do), `error` (the area's cases of the shared route error); `jobs` and `error` are
/// absent in an area that has none.
const AREA_MODULES: [&str; 5] = ["error", "http", "jobs", "service", "store"];

/// Areas not yet in that shape; the list may only shrink.
const NOT_YET_IN_SHAPE: [&str; 0] = [];

#[test]
fn every_area_has_the_same_top_level_modules() {
    let mut odd = Vec::new();
    let mut shaped = Vec::new();
    for entry in std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
    {
        let area = entry.file_name().to_string_lossy().into_owned();
        let src = entry.path().join("src");
        let mut modules: Vec<String> = module_graph(&src).into_keys().collect();
        modules.sort();
        let strays: Vec<&String> = modules
            .iter()
            .filter(|m| !AREA_MODULES.contains(&m.as_str()))
            .collect();
        let has_core = ["http", "service", "store"]
            .iter()
            .all(|m| modules.iter().any(|have| have == m));
        let in_shape = strays.is_empty() && has_core && src.join("service/mod.rs").is_file();
        if in_shape {
            shaped.push(area.clone());
        }
        if NOT_YET_IN_SHAPE.contains(&area.as_str()) {
            continue;
        }
        if !in_shape {
            odd.push(format!("{area}: {modules:?}"));
        }
    }
    assert!(
        odd.is_empty(),
        "areas whose top-level modules are not {AREA_MODULES:?} (service/ a folder): {odd:#?}"
    );
    let stale: Vec<&String> = shaped
        .iter()
        .filter(|a| NOT_YET_IN_SHAPE.contains(&a.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "in shape now, take off NOT_YET_IN_SHAPE: {stale:?}"
    );
}

/// Files that still run statements outside their area's store; the list may only shrink.
const STATEMENTS_OUTSIDE_THE_STORE: &[&str] = &[];

/// Whether `text` runs a statement through the database port.
fn runs_statements(text: &str) -> bool {
    text.lines().map(str::trim).any(|line| {
        !line.starts_with("//")
            && [
                ".fetch_one(",
                ".fetch_all(",
                ".fetch_optional(",
                ".run_batch(",
            ]
            .iter()
            .any(|call| line.contains(call))
            || line.match_indices(".run(").any(|(at, call)| {
                let rest = &line[at + call.len()..];
                rest.is_empty() || rest.starts_with('"') || rest.starts_with('&')
            })
    })
}

#[test]
fn areas_run_statements_only_in_their_store() {
    let mut outside = Vec::new();
    for entry in std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
    {
        let src = entry.path().join("src");
        for file in rust_files(&src) {
            let relative = file.strip_prefix(&src).unwrap_or(&file);
            if relative.starts_with("store.rs") || relative.starts_with("store") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable source");
            if runs_statements(&text) {
                let shown = file
                    .strip_prefix(root())
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .into_owned();
                outside.push(shown);
            }
        }
    }
    outside.sort();
    let new: Vec<&String> = outside
        .iter()
        .filter(|f| !STATEMENTS_OUTSIDE_THE_STORE.contains(&f.as_str()))
        .collect();
    assert!(
        new.is_empty(),
        "statements outside the store (move them to store): {new:#?}"
    );
    let gone: Vec<&&str> = STATEMENTS_OUTSIDE_THE_STORE
        .iter()
        .filter(|f| !outside.iter().any(|o| o == *f))
        .collect();
    assert!(
        gone.is_empty(),
        "no statement outside the store any more, take off the list: {gone:?}"
    );
}

/// What only the HTTP side may name: the request and answer types, status codes, and the
/// helpers that read a request (`gsign_platform::http` as `web`).
const HTTP_ONLY: [&str; 5] = [
    "lambda_http",
    "StatusCode",
    "web::",
    "http::header",
    "http::{self as web",
];

#[test]
fn use_cases_never_see_the_request() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .flatten()
    {
        let service = entry.path().join("src/service");
        for file in rust_files(&service) {
            let text = std::fs::read_to_string(&file).expect("readable source");
            let inside_tests = text.find("#[cfg(test)]").unwrap_or(text.len());
            for (n, line) in text[..inside_tests].lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if let Some(name) = HTTP_ONLY.iter().find(|name| code.contains(*name)) {
                    let shown = file.strip_prefix(root()).unwrap_or(&file).display();
                    seen.push(format!("{shown}:{}: {name}", n + 1));
                }
            }
        }
    }
    assert!(
        seen.is_empty(),
        "use cases that read the request or shape the answer (do it in `http`): {seen:#?}"
    );
}

#[test]
fn a_statement_is_seen_however_it_is_written() {
    assert!(runs_statements(
        "let rows = db.fetch_all(\"SELECT 1\", params!()).await?;"
    ));
    assert!(runs_statements(
        "client\n    .run(\n        \"DELETE FROM x\","
    ));
    assert!(runs_statements("tx.run(\n\"UPDATE x\""));
    assert!(!runs_statements("migrator.run(command).await"));
    assert!(!runs_statements(
        "// db.fetch_all( in a comment\nlet x = runner.run();"
    ));
}
