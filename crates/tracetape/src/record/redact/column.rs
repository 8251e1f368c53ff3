//! Column rules applied to a database operation's bodies. The response
//! body's `results` name their columns, so a cell is found by its
//! column's name; a parameter is found by the column the SQL binds it
//! to (`email = $1`, an `INSERT`'s column list), read with the same lexer
//! record mode uses to hash secret columns. A NULL is left NULL: it holds
//! nothing to hide, and replay gives it back as NULL.

use serde_json::Value;

use super::json_body::{self, Found};
use super::{RedactAction, RedactionKey};
use crate::record::{BodyRecord, HeaderRecord};

/// Which body of the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `{"sql": …, "parameters": […]}`.
    Request,
    /// `{"results": [{"columns": [{"name": …}], "rows": [[…]]}]}`.
    Response,
}

/// Applies `action` to the values of the column `column` in one body of
/// a database operation's exchange.
pub(crate) fn apply(
    side: Side,
    column: &str,
    action: &RedactAction,
    key: &RedactionKey,
    headers: &mut Vec<HeaderRecord>,
    body: &mut BodyRecord,
) -> Found {
    if body.bytes.is_empty() {
        return Found::Nothing;
    }
    let Ok(mut document) = serde_json::from_slice::<Value>(&body.bytes) else {
        // Cut at the body limit: where the column's values are cannot be
        // told, and they may be in it.
        if *action != RedactAction::Drop {
            json_body::withhold(body);
        }
        return Found::Unreadable;
    };
    let mut found = false;
    let mut rewritten = false;
    let mut each = |value: &mut Value| {
        if !value.is_null() {
            found = true;
            rewritten |= json_body::rewrite(value, action, key);
        }
    };
    match side {
        Side::Request => in_parameters(&mut document, column, &mut each),
        Side::Response => in_results(&mut document, column, &mut each),
    }
    if rewritten {
        json_body::store(&document, headers, body);
    }
    if found { Found::Values } else { Found::Nothing }
}

/// Calls `each` with every cell of the columns named `column`.
fn in_results(document: &mut Value, column: &str, each: &mut impl FnMut(&mut Value)) {
    let results = document.get_mut("results").and_then(Value::as_array_mut);
    for result in results.into_iter().flatten() {
        let named: Vec<usize> = (result.get("columns").and_then(Value::as_array))
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, described)| {
                let name = described.get("name").and_then(Value::as_str);
                name.is_some_and(|name| name.eq_ignore_ascii_case(column))
            })
            .map(|(at, _)| at)
            .collect();
        let rows = result.get_mut("rows").and_then(Value::as_array_mut);
        for row in rows.into_iter().flatten().filter_map(Value::as_array_mut) {
            for at in &named {
                if let Some(cell) = row.get_mut(*at) {
                    each(cell);
                }
            }
        }
    }
}

/// Calls `each` with every parameter the SQL binds to a column named
/// `column`.
fn in_parameters(document: &mut Value, column: &str, each: &mut impl FnMut(&mut Value)) {
    let sql = document.get("sql").and_then(Value::as_str).unwrap_or("");
    let numbers: Vec<usize> = bound(sql)
        .into_iter()
        .filter(|(_, bound)| bound.eq_ignore_ascii_case(column))
        .filter_map(|(number, _)| number.checked_sub(1))
        .collect();
    let parameters = document.get_mut("parameters").and_then(Value::as_array_mut);
    if let Some(parameters) = parameters {
        for at in numbers {
            if let Some(parameter) = parameters.get_mut(at) {
                each(parameter);
            }
        }
    }
}

/// The parameter numbers (`$1` is 1) the SQL binds to columns, by column.
#[cfg(feature = "postgres")]
fn bound(sql: &str) -> Vec<(usize, String)> {
    crate::postgres::parameter_columns(sql)
}

/// Without the SQL lexer, no parameter is known to be bound to a column.
#[cfg(not(feature = "postgres"))]
fn bound(_sql: &str) -> Vec<(usize, String)> {
    Vec::new()
}
