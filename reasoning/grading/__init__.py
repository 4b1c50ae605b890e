"""Grading: extract a final answer from a completion and decide, within a time bound, whether
it equals the reference answer. Pure string maths on sympy; no torch, no model."""

from reasoning.grading.choice import extract_choice
from reasoning.grading.extract import extract_answer
from reasoning.grading.grade import GradeResult, grade, grade_many

__all__ = ["GradeResult", "extract_answer", "extract_choice", "grade", "grade_many"]
