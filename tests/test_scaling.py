"""Inference-time scaling: voting, best-of-N scorers, self-refinement, early stopping.

The end-to-end tests use a scripted model (see scripted.py): from any prompt it answers
" \\boxed{7}" (or, less often, 8) either at once or after a longer preamble, so samples differ
in answer and in length, and every method's choice can be checked.
"""

from __future__ import annotations

import math

import pytest

import scripted
from reasoning.generation import GenerationConfig, generate, generate_as_completed
from reasoning.scaling import (
    Candidate,
    Score,
    best_of_n,
    completion_logprobs,
    decided,
    heuristic_scores,
    judge_scorer,
    majority_vote,
    make_scorer,
    mean_logprob_scorer,
    parse_score,
    self_consistency,
    self_refine,
)

TOKENIZER = scripted.tokenizer()
EOS = TOKENIZER.eos_token_ids[0]
BOX, SEVEN, EIGHT, CLOSE = TOKENIZER.encode(" \\boxed{"), 22, 23, 92
PREAMBLE = TOKENIZER.encode("The answer after some careful thought is")
assert len(set(PREAMBLE + BOX)) == len(PREAMBLE + BOX) and TOKENIZER.encode("7}") == [SEVEN, CLOSE]


def answer_script(long_odds: float = math.log(3 / 7), eight_odds: float = -2.0) -> dict:
    """Short route " \\boxed{7}" or the preamble first (log-odds `long_odds`); 8 instead of 7 at `eight_odds`."""
    script = scripted.chain(PREAMBLE + BOX, SEVEN) | scripted.chain(BOX, SEVEN)
    script[None] = {BOX[0]: scripted.SURE, PREAMBLE[0]: scripted.SURE + long_odds}
    script[BOX[-1]] = {SEVEN: scripted.SURE, EIGHT: scripted.SURE + eight_odds}
    script[SEVEN] = script[EIGHT] = {CLOSE: scripted.SURE}
    script[CLOSE] = {EOS: scripted.SURE}
    return script


@pytest.fixture(scope="module")
def model():
    return scripted.scripted_model(answer_script())


PROMPTS = ["What is 3 + 4?\nAnswer:", "What is 2 + 5?\nAnswer:"]
SAMPLING = GenerationConfig(max_new_tokens=20, temperature=1.0, n=8, seed=3)


# Voting ---------------------------------------------------------------------------------------


def test_vote_groups_equivalent_answers():
    vote = majority_vote(["3", "1/2", "0.5", "\\frac{1}{2}", "3", None])
    assert vote.answer == "1/2" and vote.winner == 1
    assert [(g.answer, g.members) for g in vote.groups] == [("1/2", (1, 2, 3)), ("3", (0, 4))]
    assert vote.abstained == (5,)


def test_ties_break_by_first_sample_or_by_log_prob():
    answers = ["4", "5", "5", "4"]
    assert majority_vote(answers).answer == "4"  # group of sample 0 comes first
    vote = majority_vote(answers, logprobs=[-2.0, -0.5, -0.7, -1.0], tie_break="logprob")
    assert vote.answer == "5" and vote.groups[0].mean_logprob == pytest.approx(-0.6)
    assert majority_vote(answers, logprobs=[-1.0] * 4, tie_break="logprob").answer == "4"  # equal: first
    assert majority_vote(["2", "3", "3"], logprobs=[0.0, -9.0, -9.0], tie_break="logprob").answer == "3"  # size first
    with pytest.raises(ValueError, match="log-probs"):
        majority_vote(answers, tie_break="logprob")


def test_no_answers_no_winner():
    vote = majority_vote([None, None])
    assert vote.answer is None and vote.winner is None and vote.abstained == (0, 1)


def test_a_vote_is_decided_only_when_the_rest_cannot_change_it():
    vote = majority_vote(["7", "7", "7", "8"])
    assert decided(vote, remaining=1) and not decided(vote, remaining=2)
    assert not decided(majority_vote(["7"]), remaining=1)  # could end in a tie
    assert decided(majority_vote(["7"]), remaining=0)


# Scorers and best-of-N ------------------------------------------------------------------------


