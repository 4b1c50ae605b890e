"""An OpenAI-compatible endpoint as the model (`reasoning.generation.remote`), through the official
`openai` client: against `reasoning serve` on 127.0.0.1 (records equal an in-process run's), and
against a tiny stand-alone stdlib server for what a real server does not do on demand (answer
429 or 503 a few times, 401, fail one problem's requests)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("openai")

from reasoning.checkpoint import load_model, save_pretrained  # noqa: E402
from reasoning.cli import main  # noqa: E402
from reasoning.evaluation.records import read_run  # noqa: E402
from reasoning.generation import remote  # noqa: E402
from reasoning.generation.api import generate  # noqa: E402
from reasoning.generation.endpoint import Endpoint  # noqa: E402
from reasoning.generation.results import Prompt  # noqa: E402
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer  # noqa: E402

PROBLEMS = [{"problem": f"What is {i} + 1?", "answer": str(i + 1), "unique_id": f"p{i}"} for i in range(4)]


class FakeServer:
    """A stdlib HTTP server speaking just enough of the OpenAI API: /v1/models lists one model;
    a completion answers "\\boxed{<the number before ' + 1'> + 1}" (so every answer is right).
    `statuses` are answered first, one per completion request (then 200); `fail_when(body)`
    makes a request answer 503 while it holds; every completion body is kept in `seen`."""

    def __init__(self, model: str, statuses: list[int] | None = None) -> None:
        self.model, self.statuses, self.seen = model, list(statuses or []), []
        self.fail_when = lambda body: False
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._reply(200, {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "test"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.seen.append(body)
                    status = server.statuses.pop(0) if server.statuses else 200
                if status == 200 and server.fail_when(body):
                    status = 503
                if status != 200:
                    error = {"message": f"scripted {status}", "type": "error", "param": None, "code": status}
                    return self._reply(status, {"error": error})
                self._reply(200, server.answer(self.path, body))

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path: str, body: dict) -> dict:
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        number = int(str(prompt).split(" + 1")[0].split()[-1]) if " + 1" in str(prompt) else 0
        usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        if path.endswith("/chat/completions"):
            message = {"role": "assistant", "reasoning_content": "\nadd one\n", "content": f"\\boxed{{{number + 1}}}"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {"id": "c", "object": "chat.completion", "created": 0, "model": self.model, "choices": [choice], "usage": usage}
        choice = {"index": 0, "text": f"so \\boxed{{{number + 1}}}", "finish_reason": "stop", "logprobs": None}
        return {"id": "c", "object": "text_completion", "created": 0, "model": self.model, "choices": [choice], "usage": usage}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A served model's tokenizer files only (a base model's: plain prompts), no weights."""
    return Qwen3Tokenizer(build_offline_tokenizer(), base=True).save_pretrained(tmp_path_factory.mktemp("served"))


@pytest.fixture
def fake(tokenizer_dir):
    server = FakeServer(str(tokenizer_dir))
    yield server
    server.close()


@pytest.fixture
def quick_backoff(monkeypatch):
    monkeypatch.setattr(remote, "_BACKOFF_SECONDS", 0.001)


def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "math.jsonl"
    path.write_text("".join(json.dumps(problem) + "\n" for problem in PROBLEMS))
    return path


def eval_remote(url: str, served: Path, data: Path, out: Path, *extra: str) -> int:
    return main([
        "eval", "run", "--bench", "math500", "--model", f"openai:{url}", "--served-model", str(served), "--data", str(data),
        "--protocol", "greedy", "--max-new-tokens", "8", "--out", str(out), *extra,
    ])  # fmt: skip


def test_429_and_503_are_retried_until_the_answer_comes(fake, tokenizer_dir, quick_backoff):
    fake.statuses = [429, 503, 503]
    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    [result] = generate(Endpoint(fake.url, fake.model, retries=3), tokenizer, ["What is 4 + 1?"], max_new_tokens=8)
    assert (result.text, result.finish_reason, result.num_tokens, result.error) == ("so \\boxed{5}", "eos", 7, None)
    assert len(fake.seen) == 4  # three refusals, then the answer


def test_a_request_failing_past_its_retries_is_a_failed_sample_not_a_lost_one(fake, tokenizer_dir, quick_backoff):
    fake.statuses = [503] * 3
    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    [result] = generate(Endpoint(fake.url, fake.model, retries=2), tokenizer, ["What is 4 + 1?"], max_new_tokens=8)
    assert result.finish_reason == "error" and "scripted 503" in result.error and "3 tries" in result.error
    assert result.text == "" and len(fake.seen) == 3


