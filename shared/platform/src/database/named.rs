//! Named parameters (`:name`), the Data API's style, and the statement scanner both database
//! adapters share: the Postgres adapter and the local Data API endpoint rewrite them to
//! Postgres' positional `$n`; migrations are split into the single statements the Data API
//! accepts. Quotes, comments, dollar-quoted bodies and `::` casts are skipped.

/// A statement with its named parameters made positional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positional {
    /// The statement with `$1`, `$2`, ... in place of the names.
    pub sql: String,
    /// The parameter names in `$n` order (each once: a repeated name is one parameter).
    pub names: Vec<String>,
}

/// A statement text held more than one statement (the Data API runs one per call).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Multistatements aren't supported.")]
pub struct MultipleStatements;

/// Rewrites `:name` placeholders outside quotes, comments and `::` casts to `$n` (the same name
/// the same number); refuses a second statement (a final `;` is fine).
pub fn positional(sql: &str) -> Result<Positional, MultipleStatements> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = skipped(&chars, i) {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match chars[i] {
            ':' if next == Some(':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if next.is_some_and(|n| n.is_ascii_alphabetic() || n == '_') => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
                    .map_or(chars.len(), |p| start + p);
                let name: String = chars[start..end].iter().collect();
                let index = match names.iter().position(|n| *n == name) {
                    Some(index) => index,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                out.push_str(&format!("${}", index + 1));
                i = end;
            }
            ';' => {
                let rest: String = chars[i + 1..].iter().collect();
                if !only_blank_or_comments(&rest) {
                    return Err(MultipleStatements);
                }
                i = chars.len();
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Positional { sql: out, names })
}

/// The statements of a script (a migration file), each without its `;`, blank ones dropped.
pub fn statements(script: &str) -> Vec<String> {
    let chars: Vec<char> = script.chars().collect();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = skipped(&chars, i) {
            i = end;
            continue;
        }
        if chars[i] == ';' {
            statements.push(chars[start..i].iter().collect::<String>());
            start = i + 1;
        }
        i += 1;
    }
    statements.push(chars[start..].iter().collect());
    statements
        .into_iter()
        .filter(|s| !only_blank_or_comments(s))
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Where a quoted string, comment or dollar-quoted body starting at `i` ends.
fn skipped(chars: &[char], i: usize) -> Option<usize> {
    let next = chars.get(i + 1).copied();
    match chars[i] {
        c @ ('\'' | '"') => Some(closing_quote(chars, i, c)),
        '-' if next == Some('-') => Some(
            chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p),
        ),
        '/' if next == Some('*') => Some(block_comment_end(chars, i)),
        '$' => dollar_tag(chars, i)
            .map(|tag| find(chars, i + tag.len(), &tag).map_or(chars.len(), |p| p + tag.len())),
        _ => None,
    }
}

fn closing_quote(chars: &[char], start: usize, quote: char) -> usize {
    // `E'…'` strings escape with backslashes; standard ones double the quote.
    let escapes = quote == '\''
        && start > 0
        && matches!(chars[start - 1], 'E' | 'e')
        && (start < 2 || !(chars[start - 2].is_ascii_alphanumeric() || chars[start - 2] == '_'));
    let mut i = start + 1;
    while i < chars.len() {
        if escapes && chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => {
                depth += 1;
                i += 2;
            }
            ('*', '/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// `$tag$` (or `$$`) starting at `start`, when it opens a dollar-quoted string.
fn dollar_tag(chars: &[char], start: usize) -> Option<Vec<char>> {
    if start > 0 && (chars[start - 1].is_ascii_alphanumeric() || chars[start - 1] == '_') {
        return None;
    }
    let mut i = start + 1;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        if i == start + 1 && chars[i].is_ascii_digit() {
            return None; // `$1` is a positional parameter, not a tag
        }
        i += 1;
    }
    (chars.get(i) == Some(&'$')).then(|| chars[start..=i].to_vec())
}

fn find(chars: &[char], from: usize, needle: &[char]) -> Option<usize> {
    (from..chars.len().saturating_sub(needle.len() - 1)).find(|&i| chars[i..].starts_with(needle))
}

fn only_blank_or_comments(rest: &str) -> bool {
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            (c, _) if c.is_whitespace() || c == ';' => i += 1,
            ('-', Some('-')) => {
                i = chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(chars.len(), |p| i + p)
            }
            ('/', Some('*')) => i = block_comment_end(&chars, i),
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_become_positional_outside_quotes_comments_and_casts() {
        let statement = positional(
            "SELECT ':no', \":no\", $$ :no $$, E'\\' :no', x::text -- :no\n FROM t WHERE a = :a AND b = :b OR a = :a /* :no */",
        )
        .expect("one statement");
        assert_eq!(
            statement.sql,
            "SELECT ':no', \":no\", $$ :no $$, E'\\' :no', x::text -- :no\n FROM t WHERE a = $1 AND b = $2 OR a = $1 /* :no */"
        );
        assert_eq!(statement.names, ["a", "b"]);
    }

    #[test]
    fn a_second_statement_is_refused_but_a_final_semicolon_is_not() {
        assert!(positional("SELECT 1;").is_ok());
        assert!(positional("SELECT 1; -- done").is_ok());
        assert_eq!(positional("SELECT 1; SELECT 2"), Err(MultipleStatements));
    }

    #[test]
    fn a_script_splits_at_semicolons_outside_bodies_and_quotes() {
        let script = "-- a migration\nCREATE TABLE t (a text DEFAULT ';');\n\
            CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;\n\
            /* done; */\n";
        assert_eq!(
            statements(script),
            [
                "-- a migration\nCREATE TABLE t (a text DEFAULT ';')",
                "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
            ]
        );
    }
}
