"""Checkpoint chat templates: rendered as transformers renders them, in a sandbox, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoning.chat_template import QWEN3_CHAT_TEMPLATE, ChatTemplateError, render_chat_template
from reasoning.tokenizer import Qwen3Tokenizer

# Modelled on the 2507 releases: the Thinking model's generation prompt opens <think> itself and
# earlier replies lose their reasoning; the Instruct model never thinks. Written with and
# without whitespace control, tool calls through tojson, and raise_exception, so every
# rendering setting and helper that transformers provides is exercised.
THINKING_2507 = """{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{% for message in messages %}
    {% if message.role == 'user' %}
<|im_start|>user
{{ message.content }}<|im_end|>
    {% elif message.role == 'assistant' %}
        {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
        {{- '<|im_start|>assistant\\n' + content }}
        {%- for call in message.tool_calls or [] %}
            {{- '\\n<tool_call>\\n' + (call | tojson) + '\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {% elif message.role != 'system' %}
        {{- raise_exception('Unexpected message role: ' + message.role) }}
    {% endif %}
{% endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n<think>\\n' }}
{%- endif %}"""

INSTRUCT_2507 = THINKING_2507.replace("'<|im_start|>assistant\\n<think>\\n'", "'<|im_start|>assistant\\n'")

SYSTEM = {"role": "system", "content": "You are a careful mathematician."}
USER = {"role": "user", "content": "What is 1/2 + 1/3? Put the answer in \\boxed{}."}
REPLY = {"role": "assistant", "content": "<think>\nCommon denominator 6.\n</think>\n\nIt is \\boxed{\\frac{5}{6}}."}
TOOL_REPLY = {
    "role": "assistant",
    "content": "Let me check.",
    "tool_calls": [{"name": "calculatrice", "arguments": {"expression": "1/2 + 1/3", "unité": "é"}}],
}
FOLLOW_UP = {"role": "user", "content": "And 1/4 + 1/4?"}
CONVERSATIONS = {
    "user": [USER],
    "system": [SYSTEM, USER],
    "multi-turn": [SYSTEM, USER, REPLY, FOLLOW_UP],
    "tool-call": [USER, TOOL_REPLY, FOLLOW_UP],
}


@pytest.fixture(scope="module")
def tokenizer_files(tmp_path_factory) -> Path:
    """tokenizer.json and tokenizer_config.json of Qwen3, built offline."""
    with pytest.warns(UserWarning, match="offline"):
        tokenizer = Qwen3Tokenizer.from_pretrained(tmp_path_factory.mktemp("empty"))
    return tokenizer.save_pretrained(tmp_path_factory.mktemp("tokenizer"))


def checkpoint_with(tokenizer_files: Path, directory: Path, *, config_template: str | None, jinja_file: str | None) -> Path:
    """A tokenizer directory whose template lives in tokenizer_config.json and/or chat_template.jinja."""
    directory.mkdir()
    (directory / "tokenizer.json").write_bytes((tokenizer_files / "tokenizer.json").read_bytes())
    config = json.loads((tokenizer_files / "tokenizer_config.json").read_text())
    config.pop("chat_template")
    if config_template is not None:
        config["chat_template"] = config_template
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    if jinja_file is not None:
        (directory / "chat_template.jinja").write_text(jinja_file)
    return directory


CHECKPOINTS = {  # name -> (template in tokenizer_config.json, chat_template.jinja)
    "thinking-2507-in-config": (THINKING_2507, None),
    "instruct-2507-in-jinja-file": (None, INSTRUCT_2507),
    "hybrid-jinja-file-wins": (INSTRUCT_2507, QWEN3_CHAT_TEMPLATE),
}


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_rendering_equals_transformers_apply_chat_template(tokenizer_files, tmp_path, name):
    import transformers

    config_template, jinja_file = CHECKPOINTS[name]
    directory = checkpoint_with(tokenizer_files, tmp_path / name, config_template=config_template, jinja_file=jinja_file)
    ours = Qwen3Tokenizer.from_pretrained(directory)
    theirs = transformers.AutoTokenizer.from_pretrained(directory)
    assert ours.chat_template == (jinja_file or config_template)
    for messages in CONVERSATIONS.values():
        for thinking in (True, False):
            for prompt in (True, False):
                kwargs = dict(add_generation_prompt=prompt, enable_thinking=thinking)
                expected = theirs.apply_chat_template(messages, tokenize=False, **kwargs)
                assert ours.apply_chat_template(messages, **kwargs) == expected, (messages, kwargs)
                assert ours.apply_chat_template(messages, tokenize=True, **kwargs) == ours.encode(expected)


def test_thinking_and_instruct_models_get_their_own_prompts(tokenizer_files, tmp_path):
    thinking = Qwen3Tokenizer.from_pretrained(checkpoint_with(tokenizer_files, tmp_path / "t", config_template=THINKING_2507, jinja_file=None))
    instruct = Qwen3Tokenizer.from_pretrained(checkpoint_with(tokenizer_files, tmp_path / "i", config_template=None, jinja_file=INSTRUCT_2507))
    for enable_thinking in (True, False):  # neither template has a switch
        assert thinking.apply_chat_template([USER], enable_thinking=enable_thinking).endswith("<|im_start|>assistant\n<think>\n")
        assert instruct.apply_chat_template([USER], enable_thinking=enable_thinking).endswith("<|im_end|>\n<|im_start|>assistant\n")
    multi = thinking.apply_chat_template(CONVERSATIONS["multi-turn"])
    assert "Common denominator" not in multi and "\\boxed{\\frac{5}{6}}" in multi


def test_without_a_template_the_builtin_format_is_used(tokenizer_files, tmp_path):
    from reasoning.tokenizer import format_chat

    plain = Qwen3Tokenizer.from_pretrained(checkpoint_with(tokenizer_files, tmp_path / "plain", config_template=None, jinja_file=None))
    assert plain.chat_template is None
    assert plain.apply_chat_template([SYSTEM, USER], enable_thinking=False) == format_chat([SYSTEM, USER], enable_thinking=False)


def test_saved_tokenizer_keeps_the_checkpoint_template(tokenizer_files, tmp_path):
    source = checkpoint_with(tokenizer_files, tmp_path / "source", config_template=THINKING_2507, jinja_file=None)
    saved = Qwen3Tokenizer.from_pretrained(source).save_pretrained(tmp_path / "saved")
    assert Qwen3Tokenizer.from_pretrained(saved).chat_template == THINKING_2507


def test_stop_ids_come_from_generation_config(tokenizer_files, tmp_path):
    directory = checkpoint_with(tokenizer_files, tmp_path / "gen", config_template=None, jinja_file=None)
    assert Qwen3Tokenizer.from_pretrained(directory).eos_token_ids == (151645, 151643)
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": 151645}))
    assert Qwen3Tokenizer.from_pretrained(directory).eos_token_ids == (151645,)


# ---------------------------------------------------------------------------- untrusted templates


def test_raise_exception_becomes_a_clear_error():
    with pytest.raises(ChatTemplateError, match="refused the messages: Unexpected message role: tool"):
        render_chat_template(THINKING_2507, [{"role": "tool", "content": "{}"}])


@pytest.mark.parametrize(
    "template",
    [
        "{{ messages.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}",
        "{% set _ = messages.append({'role': 'user'}) %}",
    ],
)
def test_sandbox_blocks_escapes_and_mutation(template):
    messages = [USER]
    with pytest.raises(ChatTemplateError, match="sandbox forbids"):
        render_chat_template(template, messages)
    assert messages == [USER]


def test_syntax_error_names_the_line():
    with pytest.raises(ChatTemplateError, match=r"does not compile \(line 2\)"):
        render_chat_template("{{ messages }}\n{% if %}", [USER])
