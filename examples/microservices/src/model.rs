//! What the services send each other, as JSON.

use serde::{Deserialize, Serialize};

/// A checkout request, and the body of inventory's `POST /reserve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Chosen by the caller; inventory refuses the first reservation of
    /// each one.
    pub order_id: String,
    /// What is ordered; at least one item.
    pub items: Vec<Item>,
}

impl Order {
    /// The order `order_id` of `items`, each a SKU and a quantity.
    ///
    /// ```
    /// let order = microservices::Order::of("o-1", &[("tea", 2), ("cake", 1)]);
    /// assert_eq!(order.items[1].sku, "cake");
    /// assert_eq!(order.items[0].qty, 2);
    /// ```
    pub fn of(order_id: &str, items: &[(&str, u32)]) -> Order {
        Order {
            order_id: order_id.to_owned(),
            items: items
                .iter()
                .map(|&(sku, qty)| Item {
                    sku: sku.to_owned(),
                    qty,
                })
                .collect(),
        }
    }
}

/// One line of an order, and the body of pricing's `POST /quote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The product.
    pub sku: String,
    /// How many.
    pub qty: u32,
}

/// Inventory's answer to `GET /stock/{sku}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// The product asked about.
    pub sku: String,
    /// Units that can be ordered.
    pub available: u32,
    /// The `tenant` baggage entry inventory received, if any.
    pub tenant: Option<String>,
}

/// Inventory's answer to a successful `POST /reserve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reserved {
    /// The order reserved.
    pub order_id: String,
    /// The `tenant` baggage entry inventory received, if any.
    pub tenant: Option<String>,
}

/// Pricing's answer to `POST /quote`: the price of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The product.
    pub sku: String,
    /// How many.
    pub qty: u32,
    /// The price of one unit, in cents.
    pub unit_cents: u64,
    /// `qty × unit_cents`.
    pub total_cents: u64,
    /// The `tenant` baggage entry pricing received, if any.
    pub tenant: Option<String>,
}

/// Pricing's answer to `GET /promotions`: the promotion running now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// Percent off every order; `0` when none is running.
    pub percent_off: u8,
}

/// Checkout's answer to `POST /checkout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The order checked out.
    pub order_id: String,
    /// The priced lines, in order.
    pub lines: Vec<Quote>,
    /// The sum of the lines, in cents.
    pub total_cents: u64,
    /// The `tenant` baggage entry checkout received, if any.
    pub tenant: Option<String>,
}
