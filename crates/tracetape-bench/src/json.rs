//! The JSON of the `json-*` modes: the order the load posts to `/echo`,
//! and the confirmation the app answers with.
//!
//! Both are ordinary API-shaped JSON, not one long string: an object with
//! a few fields and an array of small objects, sized by the number of
//! items. The answer has one line per item of the order (the item's name
//! replaced by its line total) and so is about the order's size.

use serde_json::{Map, Value, json};

/// The order document: `{"order":..,"customer":{..},"items":[{..},..]}`,
/// with as many items as fit in `bytes` (at least one).
pub(crate) fn order(bytes: usize) -> Vec<u8> {
    let head = r#"{"order":"bench-000001","customer":{"id":4711,"name":"Ada Lovelace","tier":"gold"},"items":["#;
    let tail = "]}";
    let mut out = String::with_capacity(bytes + 128);
    out.push_str(head);
    for i in 0u64.. {
        let item = format!(
            r#"{{"sku":"SKU-{i:06}","name":"item {i}","qty":{},"price_cents":{}}}"#,
            i % 5 + 1,
            99 + (i * 37) % 4900,
        );
        let separator = usize::from(i > 0);
        if i > 0 && out.len() + separator + item.len() + tail.len() > bytes {
            break;
        }
        if separator == 1 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push_str(tail);
    out.into_bytes()
}

/// The app's answer to an order: its id, a status, the total and one line
/// per item (`sku`, `qty`, `price_cents`, `line_cents`); `None` when
/// `order` has no `items` array.
pub(crate) fn confirmation(order: &Value) -> Option<Value> {
    let items = order.get("items")?.as_array()?;
    let mut total: i64 = 0;
    let lines: Vec<Value> = items
        .iter()
        .map(|item| {
            let qty = item.get("qty").and_then(Value::as_i64).unwrap_or(0);
            let price = item.get("price_cents").and_then(Value::as_i64).unwrap_or(0);
            let line = qty.saturating_mul(price);
            total = total.saturating_add(line);
            let mut out = Map::new();
            out.insert(
                "sku".to_owned(),
                item.get("sku").cloned().unwrap_or(Value::Null),
            );
            out.insert("qty".to_owned(), qty.into());
            out.insert("price_cents".to_owned(), price.into());
            out.insert("line_cents".to_owned(), line.into());
            Value::Object(out)
        })
        .collect();
    Some(json!({
        "order": order.get("order").cloned().unwrap_or(Value::Null),
        "status": "accepted",
        "total_cents": total,
        "lines": lines,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_json_of_about_the_asked_size() -> anyhow::Result<()> {
        for bytes in [1_000, 1_000_000] {
            let body = order(bytes);
            assert!(body.len() <= bytes, "{}", body.len());
            assert!(body.len() > bytes - 100, "{}", body.len());
            let value: Value = serde_json::from_slice(&body)?;
            let items = value["items"].as_array().map_or(0, Vec::len);
            assert!(items > 5, "{items}");
        }
        Ok(())
    }

    #[test]
    fn the_confirmation_is_about_the_order_size() -> anyhow::Result<()> {
        for bytes in [1_000, 1_000_000] {
            let order_value: Value = serde_json::from_slice(&order(bytes))?;
            let answer = confirmation(&order_value).ok_or_else(|| anyhow::anyhow!("no answer"))?;
            let size = serde_json::to_vec(&answer)?.len() as f64;
            let ratio = size / bytes as f64;
            assert!((0.85..1.15).contains(&ratio), "{bytes}: {size}");
            assert_eq!(answer["lines"][1]["qty"], 2);
            assert_eq!(answer["lines"][1]["line_cents"], 2 * 136);
        }
        Ok(())
    }

    #[test]
    fn an_order_without_items_has_no_confirmation() {
        assert!(confirmation(&json!({"order": "x"})).is_none());
        assert!(confirmation(&json!({"items": "none"})).is_none());
    }
}
