//! Column rules in a database operation's bodies: where the values of a
//! column are. The response body's `results` name their columns, so a
//! cell is found by its column's name; a parameter is found by the column
//! the SQL binds it to (`email = $1`, an `INSERT`'s column list), read
//! with the same lexer record mode uses to hash secret columns. A NULL
//! is not visited: it holds nothing to hide, and replay gives it back as
//! NULL.

use serde_json::Value;

/// Visits every non-NULL cell of the columns named `column` in a response
/// body (`{"results": [{"columns": [{"name": …}], "rows": [[…]]}]}`);
/// how many it visited.
pub(crate) fn in_results(
    document: &mut Value,
    column: &str,
    visit: &mut dyn FnMut(&mut Value),
) -> usize {
    let mut visited = 0;
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
                if let Some(cell) = row.get_mut(*at).filter(|cell| !cell.is_null()) {
                    visit(cell);
                    visited += 1;
                }
            }
        }
    }
    visited
}

/// Visits every non-NULL parameter the SQL binds to a column named
/// `column` in a request body (`{"sql": …, "parameters": […]}`); how many
/// it visited.
pub(crate) fn in_parameters(
    document: &mut Value,
    column: &str,
    visit: &mut dyn FnMut(&mut Value),
) -> usize {
    let sql = document.get("sql").and_then(Value::as_str).unwrap_or("");
    let numbers: Vec<usize> = bound(sql)
        .into_iter()
        .filter(|(_, bound)| bound.eq_ignore_ascii_case(column))
        .filter_map(|(number, _)| number.checked_sub(1))
        .collect();
    let mut visited = 0;
    let parameters = document.get_mut("parameters").and_then(Value::as_array_mut);
    if let Some(parameters) = parameters {
        for at in numbers {
            if let Some(parameter) = parameters.get_mut(at).filter(|p| !p.is_null()) {
                visit(parameter);
                visited += 1;
            }
        }
    }
    visited
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
