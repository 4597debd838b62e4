use super::*;
use crate::repair::merge_adjacent;

fn t(s: &str) -> Piece {
    Piece::Text(s.to_owned())
}
fn call(name: &str, args: &str) -> Piece {
    Piece::ToolCall(ToolCall { name: name.to_owned(), arguments: args.to_owned() })
}

fn run_with(mut d: DeepSeekToolCalls, chunks: &[&str]) -> (Vec<Piece>, bool) {
    let mut out = Vec::new();
    for c in chunks {
        d.push(c, &mut out);
    }
    d.finish(&mut out);
    assert!(out.iter().all(|p| !matches!(p, Piece::Text(s) if s.is_empty())), "empty piece in {out:?}");
    for p in &out {
        if let Piece::ToolCall(tc) = p {
            let v: Value = serde_json::from_str(&tc.arguments).expect("arguments are JSON");
            assert!(v.is_object(), "arguments are an object: {}", tc.arguments);
        }
    }
    (merge_adjacent(out), d.saw_tool_call())
}

fn run_chunks(chunks: &[&str]) -> (Vec<Piece>, bool) {
    run_with(DeepSeekToolCalls::new(), chunks)
}

/// Whole, split in two at every char boundary, and char by char: all must give `expected`.
fn check(input: &str, expected: &[Piece]) {
    let (whole, saw) = run_chunks(&[input]);
    assert_eq!(whole, expected, "whole input {input:?}");
    assert_eq!(saw, expected.iter().any(|p| matches!(p, Piece::ToolCall(_))), "saw_tool_call for {input:?}");
    for (i, _) in input.char_indices().skip(1) {
        assert_eq!(run_chunks(&[&input[..i], &input[i..]]).0, expected, "split at {i} of {input:?}");
    }
    let chars: Vec<String> = input.chars().map(String::from).collect();
    let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
    assert_eq!(run_chunks(&refs).0, expected, "char by char {input:?}");
}

/// The input comes back unchanged as text.
fn check_text(input: &str) {
    check(input, &[t(input)]);
}

#[test]
fn plain_text_and_other_markup_untouched() {
    for s in [
        "hello",
        "a < b && c > d",
        "x <tool",
        "<tool_callsy>",
        "<div>hi</div>",
        "<invoke name=\"x\"></invoke>",
        "</tool_calls>",
        "<tool_call/>",
        "<｜DSML｜",
        "<|DSML|invoke name=\"x\">",
        "<CallMcp",
        "<",
    ] {
        check_text(s);
    }
}

