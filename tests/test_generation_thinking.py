"""Thinking control: budgets, the floor and wait extension, by token, in the tracker and the engine.

The engine tests run a scripted model (tests/scripted.py) whose thinking we choose: it opens
<think> after the prompt, then either thinks forever ("hmm hmm ...") or wants to close at once,
and after </think> answers 42 and stops.
"""

from __future__ import annotations

import io

import pytest

from reasoning.generation import budget_sweep, generate
from reasoning.generation.engine import Engine
from reasoning.generation.request import Request
from reasoning.generation.sampling import SamplingParams, request_key
from reasoning.generation.thinking import DEFAULT_CLOSING, ThinkingControl, ThinkingTracker
from reasoning.rl.rollout import pack
from tests.scripted import SURE, chain, scripted_model, tokenizer

TOKENIZER = tokenizer()
THINK, END = TOKENIZER.think_start_id, TOKENIZER.think_end_id
[PROMPT_END], [HMM], [WAIT], [ANSWER] = TOKENIZER.encode("Q"), TOKENIZER.encode(" hmm"), TOKENIZER.encode("Wait"), TOKENIZER.encode("4")
[EOS] = TOKENIZER.eos_token_ids
CLOSING = tuple(TOKENIZER.encode(DEFAULT_CLOSING))


def thinker(closes_at_once: bool):
    """Opens <think> after the prompt; thinks "hmm" (forever, or wanting </think> at every step
    with "hmm" second); answers 4 after </think> or anything unscripted, then stops."""
    hmm_next = {END: SURE, HMM: SURE - 5} if closes_at_once else {HMM: SURE}
    script = {PROMPT_END: {THINK: SURE}, THINK: {HMM: SURE}, HMM: hmm_next, WAIT: {HMM: SURE}, END: {ANSWER: SURE}, ANSWER: {EOS: SURE}, None: {ANSWER: SURE}}
    return scripted_model(script)


FOREVER, IMPATIENT = thinker(closes_at_once=False), thinker(closes_at_once=True)


def control(**limits) -> ThinkingControl:
    return ThinkingControl(think_start=THINK, think_end=END, closing=CLOSING, wait_tokens=(WAIT,), **limits)


# ---------------------------------------------------------------------------- the tracker alone


def test_tracker_forces_the_closing_sequence_at_the_budget():
    tracker = ThinkingTracker(control(budget=2, answer_budget=2))
    taken = [tracker.next_token(token) for token in [THINK, HMM, HMM] + [HMM] * len(CLOSING) + [ANSWER, ANSWER]]
    assert taken == [(THINK, False), (HMM, False), (HMM, False), *[(t, True) for t in CLOSING], (ANSWER, False), (ANSWER, False)]
    assert (tracker.thinking, tracker.answer, tracker.finished) == (2, 2, True)


def test_tracker_bans_the_close_below_the_floor_and_replaces_early_closes_by_wait():
    tracker = ThinkingTracker(control(min_thinking=2, wait=1, opened=True))
    assert tracker.banned == END
    tracker.next_token(HMM)
    assert tracker.banned == END
    tracker.next_token(HMM)
    assert tracker.banned is None
    assert tracker.next_token(END) == (WAIT, True)  # the one wait
    assert tracker.next_token(END) == (END, False) and tracker.phase == "answer"


@pytest.mark.parametrize("limits", [dict(budget=-1), dict(min_thinking=5, budget=4), dict(wait=-1), dict(answer_budget=0)])
def test_bad_limits_are_refused(limits):
    with pytest.raises(ValueError):
        control(**limits)


# ---------------------------------------------------------------------------- in the engine


