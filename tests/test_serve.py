"""`reasoning serve`: the OpenAI API over the engine, tested as a client sees it.

One real server subprocess per module (127.0.0.1, a free port) serves a scripted Qwen3 model
whose replies we choose: it thinks (`<think>I add the numbers</think>`) and answers "The
answer is four." (or five, or six: sampled). The official `openai` package is the client;
raw HTTP where a client could not send the bad request. What the server says is checked
against `generate` run in-process on the same checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import openai
import pytest
from scripted import SURE, chain, scripted_model
from server_process import start_server

from reasoning.checkpoint import load_model_and_tokenizer, save_pretrained
from reasoning.fingerprint import identify
from reasoning.generation import generate
from reasoning.generation.live import Overloaded
from reasoning.serving.app import ServerSettings, build_app
from reasoning.serving.reasoning_split import ReasoningStream, prompt_opens_thinking, split_reasoning
from reasoning.serving.requests import parse_chat, parse_completion
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

NAME = "tiny-qwen3"
KEY = "sk-test"
CONTEXT = 8192  # long enough that a reply of the whole context outlasts any test
QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
ANSWERS = (" four", " five", " six")


def build_checkpoint(directory):
    """The scripted thinker, saved in the Hugging Face layout with Qwen3's tokenizer."""
    tokenizer = Qwen3Tokenizer(build_offline_tokenizer(), base=False)
    [newline] = tokenizer.encode("\n")  # the chat prompt's last token: the reply starts here
    thinking = tokenizer.encode("<think>I add the numbers</think>The answer is")
    script = chain([newline, *thinking], tokenizer.encode(ANSWERS[0])[0])
    script[thinking[-1]] = {tokenizer.encode(word)[0]: SURE - (word != ANSWERS[0]) for word in ANSWERS}
    [period] = tokenizer.encode(".")
    script.update({tokenizer.encode(word)[0]: {period: SURE} for word in ANSWERS})
    script[period] = {tokenizer.im_end_id: SURE}
    [closed] = tokenizer.encode("\n\n")  # thinking off: the prompt ends "</think>\n\n"
    script[closed] = {tokenizer.encode("The")[0]: SURE}
    save_pretrained(scripted_model(script), tokenizer, directory)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "max_position_embeddings": CONTEXT}))
    return directory


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("serve") / "thinker")


@pytest.fixture(scope="module")
def server(checkpoint):
    flags = ("--dtype", "float32", "--served-model-name", NAME, "--max-n", "8", "--max-body-bytes", "65536")
    running = start_server(checkpoint, *flags, env={"REASONING_API_KEY": KEY})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def local(checkpoint):
    """The same checkpoint in this process: what the server's answers must equal."""
    return load_model_and_tokenizer(str(checkpoint), "cpu", "float32")


def chat_prompt(local, thinking: bool = True) -> str:
    return local[1].apply_chat_template(QUESTION, enable_thinking=thinking)


def health(server) -> dict:
    with urllib.request.urlopen(f"{server.root}/health", timeout=10) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------- the reasoning split


@pytest.mark.parametrize("opens", [False, True])
@pytest.mark.parametrize("text", [
    "<think>\nStep one.\n</think>\n\nThe answer.", "<think>cut off by the budget", "no thinking at all",
    "\n<think>x</think>y</think>z", "<think></think>", "", "a </think> in plain text", "<thi",
])  # fmt: skip
def test_streamed_split_at_every_cut_concatenates_to_the_whole_split(text, opens):
    whole = split_reasoning(text, opens)
    stream = ReasoningStream(opens)
    pieces = [stream.update(text[:cut]) for cut in range(len(text) + 1)] + [stream.update(text, final=True)]
    assert "".join(piece[0] for piece in pieces) == (whole.reasoning or "")
    assert "".join(piece[1] for piece in pieces) == (whole.content or "")


