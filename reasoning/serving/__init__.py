"""`reasoning serve`: the engine behind OpenAI's HTTP API (chat and completions, streamed or not).

requests.py checks a request into the engine's options, responses.py writes the samples back,
reasoning_split.py splits a reply into reasoning and content as vLLM does for Qwen3, app.py
holds the routes, server.py runs them with uvicorn. Needs the `[serve]` extra.
"""
