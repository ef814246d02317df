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
        // Most of a statement is words and spaces: go straight to the next
        // byte that can start a literal, an identifier quote, a comment or
        // a placeholder (a scan of this whole loop per byte cost a thousand
        // instructions per query).
        match b[i..]
            .iter()
            .position(|c| matches!(c, b'\'' | b'"' | b'`' | b'[' | b'-' | b'/' | b'$'))
        {
            Some(skip) => i += skip,
            None => break,
        }
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

/// Properties of the placeholder scan over any text: it reads untrusted
/// layouts of quotes, comments and dollar quotes in user-written SQL.
#[cfg(test)]
mod properties {
    use super::*;

    use Engine::{Postgres, Sqlite};
    use proptest::prelude::*;

    /// One piece of a generated statement and the placeholder it really uses.
    fn piece(engine: Engine) -> impl Strategy<Value = (String, usize)> {
        let n = 1usize..=20;
        let hidden = 1usize..=99;
        let mut hiders = vec![
            hidden.clone().prop_map(|k| format!("'it''s ${k}'")).boxed(),
            hidden.clone().prop_map(|k| format!("\"col${k}\"")).boxed(),
            hidden.clone().prop_map(|k| format!("`${k}`")).boxed(),
            hidden
                .clone()
                .prop_map(|k| format!("-- ${k} ' \"\n"))
                .boxed(),
            hidden.clone().prop_map(|k| format!("/* ${k} ' */")).boxed(),
            hidden.clone().prop_map(|k| format!("$$ ${k} ' $$")).boxed(),
            hidden
                .clone()
                .prop_map(|k| format!("$tag$ ${k} $$ $tag$"))
                .boxed(),
            hidden.clone().prop_map(|k| format!("price${k}")).boxed(),
        ];
        match engine {
            Postgres => {
                hiders.push(hidden.clone().prop_map(|k| format!("E'\\' ${k}'")).boxed());
                hiders.push(
                    hidden
                        .prop_map(|k| format!("/* /* ${k} */ ${k} */"))
                        .boxed(),
                );
            }
            Sqlite => hiders.push(hidden.prop_map(|k| format!("[a${k}]")).boxed()),
        }
        prop_oneof![
            n.prop_map(|n| (format!("${n}"), n)),
            "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_map(|w| (w, 0)),
            Just(("=, ( ) + ;".to_owned(), 0)),
            proptest::strategy::Union::new(hiders).prop_map(|s| (s, 0)),
        ]
    }

    fn statement(engine: Engine) -> impl Strategy<Value = (String, usize)> {
        proptest::collection::vec(piece(engine), 0..24).prop_map(|pieces| {
            let max = pieces.iter().map(|(_, n)| *n).max().unwrap_or(0);
            let text: Vec<String> = pieces.into_iter().map(|(s, _)| s).collect();
            (text.join(" "), max)
        })
    }

    fn engine() -> impl Strategy<Value = Engine> {
        prop_oneof![Just(Sqlite), Just(Postgres)]
    }

    /// Text made mostly of the characters the scanner treats specially.
    fn sqlish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(vec![
                    "$",
                    "$$",
                    "'",
                    "\"",
                    "`",
                    "[",
                    "]",
                    "-",
                    "--",
                    "/*",
                    "*/",
                    "*",
                    "/",
                    "\\",
                    "E'",
                    "e",
                    "\n",
                    " ",
                    "0",
                    "1",
                    "9",
                    "99999999999999999999999",
                    "$tag$",
                    "é",
                    "_",
                ])
                .prop_map(str::to_owned),
                any::<char>().prop_map(String::from),
            ],
            0..64,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_any_text(sql in any::<String>(), engine in engine(), given in 0usize..4) {
            let _ = max_placeholder(&sql, engine);
            let _ = check_arity(&sql, given, engine);
            let _ = abbreviate(&sql);
        }

        #[test]
        fn never_panics_on_quote_and_comment_soup(sql in sqlish(), engine in engine()) {
            let _ = max_placeholder(&sql, engine);
            let _ = check_arity(&sql, 1, engine);
        }

        #[test]
        fn finds_exactly_the_placeholders_outside_quotes_and_comments(
            (engine, (sql, max)) in engine().prop_flat_map(|e| (Just(e), statement(e)))
        ) {
            prop_assert_eq!(max_placeholder(&sql, engine).unwrap(), max, "{}", sql);
            prop_assert!(check_arity(&sql, max, engine).is_ok());
            let e = check_arity(&sql, max + 1, engine).unwrap_err();
            let given = format!("{} parameter(s)", max + 1);
            prop_assert!(e.message.contains(&given), "{}", e);
        }

        #[test]
        fn a_trailing_comment_or_literal_changes_nothing(
            (engine, (sql, max)) in engine().prop_flat_map(|e| (Just(e), statement(e))),
            junk in "[^\n]{0,40}",
            k in 1usize..100_000,
        ) {
            let line = format!("{sql}\n-- {junk} ${k}");
            prop_assert_eq!(max_placeholder(&line, engine).unwrap(), max);
            let quoted = format!("{sql} '{} ${k}'", junk.replace('\'', "''").replace('\\', ""));
            prop_assert_eq!(max_placeholder(&quoted, engine).unwrap(), max);
        }

        #[test]
        fn out_of_range_numbers_are_refused_not_wrapped(digits in "[0-9]{6,40}", engine in engine()) {
            let sql = format!("SELECT ${digits}");
            let n: u128 = digits.parse().unwrap_or(u128::MAX);
            let result = max_placeholder(&sql, engine);
            if n == 0 || n > 65_535 {
                prop_assert!(result.unwrap_err().message.contains("out of range"));
            } else {
                prop_assert_eq!(result.unwrap() as u128, n);
            }
        }
    }
}