def test_split_follows_vllms_qwen3_parser():
    assert split_reasoning("<think>\nhmm\n</think>\n\nFour.", False) == ("\nhmm\n", "\n\nFour.")
    assert split_reasoning("hmm</think>Four.", True) == ("hmm", "Four.")  # the prompt opened <think>
    assert split_reasoning("<think>still thinking", False) == ("still thinking", None)  # cut off: all reasoning
    assert split_reasoning("Four.", False) == (None, "Four.")  # a model that does not think
    assert prompt_opens_thinking("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_thinking("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # thinking off
    assert not prompt_opens_thinking("<|im_start|>user\n<think> in a question<|im_end|>\n<|im_start|>assistant\n")


# ---------------------------------------------------------------------------- answers


def test_the_server_says_it_is_ready_and_lists_its_model(server, client, checkpoint):
    assert f"serving {NAME} on {server.url}\n" in server.stdout.read_text()
    [card] = client.models.list().data
    assert card.id == NAME
    assert card.fingerprint == identify(checkpoint)["model_fingerprint"]  # what a client's run records as the model


def test_greedy_chat_equals_in_process_generate_split_at_think(client, local):
    model, tokenizer = local
    [expected] = generate(model, tokenizer, [chat_prompt(local)], temperature=0, max_new_tokens=64)
    reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=0)
    thought, closed, answer = expected.text.partition("</think>")
    assert closed and expected.finish_reason == "eos"
    [choice] = reply.choices
    assert (choice.message.reasoning_content, choice.message.content) == (thought.removeprefix("<think>"), answer)
    assert choice.finish_reason == "stop"
    assert reply.usage.prompt_tokens == len(tokenizer.encode(chat_prompt(local)))
    assert reply.usage.completion_tokens == len(expected.token_ids)
    assert reply.usage.completion_tokens_details.reasoning_tokens == expected.token_ids.index(tokenizer.think_end_id) + 1


def test_thinking_off_and_a_thinking_budget_reach_the_engine(client, local):
    model, tokenizer = local
    [plain] = generate(model, tokenizer, [chat_prompt(local, thinking=False)], temperature=0, max_new_tokens=64)
    reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=0,
                                           extra_body={"chat_template_kwargs": {"enable_thinking": False}})  # fmt: skip
    assert (reply.choices[0].message.reasoning_content, reply.choices[0].message.content) == (None, plain.text)
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0
    [budgeted] = generate(model, tokenizer, [chat_prompt(local)], temperature=0, max_new_tokens=64, thinking_budget=2)
    reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=0, extra_body={"thinking_budget": 2})
    thought, _, answer = budgeted.text.partition("</think>")
    assert (reply.choices[0].message.reasoning_content, reply.choices[0].message.content) == (thought.removeprefix("<think>"), answer)
    assert "numbers" not in thought  # the budget cut the thinking short


def test_completions_take_text_or_token_ids_and_keep_the_raw_text(client, local):
    model, tokenizer = local
    prompt = chat_prompt(local)
    [expected] = generate(model, tokenizer, [prompt], temperature=0, max_new_tokens=20)
    by_text = client.completions.create(model=NAME, prompt=prompt, temperature=0, max_tokens=20)
    by_ids = client.completions.create(model=NAME, prompt=tokenizer.encode(prompt), temperature=0, max_tokens=20)
    assert by_text.choices[0].text == by_ids.choices[0].text == expected.text
    assert by_text.choices[0].text.startswith("<think>")


def collect_chat_stream(stream) -> tuple[dict, dict, dict, list]:
    """Per choice: reasoning and content concatenated, finish_reason; and the usage chunks."""
    reasoning, content, finish, usage = {}, {}, {}, []
    for chunk in stream:
        if chunk.usage is not None:
            usage.append(chunk.usage)
        for choice in chunk.choices:
            reasoning[choice.index] = reasoning.get(choice.index, "") + (getattr(choice.delta, "reasoning_content", None) or "")
            content[choice.index] = content.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    return reasoning, content, finish, usage


def test_streamed_chat_deltas_concatenate_to_the_whole_reply(client):
    options = dict(model=NAME, messages=QUESTION, temperature=1.0, n=4, seed=11)
    whole = client.chat.completions.create(**options)
    stream = client.chat.completions.create(**options, stream=True, stream_options={"include_usage": True})
    reasoning, content, finish, [usage] = collect_chat_stream(stream)
    for choice in whole.choices:
        assert reasoning[choice.index] == (choice.message.reasoning_content or "")
        assert content[choice.index] == (choice.message.content or "")
        assert finish[choice.index] == choice.finish_reason == "stop"
    assert usage == whole.usage


