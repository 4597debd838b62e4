//! State the hot path reads: the immutable routing snapshot.

pub mod snapshot;
