//! "Short use cases" (#22 item 3): no function in `functions/` is longer than
//! [`LIMIT`] lines (its signature to its closing brace) unless a `// Long:` comment right
//! above it (among its doc comment and attributes) says why. Test modules are not counted.

use std::path::{Path, PathBuf};

use gsign_tests::root;

/// The most lines a function may take without a reason.
const LIMIT: usize = 60;

/// Long functions not yet split or explained, as `path:name`; the list may only shrink.
const LONG_WITHOUT_A_REASON_YET: &[&str] = &[];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `line` without its string and character literals' contents and without a trailing `//`
/// comment, so that only the code's own braces remain. `in_string` carries a string literal
/// (plain or raw, with its closing) across lines.
fn code_of(line: &str, in_string: &mut Option<String>) -> String {
    let mut code = String::new();
    let mut rest = line;
    loop {
        if let Some(closing) = in_string.clone() {
            match find_closing(rest, &closing) {
                Some(end) => {
                    rest = &rest[end..];
                    *in_string = None;
                }
                None => return code,
            }
        }
        let mut chars = rest.char_indices().peekable();
        let mut opened = None;
        while let Some((at, c)) = chars.next() {
            match c {
                '/' if rest[at..].starts_with("//") => return code,
                '\'' if rest.get(at + 2..).is_some_and(|r| r.starts_with('\'')) => {
                    // A character literal such as '{'.
                    chars.next();
                    chars.next();
                }
                '"' => {
                    let hashes = rest[..at].chars().rev().take_while(|&h| h == '#').count();
                    let raw = rest[..at - hashes].ends_with('r');
                    let closing = if raw {
                        format!("\"{}", "#".repeat(hashes))
                    } else {
                        "\"".to_owned()
                    };
                    opened = Some((at + 1, closing));
                    break;
                }
                _ => code.push(c),
            }
        }
        match opened {
            Some((start, closing)) => {
                *in_string = Some(closing);
                rest = &rest[start..];
            }
            None => return code,
        }
    }
}

/// Where the literal that `closing` ends stops in `text` (just past it), skipping escapes in
/// plain strings.
fn find_closing(text: &str, closing: &str) -> Option<usize> {
    let raw = closing.len() > 1;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' && !raw {
            escaped = true;
        } else if text[at..].starts_with(closing) {
            return Some(at + closing.len());
        }
    }
    None
}

/// The function a line declares, if it does.
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    for prefix in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// Each function of `text` longer than [`LIMIT`] lines: its name, first line, length, and
/// whether a `// Long:` comment above it gives the reason.
fn long_functions(text: &str) -> Vec<(String, usize, usize, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut in_string = None;
    let mut open: Vec<(String, usize, i64)> = Vec::new();
    let mut depth = 0i64;
    let mut skip_until_depth: Option<i64> = None;
    let mut pending_test_module = false;
    for (index, line) in lines.iter().enumerate() {
        let starts_in_code = in_string.is_none();
        let code = code_of(line, &mut in_string);
        if starts_in_code && line.trim() == "#[cfg(test)]" {
            pending_test_module = true;
        }
        if skip_until_depth.is_none() && starts_in_code {
            if let Some(name) = declared_fn(line) {
                open.push((name.to_owned(), index, depth));
            }
        }
        for c in code.chars() {
            match c {
                '{' => {
                    if pending_test_module && skip_until_depth.is_none() {
                        skip_until_depth = Some(depth);
                        pending_test_module = false;
                    }
                    depth += 1;
                }
                '}' => {
                    depth -= 1;
                    if skip_until_depth == Some(depth) {
                        skip_until_depth = None;
                    }
                    if let Some((name, start, at)) = open.last().cloned() {
                        if at == depth {
                            open.pop();
                            let length = index - start + 1;
                            if length > LIMIT {
                                found.push((name, start, length, reason_above(&lines, start)));
                            }
                        }
                    }
                }
                ';' => {
                    // A declaration without a body (a trait's).
                    if let Some((_, _, at)) = open.last() {
                        if *at == depth && !code.contains('{') {
                            open.pop();
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// Whether the comment and attribute lines right above line `start` hold `// Long:`.
fn reason_above(lines: &[&str], start: usize) -> bool {
    lines[..start]
        .iter()
        .rev()
        .map(|l| l.trim())
        .take_while(|l| l.starts_with("//") || l.starts_with("#["))
        .any(|l| l.starts_with("// Long:"))
}

#[test]
fn the_counter_sees_braces_only_in_code() {
    let text = "fn short() {\n    let s = \"{ not a brace\";\n    let r = r#\"}\"#;\n    // }\n    let c = '{';\n}\n";
    assert!(long_functions(text).is_empty());
    let body = "    step();\n".repeat(LIMIT);
    let long = format!("fn long() {{\n{body}}}\n");
    assert_eq!(
        long_functions(&long),
        vec![("long".to_owned(), 0, LIMIT + 2, false)]
    );
    let explained = format!("// Long: one arm per route.\n#[tracing::instrument]\n{long}");
    assert!(long_functions(&explained)[0].3);
    let in_tests = format!("#[cfg(test)]\nmod tests {{\n{long}}}\n");
    assert!(long_functions(&in_tests).is_empty());
}

#[test]
fn no_function_is_long_without_a_reason() {
    let functions = root().join("functions");
    let mut unexplained = Vec::new();
    for file in rust_files(&functions) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        let relative = file
            .strip_prefix(root())
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        for (name, _, length, explained) in long_functions(&text) {
            if !explained {
                unexplained.push((format!("{relative}:{name}"), length));
            }
        }
    }
    let new: Vec<&(String, usize)> = unexplained
        .iter()
        .filter(|(f, _)| !LONG_WITHOUT_A_REASON_YET.contains(&f.as_str()))
        .collect();
    assert!(
        new.is_empty(),
        "functions over {LIMIT} lines without a `// Long:` reason above them (split them, or say why): {new:#?}"
    );
    let gone: Vec<&&str> = LONG_WITHOUT_A_REASON_YET
        .iter()
        .filter(|f| !unexplained.iter().any(|(u, _)| u == *f))
        .collect();
    assert!(
        gone.is_empty(),
        "short or explained now, take off the list: {gone:?}"
    );
}
