"""Supervised examples: conversations read from files, rendered in the student's own chat
template, tokenized with the length rule, and cut into length-bucketed batches.

Two kinds of JSON Lines file train the same way (the kind is told by the first record):
- traces (`reasoning.sft.traces`): problem, thinking and answer. The user turn is the
  project's boxed-answer math prompt (`prompt="math"`, what `reasoning eval` asks, so the
  student learns the format it is graded in) or the problem text as is (`prompt="plain"`).
- prompt/response pairs: the user turn and the reply as written; a reply may hold its own
  `<think>...</think>`, taken apart into thinking and answer as a teacher's completion is.
Text holding a control token (`<|im_end|>`, ...) is refused: it would encode to that token.

Rendering: a chat student's prompt is the user turn under its template with the generation
prompt, and the response is the rest of the whole conversation rendered by the same template,
up to and including its end-of-turn token (so the model learns to stop, and exactly the text
`reasoning generate` would show it). A non-thinking student (`thinking=False`) gets the
template's empty think block in its prompt and learns the answer only. A base student (no
chat format) reads the prompt as text and learns `<think>\\n...\\n</think>\\n\\n` + answer +
`<|endoftext|>` (no think block when the thinking is empty).

`load_examples` reads a file into training and held-out examples at once.

Length rule: prompt + response at most `max_length` tokens. Longer examples are dropped, or
(`too_long="truncate"`) keep the response's first tokens and lose its end; an example whose
prompt alone leaves no room for one response token is always dropped.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from reasoning.data import DatasetError, Problem, read_jsonl, short_repr
from reasoning.evaluation.tasks import Task
from reasoning.generation.api import Tokenizer
from reasoning.generation.sampling import request_key
from reasoning.grading.extract import last_boxed
from reasoning.logprobs import TokenRows
from reasoning.prompts import math_prompt
from reasoning.sft.config import SFTConfig
from reasoning.sft.traces import read_traces, split_completion
from reasoning.vocab import control_token_in

PROMPTS = ("math", "plain")
BUCKET_BATCHES = 16  # batches sorted by length together: little padding, still well mixed


@dataclass(frozen=True)
class Conversation:
    """One user turn and the reply to learn; `group` ties the examples of one problem together."""

    user: str
    reply: str
    thinking: str | None = None  # None: the reply's own <think>...</think>, if it has one
    group: str = ""


@dataclass(frozen=True)
class Example:
    """A conversation as token ids: the loss falls on the response only."""

    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]
    group: str = ""
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


def read_conversations(path: str | Path, *, prompt: str = "math") -> list[Conversation]:
    """The conversations of a traces file or a prompt/response file (see the module's docstring)."""
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
    path = Path(path)
    first = _first_record(path)
    if "problem" in first:
        user = math_prompt if prompt == "math" else str
        return [Conversation(user(t.problem), t.answer, t.thinking, t.problem_id or t.problem) for t in read_traces(path)]
    if "prompt" in first:
        return _read_pairs(path)
    raise DatasetError(f"{path}, line 1: expected a trace (problem, thinking, answer) or a pair (prompt, response), got fields {sorted(first)}")


def _first_record(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"training data {path} not found")
    for where, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}")
        return record
    raise DatasetError(f"{path} holds no records")


