//! Costs in currency: a price table per real model and node, applied to every usage record when
//! it is recorded, and budgets that admit requests against what they cost (`budget`).
//!
//! Prices are integer millionths of the currency (`costs.currency`, a label: nothing converts)
//! per million tokens, for four kinds of tokens: uncached input, input read from the prompt
//! cache, input written to it, and output. A record's cost is computed once, from the snapshot
//! the request ran on, and stored with it: editing a price changes what later requests cost,
//! never the history.
//!
//! Which price applies to (real model, node): the row for that node; else, on an Ollama node,
//! nothing (local models are free unless a node row says otherwise); else the model's default
//! row (no node). No row at all: the record costs 0 and says `priced = false`.

pub mod alerts;
pub mod budget;
pub mod rows;
#[cfg(test)]
mod capture_tests;

use crate::state::snapshot::{NodeKind, Snapshot};
use crate::usage::UsageRecord;
pub use rows::PriceRow;

/// Resolved prices, millionths of the currency per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Price {
    pub const FREE: Price = Price { input: 0, output: 0, cache_read: 0, cache_write: 0 };

    pub fn of(row: &PriceRow) -> Price {
        Price { input: row.input, output: row.output, cache_read: row.cache_read.unwrap_or(row.input), cache_write: row.cache_write.unwrap_or(row.input) }
    }

    pub fn is_free(&self) -> bool {
        *self == Price::FREE
    }

    /// The cost of these counts, in millionths of the currency, rounded up (a request that
    /// used anything priced never costs 0). `prompt` includes the cache reads and writes.
    pub fn cost(&self, prompt: u64, cached: u64, written: u64, completion: u64) -> u64 {
        let cached = cached.min(prompt);
        let written = written.min(prompt - cached);
        let plain = prompt - cached - written;
        let sum = plain as u128 * self.input as u128 + cached as u128 * self.cache_read as u128 + written as u128 * self.cache_write as u128 + completion as u128 * self.output as u128;
        sum.div_ceil(1_000_000).min(i64::MAX as u128) as u64
    }
}

/// The price of a real model on a node (see the module comment); None = unknown.
pub fn price_for(snap: &Snapshot, real: &str, node_id: Option<i64>) -> Option<Price> {
    if let Some(row) = node_id.and_then(|n| snap.price_row(real, Some(n))) {
        return Some(Price::of(row));
    }
    if node_id.and_then(|n| snap.node(n)).is_some_and(|n| n.kind == NodeKind::Ollama) {
        return Some(Price::FREE);
    }
    snap.price_row(real, None).map(Price::of)
}

/// Free to run: a zero price, or none known (a budget cannot refuse what it cannot price).
pub fn is_free(snap: &Snapshot, real: &str, node_id: i64) -> bool {
    price_for(snap, real, Some(node_id)).is_none_or(|p| p.is_free())
}

/// Put the cost into a finished record, from the counts it holds.
pub fn price_record(snap: &Snapshot, r: &mut UsageRecord) {
    let price = if r.real_model.is_empty() { None } else { price_for(snap, &r.real_model, r.node_id) };
    r.priced = price.is_some();
    r.cost_micros = price.map_or(0, |p| p.cost(r.prompt_tokens, r.cached_tokens, r.cache_write_tokens, r.completion_tokens));
}

