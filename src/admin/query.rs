//! Query-string parameters of the read-only admin routes: pagination, periods and date ranges.
//! A bad value is a 400 naming the parameter, never a silent default. Filters, periods and dates
//! left empty (`action=&start_date=`, as a filter form sends for "any") count as absent; numbers
//! and flags must be numbers and flags.

use crate::error::GatewayError;
use crate::net::Inbound;
use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

pub const MAX_LIMIT: i64 = 500;

/// A filter value, trimmed; empty = absent.
pub fn text(req: &Inbound, name: &str) -> Option<String> {
    req.query_param(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// An integer parameter within bounds (absent = `default`).
pub fn int(req: &Inbound, name: &str, default: i64, min: i64, max: i64) -> Result<i64, GatewayError> {
    let Some(raw) = req.query_param(name) else { return Ok(default) };
    match raw.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(GatewayError::bad_field(name, format!("'{name}' must be an integer between {min} and {max}"))),
    }
}

/// `true|1` or `false|0` (empty or absent = false).
pub fn flag(req: &Inbound, name: &str) -> Result<bool, GatewayError> {
    match text(req, name).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(GatewayError::bad_field(name, format!("'{name}' must be true or false"))),
    }
}

#[derive(Debug)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

pub fn page(req: &Inbound, default_limit: i64) -> Result<Page, GatewayError> {
    Ok(Page { limit: int(req, "limit", default_limit, 1, MAX_LIMIT)?, offset: int(req, "offset", 0, 0, i64::from(i32::MAX))? })
}

/// A time window: `start` None = since the beginning; `end` is exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Window {
    /// SQL parameters (`$n::text::timestamptz`, NULL = unbounded).
    pub fn start_text(&self) -> Option<String> {
        self.start.as_ref().map(rfc3339)
    }
    pub fn end_text(&self) -> Option<String> {
        self.end.as_ref().map(rfc3339)
    }
    /// `{start, end}` as the API reports a period (end defaults to now).
    pub fn describe(&self, now_s: i64) -> Value {
        let end = self.end.or_else(|| DateTime::from_timestamp(now_s, 0));
        json!({"start": self.start_text(), "end": end.as_ref().map(rfc3339)})
    }
}

/// `start_date`/`end_date`: `YYYY-MM-DD` (UTC; an end date includes that whole day) or RFC 3339.
/// An end before the start is an empty window, not an error. Bounds outside years 1-9999 (which
/// Postgres cannot take) mean "unbounded".
pub fn dates(req: &Inbound) -> Result<Window, GatewayError> {
    let in_range = |t: &DateTime<Utc>| (1..=9999).contains(&t.year());
    let start = text(req, "start_date").map(|s| instant("start_date", &s, false)).transpose()?.filter(in_range);
    let end = text(req, "end_date").map(|s| instant("end_date", &s, true)).transpose()?.filter(in_range);
    Ok(Window { start, end })
}

fn instant(name: &str, s: &str, end_of_day: bool) -> Result<DateTime<Utc>, GatewayError> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        return day.map(|t| if end_of_day { t + Duration::days(1) } else { t }).ok_or_else(|| bad_date(name));
    }
    // An unencoded `+02:00` offset arrives as a space after form decoding.
    let repaired = match s.rsplit_once(' ') {
        Some((a, b)) if a.contains('T') => format!("{a}+{b}"),
        _ => s.to_string(),
    };
    DateTime::parse_from_rfc3339(&repaired).map(|t| t.with_timezone(&Utc)).map_err(|_| bad_date(name))
}

fn bad_date(name: &str) -> GatewayError {
    GatewayError::bad_field(name, format!("'{name}' must be a date (YYYY-MM-DD) or an RFC 3339 timestamp"))
}

pub const PERIODS: &[&str] = &["24h", "3d", "7d", "30d", "90d", "all"];

/// `period` relative to `now_s` (absent = `default`); explicit `start_date`/`end_date` win over it.
pub fn period(req: &Inbound, now_s: i64, default: &str) -> Result<Window, GatewayError> {
    let explicit = dates(req)?;
    let p = text(req, "period");
    if explicit.start.is_some() || explicit.end.is_some() {
        // A period sent with dates must still be a valid one: a typo is not silently ignored.
        if let Some(p) = &p {
            period_start(p, now_s)?;
        }
        return Ok(explicit);
    }
    let start = period_start(p.as_deref().unwrap_or(default), now_s)?;
    Ok(Window { start, end: None })
}

