"""The official SDKs on the dialects beyond plain chat: Anthropic Messages, OpenAI Responses,
and repaired tool calls as the OpenAI SDK parses them.
usage: dialects.py BASE_URL TOKEN SCENARIO MODEL
"""
import json
import sys

base, token, scenario, model = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
TOOL = {"name": "get_weather", "description": "Weather for a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def anthropic_client():
    import anthropic

    return anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)


def anthropic_text():
    c = anthropic_client()
    m = c.messages.create(model=model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "hi"}])
    assert m.model == model, m.model
    assert m.stop_reason == "end_turn", m.stop_reason
    text = "".join(b.text for b in m.content if b.type == "text")
    with c.messages.stream(model=model, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed == text, (streamed, text)
    assert final.stop_reason == "end_turn"
    n = c.messages.count_tokens(model=model, messages=[{"role": "user", "content": "hello there"}])
    ids = [m.id for m in c.models.list()]
    out.update(text=text, streamed=streamed, usage=[m.usage.input_tokens, m.usage.output_tokens], count=n.input_tokens, models=ids)


def anthropic_tools():
    c = anthropic_client()
    m = c.messages.create(model=model, max_tokens=100, tools=[TOOL], messages=[{"role": "user", "content": "weather in Paris?"}])
    assert m.stop_reason == "tool_use", m.stop_reason
    uses = [b for b in m.content if b.type == "tool_use"]
    assert uses and uses[0].name == "get_weather" and uses[0].input == {"city": "Paris"}, m.content
    with c.messages.stream(model=model, max_tokens=100, tools=[TOOL], messages=[{"role": "user", "content": "weather in Paris?"}]) as s:
        final = s.get_final_message()
    suses = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and suses[0].input == {"city": "Paris"}, final
    # The follow-up turn with the tool result goes through too.
    m2 = c.messages.create(
        model=model,
        max_tokens=100,
        tools=[TOOL],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": uses[0].id, "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"}]},
        ],
    )
    out.update(name=uses[0].name, input=uses[0].input, streamed_input=suses[0].input, followup=m2.stop_reason)


def responses():
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    r = c.responses.create(model=model, instructions="Be brief.", input="hi", max_output_tokens=50)
    assert r.status == "completed", r.status
    events = []
    text = ""
    for e in c.responses.create(model=model, input="hi", stream=True):
        events.append((e.type, e.sequence_number))
        if e.type == "response.output_text.delta":
            text += e.delta
    seqs = [s for _, s in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    types = [t for t, _ in events]
    assert types[0] == "response.created" and types[-1] == "response.completed", types
    out.update(text=r.output_text, streamed=text, usage=[r.usage.input_tokens, r.usage.output_tokens] if r.usage else None, types=sorted(set(types)))


def responses_tools():
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    tools = [{"type": "function", "name": "get_weather", "parameters": TOOL["input_schema"]}]
    r = c.responses.create(model=model, input="weather in Paris?", tools=tools)
    calls = [o for o in r.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather" and json.loads(calls[0].arguments) == {"city": "Paris"}, r.output
    streamed = None
    for e in c.responses.create(model=model, input="weather in Paris?", tools=tools, stream=True):
        if e.type == "response.function_call_arguments.done":
            streamed = json.loads(e.arguments)
    assert streamed == {"city": "Paris"}, streamed
    out.update(name=calls[0].name, call_id=calls[0].call_id)


def openai_tools():
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": TOOL["input_schema"]}}]
    r = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather?"}], tools=tools)
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls", r.choices[0].finish_reason
    assert msg.tool_calls and msg.tool_calls[0].function.name == "get_weather", msg
    args = json.loads(msg.tool_calls[0].function.arguments)
    names, streamed_args, finish = {}, {}, None
    for ch in c.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather?"}], tools=tools, stream=True):
        if not ch.choices:
            continue
        for tc in ch.choices[0].delta.tool_calls or []:
            if tc.function and tc.function.name:
                names[tc.index] = tc.function.name
            if tc.function and tc.function.arguments:
                streamed_args[tc.index] = streamed_args.get(tc.index, "") + tc.function.arguments
        finish = ch.choices[0].finish_reason or finish
    assert finish == "tool_calls", finish
    out.update(content=msg.content, name=msg.tool_calls[0].function.name, args=args, streamed_names=names, streamed_args={k: json.loads(v) for k, v in streamed_args.items()})


def responses_state():
    from openai import NotFoundError, OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    first = c.responses.create(model=model, input="hi", store=True)
    second = c.responses.create(model=model, input="again", previous_response_id=first.id)
    third_prev = None
    for e in c.responses.create(model=model, input="third", previous_response_id=second.id, stream=True):
        if e.type == "response.completed":
            third_prev = e.response.previous_response_id
    got = c.responses.retrieve(second.id)
    items = c.responses.input_items.list(second.id)
    c.responses.delete(first.id)
    try:
        c.responses.retrieve(first.id)
        then = "found"
    except NotFoundError:
        then = "NotFoundError"
    out.update(store=first.store, second_id=second.id, retrieved=got.id, streamed_previous=third_prev, input_items=len(items.data), deleted_then=then)


{"anthropic_text": anthropic_text, "anthropic_tools": anthropic_tools, "responses": responses, "responses_tools": responses_tools, "openai_tools": openai_tools, "responses_state": responses_state}[scenario]()
print(json.dumps(out))
