"""Multiple-choice log-likelihoods on a tiny random model: batching changes nothing, order is kept."""

from __future__ import annotations

import pytest
import torch

from conftest import make_hf_model, save_hf_checkpoint
from reasoning.checkpoint import load_model
from reasoning.evaluation.loglik import choice_logprobs, letter_token_ids
from reasoning.tokenizer import Qwen3Tokenizer, build_offline_tokenizer

LETTERS = ("A", "B", "C", "D")
PROMPTS = (
    "Question: 2 + 2 = ?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:",
    "Which planet is largest?\nAnswer:",
    "Q: the derivative of x^2 with respect to x, evaluated at x = 3, is which of the following values?\nAnswer:",
    "Pick one.\nAnswer:",
    "A long question, padded with words so that it has clearly more tokens than the others do, ends as usual.\nAnswer:",
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = save_hf_checkpoint(make_hf_model(vocab_size=151_936), tmp_path_factory.mktemp("tiny-loglik"))
    return load_model(directory)


@pytest.fixture(scope="module")
def tokenizer():
    return Qwen3Tokenizer(build_offline_tokenizer(), base=True)


def test_letter_ids_are_the_letters_after_a_space(tokenizer):
    ids = letter_token_ids(tokenizer, LETTERS)
    assert [tokenizer.decode([i]) for i in ids] == [" A", " B", " C", " D"]
    assert tokenizer.encode("Answer: B")[-1] == ids[1]


def test_a_letter_that_is_not_one_token_is_rejected(tokenizer):
    with pytest.raises(ValueError, match="single token"):
        letter_token_ids(tokenizer, ["A", "ZQXJ"])
    with pytest.raises(ValueError, match="empty"):
        letter_token_ids(tokenizer, [""])


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_batched_scores_equal_plain_unbatched_forwards(model, tokenizer, one_thread, batch_size):
    ids = letter_token_ids(tokenizer, LETTERS)
    expected = []
    with torch.no_grad():
        for prompt in PROMPTS:
            logits = model.logits(model(torch.tensor([tokenizer.encode(prompt)]))[0, -1])
            expected.append(logits.float().log_softmax(dim=-1)[ids])
    scores = choice_logprobs(model, tokenizer, PROMPTS, LETTERS, batch_size=batch_size)
    assert len(scores) == len(PROMPTS) and all(len(row) == len(LETTERS) for row in scores)
    torch.testing.assert_close(torch.tensor(scores), torch.stack(expected), atol=1e-5, rtol=0)


def test_scores_follow_the_order_of_the_prompts(model, tokenizer, one_thread):
    forward = choice_logprobs(model, tokenizer, PROMPTS, LETTERS, batch_size=2)
    backward = choice_logprobs(model, tokenizer, PROMPTS[::-1], LETTERS, batch_size=2)
    torch.testing.assert_close(torch.tensor(backward), torch.tensor(forward[::-1]), atol=1e-5, rtol=0)
    singles = [choice_logprobs(model, tokenizer, [prompt], LETTERS)[0] for prompt in PROMPTS]
    torch.testing.assert_close(torch.tensor(forward), torch.tensor(singles), atol=1e-5, rtol=0)


def test_scores_are_log_probabilities_that_differ_by_prompt(model, tokenizer, one_thread):
    scores = torch.tensor(choice_logprobs(model, tokenizer, PROMPTS, LETTERS))
    assert (scores < 0).all() and torch.logsumexp(scores, dim=-1).le(0).all()
    assert not torch.allclose(scores[0], scores[1])


def test_an_empty_prompt_is_rejected(model, tokenizer):
    with pytest.raises(ValueError, match="empty"):
        choice_logprobs(model, tokenizer, ["Answer:", ""], LETTERS)