#[test]
fn wrapper_with_invoke_and_parameters() {
    let input = "I'll read it.\n\n<tool_calls>\n<invoke name=\"Read\">\n<parameter name=\"file_path\">/src/main.rs</parameter>\n<parameter name=\"limit\">50</parameter>\n</invoke>\n</tool_calls>\n\nThen done.";
    check(input, &[t("I'll read it.\n\n"), call("Read", r#"{"file_path":"/src/main.rs","limit":50}"#), t("Then done.")]);
}

#[test]
fn dsml_spellings() {
    for bar in ["|", "｜"] {
        let input = format!(
            "<{bar}DSML{bar}function_calls>\n<{bar}DSML{bar}invoke name=\"get_weather\">\n\
             <{bar}DSML{bar}parameter name=\"city\" string=\"true\">NYC</{bar}DSML{bar}parameter>\n\
             <{bar}DSML{bar}parameter name=\"days\" string=\"false\">3</{bar}DSML{bar}parameter>\n\
             </{bar}DSML{bar}invoke>\n</{bar}DSML{bar}function_calls>"
        );
        check(&input, &[call("get_weather", r#"{"city":"NYC","days":3}"#)]);
        let input = format!(
            "<{bar}DSML{bar}tool_calls><{bar}DSML{bar}invoke name=\"a\"></{bar}DSML{bar}invoke></{bar}DSML{bar}tool_calls>"
        );
        check(&input, &[call("a", "{}")]);
    }
    // mixed bars are tolerated
    check("<|DSML｜tool_calls><invoke name=\"a\"/></tool_calls>", &[call("a", "{}")]);
    check("<|DSML｜tool_calls><invoke name=\"a\"></invoke></｜DSML|tool_calls>", &[call("a", "{}")]);
}

#[test]
fn string_attribute() {
    let input = "<function_calls><invoke name=\"w\">\
        <parameter name=\"s\" string=\"true\"> 42 </parameter>\
        <parameter name=\"j\" string=\"false\">\"quoted\"</parameter>\
        <parameter name=\"o\" string=\"false\">{\"a\": [1]}</parameter>\
        <parameter name=\"bad\" string=\"false\">not json</parameter>\
        </invoke></function_calls>";
    check(input, &[call("w", r#"{"bad":"not json","j":"quoted","o":{"a":[1]},"s":" 42 "}"#)]);
}

#[test]
fn multiple_invokes_in_order() {
    let input = "<tool_calls>\n<invoke name=\"A\"><parameter name=\"x\">1</parameter></invoke>\n\
                 <invoke name=\"B\"><parameter name=\"y\">two</parameter></invoke>\n\
                 <tool_call name=\"C\"><parameter name=\"z\">true</parameter></invoke>\n</tool_calls>";
    check(input, &[call("A", r#"{"x":1}"#), call("B", r#"{"y":"two"}"#), call("C", r#"{"z":true}"#)]);
}

#[test]
fn nested_wrappers_are_dropped_and_stray_text_kept() {
    let input = "<tool_calls><tool_calls><invoke name=\"A\"></invoke></tool_calls>";
    check(input, &[call("A", "{}")]);
    let input = "<tool_calls>note<invoke name=\"A\"></invoke>tail</tool_calls>";
    check(input, &[t("note"), call("A", "{}"), t("tail")]);
}

#[test]
fn parameter_values() {
    let input = "<tool_calls><invoke name=\"f\">\
        <parameter name=\"n\"> -2.5 </parameter>\
        <parameter name=\"b\">false</parameter>\
        <parameter name=\"nul\">null</parameter>\
        <parameter name=\"arr\">[1, \"a\"]</parameter>\
        <parameter name=\"obj\">{\"k\": {\"v\": 1}}</parameter>\
        <parameter name=\"s\">  spaced text  </parameter>\
        <parameter name=\"code\">if a < b && c > d { x }</parameter>\
        <parameter name=\"cd\"><![CDATA[  <b>raw</b> </parameter> ]]></parameter>\
        <parameter name=\"empty\"></parameter>\
        </invoke></tool_calls>";
    check(
        input,
        &[call(
            "f",
            r#"{"arr":[1,"a"],"b":false,"cd":"  <b>raw</b> </parameter> ","code":"if a < b && c > d { x }","empty":"","n":-2.5,"nul":null,"obj":{"k":{"v":1}},"s":"spaced text"}"#,
        )],
    );
}

#[test]
fn nested_xml_values() {
    let input = "<tool_calls><invoke name=\"todo\">\
        <parameter name=\"todos\"><item><content>a</content><done>true</done></item><item><content>b</content></item></parameter>\
        <parameter name=\"opts\"><mode>fast</mode><tag>x</tag><tag>y</tag></parameter>\
        </invoke></tool_calls>";
    check(
        input,
        &[call("todo", r#"{"opts":{"mode":"fast","tag":["x","y"]},"todos":[{"content":"a","done":true},{"content":"b"}]}"#)],
    );
}

#[test]
fn repeated_parameters_become_arrays() {
    let input = "<tool_calls><invoke name=\"f\"><parameter name=\"p\">1</parameter><parameter name=\"p\">2</parameter></invoke></tool_calls>";
    check(input, &[call("f", r#"{"p":[1,2]}"#)]);
}

#[test]
fn invoke_bodies_without_parameters() {
    let wrap = |body: &str| format!("<tool_calls><invoke name=\"Bash\">{body}</invoke></tool_calls>");
    check(&wrap("{\"command\": \"ls\"}"), &[call("Bash", "{\"command\": \"ls\"}")]);
    check(&wrap("command=\"ls -la\" timeout=5"), &[call("Bash", r#"{"command":"ls -la","timeout":5}"#)]);
    check(&wrap("\nbash ls -la\n"), &[call("Bash", r#"{"command":"ls -la"}"#)]);
    check(&wrap("  "), &[call("Bash", "{}")]);
    check(&wrap("<![CDATA[{\"a\": 1}]]>"), &[call("Bash", "{\"a\": 1}")]);
}

#[test]
fn singular_named_tool_call() {
    check(
        "<tool_call name=\"Read\"><parameter name=\"path\">/a</parameter><parameter>x</parameter><parameter>y</parameter></tool_call>",
        &[call("Read", r#"{"0":"x","1":"y","path":"/a"}"#)],
    );
    check(
        "Reading:\n<tool_call name=\"Read\">\n  <path>/etc/hosts</path>\n  <limit>10</limit>\n</tool_call>\nok",
        &[t("Reading:\n"), call("Read", r#"{"limit":10,"path":"/etc/hosts"}"#), t("ok")],
    );
    check("<tool_call name=Grep><arguments>{\"q\": \"x\"}</arguments></tool_call>", &[call("Grep", r#"{"q":"x"}"#)]);
    check("<tool_call name='Glob'>{\"pattern\": \"*.rs\"}</tool_call>", &[call("Glob", "{\"pattern\": \"*.rs\"}")]);
    // a child value that is not JSON is a string (the reference crashed here)
    check("<tool_call name=\"W\"><text>hello world</text></tool_call>", &[call("W", r#"{"text":"hello world"}"#)]);
}

#[test]
fn singular_name_then_arguments() {
    check("<tool_call>Read\n{\"file_path\": \"/x\"}</tool_call>", &[call("Read", "{\"file_path\": \"/x\"}")]);
    check("<tool_call>Read file_path=\"/x\" limit=3</tool_call>", &[call("Read", r#"{"file_path":"/x","limit":3}"#)]);
    check("<tool_call>get_time</tool_call>", &[call("get_time", "{}")]);
    check(
        "<tool_calls>\n<tool_call>Read\n{\"p\": 1}</tool_call>\n<tool_call>Glob q=\"*\"</tool_call>\n</tool_calls>",
        &[call("Read", "{\"p\": 1}"), call("Glob", r#"{"q":"*"}"#)],
    );
    // prose is not a call
    check_text("<tool_call>I will now call the tool</tool_call>");
    check_text("<tool_call></tool_call>");
}

#[test]
fn hermes_json_form() {
    check(
        "<tool_call>\n{\"name\": \"Read\", \"arguments\": {\"path\": \"/x\"}}\n</tool_call>",
        &[call("Read", r#"{"path":"/x"}"#)],
    );
    check("<tool_call>{\"name\": \"Read\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>", &[call("Read", "{\"a\": 1}")]);
    check(
        "<tool_calls>[{\"name\": \"A\", \"parameters\": {}}, {\"function\": {\"name\": \"B\"}}]</tool_calls>",
        &[call("A", "{}"), call("B", "{}")],
    );
    check_text("<tool_call>{\"arguments\": {}}</tool_call>");
    check_text("<tool_call>{\"name\": \"A\", \"arguments\": 3}</tool_call>");
}

#[test]
fn call_mcp_tool() {
    check(
        "Searching.\n<CallMcpTool>\n<serverName>github</serverName>\n<toolName>search_issues</toolName>\n<arguments>{\"q\": \"bug\"}</arguments>\n</CallMcpTool>",
        &[t("Searching.\n"), call("github_search_issues", "{\"q\": \"bug\"}")],
    );
    check("<CallMcpTool><toolName>ping</toolName></CallMcpTool>", &[call("ping", "{}")]);
    check(
        "<CallMcpTool><serverName>fs</serverName><toolName>read</toolName><arguments>path=\"/a b\" n=2</arguments></CallMcpTool>",
        &[call("fs_read", r#"{"n":2,"path":"/a b"}"#)],
    );
    check(
        "<CallMcpTool><toolName>echo</toolName><arguments>[1,2]</arguments></CallMcpTool>",
        &[call("echo", r#"{"input":[1,2]}"#)],
    );
    check(
        "<CallMcpTool><toolName>echo</toolName><arguments>just some words</arguments></CallMcpTool>",
        &[call("echo", r#"{"input":"just some words"}"#)],
    );
    check(
        "<CallMcpTool><toolName>echo</toolName><arguments><![CDATA[{\"x\": \"</arguments>\"}]]></arguments></CallMcpTool>",
        &[call("echo", "{\"x\": \"</arguments>\"}")],
    );
    check_text("<CallMcpTool><serverName>s</serverName></CallMcpTool>");
    check_text("<CallMcpTool>free text</CallMcpTool>");
}

#[test]
fn invalid_calls_are_text_in_place() {
    let bad = "<invoke name=\"B\">{not json</invoke>";
    let input = format!("<tool_calls><invoke name=\"A\"></invoke>{bad}<invoke name=\"C\"></invoke></tool_calls>");
    check(&input, &[call("A", "{}"), t(bad), call("C", "{}")]);
    let bad_name = "<invoke name=\"two words\"></invoke>";
    check(&format!("<tool_calls>{bad_name}<invoke name=\"A\"></invoke></tool_calls>"), &[t(bad_name), call("A", "{}")]);
    // no valid call at all: the whole block verbatim
    check_text("before <tool_calls><invoke name=\"B\">{not json</invoke></tool_calls> after");
    check_text("<tool_calls>nothing here</tool_calls>");
    check_text("<tool_call name=\"X\"><a>1</a> junk</tool_call>");
}

#[test]
fn fenced_markup_is_verbatim_text() {
    let fenced = "Example:\n```xml\n<tool_calls>\n<invoke name=\"Read\"></invoke>\n</tool_calls>\n```\n";
    check_text(fenced);
    let tilde = "~~~\n<tool_call name=\"X\"></tool_call>\n~~~\n";
    check_text(tilde);
    // after the fence closes, a real call is parsed; the fence text is kept as is
    let input = format!("{fenced}Now for real:\n<tool_calls><invoke name=\"Read\"></invoke></tool_calls>");
    check(&input, &[t(&format!("{fenced}Now for real:\n")), call("Read", "{}")]);
    // an unclosed fence hides everything after it
    check_text("```\n<tool_calls><invoke name=\"A\"></invoke></tool_calls>");
}

#[test]
fn hybrid_closing_tags() {
    check("<tool_calls><invoke name=\"A\"></invoke></tool_call>", &[call("A", "{}")]);
    check("<tool_call name=\"A\"><parameter name=\"x\">1</parameter></tool_calls>", &[call("A", r#"{"x":1}"#)]);
    check("<tool_call>\n<invoke name=\"A\"></invoke>\n</tool_calls>", &[call("A", "{}")]);
    // a singular call open inside a wrapper does not end the wrapper when it closes
    check(
        "<tool_calls><tool_call name=\"A\"></tool_call><tool_call name=\"B\"></tool_call></tool_calls>",
        &[call("A", "{}"), call("B", "{}")],
    );
}

#[test]
fn closing_tags_inside_cdata_do_not_end_the_block() {
    check(
        "<tool_calls><invoke name=\"W\"><parameter name=\"c\"><![CDATA[</tool_calls>]]></parameter></invoke></tool_calls>x",
        &[call("W", r#"{"c":"</tool_calls>"}"#), t("x")],
    );
}

#[test]
fn unterminated_blocks_are_text_at_finish() {
    check_text("text <tool_calls><invoke name=\"A\"></invoke>");
    check_text("<tool_call name=\"A\">");
    check_text("<CallMcpTool><toolName>x</toolName>");
    check_text("<tool_calls><invoke name=\"A\"><parameter name=\"c\"><![CDATA[never ends</tool_calls>");
}

#[test]
fn text_before_a_block_is_released_at_once() {
    let mut d = DeepSeekToolCalls::new();
    let mut out = Vec::new();
    d.push("Let me look. <tool_calls><invoke name=\"A\">", &mut out);
    assert_eq!(out, [t("Let me look. ")]);
    assert!(!d.saw_tool_call());
    d.push("</invoke></tool_calls>", &mut out);
    assert_eq!(out, [t("Let me look. "), call("A", "{}")]);
    assert!(d.saw_tool_call());
}

#[test]
fn partial_marker_is_held_then_released_when_innocent() {
    let mut d = DeepSeekToolCalls::new();
    let mut out = Vec::new();
    d.push("a <tool_ca", &mut out);
    assert_eq!(out, [t("a ")]);
    d.push("t is here", &mut out);
    assert_eq!(merge_adjacent(out.clone()), [t("a <tool_cat is here")]);
    d.push("x <", &mut out);
    d.finish(&mut out);
    assert_eq!(merge_adjacent(out), [t("a <tool_cat is herex <")]);
}

#[test]
fn every_split_point_of_every_form() {
    let forms = [
        "<tool_calls><invoke name=\"A\"><parameter name=\"k\">v</parameter></invoke></tool_calls>",
        "<｜DSML｜function_calls><｜DSML｜invoke name=\"A\"><｜DSML｜parameter name=\"k\" string=\"true\">v</｜DSML｜parameter></｜DSML｜invoke></｜DSML｜function_calls>",
        "<|DSML|tool_calls><|DSML|invoke name=\"A\"><|DSML|parameter name=\"k\">v</|DSML|parameter></|DSML|invoke></|DSML|tool_calls>",
        "<tool_call name=\"A\"><k>v</k></tool_call>",
        "<tool_call>A\n{\"k\": \"v\"}</tool_call>",
        "<CallMcpTool><toolName>A</toolName><arguments>k=v</arguments></CallMcpTool>",
    ];
    for form in forms {
        let input = format!("x{form}\ny");
        let (whole, _) = run_chunks(&[&input]);
        assert_eq!(whole.len(), 3, "{whole:?}");
        assert_eq!(whole[0], t("x"));
        assert!(matches!(&whole[1], Piece::ToolCall(tc) if tc.name == "A" && tc.arguments.replace(' ', "") == r#"{"k":"v"}"#), "{whole:?}");
        assert_eq!(whole[2], t("y"));
        for (i, _) in input.char_indices() {
            assert_eq!(run_chunks(&[&input[..i], &input[i..]]).0, whole, "split at {i} of {input:?}");
        }
    }
}

#[test]
fn oversized_block_is_text_and_scanning_resumes() {
    let big = format!("<tool_calls><invoke name=\"A\"><parameter name=\"p\">{}</parameter></invoke></tool_calls>", "x".repeat(200));
    let input = format!("{big} then <tool_calls><invoke name=\"B\"></invoke></tool_calls>");
    let small = || DeepSeekToolCalls(BlockRepair::new(DeepSeek::default()).with_max_block(100));
    let (whole, saw) = run_with(small(), &[&input]);
    assert_eq!(whole, [t(&format!("{big} then ")), call("B", "{}")]);
    assert!(saw);
    for (i, _) in input.char_indices().step_by(7) {
        assert_eq!(run_with(small(), &[&input[..i], &input[i..]]).0, whole, "split at {i}");
    }
}

#[test]
fn pathological_nesting_does_not_panic_or_blow_the_stack() {
    let deep = format!(
        "<tool_calls><invoke name=\"A\"><parameter name=\"p\">{}x{}</parameter></invoke></tool_calls>",
        "<a>".repeat(5000),
        "</a>".repeat(5000)
    );
    let (out, _) = run_chunks(&[&deep]);
    assert!(matches!(&out[0], Piece::ToolCall(tc) if tc.name == "A"));
    let many = "<tool_call ".repeat(10_000);
    let (out, _) = run_chunks(&[&many]);
    assert_eq!(out, [t(&many)]);
    let opens = "<tool_calls>".repeat(10_000);
    assert_eq!(run_chunks(&[&opens]).0, [t(&opens)]);
}

#[test]
fn golden_streamed_transcript() {
    // DeepSeek V3.2 as served raw: DSML markup streamed token by token after some prose.
    let chunks = [
        "I'll look at the config",
        " and the tests.\n\n<",
        "｜DSML｜function",
        "_calls>\n<｜DSML｜invoke name=\"",
        "Read\">\n<｜DSML｜parameter name=\"file_path\" string=\"true\">",
        "/repo/config.toml</｜DSML｜parameter>\n",
        "<｜DSML｜parameter name=\"limit\" string=\"false\">200</｜DSML｜parameter>\n</｜DSML｜invoke>\n",
        "<｜DSML｜invoke name=\"Bash\">\n<｜DSML｜parameter name=\"command\" string=\"true\">cargo test --lib</｜DSML｜parameter>\n",
        "</｜DSML｜invoke>\n</｜DSML｜function_calls",
        ">",
    ];
    let (out, saw) = run_chunks(&chunks);
    assert_eq!(
        out,
        [
            t("I'll look at the config and the tests.\n\n"),
            call("Read", r#"{"file_path":"/repo/config.toml","limit":200}"#),
            call("Bash", r#"{"command":"cargo test --lib"}"#),
        ]
    );
    assert!(saw);

    // Cursor-style MCP text with a fenced example before it.
    let chunks = [
        "Format:\n```\n<CallMcp",
        "Tool>…</CallMcpTool>\n```\nCalling now.\n<Call",
        "McpTool><serverName>linear</serverName><toolName>list_issues</toolName>",
        "<arguments>{\"team\": \"ENG\", \"limit\": 5}</arguments></CallMcpTool>\n",
    ];
    let (out, saw) = run_chunks(&chunks);
    assert_eq!(
        out,
        [
            t("Format:\n```\n<CallMcpTool>…</CallMcpTool>\n```\nCalling now.\n"),
            call("linear_list_issues", "{\"team\": \"ENG\", \"limit\": 5}"),
        ]
    );
    assert!(saw);
}

#[test]
fn large_values_streamed_in_small_pieces() {
    // ~440 KB written by a tool call token by token: the scan over the growing block must stay
    // linear (CDATA included), or this takes minutes.
    let content = "fn x() { if a < b { return <T>::new(); } } // code\n".repeat(9_000);
    for (value, expected) in [
        (format!("<![CDATA[{content}]]>"), content.as_str()),
        (content.clone(), content.trim()),
    ] {
        let input = format!(
            "Writing.\n<tool_calls><invoke name=\"Write\"><parameter name=\"content\">{value}</parameter></invoke></tool_calls>"
        );
        let chunks: Vec<&str> = input.as_bytes().chunks(16).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let (out, saw) = run_chunks(&chunks);
        assert!(saw);
        assert_eq!(out[0], t("Writing.\n"));
        let Piece::ToolCall(tc) = &out[1] else { panic!("{:?}", &out[1]) };
        let args: Value = serde_json::from_str(&tc.arguments).unwrap();
        assert_eq!(args["content"], expected);
    }
}