def _read_pairs(path: Path) -> list[Conversation]:
    conversations = []
    for where, record in read_jsonl(path):
        if not isinstance(record, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for name in ("prompt", "response"):
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                raise DatasetError(f"{where}: field {name!r} must be a non-empty string, got {short_repr(value)}")
            if token := control_token_in(record[name]):
                raise DatasetError(f"{where}: field {name!r} holds the control token {token}, which would end or open a turn mid-text")
        if split_completion(record["response"]) is None:
            raise DatasetError(f"{where}: field 'response' opens <think> without closing it, or has its tags out of place")
        conversations.append(Conversation(record["prompt"], record["response"], group=record["prompt"]))
    return conversations


def render(conversation: Conversation, tokenizer: Tokenizer, *, thinking: bool = True) -> tuple[str, str]:
    """(prompt, response) text of one conversation for the student (see the module's docstring)."""
    shown, answer = conversation.thinking, conversation.reply
    if shown is None:  # a reply that may hold its own thinking: taken apart as a teacher's completion is
        parts = split_completion(answer)
        if parts is None:
            raise ValueError(f"a reply's <think> block is never closed, or its tags are out of place: {short_repr(answer)}")
        shown, answer = parts
    shown = shown if thinking else ""
    if getattr(tokenizer, "base", False):
        think = f"<think>\n{shown.strip()}\n</think>\n\n" if shown else ""
        return conversation.user, think + answer + tokenizer.eos_token
    user = [{"role": "user", "content": conversation.user}]
    reply = {"role": "assistant", "content": answer, "reasoning_content": shown}
    prompt = tokenizer.apply_chat_template(user, add_generation_prompt=True, enable_thinking=thinking)
    whole = tokenizer.apply_chat_template(user + [reply], add_generation_prompt=False, enable_thinking=thinking)
    if not whole.startswith(prompt):
        raise ValueError("the student's chat template does not render a reply after its own generation prompt; train on prompt/response pairs of plain text with a base tokenizer instead")
    response = whole[len(prompt) :]
    end = response.rfind(tokenizer.eos_token)
    if end < 0:
        raise ValueError(f"the student's chat template ends a reply without {tokenizer.eos_token}")
    return prompt, response[: end + len(tokenizer.eos_token)]


def tokenize(
    conversations: Sequence[Conversation], tokenizer: Tokenizer, *, max_length: int, too_long: str = "drop",
    thinking: bool = True,
) -> tuple[list[Example], dict[str, int]]:  # fmt: skip
    """The examples under the length rule, and counts by name: read, kept, dropped, truncated."""
    texts = [render(c, tokenizer, thinking=thinking) for c in conversations]
    prompts = tokenizer.encode_batch([prompt for prompt, _ in texts])
    responses = tokenizer.encode_batch([response for _, response in texts])
    examples, dropped, truncated = [], 0, 0
    for conversation, prompt, response in zip(conversations, prompts, responses):
        room = max_length - len(prompt)
        if len(prompt) + len(response) > max_length and (too_long == "drop" or room < 1):
            dropped += 1
            continue
        cut = len(response) > room
        truncated += cut
        examples.append(Example(tuple(prompt), tuple(response[:room]), conversation.group, cut))
    return examples, {"read": len(conversations), "kept": len(examples), "dropped": dropped, "truncated": truncated}


def split_held_out(examples: Sequence[Example], count: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, held out): the examples of `count` groups (problems) chosen by `seed` are held out,
    so no problem is both trained and evaluated on."""
    groups = sorted({example.group for example in examples})
    if count >= len(groups) and count:
        raise ValueError(f"cannot hold out {count} problems of {len(groups)}: nothing would be left to train on")
    held = set(random.Random(seed).sample(groups, count))
    return [e for e in examples if e.group not in held], [e for e in examples if e.group in held]


@dataclass(frozen=True)
class Examples:
    """Training and held-out examples, and what the length rule did (counts by name)."""

    train: list[Example]
    held_out: list[Example]
    counts: dict[str, int]


def load_examples(
    data: str | Path, tokenizer: Tokenizer, config: SFTConfig, *, prompt: str = "math", thinking: bool = True,
    eval_data: str | Path | None = None, held_out: int = 0,
) -> Examples:  # fmt: skip
    """Examples from `data` for the student's template; held out: those of `eval_data`, or the
    examples of `held_out` problems set aside from `data`."""
    if eval_data is not None and held_out:
        raise ValueError("pass held-out examples as a file (--eval-data) or a number of problems to set aside (--held-out), not both")
    evaluation = read_conversations(eval_data, prompt=prompt) if eval_data is not None else None
    return examples_of(read_conversations(data, prompt=prompt), tokenizer, config, thinking=thinking, evaluation=evaluation, held_out=held_out)


def examples_of(
    conversations: Sequence[Conversation], tokenizer: Tokenizer, config: SFTConfig, *, thinking: bool = True,
    evaluation: Sequence[Conversation] | None = None, held_out: int = 0,
) -> Examples:  # fmt: skip
    """The conversations as examples under the config's length rule; held out: the `evaluation`
    conversations, or the examples of `held_out` problems set aside."""
    rule = {"max_length": config.max_length, "too_long": config.too_long, "thinking": thinking}
    examples, counts = tokenize(conversations, tokenizer, **rule)
    if evaluation is not None:
        return Examples(examples, tokenize(evaluation, tokenizer, **rule)[0], counts)
    train, evaluation_examples = split_held_out(examples, held_out, config.seed)
    return Examples(train, evaluation_examples, counts)


def task_conversations(task: Task, *, prompt: str = "math") -> list[Conversation]:
    """A benchmark's problems that come with a reference solution, as conversations: the problem
    (in the boxed-answer math prompt, or as written) and its solution as the reply, ending in the
    boxed gold answer (GSM8K's calculator notes and final "#### answer" line become that box)."""
    if task.kind != "math":
        raise ValueError(f"{task.name} is multiple choice: it has no worked solutions to learn from")
    user = math_prompt if prompt == "math" else str
    conversations = [Conversation(user(p.question), reference_reply(p), "", p.id) for p in task.problems if (p.solution or "").strip()]
    if not conversations:
        raise ValueError(f"{task.name} has no reference solutions to learn from (math500, gsm8k, minerva and aime24 have them)")
    return conversations


_CALCULATOR = re.compile(r"<<[^<>\n]*>>")  # GSM8K's calculator notes: <<48/2=24>>
_HASH_ANSWER = re.compile(r"\n#### [^\n]*\Z")  # GSM8K's last line: #### 72


def reference_reply(problem: Problem) -> str:
    """A problem's reference solution as the reply to learn: the answer boxed at its end."""
    text = _HASH_ANSWER.sub("", _CALCULATOR.sub("", problem.solution or "")).strip()
    if last_boxed(text) is None:
        text += f"\n\nThe final answer is \\boxed{{{problem.answer}}}."
    return text


def fingerprint(examples: Sequence[Example]) -> str:
    """A short hash of the examples' tokens, in order: a resumed run must train on the same data
    (another file, prompt format or length rule would change its batches and schedule)."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(array("q", (len(example.prompt_ids), *example.prompt_ids, *example.response_ids)).tobytes())
    return digest.hexdigest()[:16]


def steps_per_epoch(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size)


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches (lists of example indices) of one epoch: a seeded shuffle, cut into windows of
    BUCKET_BATCHES batches, each window sorted by length and cut into batches, and the batches
    shuffled. The same (seed, epoch) always gives the same batches, which exact resume needs."""
    order = list(range(len(lengths)))
    random.Random(request_key(seed, epoch)).shuffle(order)
    window, batches = batch_size * BUCKET_BATCHES, []
    for start in range(0, len(order), window):
        bucket = sorted(order[start : start + window], key=lambda index: lengths[index])
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    random.Random(request_key(seed, epoch, 1)).shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_id: int, device: torch.device | str = "cpu") -> TokenRows:
    """Right-padded prompt + response rows; the completion mask marks the response tokens.

    Rows with the same prompt go next to each other, so the log-prob pass runs that prompt
    once for all of them (several traces of one problem)."""
    examples = sorted(examples, key=lambda e: e.prompt_ids)
    width = max(map(len, examples))
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros(len(examples), width, dtype=torch.long)
    completion = torch.zeros(len(examples), width - 1)
    for row, example in enumerate(examples):
        prompt, size = len(example.prompt_ids), len(example)
        ids[row, :size] = torch.tensor(example.prompt_ids + example.response_ids)
        attention[row, :size] = 1
        completion[row, prompt - 1 : size - 1] = 1
    return TokenRows(ids.to(device), attention.to(device), completion.to(device))
