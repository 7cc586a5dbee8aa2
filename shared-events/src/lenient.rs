//! The one place where numbers are read leniently: a JSON number or a string holding one
//! (`"1"`, as httpie sends `roomNumber=1` and as the original accepted).

use serde::{Deserialize, Deserializer, de::Error};
use serde_json::Value;

/// The whole number in `v`: a JSON number or a string holding one.
pub fn as_whole(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn whole(v: &Value) -> Result<i64, String> {
    as_whole(v).ok_or_else(|| format!("must be a whole number, got {v}"))
}

fn non_negative(v: &Value) -> Result<i64, String> {
    whole(v).and_then(|n| {
        if n >= 0 {
            Ok(n)
        } else {
            Err(format!("must be a whole number ≥ 0, got {n}"))
        }
    })
}

/// A whole number, written as a number or a numeric string; anything else is an error.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole(&Value::deserialize(d)?).map_err(D::Error::custom)
}

/// A count (a whole number ≥ 0), lenient as [`whole_number`]; for `deserialize_with`.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    non_negative(&Value::deserialize(d)?).map_err(D::Error::custom)
}

/// An optional count: absent or `null` is `None`; for `deserialize_with` with `default`.
pub fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => non_negative(&v).map(Some).map_err(D::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::count")]
        n: i64,
    }

    fn read(json: &str) -> Result<i64, serde_json::Error> {
        serde_json::from_str::<Body>(json).map(|b| b.n)
    }

    #[test]
    fn numbers_and_numeric_strings() {
        assert_eq!(read(r#"{"n": 4}"#).unwrap(), 4);
        assert_eq!(read(r#"{"n": " 4 "}"#).unwrap(), 4);
        assert_eq!(read(r#"{"n": 0}"#).unwrap(), 0);
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [r#""x""#, "1.5", "-2", "[1]", "{}", "true"] {
            assert!(read(&format!(r#"{{"n": {bad}}}"#)).is_err(), "{bad}");
        }
    }
}
