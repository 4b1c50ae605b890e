"""What generation tells its user before a long or cut run: a token budget capped at the context,
a thinking budget whose forced close cannot fit, and a decode step being compiled. The library
says it with `warnings`; the command line prints each as one line, once per command."""

from __future__ import annotations

import io
import re
import warnings

import pytest
import torch

from reasoning.cli import main
from reasoning.generation import decode, generate
from reasoning.generation.thinking import DEFAULT_CLOSING
from tests.scripted import CONFIG, SURE, chain, scripted_model, tokenizer

TOKENIZER = tokenizer()
THINK = TOKENIZER.think_start_id
[EOS] = TOKENIZER.eos_token_ids
[PROMPT_END], [HMM], [ANSWER] = TOKENIZER.encode("Q"), TOKENIZER.encode(" hmm"), TOKENIZER.encode("4")
CLOSING = TOKENIZER.encode(DEFAULT_CLOSING)
CONTEXT = CONFIG.max_position_embeddings
CAPPED = f"max_new_tokens 1,000,000,000 is capped at {CONTEXT:,} (the model's context) minus the prompt"


def replier():
    """Answers " Four." to anything, then ends."""
    reply = TOKENIZER.encode(" Four.")
    return scripted_model({None: {reply[0]: SURE}, **chain(reply, EOS)})


def thinker():
    """Opens <think> and thinks "hmm" until made to stop; answers 4 after </think>."""
    return scripted_model({PROMPT_END: {THINK: SURE}, THINK: {HMM: SURE}, HMM: {HMM: SURE}, None: {ANSWER: SURE}, ANSWER: {EOS: SURE}})


def said(call) -> list[str]:
    """The warnings `call()` gives, in order, each one every time it is given."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(warning.message) for warning in caught]


def test_a_budget_past_the_context_is_capped_with_one_warning_per_call():
    model = replier()
    prompts = [[PROMPT_END], [PROMPT_END, PROMPT_END]]
    results = []
    assert said(lambda: results.extend(generate(model, TOKENIZER, prompts, max_new_tokens=10**9, n=3))) == [CAPPED]
    assert all(r.finish_reason == "eos" for r in results)
    assert said(lambda: generate(model, TOKENIZER, prompts, max_new_tokens=CONTEXT - 2)) == []  # fits: nothing to say
    limited = said(lambda: generate(model, TOKENIZER, prompts, max_new_tokens=100, max_context=50))
    assert limited == ["max_new_tokens 100 is capped at 50 (max_context) minus the prompt"]


def test_a_thinking_budget_whose_close_cannot_fit_is_warned_before_generating():
    model, budget = thinker(), 8
    needed = 1 + budget + len(CLOSING) + 1  # <think>, the thinking, the close, one answer token
    results = []
    [warning] = said(lambda: results.extend(generate(model, TOKENIZER, [[PROMPT_END]], max_new_tokens=needed - 1, thinking_budget=budget)))
    assert warning.startswith(f"thinking_budget 8, the forced closing text ({len(CLOSING)} tokens) and an answer need {needed} new tokens")
    assert f"more than max_new_tokens {needed - 1}" in warning
    assert results[0].forced_tokens == len(CLOSING) and results[0].answer_tokens == 0  # the answer is what was cut
    [fits] = generate(model, TOKENIZER, [[PROMPT_END]], max_new_tokens=needed, thinking_budget=budget)  # exactly enough
    assert fits.forced_tokens == len(CLOSING) and fits.answer_tokens == 1
    assert said(lambda: generate(model, TOKENIZER, [[PROMPT_END]], max_new_tokens=needed, thinking_budget=budget)) == []
    with_answer = said(lambda: generate(model, TOKENIZER, [[PROMPT_END]], max_new_tokens=needed, thinking_budget=budget, answer_budget=2))
    assert len(with_answer) == 1 and "and answer_budget 2 need" in with_answer[0]


def test_the_first_call_of_a_compiled_step_says_it_compiles_and_how_long_it_took(monkeypatch):
    """Compiling is replaced by the eager step here (a real compile takes minutes); what is
    tested is that the line comes before the step runs, its time after, and once."""
    order: list[str] = []

    def step(*args):
        order.append("step")
        return decode.decode_step(*args)

    monkeypatch.setattr(decode, "_compiled_steps", lambda cuda: {True: step, False: step})
    monkeypatch.setattr(decode, "_STARTED", set())
    model = replier()

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *rest: order.append(str(message))
            generate(model, None, [[PROMPT_END]], max_new_tokens=4, compile=True)

    run()
    assert order[0].startswith("compiling the decode step with torch.compile (paid in every new process")
    assert order[1] == "step" and re.fullmatch(r"compiled the decode step in \d+ s", order[2])
    assert order[3:] == ["step"] * (len(order) - 3)
    order.clear()
    run()
    assert order == ["step"] * len(order)  # compiled already: nothing more to say


@pytest.mark.usefixtures("closed_endpoint")
def test_chat_says_each_notice_once_in_one_line_before_the_reply(tmp_path, monkeypatch, capsys):
    from reasoning.checkpoint import save_pretrained

    torch.manual_seed(0)
    checkpoint = save_pretrained(replier(), TOKENIZER, tmp_path / "replier")
    monkeypatch.setattr("sys.stdin", io.StringIO("Two and two?\nAnd three and one?\n"))
    argv = ["chat", "--model", str(checkpoint), "--device", "cpu", "--dtype", "float32", "--max-new-tokens", "1000000000",
            "--thinking-budget", str(CONTEXT)]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines.count(f"reasoning chat: {CAPPED}") == 1  # two turns, one line
    [cramped] = [line for line in lines if line.startswith(f"reasoning chat: thinking_budget {CONTEXT:,}, the forced closing text")]
    stats = [index for index, line in enumerate(lines) if line.startswith("[")]
    assert len(stats) == 2 and lines.index(f"reasoning chat: {CAPPED}") < stats[0] and lines.index(cramped) < stats[0]
    assert not any("Warning" in line or "warnings.warn" in line for line in lines)  # no Python warning format