def test_401_is_not_retried_and_ends_in_one_clear_line(fake, tokenizer_dir, tmp_path, capsys, quick_backoff):
    fake.statuses = [401] * 10
    code = eval_remote(fake.url, tokenizer_dir, data_file(tmp_path), tmp_path / "run", "--limit", "1")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "answered 401" in err and "Traceback" not in err, err
    assert len(fake.seen) == 1


def test_failed_requests_are_recorded_counted_and_redone_on_resume(fake, tokenizer_dir, tmp_path, capsys, quick_backoff):
    data, run = data_file(tmp_path), tmp_path / "run"
    fake.fail_when = lambda body: "What is 2 + 1?" in body["prompt"]
    assert eval_remote(fake.url, tokenizer_dir, data, run) == 0
    assert "failed requests: math500 1" in capsys.readouterr().out
    records = {record["id"]: record for record in read_run(run / "math500.jsonl")[1]}
    [failed] = records["p2"]["samples"]
    assert failed["finish_reason"] == "error" and "scripted 503" in failed["error"] and failed["correct"] is False
    assert all(records[f"p{i}"]["correct"] == 1 for i in (0, 1, 3))

    fake.fail_when = lambda body: False  # the server is well again
    asked = len(fake.seen)
    assert eval_remote(fake.url, tokenizer_dir, data, run, "--resume") == 0
    assert len(fake.seen) == asked + 1  # only the failed problem is asked again
    settings, resumed = read_run(run / "math500.jsonl")
    assert sorted(record["id"] for record in resumed) == ["p0", "p1", "p2", "p3"]  # replaced, not duplicated
    assert all(record["correct"] == 1 for record in resumed)
    assert settings["model"] == str(tokenizer_dir) and "model_fingerprint" not in settings  # the stand-in shows none
    assert "failed requests" not in capsys.readouterr().out


def test_each_sample_asks_with_a_seed_derived_from_its_stream(fake, tokenizer_dir):
    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    endpoint = Endpoint(fake.url, fake.model)
    generate(endpoint, tokenizer, [Prompt("What is 1 + 1?", stream=5)], max_new_tokens=4, n=3, seed=7, temperature=1.0)
    first = sorted(body["seed"] for body in fake.seen)
    fake.seen.clear()
    generate(endpoint, tokenizer, ["x"] * 5 + ["What is 1 + 1?"], max_new_tokens=4, n=3, seed=7, temperature=1.0)
    assert sorted(body["seed"] for body in fake.seen if "1 + 1" in body["prompt"]) == first  # same stream, same seeds
    assert len(set(first)) == 3 and all(body["n"] == 1 if "n" in body else True for body in fake.seen)


def test_chat_keeps_thinking_and_answer_apart(fake, tokenizer_dir):
    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir, base=False)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 1?"}], enable_thinking=False)
    [result] = generate(Endpoint(fake.url, fake.model, api="chat"), tokenizer, [prompt], max_new_tokens=8)
    assert result.text == "<think>\nadd one\n</think>\n\n\\boxed{3}"
    [body] = fake.seen
    assert body["messages"] == [{"role": "user", "content": "What is 2 + 1?"}]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_messages_of_a_chat_prompt():
    assert remote.messages_of(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi\nthere<|im_end|>\n<|im_start|>assistant\n"
    ) == ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi\nthere"}], None)
    assert remote.messages_of("plain text") == ([{"role": "user", "content": "plain text"}], None)
    with pytest.raises(ValueError, match="assistant"):
        remote.messages_of("<|im_start|>user\nHi<|im_end|>\n")


# ---------------------------------------------------------------------------- against `reasoning serve`


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny random base model (the real Qwen3 vocabulary), saved as a Hugging Face checkpoint."""
    from conftest import make_hf_model, save_hf_checkpoint

    directory = save_hf_checkpoint(
        make_hf_model(tied=True, vocab_size=151_936, max_position_embeddings=1024), tmp_path_factory.mktemp("hf")
    )
    out = tmp_path_factory.mktemp("tiny") / "tiny-base"
    save_pretrained(load_model(directory), Qwen3Tokenizer(build_offline_tokenizer(), base=True), out)
    return out


@pytest.fixture(scope="module")
def server(checkpoint):
    from server_process import start_server

    running = start_server(checkpoint, "--device", "cpu")
    yield running
    running.stop()


def graded_samples(run: Path) -> list[tuple]:
    """Each problem's samples as graded, in problem order (the fields a local and a remote run share)."""
    records = sorted(read_run(run / "math500.jsonl")[1], key=lambda record: record["index"])
    keys = ("text", "extracted", "correct", "grade", "tokens", "finish_reason")
    return [(r["id"], r["correct"], [tuple(str(s[k]) for k in keys) for s in r["samples"]]) for r in records]