fn period_start(p: &str, now_s: i64) -> Result<Option<DateTime<Utc>>, GatewayError> {
    let secs = match p {
        "all" => return Ok(None),
        "24h" => 24 * 3600,
        "3d" => 3 * 86400,
        "7d" => 7 * 86400,
        "30d" => 30 * 86400,
        "90d" => 90 * 86400,
        _ => return Err(GatewayError::bad_field("period", format!("'period' must be one of {}", PERIODS.join(", ")))),
    };
    Ok(DateTime::from_timestamp(now_s - secs, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> Inbound {
        Inbound { query: q.into(), ..Default::default() }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn pagination_is_bounded_and_names_the_field() {
        let p = page(&req("limit=10&offset=20"), 50).unwrap();
        assert_eq!((p.limit, p.offset), (10, 20));
        assert_eq!(page(&req(""), 25).unwrap().limit, 25);
        for bad in ["limit=0", "limit=501", "limit=abc", "limit=-1", "limit=1.5", "limit="] {
            assert_eq!(page(&req(bad), 50).unwrap_err().field(), Some("limit"), "{bad}");
        }
        assert_eq!(page(&req("offset=-1"), 50).unwrap_err().field(), Some("offset"));
        assert_eq!(page(&req("limit=500"), 50).unwrap().limit, 500);
    }

    #[test]
    fn periods() {
        let w = period(&req("period=24h"), NOW, "7d").unwrap();
        assert_eq!(w.start.unwrap().timestamp(), NOW - 86400);
        assert_eq!(w.end, None);
        assert_eq!(period(&req(""), NOW, "7d").unwrap().start.unwrap().timestamp(), NOW - 7 * 86400);
        assert_eq!(period(&req("period=all"), NOW, "7d").unwrap().start, None);
        for bad in ["period=2w", "period=7", "period=ALL", "period=1d"] {
            assert_eq!(period(&req(bad), NOW, "7d").unwrap_err().field(), Some("period"), "{bad}");
        }
    }

    #[test]
    fn dates_override_the_period_and_include_the_end_day() {
        let w = period(&req("period=24h&start_date=2026-01-01&end_date=2026-01-31"), NOW, "7d").unwrap();
        assert_eq!(rfc3339(&w.start.unwrap()), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(&w.end.unwrap()), "2026-02-01T00:00:00Z");
        let w = dates(&req("start_date=2026-01-01T10:00:00%2B02:00")).unwrap();
        assert_eq!(rfc3339(&w.start.unwrap()), "2026-01-01T08:00:00Z");
        let w = dates(&req("start_date=2026-01-01T10:00:00+02:00")).unwrap();
        assert_eq!(rfc3339(&w.start.unwrap()), "2026-01-01T08:00:00Z");
        assert_eq!(dates(&req("start_date=yesterday")).unwrap_err().field(), Some("start_date"));
        assert_eq!(dates(&req("end_date=2026-13-01")).unwrap_err().field(), Some("end_date"));
        let w = dates(&req("start_date=2026-02-01&end_date=2026-01-01")).unwrap();
        assert!(w.end < w.start);
        assert_eq!(dates(&req("start_date=&end_date=")).unwrap(), Window { start: None, end: None });
        assert_eq!(dates(&req("end_date=9999-12-31")).unwrap().end, None);
        assert_eq!(dates(&req("start_date=0000-01-01")).unwrap().start, None);
        assert_eq!(period(&req("period=bogus&start_date=2026-01-01"), NOW, "7d").unwrap_err().field(), Some("period"));
    }

    #[test]
    fn flags() {
        assert!(!flag(&req(""), "f").unwrap());
        assert!(!flag(&req("f="), "f").unwrap());
        assert!(flag(&req("f=true"), "f").unwrap());
        assert!(flag(&req("f=1"), "f").unwrap());
        assert!(!flag(&req("f=0"), "f").unwrap());
        assert_eq!(flag(&req("f=yes"), "f").unwrap_err().field(), Some("f"));
    }

    #[test]
    fn describe_reports_now_as_the_open_end() {
        let w = Window { start: None, end: None };
        assert_eq!(w.describe(NOW), json!({"start": null, "end": rfc3339(&DateTime::from_timestamp(NOW, 0).unwrap())}));
    }
}
