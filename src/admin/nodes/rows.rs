//! Node rows as maintenance reads them (from Postgres, not the snapshot), for the node
//! operations and the cron: the one place both `nodes/` handlers and `maintenance::cron` load them.

use super::super::kit::{not_found, Ctx};
use crate::error::GatewayError;
use crate::maintenance;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use crate::state::snapshot::{Node, NodeKind};

/// Node rows for maintenance (one node, or all when `id` is None).
pub async fn rows<D: Db>(db: &D, id: Option<i64>) -> Result<Vec<Node>, GatewayError> {
    Ok(maintenance::parse_nodes(db.json(maintenance::NODE_ROWS_SQL, &[Param::Int(id)]).await?))
}

/// The node row maintenance reads, which must exist and be an Ollama node.
pub async fn ollama_node<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Node, GatewayError> {
    let id: i64 = id.parse().map_err(|_| GatewayError::NotFound(format!("node '{id}' not found (ids are numbers)")))?;
    let node = rows(ctx.db, Some(id)).await?.into_iter().next().ok_or_else(|| not_found(&format!("node {id}")))?;
    if node.kind != NodeKind::Ollama {
        return Err(GatewayError::bad_request(format!("node '{}' is an {} node; pulling and deleting models works on Ollama nodes only", node.name, node.kind.as_str())));
    }
    Ok(node)
}