def test_streamed_completion_concatenates_to_the_whole_text(client):
    options = dict(model=NAME, prompt="What is 2 + 2?", temperature=1.0, max_tokens=12, n=2, seed=4)
    whole = client.completions.create(**options)
    text, finish = {}, {}
    for chunk in client.completions.create(**options, stream=True):
        for choice in chunk.choices:
            text[choice.index] = text.get(choice.index, "") + choice.text
            finish[choice.index] = choice.finish_reason or finish.get(choice.index)
    assert text == {choice.index: choice.text for choice in whole.choices}
    assert finish == {choice.index: "length" for choice in whole.choices}


def test_a_seed_reproduces_the_samples_and_another_seed_differs(client):
    def answers(seed: int) -> list[str]:
        reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=1.0, n=8, seed=seed)
        return [choice.message.content for choice in reply.choices]

    first = answers(1)
    assert len(set(first)) > 1  # the samples are drawn, not all the same
    assert answers(1) == first
    assert answers(2) != first


def test_stop_strings_end_the_answer_streamed_or_not(client):
    options = dict(model=NAME, messages=QUESTION, temperature=1.0, n=3, seed=0, stop=list(ANSWERS))
    whole = client.chat.completions.create(**options)
    assert [(choice.message.content, choice.finish_reason) for choice in whole.choices] == [("The answer is", "stop")] * 3
    _, content, finish, _ = collect_chat_stream(client.chat.completions.create(**options, stream=True))
    assert content == dict.fromkeys(range(3), "The answer is") and finish == dict.fromkeys(range(3), "stop")


def test_logprobs_equal_the_engines(client, local):
    model, tokenizer = local
    expected = generate(model, tokenizer, [chat_prompt(local)], temperature=1.0, n=2, seed=3, max_new_tokens=64)
    reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=1.0, n=2, seed=3, logprobs=True)
    for choice, result in zip(reply.choices, expected, strict=True):
        assert [entry.token for entry in choice.logprobs.content] == [tokenizer.decode([token]) for token in result.token_ids]
        assert [entry.logprob for entry in choice.logprobs.content] == pytest.approx(result.logprobs, abs=1e-5)
    assert any(logprob < -0.1 for result in expected for logprob in result.logprobs)  # a real choice was made
    completion = client.completions.create(model=NAME, prompt=chat_prompt(local), temperature=1.0, n=2, seed=3, logprobs=0, max_tokens=64)
    for choice, result in zip(completion.choices, expected, strict=True):
        assert choice.logprobs.token_logprobs == pytest.approx(result.logprobs, abs=1e-5)


def test_a_client_that_disconnects_mid_stream_frees_its_sequences_while_another_completes(server, client, local):
    model, tokenizer = local
    [expected] = generate(model, tokenizer, [chat_prompt(local)], temperature=0, max_new_tokens=64)
    endless = client.completions.create(model=NAME, prompt="hi", max_tokens=CONTEXT - 8, temperature=0, stream=True)
    chunks = iter(endless)
    for _ in range(3):
        next(chunks)
    assert health(server)["running"] == 1
    reply = client.chat.completions.create(model=NAME, messages=QUESTION, temperature=0)  # joins the running batch
    assert reply.choices[0].message.content == expected.text.partition("</think>")[2]
    assert health(server)["running"] == 1  # the long one still runs
    endless.close()
    deadline = time.monotonic() + 15
    while health(server) != {"status": "ok", "running": 0, "waiting": 0}:
        assert time.monotonic() < deadline, f"the disconnected stream still runs: {health(server)}"
        time.sleep(0.1)


def test_a_client_that_stops_waiting_for_a_whole_reply_frees_its_sequences(server, client):
    impatient = client.with_options(timeout=1.5)
    with pytest.raises(openai.APITimeoutError):
        impatient.completions.create(model=NAME, prompt="hi", max_tokens=CONTEXT - 8, temperature=0)
    deadline = time.monotonic() + 15
    while health(server)["running"]:
        assert time.monotonic() < deadline, f"the abandoned request still runs: {health(server)}"
        time.sleep(0.1)