def test_parse_score_reads_the_usual_forms_and_rejects_the_rest():
    assert parse_score("Score: 7/10") == 7
    assert parse_score("I would give this 8 out of 10.") == 8
    assert parse_score("<think>maybe 2/10</think>Score: **9**") == 9  # the visible verdict counts
    assert parse_score("Score: 6.5") == 6.5
    assert parse_score("Score: 42") is None and parse_score("no idea") is None
    # Hostile input costs no more than a page: only the first 2,000 characters are read.
    assert parse_score("9" * 1_000_000 + "/10") is None
    assert parse_score("-" * 1_990 + " 7/10") == 7 and parse_score("-" * 2_000 + " 7/10") is None


def candidate(text: str, logprobs=(-1.0,), finished=True) -> Candidate:
    return Candidate("q", text, (1,), tuple(range(len(logprobs))), finished, tuple(logprobs))


def test_best_of_n_takes_the_highest_score_and_the_first_of_equals():
    candidates = [candidate("a", (-2.0, -2.0)), candidate("b", (-0.5, -1.5)), candidate("c", (-1.0,))]
    best, scores = best_of_n(candidates, lambda cs: [Score(sum(c.logprobs) / len(c.logprobs)) for c in cs])
    assert best == 1 and [s.value for s in scores] == [-2.0, -1.0, -1.0]  # b and c tie: b is first
    assert best_of_n(candidates, lambda cs: [Score(len(c.text)) for c in cs])[0] == 0
    with pytest.raises(ValueError, match="2 scores for 3"):
        best_of_n(candidates, lambda cs: [Score(0.0)] * 2)


def test_heuristic_prefers_a_boxed_finished_unrepetitive_answer():
    boxed, plain = candidate("so it is \\boxed{7}"), candidate("so it is seven")
    truncated = candidate("so it is \\boxed{7}", finished=False)
    looping = candidate("so it is so it is so it is so it is so it is \\boxed{7}")
    values = [s.value for s in heuristic_scores([boxed, plain, truncated, looping])]
    assert values[0] > values[1] and values[0] > values[2] and values[0] > values[3]


def test_teacher_forced_log_probs_equal_those_of_generation(model):
    [result] = generate(model, TOKENIZER, PROMPTS[0], max_new_tokens=12, temperature=1.0, seed=1)
    forced = completion_logprobs(model, result.prompt_token_ids, result.token_ids)
    assert forced == pytest.approx(result.logprobs, abs=1e-4)
    scorer = mean_logprob_scorer(model)
    without = Candidate("q", result.text, result.prompt_token_ids, result.token_ids)
    assert scorer([without])[0].value == pytest.approx(sum(result.logprobs) / len(result.logprobs), abs=1e-4)


def test_the_judge_scores_each_candidate_and_counts_its_tokens(model):
    candidates = [candidate("\\boxed{7}"), candidate("\\boxed{8}")]
    scores = judge_scorer(model, TOKENIZER, kind="base")(candidates)
    # The scripted model replies " \boxed{7}" to anything: a lone 7 is read as the score.
    assert [(s.value, s.tokens) for s in scores] == [(7.0, 6), (7.0, 6)]
    assert scores[0].note.strip() == "\\boxed{7}"


def test_make_scorer_builds_each_scorer_the_command_line_names(model):
    from reasoning.evaluation.strategies import SCORERS

    config = GenerationConfig(max_new_tokens=8)
    scorers = {name: make_scorer(name, model, TOKENIZER, kind="base", config=config) for name in SCORERS}
    assert scorers["heuristic"] is heuristic_scores
    assert scorers["logprob"]([candidate("\\boxed{7}", (-0.5, -1.5))]) == [Score(-1.0)]
    assert [s.value for s in scorers["judge"]([candidate("\\boxed{7}")])] == [7.0]
    with pytest.raises(ValueError, match="unknown scorer 'length'"):
        make_scorer("length", model, TOKENIZER, kind="base", config=config)


# Self-consistency -----------------------------------------------------------------------------


