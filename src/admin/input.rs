//! Typed reading of admin JSON bodies: every wrong type or missing field becomes a 400 that
//! names the field. `Patch` semantics: absent = leave alone, null = clear (where allowed).

use crate::error::GatewayError;
use serde_json::{Map, Value};

pub struct Input(pub Map<String, Value>);

/// An integer as JSON Schema counts one: `5` and `5.0` alike (some clients and generators send
/// whole numbers as floats).
pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64)),
        _ => None,
    }
}

impl Input {
    pub fn parse(body: &[u8]) -> Result<Input, GatewayError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input(Map::new()));
        }
        crate::app::input::parse_object(body).map(Input)
    }

    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }

    pub fn raw(&self, k: &str) -> Option<&Value> {
        self.0.get(k)
    }

    pub fn str(&self, k: &str) -> Result<Option<String>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(GatewayError::bad_field(k, format!("'{k}' must be a string"))),
        }
    }

    pub fn req_str(&self, k: &str) -> Result<String, GatewayError> {
        match self.str(k)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(GatewayError::bad_field(k, format!("'{k}' is required"))),
        }
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => as_int(v).map(Some).ok_or_else(|| GatewayError::bad_field(k, format!("'{k}' must be an integer"))),
        }
    }

    pub fn int_in(&self, k: &str, min: i64, max: i64) -> Result<Option<i64>, GatewayError> {
        match self.int(k)? {
            Some(v) if v < min || v > max => Err(GatewayError::bad_field(k, format!("'{k}' must be between {min} and {max}"))),
            v => Ok(v),
        }
    }

    pub fn bool(&self, k: &str) -> Result<Option<bool>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(GatewayError::bad_field(k, format!("'{k}' must be true or false"))),
        }
    }

    pub fn str_list(&self, k: &str) -> Result<Option<Vec<String>>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).ok_or_else(|| GatewayError::bad_field(k, format!("'{k}' must be a list of non-empty strings"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(GatewayError::bad_field(k, format!("'{k}' must be a list of strings"))),
        }
    }

    pub fn int_list(&self, k: &str) -> Result<Option<Vec<i64>>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| as_int(v).ok_or_else(|| GatewayError::bad_field(k, format!("'{k}' must be a list of integers"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(GatewayError::bad_field(k, format!("'{k}' must be a list of integers"))),
        }
    }

    /// Present-and-null is distinguished from absent: Some(None) clears a nullable column.
    pub fn nullable_int(&self, k: &str) -> Result<Option<Option<i64>>, GatewayError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            _ => self.int(k).map(Some),
        }
    }

    pub fn nullable_int_in(&self, k: &str, min: i64, max: i64) -> Result<Option<Option<i64>>, GatewayError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            _ => self.int_in(k, min, max).map(Some),
        }
    }

    /// A list where null has its own meaning (e.g. "every tool"): absent / Some(None) / Some(Some(list)).
    pub fn nullable_str_list(&self, k: &str) -> Result<Option<Option<Vec<String>>>, GatewayError> {
        match self.0.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            _ => self.str_list(k).map(Some),
        }
    }

    pub fn number_in(&self, k: &str, min: f64, max: f64) -> Result<Option<f64>, GatewayError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && v >= min && v <= max => Ok(Some(v)),
                _ => Err(GatewayError::bad_field(k, format!("'{k}' must be a number between {min} and {max}"))),
            },
            Some(_) => Err(GatewayError::bad_field(k, format!("'{k}' must be a number"))),
        }
    }

    /// Reject fields the resource does not have, so a typo is a 400 instead of a silent no-op.
    pub fn only(&self, allowed: &[&str]) -> Result<(), GatewayError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(GatewayError::bad_field(k.as_str(), format!("unknown field '{k}'; expected {}", allowed.join(", ")))),
            None => Ok(()),
        }
    }
}

/// Context length given as `32768`, `"32768"`, `"128K"`, `"1M"` or `"32.5K"` (K = 1024).
pub fn context_length(field: &str, v: &Value) -> Result<Option<i64>, GatewayError> {
    let bad = || GatewayError::bad_field(field, format!("'{field}' must be a number of tokens such as 32768, \"128K\" or \"1M\""));
    let n = match v {
        Value::Null => return Ok(None),
        // Numbers are token counts: whole numbers only (strings may scale, e.g. "32.5K").
        Value::Number(_) => as_int(v).ok_or_else(bad)? as f64,
        Value::String(s) => {
            let s = s.trim().to_ascii_uppercase();
            let (num, mul) = if let Some(x) = s.strip_suffix('K') {
                (x, 1024.0)
            } else if let Some(x) = s.strip_suffix('M') {
                (x, 1024.0 * 1024.0)
            } else {
                (s.as_str(), 1.0)
            };
            num.trim().parse::<f64>().map_err(|_| bad())? * mul
        }
        _ => return Err(bad()),
    };
    if !(n.is_finite() && (1.0..=1e9).contains(&n)) {
        return Err(bad());
    }
    Ok(Some(n.round() as i64))
}

/// "131072" -> "128K" for display.
pub fn context_display(n: i64) -> String {
    if n % (1024 * 1024) == 0 {
        format!("{}M", n / (1024 * 1024))
    } else if n % 1024 == 0 {
        format!("{}K", n / 1024)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn context_lengths() {
        assert_eq!(context_length("c", &json!(32768)).unwrap(), Some(32768));
        assert_eq!(context_length("c", &json!("128K")).unwrap(), Some(131072));
        assert_eq!(context_length("c", &json!("1M")).unwrap(), Some(1048576));
        assert_eq!(context_length("c", &json!("32.5k")).unwrap(), Some(33280));
        assert!(context_length("c", &json!("lots")).is_err());
        assert!(context_length("c", &json!(-1)).is_err());
        assert_eq!(context_display(131072), "128K");
        assert_eq!(context_display(1048576), "1M");
        assert_eq!(context_display(1000), "1000");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let i = Input::parse(br#"{"weight":"heavy","models":[1]}"#).unwrap();
        assert_eq!(i.int("weight").unwrap_err().field(), Some("weight"));
        assert_eq!(i.str_list("models").unwrap_err().field(), Some("models"));
        assert_eq!(i.req_str("name").unwrap_err().field(), Some("name"));
    }

    #[test]
    fn whole_floats_are_integers() {
        let i = Input::parse(br#"{"a":5.0,"b":5.5,"c":[1,2.0],"d":1e300}"#).unwrap();
        assert_eq!(i.int("a").unwrap(), Some(5));
        assert_eq!(i.int("b").unwrap_err().field(), Some("b"));
        assert_eq!(i.int_list("c").unwrap(), Some(vec![1, 2]));
        assert_eq!(i.int("d").unwrap_err().field(), Some("d"));
        assert!(context_length("c", &json!(32768.5)).is_err());
        assert_eq!(context_length("c", &json!(32768.0)).unwrap(), Some(32768));
    }
}
