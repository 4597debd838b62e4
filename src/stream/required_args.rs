//! Tool calls that came without the arguments their tool requires. Some origins (OpenRouter
//! among them) stream a required argument as nothing: the call's name, then no argument text at
//! all. Passed on, that is a call with `{}`, which the client runs with nothing (or loops on the
//! tool's refusal); so a stream whose call of such a tool got no argument text ends with an
//! error instead, and a whole answer with one is a failed attempt. Used by the transcoder and
//! the OpenAI passthrough (Cursor on an OpenAI-compatible node).

use serde_json::Value;

/// Watches the calls of one answer against the request's tools that require arguments.
#[derive(Debug, Default, Clone)]
pub struct RequiredArgs {
    /// Tools whose schema lists required properties.
    names: Vec<String>,
    /// Per call index: its name, and whether any argument text came.
    calls: Vec<(String, bool)>,
}

impl RequiredArgs {
    pub fn new(names: Vec<String>) -> Self {
        RequiredArgs { names, calls: Vec::new() }
    }

    /// Nothing to watch (no tool requires arguments): callers skip all work.
    pub fn off(&self) -> bool {
        self.names.is_empty()
    }

    /// A piece of call `index`: its name when it comes, argument text when it comes.
    pub fn call(&mut self, index: usize, name: Option<&str>, args: &str) {
        if self.off() {
            return;
        }
        if self.calls.len() <= index {
            self.calls.resize(index + 1, (String::new(), false));
        }
        let c = &mut self.calls[index];
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            c.0 = n.to_string();
        }
        c.1 |= !args.trim().is_empty();
    }

    /// The OpenAI chat shape, streamed or whole: the calls of `choices[*].delta|message`.
    pub fn openai_payload(&mut self, v: &Value) {
        for choice in v.get("choices").and_then(Value::as_array).into_iter().flatten() {
            let calls = choice.get("delta").or_else(|| choice.get("message")).and_then(|d| d.get("tool_calls")).and_then(Value::as_array);
            for (i, c) in calls.into_iter().flatten().enumerate() {
                let index = c.get("index").and_then(Value::as_u64).map_or(i, |n| n as usize);
                let f = c.get("function");
                let name = f.and_then(|f| f.get("name")).and_then(Value::as_str);
                let args = match f.and_then(|f| f.get("arguments")) {
                    Some(Value::String(s)) => s.as_str(),
                    Some(Value::Null) | None => "",
                    Some(_) => "{…}", // an object: arguments came
                };
                self.call(index, name, args);
            }
        }
    }

    /// The first call that needed arguments and got none, as the error to end with.
    pub fn missing(&self) -> Option<String> {
        let (name, _) = self.calls.iter().find(|(name, got)| !got && self.names.iter().any(|r| r == name))?;
        Some(format!("the origin called the tool '{name}' without its required arguments (it sent no argument text); the call is not passed on as {{}}"))
    }
}

/// Names of the tools whose schema lists required arguments, in any dialect's tool shape
/// (OpenAI `function.parameters`, Responses `parameters`, Anthropic `input_schema`).
pub fn tools_requiring_args(tools: &[Value]) -> Vec<String> {
    let requires = |schema: Option<&Value>| schema.and_then(|s| s.get("required")).and_then(Value::as_array).is_some_and(|r| !r.is_empty());
    tools
        .iter()
        .filter_map(|t| {
            let f = t.get("function").unwrap_or(t);
            requires(f.get("parameters").or_else(|| t.get("input_schema"))).then(|| f.get("name").and_then(Value::as_str).map(str::to_string)).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_required_call_without_argument_text_is_reported() {
        let tools = [
            json!({"type": "function", "function": {"name": "Read", "parameters": {"type": "object", "required": ["path"]}}}),
            json!({"type": "function", "function": {"name": "Now", "parameters": {"type": "object", "properties": {}}}}),
            json!({"name": "Grep", "input_schema": {"type": "object", "required": ["q"]}}),
        ];
        let names = tools_requiring_args(&tools);
        assert_eq!(names, vec!["Read".to_string(), "Grep".to_string()]);
        let mut w = RequiredArgs::new(names);
        w.openai_payload(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "Read", "arguments": ""}}, {"index": 1, "function": {"name": "Now", "arguments": ""}}]}}]}));
        assert!(w.missing().unwrap().contains("'Read'"));
        w.openai_payload(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\":"}}]}}]}));
        assert_eq!(w.missing(), None, "argument text came; a tool needing none may get none");
        let mut whole = RequiredArgs::new(vec!["Read".into()]);
        whole.openai_payload(&json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "Read", "arguments": {"path": "a"}}}]}}]}));
        assert_eq!(whole.missing(), None);
        assert!(RequiredArgs::new(vec![]).off());
    }
}
