//! Where a request goes: the catalog of callable names, the allow-list check, group and node
//! selection with failover order.

pub mod breaker;
pub mod catalog;
pub mod needs;
pub mod node_rules;
pub mod plan;
pub mod scope;
