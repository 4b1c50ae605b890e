"""Few-shot base-model prompts (evaluation/fewshot.py): the standard exemplars, laid out as
lm-evaluation-harness lays them out, and the stop strings that keep a base model's next
question out of the graded answer."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

import scripted
from reasoning.data import Problem
from reasoning.evaluation.benchmarks import load_benchmark, load_benchmarks
from reasoning.evaluation.fewshot import FORMATS, check_shots, load_fewshot, package_shots
from reasoning.evaluation.protocols import PROTOCOLS
from reasoning.evaluation.rundir import read_task
from reasoning.evaluation.run import evaluate
from reasoning.generation.api import GenerationConfig, generate

FIXTURES = Path(__file__).parent / "data" / "benchmarks"


def test_the_shipped_exemplars_are_wei_et_al_and_minervas_first_and_last():
    gsm8k, minerva = package_shots("gsm8k-cot"), package_shots("minerva")
    assert len(gsm8k) == 8 and len(minerva) == 4
    # Wei et al. 2022, Table 20 (as lm-evaluation-harness gsm8k-cot.yaml gives it).
    assert gsm8k[0].question == (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
        "there will be 21 trees. How many trees did the grove workers plant today?"
    )
    assert gsm8k[0].answer == (
        "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. "
        "The answer is 6."
    )
    assert gsm8k[7].answer.endswith("So she has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8.")
    # Lewkowycz et al. 2022, the 4-shot MATH prompt (lm-evaluation-harness minerva_math/utils.py).
    assert minerva[1].question == "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} \\mathbf{B}).$"
    assert minerva[1].answer == (
        "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = \\boxed{24}.$\n"
        "Final Answer: The final answer is $24$. I hope it is correct."
    )
    for name in ("gsm8k_cot", "minerva"):  # each data file names its source
        source = json.loads((Path(__file__).parents[1] / "reasoning/evaluation/fewshot_data" / f"{name}.json").read_text())["source"]
        assert "et al. 2022" in source and "lm-evaluation-harness" in source


def test_gsm8k_two_shot_prompt_is_lm_evaluation_harness_gsm8k_cot():
    shots = load_fewshot("gsm8k", "math", 2)
    problem = Problem("0", "How many?", "3")
    assert shots.prompt(problem) == (
        "Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 "
        "trees. How many trees did the grove workers plant today?\n"
        "A: There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. "
        "The answer is 6.\n\n"
        "Q: If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?\n"
        "A: There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.\n\n"
        "Q: How many?\nA:"
    )
    assert shots.stop == ("Q:", "</s>", "<|im_end|>")
    assert shots.settings() == {"shots": 2, "fewshot_format": "gsm8k-cot", "stop": ["Q:", "</s>", "<|im_end|>"]}


def test_math_benchmarks_take_minervas_problem_solution_format():
    shots = load_fewshot("math500", "math", 1)
    assert shots.prompt(Problem("0", "What is $1+1$?", "2")) == (
        "Problem:\nFind the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}\n\n"
        "Solution: The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, and "
        "$5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, "
        "the domain of the expression is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is $[2,5)$. I hope it is correct.\n\n"
        "Problem:\nWhat is $1+1$?\n\nSolution:"
    )
    assert shots.stop == ("Problem:",)


DEV = [
    {"question": "Find the degree of Q(sqrt(2)) over Q. ", "subject": "abstract_algebra", "choices": ["0", "1", "2", "4"], "answer": 2},
    {"question": "What is a star?", "subject": "astronomy", "choices": ["gas", "rock", "ice", "dust"], "answer": 0},
    {"question": "Is Z a group?", "subject": "abstract_algebra", "choices": ["yes", "no", "maybe", "never"], "answer": 0},
]


def test_mmlu_takes_the_dev_split_shots_of_the_questions_subject_from_a_local_copy(tmp_path):
    (tmp_path / "mmlu_dev.jsonl").write_text("".join(json.dumps(row) + "\n" for row in DEV))
    shots = load_fewshot("mmlu-stem", "choice", 2, data_dir=tmp_path)
    problem = Problem("0", "Which group is cyclic?", "A", subject="abstract_algebra", meta={"choices": ["Z", "S3", "A4", "D4"]})
    # Hendrycks et al. 2021 / lm-evaluation-harness mmlu: the subject header, "A. ..." options, " X" answers.
    assert shots.prompt(problem) == (
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Find the degree of Q(sqrt(2)) over Q.\nA. 0\nB. 1\nC. 2\nD. 4\nAnswer: C\n\n"
        "Is Z a group?\nA. yes\nB. no\nC. maybe\nD. never\nAnswer: A\n\n"
        "Which group is cyclic?\nA. Z\nB. S3\nC. A4\nD. D4\nAnswer:"
    )
    with pytest.raises(ValueError, match="1 exemplars for subject 'astronomy', fewer than the 2"):
        shots.prompt(Problem("1", "Q?", "A", subject="astronomy", meta={"choices": ["a", "b"]}))


def test_mmlu_dev_split_loads_from_the_hub_and_says_so_when_it_cannot(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, split: calls.append((*a, split)) or DEV))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert len(load_fewshot("mmlu-stem", "choice", 5, data_dir=tmp_path).shots) == 3  # no local copy: the hub's
    assert calls == [("cais/mmlu", "all", "dev")]

    def unreachable(*args, split):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=unreachable))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # closed: the check fails at once
    with pytest.raises(ValueError, match="5-shot exemplars come from the dev split of cais/mmlu, which cannot be loaded .*--shots 0"):
        load_fewshot("mmlu-stem", "choice", 5)


@pytest.mark.parametrize(
    ("tasks", "k", "message"),
    [([("gsm8k", "math")], 9, "gsm8k's few-shot format \\(gsm8k-cot\\) has 8 exemplars; --shots 9"),
     ([("math500", "math")], 5, "minerva\\) has 4 exemplars"),
     ([("gpqa-diamond", "choice")], 1, "gpqa-diamond has no few-shot format"),
     ([("gsm8k", "math")], -1, "--shots must be >= 0")],
)  # fmt: skip
def test_shot_counts_no_format_has_are_refused(tasks, k, message):
    with pytest.raises(ValueError, match=message):
        check_shots(tasks, k)


def test_every_format_names_its_source_and_stops_and_none_shots_means_its_standard_number():
    assert all(fmt.source and fmt.stop and fmt.shots for fmt in FORMATS.values())
    assert [load_fewshot(name, "math", None).k for name in ("gsm8k", "minerva")] == [8, 4]


# -- the stop strings decide which answer is graded ---------------------------------------------
TOKENIZER = scripted.tokenizer()
# After the prompt's last ":" ("A:"), the model answers 18 (the gold), then writes the next
# question and answers it 7, as a base model does: " 18\n\nQ:\nThen \boxed{7}".
CONTINUATION = " 18\n\nQ:\nThen \\boxed{7}"


def _model():
    [colon] = TOKENIZER.encode(":")
    ids = TOKENIZER.encode(CONTINUATION)
    assert colon not in ids and len(set(ids)) == len(ids)  # each token leads to one next token
    return scripted.scripted_model({colon: {ids[0]: scripted.SURE}, **scripted.chain(ids, TOKENIZER.eos_token_ids[0])})


def test_with_the_formats_stop_strings_the_first_answer_is_graded_without_them_the_second(tmp_path):
    model = _model()
    [task] = load_benchmarks(["gsm8k"], data_dir=FIXTURES, limit=1)
    protocol = PROTOCOLS["greedy"].with_overrides(max_new_tokens=32, shots=8)
    evaluate(model, TOKENIZER, [task], tmp_path, model_name="scripted", protocol=protocol, kind="base", progress=False)
    settings, [record] = read_task(tmp_path, "gsm8k")
    assert settings["shots"] == 8 and settings["stop"] == ["Q:", "</s>", "<|im_end|>"]
    [sample] = record["samples"]
    assert sample["text"] == " 18\n\n" and sample["correct"]

    prompt = load_fewshot("gsm8k", "math", 8).prompt(task.problems[0])
    [unstopped] = generate(model, TOKENIZER, [prompt], GenerationConfig(max_new_tokens=32))
    assert unstopped.text == CONTINUATION
    assert task.grade(task.problems[0], unstopped.text).extracted == "7"  # the second question's answer, wrong


def test_loglik_scoring_reads_the_letter_after_the_shots(tmp_path):
    biology = [{**row, "subject": "college_biology"} for row in DEV[:2]]
    (tmp_path / "mmlu_dev.jsonl").write_text("".join(json.dumps(row) + "\n" for row in biology))
    task = load_benchmark("mmlu-stem", data_dir=FIXTURES, limit=1)  # a college_biology question
    evaluate(scripted.scripted_model({}), TOKENIZER, [task], tmp_path / "run", model_name="scripted", scoring="loglik",
             protocol=PROTOCOLS["greedy"].with_overrides(shots=2), data_dir=tmp_path, progress=False)  # fmt: skip
    settings, [record] = read_task(tmp_path / "run", "mmlu-stem")
    assert settings["shots"] == 2 and record["samples"][0]["text"][-1] in "ABCD"
    assert record["prompt"].startswith("The following are multiple choice questions (with answers) about college biology.\n\n"
                                       "Find the degree of Q(sqrt(2)) over Q.\nA. 0\nB. 1\nC. 2\nD. 4\nAnswer: C\n\n")
    assert record["prompt"].endswith("D. increase the mortality rate\nAnswer:")


def test_a_runs_prompt_preset_is_in_its_settings_and_its_records(tmp_path):
    [task] = load_benchmarks(["gsm8k"], data_dir=FIXTURES, limit=1)
    protocol = PROTOCOLS["greedy"].with_overrides(max_new_tokens=4, prompt="r1")
    evaluate(_model(), TOKENIZER, [task], tmp_path, model_name="scripted", protocol=protocol, kind="base", progress=False)
    settings, [record] = read_task(tmp_path, "gsm8k")
    assert settings["prompt"] == "r1" and not settings.get("shots") and "stop" not in settings
    assert record["prompt"] == f"{task.problems[0].question}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
