//! The schema migrations, embedded so the Worker applies them itself (once per isolate, under
//! an advisory lock; see `edge/pg.rs`). Each file also records itself in `schema_migrations`,
//! so applying one by hand with psql leaves the database in the same state.

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../../migrations/0001_init.sql") },
    Migration { version: 2, name: "admin_indexes", sql: include_str!("../../migrations/0002_admin_indexes.sql") },
    Migration { version: 4, name: "hardening", sql: include_str!("../../migrations/0004_hardening.sql") },
    Migration { version: 5, name: "keys_teams", sql: include_str!("../../migrations/0005_keys_teams.sql") },
    Migration { version: 6, name: "usage_pipeline", sql: include_str!("../../migrations/0006_usage_pipeline.sql") },
    Migration { version: 8, name: "parity", sql: include_str!("../../migrations/0008_parity.sql") },
    Migration { version: 9, name: "costs", sql: include_str!("../../migrations/0009_costs.sql") },
    Migration { version: 11, name: "budgets", sql: include_str!("../../migrations/0011_budgets.sql") },
];

/// Arbitrary but fixed: the advisory lock key all isolates serialise migrations on.
pub const LOCK_KEY: i64 = 0x6d61_6573_7472_6f;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|f| f.ends_with(".sql")).collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "a migration file is not embedded");
        for (f, m) in files.iter().zip(MIGRATIONS) {
            assert_eq!(f, &format!("{:04}_{}.sql", m.version, m.name));
            assert!(m.sql.contains(&format!("VALUES ({}, '{}')", m.version, m.name)), "{f} must record itself");
        }
    }
}
