"""Inference-time scaling: spend more generation on a problem to answer it better.

Self-consistency (`voting`), best-of-N with pluggable scorers (`best_of_n`) and
self-refinement (`refine`), each a function over the generation engine and the grader.
"""

from reasoning.scaling.best_of_n import (
    Candidate,
    Score,
    Scorer,
    best_of_n,
    completion_logprobs,
    heuristic_scores,
    judge_scorer,
    make_scorer,
    mean_logprob_scorer,
    parse_score,
)
from reasoning.scaling.refine import Refinement, Round, self_refine
from reasoning.scaling.voting import Consistency, Vote, VoteGroup, decided, majority_vote, self_consistency

__all__ = [
    "Candidate", "Consistency", "Refinement", "Round", "Score", "Scorer", "Vote", "VoteGroup", "best_of_n",
    "completion_logprobs", "decided", "heuristic_scores", "judge_scorer", "majority_vote", "make_scorer",
    "mean_logprob_scorer", "parse_score", "self_consistency", "self_refine",
]  # fmt: skip
