//! SQL text and its `$n` placeholders.
//!
//! Plugins write `$1..$n` on every backend. PostgreSQL understands them
//! natively; SQLite reads `$1` as a numbered parameter too (sqlx binds it by
//! its number), so reuse and any order work on both and text inside string
//! literals or comments is never touched. What SQLite does *not* do is
//! complain about a missing parameter (it binds NULL), so every statement's
//! placeholders are counted here and checked against the parameters given.

use std::borrow::Cow;

use crate::backend::Engine;
use crate::error::DbError;

/// The text of one statement.
///
/// A `&'static str` converts into it directly, which is what plugins should
/// write: fixed SQL with `$n` placeholders for every value. SQL built at run
/// time must go through [`Sql::trusted`], so that it is visible in review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sql(Cow<'static, str>);

impl Sql {
    /// SQL assembled at run time (e.g. a column list chosen from a fixed set).
    ///
    /// Never put user input in it: values go in `params![...]`. Anything
    /// concatenated here is executed as SQL.
    pub fn trusted(sql: impl Into<String>) -> Self {
        Self(Cow::Owned(sql.into()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for Sql {
    fn from(sql: &'static str) -> Self {
        Self(Cow::Borrowed(sql))
    }
}

/// Checks that `params` has exactly one value per `$n` the statement uses.
pub(crate) fn check_arity(sql: &str, given: usize, engine: Engine) -> Result<(), DbError> {
    let wanted = max_placeholder(sql, engine)?;
    if wanted == given {
        return Ok(());
    }
    let uses = match wanted {
        0 => "no placeholders".to_owned(),
        1 => "$1".to_owned(),
        n => format!("$1..${n}"),
    };
    Err(DbError::caller(format!(
        "statement uses {uses} but {given} parameter(s) were given; pass one value per placeholder \
         with params![...] (statement: {})",
        abbreviate(sql)
    )))
}

/// The first line of a statement, shortened, for error messages.
pub(crate) fn abbreviate(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        format!("{}...", one_line.chars().take(120).collect::<String>())
    } else {
        one_line
    }
}

/// The highest `$n` outside literals, quoted identifiers and comments, read
/// the way `engine` reads them: SQLite quotes identifiers in `[brackets]` too
/// (on PostgreSQL `a[$1]` subscripts an array), PostgreSQL has `E'\''`
/// escape strings and nested `/* /* */ */` comments (SQLite ends a comment
/// at the first `*/`).
pub(crate) fn max_placeholder(sql: &str, engine: Engine) -> Result<usize, DbError> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut max = 0usize;
    while i < b.len() {
        let after_word = i > 0 && is_word(b[i - 1]);
        match b[i] {
            b'\'' if engine == Engine::Postgres && escape_string(b, i) => {
                i = skip_escape_string(b, i);
            }
            q @ (b'\'' | b'"' | b'`') => i = skip_quoted(b, i, q),
            b'[' if engine == Engine::Sqlite => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_comment(b, i, engine),
            // `$` inside an identifier (`price$1`) is part of the name
            b'$' if after_word => i += 1,
            b'$' => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(usize::MAX);
                    if n == 0 || n > 65_535 {
                        return Err(DbError::caller(format!(
                            "placeholder ${n} is out of range; placeholders are numbered from $1"
                        )));
                    }
                    max = max.max(n);
                    i += 1 + digits;
                } else {
                    i = skip_dollar_quote(sql, i);
                }
            }
            _ => i += 1,
        }
    }
    Ok(max)
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Whether the quote at `i` opens a PostgreSQL escape string (`E'...'`).
fn escape_string(b: &[u8], i: usize) -> bool {
    i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_word(b[i - 2]))
}

/// Past an `E'...'` literal, where a backslash escapes the next character.
fn skip_escape_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Past a `/* ... */` comment; nested on PostgreSQL, not on SQLite.
fn skip_comment(b: &[u8], start: usize, engine: Engine) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') if depth == 0 || engine == Engine::Postgres => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// Past a `'...'`-style literal; a doubled quote inside is an escaped quote.
fn skip_quoted(b: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Past a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`), or one
/// byte when the `$` starts none.
fn skip_dollar_quote(sql: &str, start: usize) -> usize {
    let b = sql.as_bytes();
    let tag_len = b[start + 1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    let close = start + 1 + tag_len;
    if b.get(close) != Some(&b'$') {
        return start + 1;
    }
    let tag = &b[start..=close];
    find(b, close + 1, tag).map_or(b.len(), |p| p + tag.len())
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    use Engine::{Postgres, Sqlite};

    #[test]
    fn counts_placeholders_outside_literals_and_comments() {
        for engine in [Sqlite, Postgres] {
            let max = |sql| max_placeholder(sql, engine).unwrap();
            assert_eq!(max("SELECT $2, $1, $1"), 2);
            assert_eq!(max("SELECT '$5', \"$6\" -- $7\n, $1 /* $9 */"), 1);
            assert_eq!(max("SELECT 'it''s $3', $2"), 2);
            assert_eq!(max("SELECT $$ $4 $$, $tag$ $8 $tag$, $1"), 1);
            assert_eq!(max("SELECT 1"), 0);
            assert_eq!(max("SELECT price$1 FROM t WHERE a = $1"), 1);
            assert!(max_placeholder("SELECT $0", engine).is_err());
        }
    }

    #[test]
    fn sqlite_bracketed_identifiers_hide_dollars_and_postgres_subscripts_do_not() {
        assert_eq!(
            max_placeholder("SELECT [a$3] FROM t WHERE x = $1", Sqlite).unwrap(),
            1
        );
        assert_eq!(
            max_placeholder("SELECT arr[$2] FROM t WHERE x = $1", Postgres).unwrap(),
            2
        );
    }

    #[test]
    fn postgres_escape_strings_end_at_the_unescaped_quote() {
        let sql = "SELECT E'it\\'s $7', $1";
        assert_eq!(max_placeholder(sql, Postgres).unwrap(), 1);
        assert_eq!(max_placeholder("SELECT e'\\\\', $2", Postgres).unwrap(), 2);
        // a word ending in e is no escape-string prefix
        assert_eq!(max_placeholder("SELECT name'x', $1", Postgres).unwrap(), 1);
    }

    #[test]
    fn comments_nest_on_postgres_only() {
        let sql = "SELECT /* a /* b */ $5 */ $1";
        assert_eq!(max_placeholder(sql, Postgres).unwrap(), 1);
        assert_eq!(max_placeholder(sql, Sqlite).unwrap(), 5);
    }

    #[test]
    fn arity_mismatch_names_both_counts() {
        let e = check_arity("SELECT $1, $2", 1, Sqlite).unwrap_err();
        assert!(
            e.message.contains("$1..$2") && e.message.contains("1 parameter"),
            "{e}"
        );
        assert!(check_arity("SELECT $1, $1", 1, Postgres).is_ok());
    }
}
