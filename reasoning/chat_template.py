"""Chat formats: a checkpoint's own chat template, or the built-in Qwen3 one, rendered safely.

Each Qwen3 release ships its chat format as a Jinja template (tokenizer_config.json's
`chat_template`, or chat_template.jinja): the 2507 Thinking models open `<think>` in the
generation prompt themselves, the Instruct models never think, the hybrid models switch on
`enable_thinking`. Rendering the checkpoint's own template gives each model exactly its own
prompt. Templates come from downloaded files, so they are untrusted code: they run in Jinja's
immutable sandbox with only the helpers transformers gives them (raise_exception, tojson,
strftime_now) and the same whitespace settings, so the text equals `apply_chat_template`'s.
The built-in format (`format_chat`) is a template too, rendered the same way, and saved with
a tokenizer so that transformers renders the same strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "chat_template.jinja"


class ChatTemplateError(ValueError):
    """A chat template that does not compile, refuses the messages, or tries something unsafe."""


# The hybrid Qwen3 models' format (enable_thinking switches thinking), without tools: an
# assistant turn loses its <think> reasoning unless it comes after the last user query (the
# turn in progress keeps it, e.g. during multi-step tool use); with thinking off, the
# generation prompt closes an empty think block for the model.
QWEN3_CHAT_TEMPLATE = r"""
{%- set ns = namespace(last_query=messages|length - 1, found=false) -%}
{%- for i in range(messages|length - 1, -1, -1) -%}
  {%- set m = messages[i] -%}
  {%- if not ns.found and m.role == 'user'
        and not (m.content.startswith('<tool_response>') and m.content.endswith('</tool_response>')) -%}
    {%- set ns.last_query = i -%}
    {%- set ns.found = true -%}
  {%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
  {%- if m.role == 'system' or m.role == 'user' -%}
    {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
    {%- set reply = m.content -%}
    {%- if m.reasoning_content is defined and m.reasoning_content is not none -%}
      {%- set thought = m.reasoning_content -%}
    {%- elif '</think>' in reply -%}
      {%- set thought = reply.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') -%}
      {%- set reply = reply.split('</think>')[-1].lstrip('\n') -%}
    {%- else -%}
      {%- set thought = '' -%}
    {%- endif -%}
    {%- if loop.index0 > ns.last_query and (loop.last or thought) -%}
      {{- '<|im_start|>assistant\n<think>\n' + thought.strip('\n') + '\n</think>\n\n' + reply.lstrip('\n') -}}
    {%- else -%}
      {{- '<|im_start|>assistant\n' + reply -}}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- else -%}
    {{- raise_exception("unsupported chat role '" + m.role + "': expected 'system', 'user' or 'assistant' (no tools)") -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}
    {{- '<think>\n\n</think>\n\n' -}}
  {%- endif -%}
{%- endif -%}
""".strip()


def format_chat(messages: list[dict], *, add_generation_prompt: bool = True, enable_thinking: bool = True) -> str:
    """Render system/user/assistant turns exactly as Qwen3's official chat template does."""
    return render_chat_template(
        QWEN3_CHAT_TEMPLATE, messages, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking
    )


def render_chat_template(
    template: str, messages: list[dict], *, add_generation_prompt: bool = True, **variables: Any
) -> str:
    """The text of `messages` under `template`; `variables` (enable_thinking, eos_token, ...) reach it as globals."""
    import jinja2

    compiled = _compile(template)
    try:
        return compiled.render(messages=messages, tools=None, documents=None, add_generation_prompt=add_generation_prompt, **variables)
    except jinja2.exceptions.SecurityError as error:
        raise ChatTemplateError(f"the chat template tried an operation the sandbox forbids: {error}") from None
    except jinja2.exceptions.TemplateError as error:
        raise ChatTemplateError(f"the chat template refused the messages: {error}") from None


def read_chat_template(directory: Path) -> str | None:
    """A checkpoint's template: chat_template.jinja, else tokenizer_config.json's `chat_template`, else None.

    A list of named templates (an older tokenizer_config.json form) gives its "default" one.
    """
    path = directory / TEMPLATE_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8")
    config_path = directory / "tokenizer_config.json"
    if not config_path.is_file():
        return None
    try:
        template = json.loads(config_path.read_text(encoding="utf-8")).get("chat_template")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path} is not valid JSON: {error}") from None
    if isinstance(template, list):
        template = {entry.get("name"): entry.get("template") for entry in template}.get("default")
    if template is not None and not isinstance(template, str):
        raise ChatTemplateError(f"{config_path}: chat_template must be a string, got {type(template).__name__}")
    return template


@lru_cache(maxsize=16)
def _compile(template: str):
    """Compile once per template text, in the sandbox with transformers' settings and helpers."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys: bool = False) -> str:
        # Jinja's own tojson escapes HTML characters; chat templates expect plain JSON.
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format: str) -> str:
        return datetime.now().strftime(format)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    environment.filters["tojson"] = tojson
    environment.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    try:
        return environment.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as error:
        raise ChatTemplateError(f"the chat template does not compile (line {error.lineno}): {error.message}") from None
