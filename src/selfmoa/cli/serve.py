"""``selfmoa serve``: an embedded model's GGUF on a loopback llama.cpp server, until Ctrl-C.

For ``backend.kind: openai`` runs and ``judge.served`` judges (configs/llamacpp-server.yaml);
the server is the ``xllamacpp`` wheel's, in this process.
"""

from __future__ import annotations

import argparse
import os
import time

from selfmoa.backends.llamacpp_local import model_gguf
from selfmoa.backends.llamacpp_server import LlamaCppServer
from selfmoa.core.errors import SelfMoaError

NAME = "serve"
HELP = "serve an embedded model on a loopback llama.cpp server (OpenAI-compatible API)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="embedded:smollm2-135m-instruct",
        help="an embedded model (embedded:NAME) whose GGUF is served",
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--slots", type=int, default=4, help="parallel sequences")
    parser.add_argument(
        "--context", type=int, default=1024, help="context tokens per slot (prompt and answer)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--api-key-env", default="", help="variable holding the key to demand")


def execute(args: argparse.Namespace) -> None:
    for name in ("port", "slots", "context", "threads"):
        if getattr(args, name) < 1:
            raise SelfMoaError(f"--{name} must be at least 1")
    if not args.model.startswith("embedded:"):
        raise SelfMoaError(
            f"--model must be an embedded model (embedded:NAME), not {args.model}; serve "
            "other models with llama.cpp's llama-server or vLLM"
        )
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not key:
        raise SelfMoaError(f"the environment variable {args.api_key_env} is not set")
    server = LlamaCppServer(
        model_gguf(args.model),
        slots=args.slots,
        context_per_slot=args.context,
        threads=args.threads,
        api_key=key,
        port=args.port,
    )
    try:  # Ctrl-C right after the announcement must still stop the server cleanly
        print(f"serving {args.model} on {server.base_url} (Ctrl-C stops)", flush=True)
        while True:
            # short sleeps: Ctrl-C may reach one of llama.cpp's threads, and Python then
            # raises KeyboardInterrupt only when the main thread next wakes
            time.sleep(0.5)
    except KeyboardInterrupt:  # the way to stop it: not an interruption to report
        print("stopped", flush=True)
    finally:
        server.close()
