"""`reasoning serve`: argument parsing and the ready line; the server is `reasoning.serving`."""

from __future__ import annotations

import argparse
import os

from reasoning.commands.generate import DTYPES, QUANTIZE
from reasoning.flags import positive_int

KEY_VARIABLE = "REASONING_API_KEY"


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number (0 to 65535), got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0 to 65535), got {text}")
    return value


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve`."""
    parser = subparsers.add_parser(
        "serve", help="serve a model with the OpenAI API (chat and completions, streamed, continuous batching; needs [serve])"
    )
    parser.add_argument(
        "--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or a preset (0.6B) for random weights"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=port, default=8000, help="port to listen on (0: any free one)")
    parser.add_argument(
        "--api-key", default=None, help=f"the key clients must send (Authorization: Bearer KEY); default: ${KEY_VARIABLE}, else none"
    )
    parser.add_argument("--served-model-name", default=None, help="the model name clients ask for (default: the --model text)")
    parser.add_argument("--max-batch-size", type=positive_int, default=32, help="sequences decoded together")
    parser.add_argument(
        "--max-cache-tokens",
        type=positive_int,
        default=None,
        help="cap on the KV cache in tokens (default: max-batch-size sequences of the whole context)",
    )
    parser.add_argument("--max-waiting", type=positive_int, default=256, help="requests that may wait for the engine; more get 429")
    parser.add_argument("--max-n", type=positive_int, default=16, help="the most samples (n) one request may ask for")
    parser.add_argument("--max-body-bytes", type=positive_int, default=4 * 2**20, help="the largest request body; larger ones get 413")
    parser.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps, xpu")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile the decode step")
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> None:
    try:
        from reasoning.serving.server import ServeOptions, serve
    except ImportError as error:
        raise ValueError(f"reasoning serve needs {error.name or 'starlette and uvicorn'}: pip install 'reasoning[serve]'") from None
    options = ServeOptions(
        args.model, args.host, args.port, args.api_key or os.environ.get(KEY_VARIABLE) or None, args.served_model_name,
        args.max_batch_size, args.max_cache_tokens, args.max_waiting, args.max_n, args.max_body_bytes,
        args.quantize, args.dtype, args.device, args.compile,
    )  # fmt: skip
    name = options.served_model_name or options.model
    serve(options, lambda url: print(f"serving {name} on {url}", flush=True))
