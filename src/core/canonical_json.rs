//! RFC 8785 (JCS) canonical JSON, for the values Sigstore signs canonically: the Rekor v1
//! SET payload and the `intoto` entry hash. Object keys are sorted by UTF-16 code units,
//! no whitespace. Only integers are supported as numbers: Sigstore never signs floats, so a
//! float is refused rather than risk a formatting mismatch.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatNotSupported;

impl std::fmt::Display for FloatNotSupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("canonical JSON here supports integers only")
    }
}

impl std::error::Error for FloatNotSupported {}

pub fn to_canonical_string(value: &Value) -> Result<String, FloatNotSupported> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), FloatNotSupported> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(FloatNotSupported);
            }
            out.push_str(&n.to_string());
        }
        // serde_json escapes exactly as ECMAScript's JSON.stringify does for strings.
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_value(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_recursively_without_whitespace() {
        let v: Value = serde_json::from_str(
            r#"{"logIndex":1,"body":"x","logID":"ab","integratedTime":2,"z":{"b":[1,{"d":0,"c":"é\n"}],"a":null}}"#,
        )
        .unwrap();
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            r#"{"body":"x","integratedTime":2,"logID":"ab","logIndex":1,"z":{"a":null,"b":[1,{"c":"é\n","d":0}]}}"#
        );
    }

    #[test]
    fn floats_are_refused() {
        let v: Value = serde_json::from_str("[1.5]").unwrap();
        assert_eq!(to_canonical_string(&v), Err(FloatNotSupported));
    }
}