def local_eval(checkpoint: Path, data: Path, out: Path, *extra: str) -> int:
    return main([
        "eval", "run", "--bench", "math500", "--model", str(checkpoint), "--data", str(data), "--protocol", "greedy",
        "--max-new-tokens", "8", "--device", "cpu", "--out", str(out), *extra,
    ])  # fmt: skip


def test_greedy_eval_through_the_server_equals_the_in_process_run(server, checkpoint, tmp_path):
    data = data_file(tmp_path)
    assert eval_remote(server.url, checkpoint, data, tmp_path / "remote") == 0
    assert local_eval(checkpoint, data, tmp_path / "local") == 0
    remote_samples = graded_samples(tmp_path / "remote")
    assert remote_samples == graded_samples(tmp_path / "local") and len(remote_samples) == len(PROBLEMS)
    remote, local = (read_run(tmp_path / where / "math500.jsonl")[0] for where in ("remote", "local"))
    assert (remote["model"], remote["model_fingerprint"]) == (local["model"], local["model_fingerprint"])  # the same model


def test_sampling_through_the_server_is_reproducible_with_a_seed(server, checkpoint):
    tokenizer = Qwen3Tokenizer.from_pretrained(checkpoint)
    endpoint = Endpoint(server.url, str(checkpoint))

    def texts(seed: int) -> list[str]:
        options = {"max_new_tokens": 6, "n": 3, "seed": seed, "temperature": 1.0}
        return [r.text for r in generate(endpoint, tokenizer, ["What is 1 + 1?", "What is 2 + 1?"], **options)]

    first = texts(3)
    assert texts(3) == first and len(set(first)) > 1  # the same draws again; samples differ from each other
    assert texts(4) != first


@pytest.mark.slow
def test_a_server_killed_mid_eval_loses_nothing_and_resume_completes_it(checkpoint, tmp_path, quick_backoff):
    from server_process import start_server

    problems = [{"problem": f"What is {i} + 1?", "answer": str(i + 1), "unique_id": f"p{i}"} for i in range(10)]
    data, run = tmp_path / "math.jsonl", tmp_path / "run"
    data.write_text("".join(json.dumps(problem) + "\n" for problem in problems))
    first = start_server(checkpoint, "--device", "cpu")
    codes = []
    slow = ("--concurrency", "1", "--max-new-tokens", "48")  # one problem at a time, long enough for the kill to land mid-run
    worker = threading.Thread(target=lambda: codes.append(eval_remote(first.url, checkpoint, data, run, *slow)))
    worker.start()
    records = run / "math500.jsonl"
    while worker.is_alive() and (not records.is_file() or len(records.read_text().splitlines()) < 1 + 3):
        time.sleep(0.02)
    first.kill()  # mid-eval, as a crash would
    worker.join()
    written = read_run(records)[1]
    failed = [r["id"] for r in written if any(s["finish_reason"] == "error" for s in r["samples"])]
    assert codes == [0] and len(written) == len(problems) and failed  # every problem recorded, the failures as failures
    again = start_server(checkpoint, "--device", "cpu")  # another port: the same model (known by name and fingerprint)
    try:
        assert eval_remote(again.url, checkpoint, data, run, *slow, "--resume") == 0
    finally:
        again.stop()
    assert local_eval(checkpoint, data, tmp_path / "whole", "--max-new-tokens", "48") == 0
    assert graded_samples(run) == graded_samples(tmp_path / "whole")  # nothing lost, nothing twice


def test_inference_time_scaling_runs_against_an_endpoint(fake, tokenizer_dir):
    from reasoning.generation.options import GenerationConfig
    from reasoning.scaling import best_of_n, heuristic_scores, self_consistency

    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    endpoint = Endpoint(fake.url, fake.model)
    config = GenerationConfig(max_new_tokens=8, temperature=1.0, n=3, seed=0)
    [run] = self_consistency(endpoint, tokenizer, ["What is 2 + 1?"], config)
    assert run.vote.answer == "3" and len(run.samples) == 3
    candidates = [remote_candidate(r) for r in generate(endpoint, tokenizer, ["What is 6 + 1?"], config)]
    best, scores = best_of_n(candidates, heuristic_scores)
    assert candidates[best].text.endswith("\\boxed{7}") and len(scores) == 3


def remote_candidate(result):
    from reasoning.scaling.refine import candidate_from

    return candidate_from("What is 6 + 1?", result.prompt_token_ids, result, same_prompt=True)


