//! What a span may say about a query's text: the text with its literals
//! replaced (`db.query.text`), the operation (`db.operation.name`), the one
//! table it works on when there is only one (`db.collection.name`), and the
//! two together (`db.query.summary`, the span's name).
//!
//! A [`Statement`] holds all of it, worked out once per prepared
//! statement (a driver prepares a statement once per connection and
//! executes it many times) and once per simple query.
//!
//! A small lexer of PostgreSQL's SQL is enough for all of it: string
//! literals (`'…'`, `E'…'`, `$tag$…$tag$`), numbers, quoted and plain
//! identifiers, `$n` parameters, comments and punctuation. Nothing here
//! parses a statement; where the text is not plain, less is said.

use std::sync::Arc;

/// A statement's text and what spans say of it.
#[derive(Debug)]
pub(crate) struct Statement {
    /// The SQL as the client sent it (what record and replay mode read).
    #[cfg_attr(not(any(test, feature = "record-replay")), allow(dead_code))]
    pub(crate) sql: Arc<str>,
    /// `db.query.text`: the SQL without its literals.
    pub(crate) text: Arc<str>,
    pub(crate) operation: Option<Arc<str>>,
    pub(crate) collection: Option<Arc<str>>,
    /// `db.query.summary`, also the span's name.
    pub(crate) summary: Option<Arc<str>>,
    pub(crate) batch_size: Option<usize>,
    /// The columns its parameters are bound to, where the text says
    /// ([`parameter_columns`]): record mode hashes those bound to columns
    /// that hold secrets.
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    pub(crate) parameter_columns: Vec<(usize, String)>,
    /// How many parameters it takes: its highest `$n`.
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    pub(crate) parameters: usize,
    /// A lookup in the system catalogs (`pg_catalog`, `pg_type`, …), as
    /// drivers make to learn a type they do not know: record and replay
    /// take it as the background's, not the request's that met the type
    /// first on its connection.
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    pub(crate) catalog: bool,
    /// [`normalized`] of the SQL, once asked for (record and replay ask
    /// at each execution).
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    normalized: std::sync::OnceLock<String>,
}

impl Statement {
    /// The method of its exchange in a recording, and of its live call in
    /// replay (the two must match): the operation, `BATCH_INSERT` for
    /// `BATCH INSERT` (a method has no space), `QUERY` when it cannot be
    /// told.
    #[cfg(feature = "record-replay")]
    pub(crate) fn method(&self) -> String {
        self.operation
            .as_deref()
            .unwrap_or("QUERY")
            .replace(' ', "_")
    }

    /// The SQL [`normalized`], worked out at the first call.
    #[cfg(feature = "record-replay")]
    pub(crate) fn normalized(&self) -> &str {
        self.normalized.get_or_init(|| normalized(&self.sql))
    }

    pub(crate) fn new(sql: &str) -> Arc<Self> {
        // Lexed once for all that is said of it.
        let tokens = tokens(sql);
        let described = described(&tokens);
        Arc::new(Self {
            sql: sql.into(),
            text: written(&tokens, |_| "?").into(),
            summary: described.summary().map(Arc::from),
            operation: described.operation.map(Arc::from),
            collection: described.collection.map(Arc::from),
            batch_size: described.batch_size,
            parameter_columns: bound_columns(&tokens),
            parameters: highest_parameter(&tokens),
            catalog: reads_catalog(&tokens),
            normalized: std::sync::OnceLock::new(),
        })
    }
}