def test_self_consistency_votes_over_equivalent_answers_and_counts_every_token(model):
    runs = list(self_consistency(model, TOKENIZER, PROMPTS, SAMPLING))
    assert sorted(run.prompt_index for run in runs) == [0, 1]
    for run in runs:
        assert len(run.samples) == 8 and set(run.answers) <= {"7", "8"}
        assert run.answer == "7" and run.vote.groups[0].count == run.answers.count("7") > 4
        assert run.tokens == sum(len(s.token_ids) for s in run.samples)
        assert {len(s.token_ids) for s in run.samples} <= {6, 6 + len(PREAMBLE)}
        assert not run.stopped_early
    again = list(self_consistency(model, TOKENIZER, PROMPTS, SAMPLING))  # a seed fixes everything
    assert [(r.prompt_index, r.answers, [s.token_ids for s in r.samples]) for r in again] == [
        (r.prompt_index, r.answers, [s.token_ids for s in r.samples]) for r in runs
    ]


def test_early_stop_cancels_the_samples_that_cannot_change_the_vote(model):
    full = {run.prompt_index: run for run in self_consistency(model, TOKENIZER, PROMPTS, SAMPLING)}
    early = {run.prompt_index: run for run in self_consistency(model, TOKENIZER, PROMPTS, SAMPLING, early_stop=True)}
    assert any(run.stopped_early for run in early.values()), "the seed should give a decided vote before the end"
    for index, run in early.items():
        assert run.answer == full[index].answer
        for sample, reference in zip(run.samples, full[index].samples):
            if sample.finish_reason == "cancelled":  # a prefix of what it would have generated
                assert reference.token_ids[: len(sample.token_ids)] == sample.token_ids
                assert len(sample.token_ids) < len(reference.token_ids)
            else:  # the same random stream gives the same sample
                assert sample.token_ids == reference.token_ids
        assert run.tokens == sum(len(s.token_ids) for s in run.samples)
    assert sum(r.tokens for r in early.values()) < sum(r.tokens for r in full.values())


def test_stop_early_callback_cancels_siblings_and_keeps_generating_others(model):
    config = GenerationConfig(max_new_tokens=20, temperature=1.0, n=4, seed=3)
    calls = []

    def stop_after_first(index, finished):
        calls.append((index, len(finished)))
        return index == 0

    groups = {g[0].prompt_index: g for g in generate_as_completed(model, TOKENIZER, PROMPTS, config, stop_early=stop_after_first)}
    reasons = [r.finish_reason for r in groups[0]]
    assert "cancelled" in reasons and reasons.count("eos") >= 1
    assert all(r.finish_reason == "eos" for r in groups[1])  # the other prompt ran to the end
    first = [count for index, count in calls if index == 0]
    assert len(first) == 1 and 1 <= first[0] < 4  # asked once, then the rest were cancelled
    other = [count for index, count in calls if index == 1]
    assert all(1 <= count < 4 for count in other)  # never asked once every sample is done


def test_self_consistency_refuses_greedy_samples(model):
    with pytest.raises(ValueError, match="temperature 0"):
        next(self_consistency(model, TOKENIZER, PROMPTS, GenerationConfig(max_new_tokens=4, n=4)))


# Self-refinement ------------------------------------------------------------------------------


def test_refinement_stops_at_the_first_round_that_does_not_improve(model):
    config = GenerationConfig(max_new_tokens=20)
    [state] = self_refine(model, TOKENIZER, ["What is 3 + 4?"], PROMPTS[:1], scorer=mean_logprob_scorer(model), config=config, rounds=3)
    # Greedy and scripted: the revision is the draft again, so it scores the same and stops.
    assert len(state.rounds) == 1 and not state.rounds[0].improved
    assert state.best == state.draft and state.best.text.strip() == "\\boxed{7}"
    assert state.rounds[0].score == state.draft_score.value


def test_refinement_keeps_improving_rounds_and_counts_tokens_exactly(model):
    config = GenerationConfig(max_new_tokens=20)
    calls = []

    def rising(candidates):  # each call scores higher than the last: every round improves
        calls.append(len(candidates))
        return [Score(float(len(calls)), tokens=2) for _ in candidates]

    states = self_refine(model, TOKENIZER, ["q1", "q2"], PROMPTS, scorer=rising, config=config, rounds=2)
    for state in states:
        assert [r.improved for r in state.rounds] == [True, True] and state.best_score == 3.0
        assert state.best.text == state.rounds[-1].revision
        draft = len(state.draft.token_ids) + 2
        assert state.tokens == draft + sum(r.tokens for r in state.rounds)
        assert all(r.tokens == 6 + 6 + 2 for r in state.rounds)  # critique, revision, scoring
    assert calls == [2, 2, 2]  # the drafts, then each round's revisions, batched