# ---------------------------------------------------------------------------- bad requests

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
GOOD = {"model": NAME, "messages": QUESTION}
BAD_REQUESTS = [  # id, path, body (a dict is sent as JSON), extra headers, status, words in the message, param
    ("malformed-json", CHAT, b'{"messages": [', {}, 400, "not valid JSON", None),
    ("not-utf8", CHAT, b'{"messages": "\xff\xfe"}', {}, 400, "not UTF-8", None),
    ("not-an-object", CHAT, b"[1, 2]", {}, 400, "must be a JSON object", None),
    ("missing-messages", CHAT, {"model": NAME}, {}, 400, "messages is required", "messages"),
    ("no-messages", CHAT, {**GOOD, "messages": []}, {}, 400, "at least one message", "messages"),
    ("unknown-role", CHAT, {**GOOD, "messages": [{"role": "tool", "content": "x"}]}, {}, 400, "role must be one of", "messages[0].role"),
    ("image-part", CHAT, {**GOOD, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, {},
     400, "text only", "messages[0].content[0]"),
    ("messages-not-a-list", CHAT, {**GOOD, "messages": "hi"}, {}, 422, "messages must be a list", "messages"),
    ("temperature-a-string", CHAT, {**GOOD, "temperature": "hot"}, {}, 422, "temperature must be a number", "temperature"),
    ("n-a-boolean", CHAT, {**GOOD, "n": True}, {}, 422, "n must be an integer", "n"),
    ("negative-temperature", CHAT, {**GOOD, "temperature": -1}, {}, 400, "temperature must be >= 0", "temperature"),
    ("top-p-zero", CHAT, {**GOOD, "top_p": 0}, {}, 400, "top_p must be a finite number above 0", "top_p"),
    ("unknown-model", CHAT, {**GOOD, "model": "gpt-4o"}, {}, 404, "The model `gpt-4o` does not exist", "model"),
    ("prompt-over-the-context", COMPLETIONS, {"model": NAME, "prompt": list(range(CONTEXT + 5))}, {}, 400,
     f"the context limit is {CONTEXT} tokens", "prompt"),
    ("negative-max-tokens", CHAT, {**GOOD, "max_tokens": -1}, {}, 400, "max_tokens must be >= 1", "max_tokens"),
    ("huge-max-tokens", CHAT, {**GOOD, "max_tokens": 10**9}, {}, 400, "may be generated", "max_tokens"),
    ("huge-max-completion-tokens", CHAT, {**GOOD, "max_completion_tokens": 10**9}, {}, 400, "may be generated", "max_completion_tokens"),
    ("n-over-the-limit", CHAT, {**GOOD, "n": 9}, {}, 400, "at most 8 samples per request (--max-n)", "n"),
    ("top-logprobs", CHAT, {**GOOD, "logprobs": True, "top_logprobs": 3}, {}, 400, "only the chosen token's log-prob", "top_logprobs"),
    ("completion-top-logprobs", COMPLETIONS, {"prompt": "x", "logprobs": 2}, {}, 400, "only the chosen token's log-prob", "logprobs"),
    ("tools", CHAT, {**GOOD, "tools": [{"type": "function", "function": {"name": "f"}}]}, {}, 400, "tools is not supported", "tools"),
    ("json-mode", CHAT, {**GOOD, "response_format": {"type": "json_object"}}, {}, 400, "response_format is not supported",
     "response_format"),
    ("several-prompts", COMPLETIONS, {"prompt": ["a", "b"]}, {}, 400, "send one per request", "prompt"),
    ("empty-prompt", COMPLETIONS, {"prompt": ""}, {}, 400, "at least one token", "prompt"),
    ("token-outside-the-vocabulary", COMPLETIONS, {"prompt": [10**7]}, {}, 400, "vocabulary", "prompt"),
    ("stream-options-without-stream", CHAT, {**GOOD, "stream_options": {"include_usage": True}}, {}, 400, "only allowed with stream",
     "stream_options"),
    ("min-thinking-above-budget", CHAT, {**GOOD, "thinking_budget": 2, "min_thinking": 5}, {}, 400, "above thinking_budget", None),
    ("body-over-the-limit", CHAT, {**GOOD, "padding": "x" * 70_000}, {}, 413, "over 65536 bytes (--max-body-bytes)", None),
    ("no-key", CHAT, GOOD, {"Authorization": ""}, 401, "invalid or missing API key", None),
    ("wrong-key", CHAT, GOOD, {"Authorization": "Bearer nope"}, 401, "invalid or missing API key", None),
    ("unknown-route", "/v1/embeddings", GOOD, {}, 404, "no route /v1/embeddings", None),
]  # fmt: skip


def post(server, path: str, body: bytes | dict, headers: dict) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(server.root + path, data=data, headers={"Authorization": f"Bearer {KEY}", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    "path, body, headers, status, words, param", [row[1:] for row in BAD_REQUESTS], ids=[row[0] for row in BAD_REQUESTS]
)
def test_a_bad_request_gets_its_status_and_openais_error_body_and_the_server_serves_on(server, path, body, headers, status, words, param):
    code, answer = post(server, path, body, headers)
    assert code == status, answer
    assert set(answer) == {"error"} and set(answer["error"]) == {"message", "type", "param", "code"}
    assert words in answer["error"]["message"] and answer["error"]["param"] == param
    code, answer = post(server, CHAT, {**GOOD, "max_tokens": 4}, {})
    assert code == 200 and answer["choices"][0]["message"]["reasoning_content"]


def test_the_openai_client_raises_its_own_error_for_each_status(server, client):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="other", messages=QUESTION)
    with pytest.raises(openai.UnprocessableEntityError, match="temperature"):
        client.chat.completions.create(model=NAME, messages=QUESTION, temperature="hot")
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(model=NAME, messages=QUESTION, max_tokens=10**9)


def test_a_wrong_method_is_405_in_openais_body(server):
    request = urllib.request.Request(server.root + CHAT, headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405 and "GET is not allowed" in json.loads(refused.value.read())["error"]["message"]


# ---------------------------------------------------------------------------- the app in-process: overload and bugs


class FakeEngine:
    """An engine whose submit refuses (Overloaded) or breaks (a bug), and counts nothing."""

    running = waiting = 0

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def submit(self, prompt, config, on_update=None):
        raise self.failure


class FakeTokenizer:
    think_end_id = 1

    def encode(self, text: str) -> list[int]:
        return [ord(character) for character in text]

    def apply_chat_template(self, messages: list[dict], *, enable_thinking: bool = True) -> str:
        if messages[0]["content"] == "break":
            raise KeyError("a bug in the template code")
        return messages[0]["content"]


def call(app, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One request through the ASGI app, without a socket."""
    sent: list[dict] = []
    payload = json.dumps(body).encode() if body is not None else b""

    async def run() -> None:
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
                 "raw_path": path.encode(), "query_string": b"", "headers": [(b"content-type", b"application/json")],
                 "scheme": "http", "server": ("test", 80)}  # fmt: skip
        await app(scope, receive, send)

    asyncio.run(run())
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    return status, json.loads(b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body"))


def test_an_overloaded_engine_answers_429():
    app = build_app(FakeEngine(Overloaded("3 requests are waiting already (at most 3); try again later")), FakeTokenizer(),
                    ServerSettings(NAME, 100))  # fmt: skip
    status, body = call(app, "POST", COMPLETIONS, {"prompt": "hi"})
    assert (status, body["error"]["type"]) == (429, "rate_limit_error") and "try again later" in body["error"]["message"]


def test_a_bug_is_a_500_in_openais_body_and_the_app_serves_on(caplog):
    app = build_app(FakeEngine(Overloaded("busy")), FakeTokenizer(), ServerSettings(NAME, 100))
    status, body = call(app, "POST", CHAT, {"messages": [{"role": "user", "content": "break"}]})
    assert status == 500 and body["error"]["type"] == "server_error" and "KeyError" in body["error"]["message"]
    assert "a bug in the template code" in caplog.text  # the traceback goes to the server's log, not the client
    assert call(app, "GET", "/health") == (200, {"status": "ok", "running": 0, "waiting": 0})


def test_the_token_budget_defaults_to_the_context_the_prompt_leaves():
    assert parse_completion({"prompt": "four"}, FakeTokenizer(), 100, 1).config.max_new_tokens == 96
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "max_completion_tokens": 7}
    chat = parse_chat(body, FakeTokenizer(), 100, 1)
    assert chat.config.max_new_tokens == 7  # the newer name wins
