"""Supervised fine-tuning's offline demonstration: the toy addition student and correct traces.

The student is the toy addition model (`reasoning.training.toy`) on sums of 0..9, warmed up to
the answer format only (about 8% of unseen sums right); each training sum has one correct
trace, and the held-out sums, which it never trains on, measure what it learnt.
"""

from __future__ import annotations

from pathlib import Path

from reasoning.sft.data import Conversation
from reasoning.training.evaluate import Evaluate, task_evaluator
from reasoning.training.run import load_toy
from reasoning.training.toy import BOX, ToySetting

TOY_OPERANDS = 9  # sums of 0..9: 100 problems, enough for what is learnt to carry to unseen ones
TOY_HELD_OUT = 12
TOY_ANSWER_TOKENS = 8  # "\\boxed{" (one token), up to two digits, "}" and the end


def toy_student(*, seed: int = 0, device: str = "cpu") -> ToySetting:
    """The toy addition model on sums of 0..9 with 12 held out (on one CPU thread)."""
    return load_toy(device, seed=seed, max_operand=TOY_OPERANDS, held_out=TOY_HELD_OUT)


def toy_traces(setting: ToySetting) -> list[Conversation]:
    """One correct trace of each training sum: the question as written, the boxed answer."""
    return [Conversation(p.question, f"{BOX}{p.answer}}}", "", p.id) for p in setting.train.problems]


def toy_evaluator(setting: ToySetting, out_dir: str | Path) -> Evaluate:
    """Greedy accuracy on the held-out sums, through the evaluation pipeline (records in out_dir/eval)."""
    return task_evaluator(setting.tokenizer, setting.held_out, out_dir, model_name="toy-addition", max_new_tokens=TOY_ANSWER_TOKENS)
