"""Drive the gateway with the official client SDKs, unchanged. Each scenario asserts what a
real user would rely on and prints one JSON line of what it saw.
usage: clients.py BASE_URL TOKEN SCENARIO
"""
import json
import sys

base, token, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}


def openai_chat():
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token)
    r = c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert r.model == "fast", r.model
    assert r.choices[0].message.content == "Hello from node-a", r.choices[0].message.content
    assert r.usage.total_tokens == 10, r.usage
    text = ""
    chunks = 0
    with c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}], stream=True) as s:
        for ch in s:
            chunks += 1
            assert ch.model == "fast"
            if ch.choices and ch.choices[0].delta.content:
                text += ch.choices[0].delta.content
    assert text == "Hello from node-a", text
    out.update(chat=r.choices[0].message.content, streamed=text, chunks=chunks)


def openai_embeddings_models():
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token)
    e = c.embeddings.create(model="fast", input="hello")
    assert len(e.data[0].embedding) == 3
    ids = sorted(m.id for m in c.models.list())
    assert "fast" in ids and "team" in ids, ids
    m = c.models.retrieve("fast")
    assert m.id == "fast"
    out.update(models=ids, dims=len(e.data[0].embedding))


def openai_errors():
    import openai
    from openai import OpenAI

    bad = OpenAI(base_url=f"{base}/v1", api_key="not-a-token", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("expected 401")
    except openai.AuthenticationError as e:
        out["auth_status"] = e.status_code
    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    try:
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected 404")
    except openai.NotFoundError as e:
        out["missing_status"] = e.status_code


def openai_stream_error():
    import openai
    from openai import OpenAI

    c = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
    got = ""
    try:
        for ch in c.chat.completions.create(model="cutter", messages=[{"role": "user", "content": "x"}], stream=True):
            if ch.choices and ch.choices[0].delta.content:
                got += ch.choices[0].delta.content
        raise AssertionError("a cut stream must raise, not end quietly")
    except openai.APIError as e:
        out.update(partial=got, error=str(e)[:200])


def ollama_client():
    import ollama

    c = ollama.Client(host=base, headers={"Authorization": f"Bearer {token}"})
    r = c.chat(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert r.message.content == "Hello from node-a", r
    assert r.model == "fast"
    assert r.eval_count == 3 and r.prompt_eval_count == 7
    text = "".join(p.message.content for p in c.chat(model="fast", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert text == "Hello from node-a", text
    g = c.generate(model="fast", prompt="hi")
    assert g.response == "Hello from node-a"
    e = c.embed(model="fast", input="hello")
    assert len(e.embeddings[0]) == 3
    names = sorted(m.model for m in c.list().models)
    assert "fast" in names, names
    s = c.show("fast")
    assert s.modelinfo["llama.context_length"] == 131072, s.modelinfo
    out.update(chat=r.message.content, streamed=text, models=names, capabilities=s.capabilities)


def ollama_errors():
    import ollama

    c = ollama.Client(host=base, headers={"Authorization": f"Bearer {token}"})
    try:
        c.chat(model="nope", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected 404")
    except ollama.ResponseError as e:
        out["missing_status"] = e.status_code
    try:
        list(c.chat(model="cutter", messages=[{"role": "user", "content": "x"}], stream=True))
        raise AssertionError("a cut stream must raise")
    except ollama.ResponseError as e:
        out["cut_error"] = str(e)[:200]


{
    "openai_chat": openai_chat,
    "openai_embeddings_models": openai_embeddings_models,
    "openai_errors": openai_errors,
    "openai_stream_error": openai_stream_error,
    "ollama_client": ollama_client,
    "ollama_errors": ollama_errors,
}[scenario]()
print(json.dumps(out))
