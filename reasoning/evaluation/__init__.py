"""Evaluation: tasks (a problem's prompt, gold and grade), benchmarks, sampling protocols and
strategies, the one pipeline that runs them into records (`run`), the streaming record loop
(`stream`), summaries, comparisons and re-scoring. The map of the whole package is
reasoning/README.md."""