/// Millionths -> a decimal amount with six places ("12.034500"), for headers and messages.
pub fn format_micros(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A decimal amount per million tokens as the admin API takes it (a JSON number or a string
/// like "2.50") -> millionths, exactly (at most six decimals), or why not.
pub fn parse_amount(v: &serde_json::Value) -> Result<u64, String> {
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return Err("must be a number".into()),
    };
    // A JSON float may print in exponent form (1e-6): let f64 read it, then take six places.
    let text = if text.contains(['e', 'E']) { format!("{:.6}", text.parse::<f64>().map_err(|_| "must be a number".to_string())?) } else { text };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && frac.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a non-negative decimal number".into());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 6 {
        return Err("has more than six decimal places".into());
    }
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "is too large".to_string())? };
    let f: u64 = format!("{frac:0<6}").parse().unwrap_or(0);
    w.checked_mul(1_000_000).and_then(|w| w.checked_add(f)).filter(|v| *v <= 1_000_000_000_000).ok_or_else(|| "is too large (at most 1,000,000 per million tokens)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::Node;
    use serde_json::json;

    fn snap() -> Snapshot {
        Snapshot {
            nodes: vec![
                Node { id: 1, name: "local".into(), kind: NodeKind::Ollama, ..Default::default() },
                Node { id: 2, name: "cloud".into(), kind: NodeKind::Openai, ..Default::default() },
                Node { id: 3, name: "claude".into(), kind: NodeKind::Anthropic, ..Default::default() },
            ],
            prices: vec![
                PriceRow { model: "gpt-4o".into(), node_id: None, input: 2_500_000, output: 10_000_000, cache_read: Some(1_250_000), cache_write: None },
                PriceRow { model: "gpt-4o".into(), node_id: Some(2), input: 2_000_000, output: 8_000_000, cache_read: None, cache_write: None },
                PriceRow { model: "llama3".into(), node_id: Some(1), input: 100_000, output: 100_000, cache_read: None, cache_write: None },
            ],
            ..Default::default()
        }
        .indexed()
    }

    #[test]
    fn node_row_then_free_ollama_then_the_default_row() {
        let s = snap();
        assert_eq!(price_for(&s, "gpt-4o", Some(2)).unwrap().input, 2_000_000, "the node's own row");
        assert_eq!(price_for(&s, "gpt-4o", Some(2)).unwrap().cache_read, 2_000_000, "unset cache price = input price");
        assert_eq!(price_for(&s, "gpt-4o", Some(3)).unwrap().cache_read, 1_250_000, "the model's default row");
        assert_eq!(price_for(&s, "gpt-4o", Some(1)), Some(Price::FREE), "Ollama is free unless a node row says otherwise");
        assert_eq!(price_for(&s, "llama3", Some(1)).unwrap().input, 100_000);
        assert_eq!(price_for(&s, "mystery", Some(2)), None);
        assert!(is_free(&s, "mystery", 2) && is_free(&s, "gpt-4o", 1) && !is_free(&s, "gpt-4o", 3));
    }

    #[test]
    fn cost_prices_each_kind_of_token_and_rounds_up() {
        let p = Price { input: 3_000_000, output: 15_000_000, cache_read: 300_000, cache_write: 3_750_000 };
        // 1000 prompt tokens: 600 cache reads, 100 cache writes, 300 plain; 200 output.
        let micros = 300 * 3 + 600 * 3 / 10 + 100 * 375 / 100 + 200 * 15;
        assert_eq!(p.cost(1000, 600, 100, 200), micros as u64);
        assert_eq!(Price { input: 1, ..Price::FREE }.cost(1, 0, 0, 0), 1, "a millionth of a millionth rounds up");
        assert_eq!(p.cost(10, 50, 50, 0), 3, "cache counts never exceed the prompt (10 reads at 0.3)");
        assert_eq!(Price::FREE.cost(u64::MAX / 2, 0, 0, u64::MAX / 2), 0);
        assert!(Price { input: u64::MAX, ..Price::FREE }.cost(u64::MAX, 0, 0, 0) <= i64::MAX as u64);
    }

    #[test]
    fn records_are_costed_from_their_node_and_real_model() {
        let s = snap();
        let mut r = UsageRecord { real_model: "gpt-4o".into(), node_id: Some(3), prompt_tokens: 1_000_000, cached_tokens: 400_000, completion_tokens: 1000, ..Default::default() };
        price_record(&s, &mut r);
        assert!(r.priced);
        assert_eq!(r.cost_micros, 600_000 * 5 / 2 + 400_000 * 5 / 4 + 10_000);
        let mut r = UsageRecord { real_model: "unknown".into(), node_id: Some(2), prompt_tokens: 5, ..Default::default() };
        price_record(&s, &mut r);
        assert_eq!((r.priced, r.cost_micros), (false, 0));
    }

    #[test]
    fn amounts_parse_exactly_to_millionths() {
        assert_eq!(parse_amount(&json!(2.5)), Ok(2_500_000));
        assert_eq!(parse_amount(&json!("0.075")), Ok(75_000));
        assert_eq!(parse_amount(&json!(15)), Ok(15_000_000));
        assert_eq!(parse_amount(&json!(0.000001)), Ok(1));
        assert_eq!(parse_amount(&json!(".5")), Ok(500_000));
        assert!(parse_amount(&json!(-1)).is_err());
        assert!(parse_amount(&json!("1.0000001")).is_err());
        assert!(parse_amount(&json!("abc")).is_err());
        assert!(parse_amount(&json!(true)).is_err());
        assert!(parse_amount(&json!(1e13)).is_err());
        assert_eq!(format_micros(12_034_500), "12.034500");
        assert_eq!(format_micros(5), "0.000005");
    }
}