def test_what_needs_the_model_in_process_is_refused_before_any_request(fake, tokenizer_dir):
    from reasoning.generation.options import GenerationConfig
    from reasoning.scaling import make_scorer, self_consistency

    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    endpoint, config = Endpoint(fake.url, fake.model), GenerationConfig(max_new_tokens=8, temperature=1.0, n=2)
    with pytest.raises(ValueError, match="the logprob scorer needs the model in this process"):
        make_scorer("logprob", endpoint, tokenizer, kind="base", config=config)
    with pytest.raises(ValueError, match="tie_break='logprob' needs the model in this process"):
        list(self_consistency(endpoint, tokenizer, ["What is 2 + 1?"], config, tie_break="logprob"))
    with pytest.raises(ValueError, match="not wait or thinking_closing"):
        generate(endpoint, tokenizer, ["What is 2 + 1?"], max_new_tokens=8, wait=1)
    assert fake.seen == []


def test_a_budget_sweep_asks_each_budget_of_the_server(fake, tokenizer_dir):
    from reasoning.generation.api import budget_sweep

    tokenizer = Qwen3Tokenizer.from_pretrained(tokenizer_dir)
    sweeps = budget_sweep(Endpoint(fake.url, fake.model), tokenizer, ["What is 1 + 1?"], [4, 16], max_new_tokens=32, n=2, seed=0)
    assert [(s.prompt_index, s.sample_index, sorted(s.by_budget)) for s in sweeps] == [(0, 0, [4, 16]), (0, 1, [4, 16])]
    assert sorted(body["thinking_budget"] for body in fake.seen) == [4, 4, 16, 16]
    assert all(s.decoded_tokens == 14 for s in sweeps)  # each budget decoded on its own: 7 tokens each


def test_distill_generate_with_an_endpoint_as_teacher(fake, tokenizer_dir, tmp_path):
    out = tmp_path / "traces.jsonl"
    argv = ["distill", "generate", "--teacher", f"openai:{fake.url}", "--served-model", str(tokenizer_dir), "--bench", "math500",
            "--data", str(data_file(tmp_path)), "--n", "2", "--max-new-tokens", "8", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert len(fake.seen) == 2 * len(PROBLEMS)
    from reasoning.sft.distill import progress_path

    header = json.loads(progress_path(out).read_text().splitlines()[0])["settings"]
    assert header["teacher"] == str(tokenizer_dir) and header["endpoint_api"] == "completions"


def test_distill_resume_asks_again_the_problems_whose_requests_failed(fake, tokenizer_dir, tmp_path, quick_backoff):
    from reasoning.sft.distill import progress_path

    out = tmp_path / "traces.jsonl"
    argv = ["distill", "generate", "--teacher", f"openai:{fake.url}", "--served-model", str(tokenizer_dir), "--bench", "math500",
            "--data", str(data_file(tmp_path)), "--n", "1", "--max-new-tokens", "8", "--out", str(out)]  # fmt: skip
    fake.fail_when = lambda body: "What is 1 + 1?" in body["prompt"]
    assert main(argv) == 0
    [failed] = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:] if "failed" in line]
    assert failed["id"] == "p1" and failed["failed"] == 1
    fake.fail_when, asked = (lambda body: False), len(fake.seen)
    assert main([*argv, "--resume"]) == 0
    assert len(fake.seen) == asked + 1  # only p1 again
    progress = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:]]
    assert sorted(record["id"] for record in progress) == ["p0", "p1", "p2", "p3"] and not any("failed" in r for r in progress)


def test_eval_budget_with_an_endpoint(tmp_path):
    served = Qwen3Tokenizer(build_offline_tokenizer(), base=False).save_pretrained(tmp_path / "reasoning-model")
    server = FakeServer(str(served))
    try:
        argv = ["eval", "budget", "--bench", "math500", "--model", f"openai:{server.url}", "--served-model", str(served),
                "--data", str(data_file(tmp_path)), "--budgets", "4,16", "--n", "1", "--max-new-tokens", "32",
                "--out", str(tmp_path / "b")]  # fmt: skip
        assert main(argv) == 0
    finally:
        server.close()
    assert sorted(body["thinking_budget"] for body in server.seen) == [4] * 4 + [16] * 4  # each budget asked of the server
    for budget in (4, 16):
        records = read_run(tmp_path / "b" / f"math500@{budget}.jsonl")[1]
        assert len(records) == len(PROBLEMS) and all(r["samples"][0]["thinking_tokens"] == 7 for r in records)
