//! State: the immutable routing snapshot the hot path reads, the SQL that builds it, the
//! embedded migrations and the database port.

pub mod db;
pub mod fanout;
pub mod migrations;
pub mod response_store;
pub mod snapshot;
pub mod snapshot_redis;
pub mod streams;
pub mod usage_flush;
pub mod usage_shards;

/// Builds the whole snapshot as one JSON document in one round trip.
pub const SNAPSHOT_SQL: &str = include_str!("snapshot.sql");