/// One token of a query's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A keyword or plain identifier.
    Word(&'a str),
    /// A double-quoted identifier, quotes included.
    Quoted(&'a str),
    /// A string or number, as written.
    Literal(&'a str),
    /// `$1`, `$2`, …
    Parameter(&'a str),
    /// An operator: `=`, `||`, `<=`, `->>`, `@>`, …
    Operator(&'a str),
    /// Any other character (`(`, `,`, `;`, `.`, `:`).
    Punct(char),
    /// White space or comments between two tokens (only from
    /// [`tokens_and_gaps`]).
    Gap,
}

/// The tokens of `text`, comments and white space skipped. A string left
/// open runs to the end.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut tokens = tokens_and_gaps(text);
    tokens.retain(|token| *token != Token::Gap);
    tokens
}

/// The tokens of `text`, with one [`Token::Gap`] for each run of white
/// space and comments between two of them.
fn tokens_and_gaps(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let rest = &text[at..];
        let gap = byte.is_ascii_whitespace() || rest.starts_with("--") || rest.starts_with("/*");
        if gap && out.last().is_some_and(|last| *last != Token::Gap) {
            out.push(Token::Gap);
        }
        if byte.is_ascii_whitespace() {
            at += 1;
        } else if rest.starts_with("--") {
            at += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            at += block_comment_len(rest);
        } else if byte == b'\'' {
            let len = quoted_len(rest, b'\'');
            out.push(Token::Literal(&rest[..len]));
            at += len;
        } else if byte == b'"' {
            let len = quoted_len(rest, b'"');
            out.push(Token::Quoted(&rest[..len]));
            at += len;
        } else if byte == b'$' {
            let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                out.push(Token::Parameter(&rest[..1 + digits]));
                at += 1 + digits;
            } else if let Some(len) = dollar_quoted_len(rest) {
                out.push(Token::Literal(&rest[..len]));
                at += len;
            } else {
                out.push(Token::Punct('$'));
                at += 1;
            }
        } else if byte.is_ascii_digit() || (byte == b'.' && next_is_digit(bytes, at)) {
            let len = number_len(rest);
            out.push(Token::Literal(&rest[..len]));
            at += len;
        } else if is_word_start(byte) {
            let len = rest.bytes().take_while(|b| is_word_byte(*b)).count();
            let word = &rest[..len];
            // E'…', B'…', X'…', N'…' and U&'…' are strings.
            let prefix = matches!(word.to_ascii_uppercase().as_str(), "E" | "B" | "X" | "N");
            if prefix && rest[len..].starts_with('\'') {
                let len = len + quoted_len(&rest[len..], b'\'');
                out.push(Token::Literal(&rest[..len]));
                at += len;
            } else if word.eq_ignore_ascii_case("U") && rest[len..].starts_with("&'") {
                let len = len + 1 + quoted_len(&rest[len + 1..], b'\'');
                out.push(Token::Literal(&rest[..len]));
                at += len;
            } else {
                out.push(Token::Word(word));
                at += len;
            }
        } else if is_operator_byte(byte) {
            let len = operator_len(rest);
            out.push(Token::Operator(&rest[..len]));
            at += len;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(Token::Punct(c));
            at += c.len_utf8();
        }
    }
    out
}

/// Whether the statement is a `SELECT` that names a system catalog: the
/// `pg_catalog` schema, or one of the catalog tables drivers read to
/// learn a type.
fn reads_catalog(tokens: &[Token<'_>]) -> bool {
    if !matches!(tokens.first(), Some(Token::Word(first)) if first.eq_ignore_ascii_case("select")) {
        return false;
    }
    const CATALOGS: [&str; 7] = [
        "pg_catalog",
        "pg_type",
        "pg_enum",
        "pg_attribute",
        "pg_range",
        "pg_namespace",
        "pg_class",
    ];
    tokens.iter().any(|token| match token {
        Token::Word(word) => CATALOGS.iter().any(|name| word.eq_ignore_ascii_case(name)),
        _ => false,
    })
}

/// The characters PostgreSQL builds operators of.
fn is_operator_byte(byte: u8) -> bool {
    b"+-*/<>=~!@#%^&|`?".contains(&byte)
}

/// The length of the operator `rest` starts with, as PostgreSQL reads
/// one: its characters up to a comment's start, and a `+` or `-` at
/// the end left for what follows (`=-1` is `=` then `-1`) unless the
/// operator holds one of `~!@#%^&|`?`.
fn operator_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut len = 0;
    while len < bytes.len()
        && is_operator_byte(bytes[len])
        && (len == 0 || !(rest[len..].starts_with("--") || rest[len..].starts_with("/*")))
    {
        len += 1;
    }
    let keeps_sign = bytes[..len].iter().any(|b| b"~!@#%^&|`?".contains(b));
    while len > 1 && !keeps_sign && matches!(bytes[len - 1], b'+' | b'-') {
        len -= 1;
    }
    len
}

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

fn is_word_byte(byte: u8) -> bool {
    is_word_start(byte) || byte.is_ascii_digit() || byte == b'$'
}

fn next_is_digit(bytes: &[u8], at: usize) -> bool {
    bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
}

/// Length of a quoted run starting at `text[0] == quote`, a doubled quote
/// standing for one (and a backslash escaping in `E'…'`, harmlessly
/// treated the same way everywhere).
fn quoted_len(text: &str, quote: u8) -> usize {
    let bytes = text.as_bytes();
    let mut at = 1;
    while at < bytes.len() {
        match bytes[at] {
            b if b == quote && bytes.get(at + 1) == Some(&quote) => at += 2,
            b if b == quote => return at + 1,
            b'\\' if quote == b'\'' => at += 2,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Length of `$tag$…$tag$` at the start of `text`, `None` when `text` does
/// not open one.
fn dollar_quoted_len(text: &str) -> Option<usize> {
    let tag_len = text[1..].find('$')? + 2;
    let tag = &text[..tag_len];
    if !tag[1..tag_len - 1]
        .bytes()
        .all(|b| is_word_byte(b) && b != b'$')
    {
        return None;
    }
    Some(match text[tag_len..].find(tag) {
        Some(end) => tag_len + end + tag_len,
        None => text.len(),
    })
}

/// Length of a nested `/* … */` comment at the start of `text`.
fn block_comment_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut at) = (0usize, 0);
    while at < bytes.len() {
        if bytes[at..].starts_with(b"/*") {
            depth += 1;
            at += 2;
        } else if bytes[at..].starts_with(b"*/") {
            depth -= 1;
            at += 2;
            if depth == 0 {
                return at;
            }
        } else {
            at += 1;
        }
    }
    bytes.len()
}

fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let exponent_sign =
            matches!(byte, b'+' | b'-') && at > 0 && matches!(bytes[at - 1], b'e' | b'E');
        if byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'_' || exponent_sign {
            at += 1;
        } else {
            break;
        }
    }
    at
}

