//! `GatewayError`: every way a request can fail, with its status, retry class and a
//! low-cardinality reason for logs. Rendering into a client's error shape happens in one
//! place per dialect (`dialect::render_error`), never here.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayError {
    /// Malformed input from the client (bad JSON, wrong types, missing fields).
    BadRequest { message: String, field: Option<String> },
    /// Missing, invalid, expired or revoked credentials.
    Unauthorized(String),
    /// Authenticated but not allowed (model management denied; a model outside the allow-list is
    /// a 404, see `app::callable`).
    Forbidden(String),
    NotFound(String),
    /// `allow` is the Allow header value; owned when a route table computes it per path.
    MethodNotAllowed { allow: std::borrow::Cow<'static, str> },
    Conflict { message: String, field: Option<String> },
    PayloadTooLarge { limit: usize },
    /// A limit was hit; `retry_after` in seconds until the window resets.
    RateLimited { message: String, retry_after: u64 },
    /// A budget in currency is spent (`costs::budget`); `retry_after` in seconds until its
    /// window resets.
    BudgetExceeded { message: String, retry_after: u64 },
    /// The model is switched to maintenance by an admin.
    Maintenance(String),
    /// No node could take the request; the message says why (all unhealthy, cooling down...).
    NoHealthyNode(String),
    /// The origin answered with an error we pass on (client errors such as 400 keep their status).
    Upstream { status: u16, message: String },
    /// The origin could not be reached or did not answer in time.
    UpstreamUnavailable(String),
    UpstreamTimeout(String),
    /// Postgres (through Hyperdrive) is unreachable: admin writes fail with 503.
    DatabaseUnavailable(String),
    /// A dependency the request needs (KV, Durable Object) failed.
    Dependency(String),
    Internal(String),
}

impl GatewayError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        GatewayError::BadRequest { message: message.into(), field: None }
    }
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        GatewayError::BadRequest { message: message.into(), field: Some(field.into()) }
    }

    pub fn status(&self) -> u16 {
        match self {
            GatewayError::BadRequest { .. } => 400,
            GatewayError::Unauthorized(_) => 401,
            GatewayError::Forbidden(_) => 403,
            GatewayError::NotFound(_) => 404,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::Conflict { .. } => 409,
            GatewayError::PayloadTooLarge { .. } => 413,
            GatewayError::RateLimited { .. } | GatewayError::BudgetExceeded { .. } => 429,
            GatewayError::Maintenance(_) => 503,
            GatewayError::NoHealthyNode(_) => 503,
            GatewayError::Upstream { status, .. } => *status,
            GatewayError::UpstreamUnavailable(_) => 502,
            GatewayError::UpstreamTimeout(_) => 504,
            GatewayError::DatabaseUnavailable(_) => 503,
            GatewayError::Dependency(_) => 503,
            GatewayError::Internal(_) => 500,
        }
    }

    pub fn message(&self) -> String {
        match self {
            GatewayError::BadRequest { message, .. } | GatewayError::Conflict { message, .. } => message.clone(),
            GatewayError::Unauthorized(m)
            | GatewayError::Forbidden(m)
            | GatewayError::NotFound(m)
            | GatewayError::Maintenance(m)
            | GatewayError::NoHealthyNode(m)
            | GatewayError::UpstreamUnavailable(m)
            | GatewayError::UpstreamTimeout(m)
            | GatewayError::DatabaseUnavailable(m)
            | GatewayError::Dependency(m)
            | GatewayError::Internal(m) => m.clone(),
            GatewayError::MethodNotAllowed { allow } => format!("method not allowed; allowed: {allow}"),
            GatewayError::PayloadTooLarge { limit } => format!("request body exceeds the limit of {limit} bytes"),
            GatewayError::RateLimited { message, .. } | GatewayError::BudgetExceeded { message, .. } => message.clone(),
            GatewayError::Upstream { message, .. } => message.clone(),
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            GatewayError::BadRequest { field, .. } | GatewayError::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// Low-cardinality label for logs and usage records.
    pub fn reason(&self) -> &'static str {
        match self {
            GatewayError::BadRequest { .. } => "bad_request",
            GatewayError::Unauthorized(_) => "unauthorized",
            GatewayError::Forbidden(_) => "forbidden",
            GatewayError::NotFound(_) => "not_found",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::Conflict { .. } => "conflict",
            GatewayError::PayloadTooLarge { .. } => "payload_too_large",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::BudgetExceeded { .. } => "budget_exceeded",
            GatewayError::Maintenance(_) => "maintenance",
            GatewayError::NoHealthyNode(_) => "no_healthy_node",
            GatewayError::Upstream { .. } => "upstream_error",
            GatewayError::UpstreamUnavailable(_) => "upstream_unavailable",
            GatewayError::UpstreamTimeout(_) => "upstream_timeout",
            GatewayError::DatabaseUnavailable(_) => "database_unavailable",
            GatewayError::Dependency(_) => "dependency_error",
            GatewayError::Internal(_) => "internal",
        }
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.status())
    }
}

impl std::error::Error for GatewayError {}
