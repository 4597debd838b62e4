"""LangChain chat models and embeddings, unchanged, against the gateway (driven by langchain.test.mjs).

usage: langchain_client.py URL TOKEN PROVIDER MODEL SCENARIO ARG NONCE
  PROVIDER: openai | ollama | anthropic
  SCENARIO: text (invoke + stream) | tools (a bound tool, run for real, result sent back; ARG is
            the file the tool reads) | embed (ARG is the embedding model)
Prints one JSON line with what the client saw.
"""

import json
import sys

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

url, token, provider, model, scenario, arg, nonce = sys.argv[1:8]


@tool
def read_notes(path: str) -> str:
    """Read a text file."""
    with open(path) as f:
        return f.read()


def chat_model():
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=model, base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=30)
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=model, base_url=url, client_kwargs={"headers": {"Authorization": f"Bearer {token}"}, "timeout": 30})
    if provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(model=model, base_url=url, api_key=token, max_retries=0, timeout=30, max_tokens=512)
    raise SystemExit(f"unknown provider {provider}")


def embeddings():
    if provider == "openai":
        from langchain_openai import OpenAIEmbeddings

        # Not OpenAI itself behind the URL: send text, not tiktoken ids (tiktoken would also
        # download its encodings).
        return OpenAIEmbeddings(model=arg, base_url=f"{url}/v1", api_key=token, check_embedding_ctx_length=False, max_retries=0)
    if provider == "ollama":
        from langchain_ollama import OllamaEmbeddings

        return OllamaEmbeddings(model=arg, base_url=url, client_kwargs={"headers": {"Authorization": f"Bearer {token}"}})
    raise SystemExit(f"no embeddings for {provider}")


out = {}
if scenario == "text":
    llm = chat_model()
    r = llm.invoke([HumanMessage(f"[[say:langchain {nonce}]]")])
    out["text"] = r.content if isinstance(r.content, str) else "".join(b.get("text", "") for b in r.content)
    out["usage"] = r.usage_metadata
    streamed = ""
    for chunk in llm.stream([HumanMessage(f"[[say:streamed langchain {nonce}]]")]):
        c = chunk.content
        streamed += c if isinstance(c, str) else "".join(b.get("text", "") for b in c if isinstance(b, dict))
    out["streamed"] = streamed
elif scenario == "tools":
    llm = chat_model().bind_tools([read_notes])
    for stream in (False, True):
        messages = [HumanMessage(f"Read it. [[tool:read_notes {json.dumps({'path': arg})}]] {nonce}")]
        if stream:
            first = None
            for chunk in llm.stream(messages):
                first = chunk if first is None else first + chunk
        else:
            first = llm.invoke(messages)
        calls = first.tool_calls
        messages.append(first)
        for call in calls:
            messages.append(ToolMessage(read_notes.invoke(call["args"]), tool_call_id=call["id"]))
        final = llm.invoke(messages)
        text = final.content if isinstance(final.content, str) else "".join(b.get("text", "") for b in final.content if isinstance(b, dict))
        out["streamed" if stream else "plain"] = {"calls": [{"name": c["name"], "args": c["args"]} for c in calls], "final": text}
elif scenario == "embed":
    e = embeddings()
    out["query"] = e.embed_query(f"q {nonce}")
    out["documents"] = e.embed_documents([f"a {nonce}", f"bb {nonce}"])
print(json.dumps(out))