/// `text` with every string and number replaced by `?`, comments removed
/// and white space runs made one space: what `db.query.text` says, so that
/// no value the application wrote into its SQL reaches a span.
///
/// Parameters (`$1`) stay: their values travel apart from the text.
#[cfg(test)]
fn without_literals(text: &str) -> String {
    written(&tokens(text), |_| "?")
}

/// `text` with comments removed and each run of white space (or
/// comments) made one space, literals kept: the SQL recordings keep and
/// replay matches, so that a comment (a `traceparent` a tool wrote into
/// it) or a line break changes nothing, and the text reads as written.
#[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
pub(crate) fn normalized(text: &str) -> String {
    let mut tokens = tokens_and_gaps(text);
    if tokens.last() == Some(&Token::Gap) {
        tokens.pop();
    }
    written(&tokens, |literal| literal)
}

/// `tokens` written again, each literal as `literal` gives it: a gap as
/// one space when there are gaps (the tokens of [`tokens_and_gaps`]),
/// else one space apart where one is needed.
fn written<'a>(tokens: &[Token<'a>], literal: impl Fn(&'a str) -> &'a str) -> String {
    let with_gaps = tokens.contains(&Token::Gap);
    let mut out = String::new();
    let mut last: Option<Token<'_>> = None;
    for &token in tokens {
        if !with_gaps
            && let Some(previous) = last
            && needs_space(previous, token)
        {
            out.push(' ');
        }
        match token {
            Token::Word(piece)
            | Token::Quoted(piece)
            | Token::Parameter(piece)
            | Token::Operator(piece) => {
                out.push_str(piece);
            }
            Token::Literal(text) => out.push_str(literal(text)),
            Token::Punct(c) => out.push(c),
            Token::Gap => out.push(' '),
        }
        last = Some(token);
    }
    out
}

/// Whether a space goes between two tokens when the text is written again:
/// none inside `a.b`, `f(x)`, `x::int` or before `,` `;` `)`.
fn needs_space(previous: Token<'_>, next: Token<'_>) -> bool {
    !matches!(
        (previous, next),
        (Token::Punct('(' | '.' | ':'), _)
            | (_, Token::Punct(')' | ',' | ';' | '.' | ':'))
            | (Token::Word(_) | Token::Quoted(_), Token::Punct('('))
    )
}

/// What a span says of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Described {
    /// `SELECT`, `INSERT`, …; `BATCH` or `BATCH {op}` for several
    /// statements.
    operation: Option<String>,
    /// The one table the statement works on, when it plainly has one.
    collection: Option<String>,
    /// Statements in the text, when more than one.
    batch_size: Option<usize>,
}