def test_budget_is_exact_and_the_answer_follows_the_forced_close():
    [result] = generate(FOREVER, TOKENIZER, [[PROMPT_END]], max_new_tokens=100, thinking_budget=5, eos_token_ids=[EOS])
    tokens = list(result.token_ids)
    assert tokens == [THINK, *[HMM] * 5, *CLOSING, ANSWER, EOS]
    assert list(result.forced) == [False] * 6 + [True] * len(CLOSING) + [False, False]
    assert (result.thinking_tokens, result.forced_tokens, result.answer_tokens) == (5, len(CLOSING), 2)
    assert all(lp == 0.0 for lp, forced in zip(result.logprobs, result.forced) if forced)
    assert result.finish_reason == "eos" and result.text.endswith("</think>\n\n4")


def test_min_thinking_never_closes_early_and_wait_inserts_at_most_w():
    [floored] = generate(IMPATIENT, TOKENIZER, [[PROMPT_END]], max_new_tokens=50, min_thinking=4, eos_token_ids=[EOS])
    assert list(floored.token_ids) == [THINK, *[HMM] * 4, END, ANSWER, EOS] and floored.forced_tokens == 0
    [waited] = generate(IMPATIENT, TOKENIZER, [[PROMPT_END]], max_new_tokens=50, wait=2, eos_token_ids=[EOS])
    assert list(waited.token_ids) == [THINK, HMM, WAIT, HMM, WAIT, HMM, END, ANSWER, EOS]
    assert [t for t, forced in zip(waited.token_ids, waited.forced) if forced] == [WAIT, WAIT]


def test_a_sampled_budget_holds_for_every_sample():
    results = generate(FOREVER, TOKENIZER, [[PROMPT_END]], max_new_tokens=60, thinking_budget=7, temperature=1.0, n=4, seed=0, eos_token_ids=[EOS])
    assert all(r.thinking_tokens == 7 and r.token_ids[-2:] == (ANSWER, EOS) for r in results)


def test_rows_with_and_without_limits_decode_together_as_they_do_alone():
    def requests() -> list[list[Request]]:
        limits = [None, control(budget=3), control(min_thinking=2, wait=1), control(budget=0, answer_budget=1)]
        return [
            [Request([PROMPT_END], 40, request_key(1, index), thinking=None if c is None else ThinkingTracker(c))]
            for index, c in enumerate(limits)
        ]  # fmt: skip

    for model in (FOREVER, IMPATIENT):
        together = requests()
        list(Engine(model, max_batch_size=4).run(together, SamplingParams(), [EOS]))
        alone = [[request] for [request] in requests()]
        for group in alone:
            list(Engine(model, max_batch_size=1).run([group], SamplingParams(), [EOS]))
        assert [(g[0].tokens, g[0].forced) for g in together] == [(g[0].tokens, g[0].forced) for g in alone]
        assert together[0][0].forced == [False] * len(together[0][0].tokens)


def test_rollouts_do_not_train_on_forced_tokens():
    [result] = generate(FOREVER, TOKENIZER, [[PROMPT_END]], max_new_tokens=100, thinking_budget=2, eos_token_ids=[EOS])
    batch = pack([result], pad_id=0)
    completion = batch.completion_mask[0, : len(result.token_ids)].tolist()
    assert completion == [0.0 if forced else 1.0 for forced in result.forced]


# ---------------------------------------------------------------------------- the budget sweep

# Thinks "hmm", closing by itself with probability ~0.18 at each step, so under sampling some
# samples end their thinking early and others run into the budgets.
WANDERER = scripted_model({
    PROMPT_END: {THINK: SURE}, THINK: {HMM: SURE}, HMM: {HMM: SURE, END: SURE - 1.5}, END: {ANSWER: SURE},
    ANSWER: {EOS: SURE}, None: {ANSWER: SURE},
})  # fmt: skip