impl Described {
    /// `{operation} {collection}`, `{operation}`, or `None`: the span's
    /// name and `db.query.summary`.
    fn summary(&self) -> Option<String> {
        match (&self.operation, &self.collection) {
            (Some(operation), Some(collection)) => Some(format!("{operation} {collection}")),
            (Some(operation), None) => Some(operation.clone()),
            _ => None,
        }
    }
}

/// The operation and table of `text`.
#[cfg(test)]
fn describe(text: &str) -> Described {
    described(&tokens(text))
}

/// The operation and table of a text's `tokens`.
fn described(tokens: &[Token<'_>]) -> Described {
    let statements: Vec<&[Token<'_>]> = split_statements(tokens);
    match statements.as_slice() {
        [] => Described {
            operation: None,
            collection: None,
            batch_size: None,
        },
        [one] => Described {
            operation: operation(one),
            collection: collection(one),
            batch_size: None,
        },
        many => {
            let operations: Vec<Option<String>> = many.iter().map(|s| operation(s)).collect();
            let same = operations.windows(2).all(|pair| pair[0] == pair[1]);
            let operation = match (&operations[0], same) {
                (Some(op), true) => format!("BATCH {op}"),
                _ => "BATCH".to_owned(),
            };
            Described {
                operation: Some(operation),
                collection: None,
                batch_size: Some(many.len()),
            }
        }
    }
}

/// The statements of a text: split at `;` outside parentheses, empty ones
/// left out.
fn split_statements<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut statements = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            Token::Punct(';') if depth <= 0 => {
                if i > start {
                    statements.push(&tokens[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if tokens.len() > start {
        statements.push(&tokens[start..]);
    }
    statements
}

/// Statements whose first word is itself the operation's name.
const OPERATIONS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "COPY",
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "SET",
    "SHOW",
    "RESET",
    "LISTEN",
    "NOTIFY",
    "UNLISTEN",
    "LOCK",
    "VACUUM",
    "ANALYZE",
    "EXPLAIN",
    "CALL",
    "DO",
    "GRANT",
    "REVOKE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "DISCARD",
    "VALUES",
    "TABLE",
    "FETCH",
    "DECLARE",
    "CLOSE",
    "MOVE",
    "REFRESH",
    "REINDEX",
    "CLUSTER",
    "COMMENT",
    "ABORT",
];

/// The statement's operation: its first word when it is one of
/// [`OPERATIONS`], or for `WITH …` the statement the common table
/// expressions lead to.
fn operation(statement: &[Token<'_>]) -> Option<String> {
    let first = statement.iter().find(|t| !matches!(t, Token::Punct('(')))?;
    let Token::Word(word) = first else {
        return None;
    };
    let upper = word.to_ascii_uppercase();
    if upper == "WITH" {
        let mut depth = 0i32;
        for token in statement {
            match token {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => depth -= 1,
                Token::Word(w) if depth == 0 => {
                    let w = w.to_ascii_uppercase();
                    if matches!(
                        w.as_str(),
                        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE"
                    ) {
                        return Some(w);
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    OPERATIONS.contains(&upper.as_str()).then_some(upper)
}

/// The one table a statement plainly works on: `INSERT INTO t`,
/// `UPDATE t`, `DELETE FROM t`, `COPY t`, `TRUNCATE t`, and a `SELECT`
/// whose `FROM` names one table, with no join, no second table and no
/// subquery. The name is written as the statement writes it
/// (schema-qualified, quoted).
fn collection(statement: &[Token<'_>]) -> Option<String> {
    let first = match statement.first()? {
        Token::Word(word) => word.to_ascii_uppercase(),
        _ => return None,
    };
    let nested_select = statement[1..]
        .iter()
        .any(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("select")));
    if nested_select {
        return None;
    }
    let after = |keyword: &str| {
        let at = statement
            .iter()
            .position(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(keyword)))?;
        Some(at + 1)
    };
    let start = match first.as_str() {
        "INSERT" => after("into")?,
        "UPDATE" | "COPY" => 1,
        "TRUNCATE" => {
            let skip =
                matches!(statement.get(1), Some(Token::Word(w)) if w.eq_ignore_ascii_case("table"));
            1 + usize::from(skip)
        }
        "DELETE" | "SELECT" => after("from")?,
        _ => return None,
    };
    let (name, end) = qualified_name(statement, start)?;
    if matches!(first.as_str(), "SELECT" | "DELETE" | "UPDATE") {
        let rest = &statement[end..];
        let word = |t: &Token<'_>, keywords: &[&str]| matches!(t, Token::Word(w) if keywords.iter().any(|k| w.eq_ignore_ascii_case(k)));
        // A join, `DELETE … USING other`, `UPDATE … FROM other`.
        let joined = rest.iter().any(|t| word(t, &["join", "using"]))
            || (first == "UPDATE" && rest.iter().any(|t| word(t, &["from"])));
        // `FROM a, b`; a comma in a later clause (`ORDER BY a, b`,
        // `SET a = 1, b = 2`) names no table.
        let second = rest
            .iter()
            .take_while(|t| !word(t, CLAUSES))
            .any(|t| *t == Token::Punct(','));
        if joined || second {
            return None;
        }
    }
    Some(name)
}

/// The highest `$n` among `tokens`: how many parameters the statement
/// takes (parameters in strings and comments are not parameters).
fn highest_parameter(tokens: &[Token<'_>]) -> usize {
    let numbers = tokens.iter().filter_map(|token| match token {
        Token::Parameter(p) => p[1..].parse::<usize>().ok(),
        _ => None,
    });
    numbers.max().unwrap_or(0)
}

/// The columns parameters are bound to, where the text plainly says:
/// `column = $n` (and `<>`, `<`, `>`, `LIKE`, … any operator between a
/// column and a parameter), and an `INSERT`'s column list against its
/// `VALUES` tuples. Parameter numbers are 1-based, as in the text; a
/// column is its last name part, unquoted as written.
#[cfg(any(test, feature = "record-replay"))]
pub(crate) fn parameter_columns(text: &str) -> Vec<(usize, String)> {
    bound_columns(&tokens(text))
}

/// [`parameter_columns`] of a text's `tokens`.
fn bound_columns(tokens: &[Token<'_>]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let number = |token: &Token<'_>| match token {
        Token::Parameter(p) => p[1..].parse::<usize>().ok(),
        _ => None,
    };
    let name = |token: &Token<'_>| match token {
        Token::Word(w) => Some(w.to_string()),
        Token::Quoted(q) => Some(q.trim_matches('"').to_owned()),
        _ => None,
    };
    // column <op> $n, with an operator of punctuation or LIKE / ILIKE.
    for (at, token) in tokens.iter().enumerate() {
        let Some(n) = number(token) else { continue };
        let mut before = at;
        while before > 0 {
            match tokens[before - 1] {
                Token::Operator(op) if op.bytes().all(|b| b"=<>!~".contains(&b)) => before -= 1,
                Token::Word(w)
                    if w.eq_ignore_ascii_case("like") || w.eq_ignore_ascii_case("ilike") =>
                {
                    before -= 1
                }
                _ => break,
            }
        }
        if before < at
            && before > 0
            && let Some(column) = name(&tokens[before - 1])
        {
            found.push((n, column));
        }
    }
    // INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)
    let word = |t: &Token<'_>, k: &str| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(k));
    if tokens.first().is_some_and(|t| word(t, "insert"))
        && let Some(open) = tokens.iter().position(|t| *t == Token::Punct('('))
        && let Some(values) = tokens.iter().position(|t| word(t, "values"))
        && open < values
    {
        let close = tokens[open..]
            .iter()
            .position(|t| *t == Token::Punct(')'))
            .map(|c| open + c);
        let columns: Vec<String> = tokens[open + 1..close.unwrap_or(open)]
            .iter()
            .filter_map(name)
            .collect();
        let (mut depth, mut position) = (0usize, 0usize);
        for token in &tokens[values + 1..] {
            match token {
                Token::Punct('(') => {
                    depth += 1;
                    if depth == 1 {
                        position = 0;
                    }
                }
                Token::Punct(')') => depth = depth.saturating_sub(1),
                Token::Punct(',') if depth == 1 => position += 1,
                // Between tuples.
                Token::Punct(',') if depth == 0 => {}
                Token::Parameter(_) if depth == 1 => {
                    if let (Some(n), Some(column)) = (number(token), columns.get(position)) {
                        found.push((n, column.clone()));
                    }
                }
                _ if depth == 0 => break,
                _ => {}
            }
        }
    }
    found
}

/// Words that start the clauses after a `FROM` or an `UPDATE`'s table.
const CLAUSES: &[&str] = &[
    "where",
    "order",
    "group",
    "limit",
    "having",
    "offset",
    "for",
    "returning",
    "set",
    "window",
    "fetch",
    "on",
];

/// `schema.table`, `"Quoted"`, or `table` at `at`, and where it ends.
fn qualified_name(statement: &[Token<'_>], mut at: usize) -> Option<(String, usize)> {
    if matches!(statement.get(at), Some(Token::Word(w)) if w.eq_ignore_ascii_case("only")) {
        at += 1;
    }
    let mut name = String::new();
    loop {
        match statement.get(at)? {
            Token::Word(part) | Token::Quoted(part) => name.push_str(part),
            _ => return None,
        }
        at += 1;
        if statement.get(at) == Some(&Token::Punct('.')) {
            name.push('.');
            at += 1;
        } else {
            return Some((name, at));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_question_marks_and_parameters_stay() {
        assert_eq!(
            without_literals("SELECT * FROM users WHERE name = 'o''brien' AND id = 42"),
            "SELECT * FROM users WHERE name = ? AND id = ?"
        );
        assert_eq!(
            without_literals("insert into t (a, b) values ($1, E'x\\'y', 1.5e-3, $$a 'b'$$)"),
            "insert into t(a, b) values($1, ?, ?, ?)"
        );
        assert_eq!(
            without_literals("select $tag$secret$tag$ -- note 'x'\n"),
            "select ?"
        );
        assert_eq!(
            without_literals("SELECT /* a /* b */ 'c' */ 1::int"),
            "SELECT ?::int"
        );
        assert_eq!(
            without_literals("SELECT x'ff', U&'d\\0061t'"),
            "SELECT ?, ?"
        );
        assert_eq!(
            without_literals("SELECT col2, t1.\"Col\" FROM t1"),
            "SELECT col2, t1.\"Col\" FROM t1"
        );
    }

    #[test]
    fn normalized_text_keeps_literals_and_drops_comments() {
        assert_eq!(
            normalized("SELECT  *\n FROM t /* traceparent='00-…' */ WHERE a = 'x  y' -- note\n"),
            "SELECT * FROM t WHERE a = 'x  y'"
        );
        // Spaces where the text had white space, none where it had none.
        assert_eq!(
            normalized("insert into t(a)\n   values ($1,2.5)"),
            "insert into t(a) values ($1,2.5)"
        );
        assert_eq!(normalized("SELECT(1)"), "SELECT(1)");
    }

    #[test]
    fn drivers_type_lookups_read_the_catalogs() {
        let lookups = [
            "SELECT t.typname, t.typtype FROM pg_catalog.pg_type t WHERE t.oid = $1",
            "SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
            "select typname from PG_TYPE where oid = $1",
        ];
        for sql in lookups {
            assert!(Statement::new(sql).catalog, "{sql}");
        }
        for sql in [
            "SELECT * FROM types WHERE pg_type_name = $1",
            "DELETE FROM pg_catalog_copy",
            "INSERT INTO pg_type_log VALUES ($1)",
            "UPDATE pg_catalog.pg_class SET relname = $1",
        ] {
            assert!(!Statement::new(sql).catalog, "{sql}");
        }
    }

    #[test]
    fn operators_of_several_characters_stay_whole() {
        assert_eq!(
            without_literals("SELECT a||'x', b->>'k', c<=1, d<>2 FROM t WHERE e@>$1"),
            "SELECT a || ?, b ->> ?, c <= ?, d <> ? FROM t WHERE e @> $1"
        );
        // A sign at an operator's end is the number's (`=-1`), a comment
        // starts where `--` does.
        assert_eq!(
            without_literals("SELECT 1 WHERE a=-1 AND b<--c\n"),
            "SELECT ? WHERE a = - ? AND b <"
        );
        assert_eq!(
            parameter_columns("SELECT 1 WHERE a>=$1 AND b!=$2"),
            [(1, "a".to_owned()), (2, "b".to_owned())]
        );
    }

    /// Any text at all is read without a panic (a slice inside a
    /// character would be one), whatever it holds.
    #[test]
    fn any_text_is_read() {
        let nasty = [
            "SELECT 'é",
            "/* é */ SELECT 1",
            "E'\\",
            "E'é\\",
            "$$é",
            "$é$ x $é$",
            "$1é",
            "U&'é",
            "-- é",
            "SELECT \"é",
            "é.é",
            "1.2.3e+",
            ".5é",
            "$",
            "$a",
            "'",
            "\"",
            "/*",
            "*/",
        ];
        for text in nasty {
            let _ = (without_literals(text), normalized(text), describe(text));
            let _ = parameter_columns(text);
            let _ = Statement::new(text);
        }
    }

    #[test]
    fn text_left_open_ends_without_its_value() {
        assert_eq!(without_literals("SELECT 'never closed"), "SELECT ?");
        assert_eq!(without_literals("SELECT $a$ never closed"), "SELECT ?");
        assert_eq!(without_literals("/* never closed 'x'"), "");
    }

    #[test]
    fn the_operation_and_its_one_table() {
        let cases = [
            (
                "SELECT id, name FROM users WHERE id = $1",
                Some("SELECT"),
                Some("users"),
            ),
            (
                "select * from public.orders o order by a, b",
                Some("SELECT"),
                Some("public.orders"),
            ),
            (
                "INSERT INTO \"Items\" (a) VALUES ($1) RETURNING id",
                Some("INSERT"),
                Some("\"Items\""),
            ),
            (
                "UPDATE stock SET n = n - 1 WHERE sku = $1",
                Some("UPDATE"),
                Some("stock"),
            ),
            (
                "DELETE FROM carts WHERE id = $1",
                Some("DELETE"),
                Some("carts"),
            ),
            (
                "SELECT * FROM a JOIN b ON a.id = b.id",
                Some("SELECT"),
                None,
            ),
            ("SELECT * FROM a, b", Some("SELECT"), None),
            (
                "SELECT * FROM a WHERE id IN (SELECT id FROM b)",
                Some("SELECT"),
                None,
            ),
            ("SELECT 1", Some("SELECT"), None),
            (
                "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
                Some("INSERT"),
                None,
            ),
            ("COPY items FROM STDIN", Some("COPY"), Some("items")),
            ("TRUNCATE TABLE events", Some("TRUNCATE"), Some("events")),
            ("BEGIN", Some("BEGIN"), None),
            ("frobnicate the table", None, None),
            ("", None, None),
        ];
        for (text, operation, collection) in cases {
            let described = describe(text);
            assert_eq!(described.operation.as_deref(), operation, "{text}");
            assert_eq!(described.collection.as_deref(), collection, "{text}");
            assert_eq!(described.batch_size, None, "{text}");
        }
    }

    #[test]
    fn several_statements_are_a_batch() {
        let same = describe("INSERT INTO a VALUES (1); INSERT INTO b VALUES (2);");
        assert_eq!(same.operation.as_deref(), Some("BATCH INSERT"));
        assert_eq!((same.collection, same.batch_size), (None, Some(2)));
        let mixed = describe("BEGIN; UPDATE a SET x = 1; COMMIT");
        assert_eq!(mixed.operation.as_deref(), Some("BATCH"));
        assert_eq!(mixed.batch_size, Some(3));
        // A semicolon in a string or in parentheses splits nothing.
        assert_eq!(describe("SELECT ';' FROM t").batch_size, None);
    }

    #[cfg(feature = "record-replay")]
    #[test]
    fn the_highest_parameter_counts_them() {
        let count = |text: &str| Statement::new(text).parameters;
        assert_eq!(count("SELECT $2, $10 FROM t WHERE a = $1"), 10);
        assert_eq!(count("SELECT '$3' /* $4 */"), 0);
    }

    #[test]
    fn parameters_bound_to_columns_where_the_text_says() {
        let found = parameter_columns(
            "UPDATE users SET password = $1, \"Email\" = $2 WHERE u.id=$3 AND name ILIKE $4",
        );
        let expected = [(1, "password"), (2, "Email"), (3, "id"), (4, "name")];
        let expected: Vec<(usize, String)> = expected
            .iter()
            .map(|(n, c)| (*n, (*c).to_owned()))
            .collect();
        assert_eq!(found, expected);
        let found = parameter_columns(
            "INSERT INTO users (name, password) VALUES ($1, $2), ($3, lower($4)) RETURNING id",
        );
        let found: Vec<(usize, &str)> = found.iter().map(|(n, c)| (*n, c.as_str())).collect();
        assert_eq!(found, [(1, "name"), (2, "password"), (3, "name")]);
        assert!(parameter_columns("SELECT $1::int + 1").is_empty());
    }

    #[test]
    fn the_summary_is_operation_and_table() {
        assert_eq!(
            describe("SELECT * FROM users").summary().as_deref(),
            Some("SELECT users")
        );
        assert_eq!(
            describe("SELECT now()").summary().as_deref(),
            Some("SELECT")
        );
        assert_eq!(describe("").summary(), None);
    }
}