def test_the_sweep_equals_separate_runs_token_for_token():
    budgets = [0, 2, 4, 8]
    options = dict(max_new_tokens=24, temperature=1.0, n=8, seed=3, eos_token_ids=[EOS])
    sweep = budget_sweep(WANDERER, TOKENIZER, [[PROMPT_END]], budgets, max_batch_size=8, **options)
    separate = {budget: generate(WANDERER, TOKENIZER, [[PROMPT_END]], thinking_budget=budget, **options) for budget in budgets}
    for budget in budgets:
        got = [(s.by_budget[budget].token_ids, s.by_budget[budget].forced) for s in sweep]
        assert got == [(r.token_ids, r.forced) for r in separate[budget]], budget
        assert all(s.by_budget[budget].thinking_tokens <= budget for s in sweep)
    natural = [s for s in sweep if s.by_budget[8].forced_tokens == 0]
    assert natural and len(natural) < len(sweep)  # some closed by themselves, some were cut
    decoded = sum(s.decoded_tokens for s in sweep)
    assert decoded < sum(r.num_tokens for runs in separate.values() for r in runs)


def test_the_sweep_branches_through_preemption_and_full_batches():
    """Branches that find no free row or block wait and are recomputed: the same tokens."""
    budgets, options = [1, 3, 6], dict(max_new_tokens=20, temperature=1.0, n=4, seed=5, eos_token_ids=[EOS])
    roomy = budget_sweep(WANDERER, TOKENIZER, [[PROMPT_END]], budgets, **options)
    tight = budget_sweep(WANDERER, TOKENIZER, [[PROMPT_END]], budgets, max_batch_size=3, max_cache_tokens=32, **options)
    assert [{b: r.token_ids for b, r in s.by_budget.items()} for s in tight] == [{b: r.token_ids for b, r in s.by_budget.items()} for s in roomy]


def test_the_cli_prints_the_token_split(capsys):
    from reasoning.commands.generate import _print_stats

    [result] = generate(FOREVER, TOKENIZER, [[PROMPT_END]], max_new_tokens=100, thinking_budget=3, eos_token_ids=[EOS])
    _print_stats(result, seconds=2.0)
    total = 1 + 3 + len(CLOSING) + 2  # <think>, thinking, the forced close, the answer and EOS
    assert capsys.readouterr().err.strip() == f"[{total} tokens (3 thinking, {len(CLOSING)} forced, 2 answer), {total / 2:.1f} tokens/s, eos]"


# ---------------------------------------------------------------------------- thinking off

REPLY = TOKENIZER.encode(" Two and two make four, so the answer is 4.")  # no token twice: a chain


def replier():
    """Answers REPLY at once, never opening <think> (a reasoning model with thinking off)."""
    return scripted_model({None: {REPLY[0]: SURE}, **chain(REPLY, EOS)})


def test_a_reply_without_thinking_is_all_answer():
    """The no-think template closes an empty <think></think> in the prompt; every generated
    token is then answer (before, thinking, forced and answer all read 0)."""
    no_think_prompt = [PROMPT_END, THINK, END]
    [result] = generate(replier(), TOKENIZER, [no_think_prompt], max_new_tokens=100, thinking_budget=5, eos_token_ids=[EOS])
    assert list(result.token_ids) == [*REPLY, EOS]
    assert (result.thinking_tokens, result.forced_tokens, result.answer_tokens) == (0, 0, len(REPLY) + 1)
    [cut] = generate(replier(), TOKENIZER, [no_think_prompt], max_new_tokens=100, answer_budget=3, eos_token_ids=[EOS])
    assert list(cut.token_ids) == REPLY[:3] and cut.answer_tokens == 3 and cut.finish_reason == "length"


def test_chat_with_thinking_off_counts_the_reply_as_answer(tmp_path, monkeypatch, capsys, closed_endpoint):
    from reasoning.checkpoint import save_pretrained
    from reasoning.cli import main

    checkpoint = save_pretrained(replier(), TOKENIZER, tmp_path / "replier")
    monkeypatch.setattr("sys.stdin", io.StringIO("What is two and two?\n"))
    argv = ["chat", "--model", str(checkpoint), "--device", "cpu", "--dtype", "float32", "--no-think", "--thinking-budget", "8"]
    assert main(argv) == 0
    total = len(REPLY) + 1
    assert f"[{total} tokens (0 thinking, 0 forced, {total} answer), " in capsys.readouterr().err
