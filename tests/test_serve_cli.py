"""``selfmoa serve``: bad arguments are one line; the embedded model is served and answers."""

from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from selfmoa.backends.llamacpp_server import free_port
from selfmoa.cli.main import main

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--slots", "0"], "--slots must be at least 1"),
        (["--model", "org/some-hub-model"], "--model must be an embedded model (embedded:NAME)"),
        (["--api-key-env", "SELFMOA_NO_SUCH_VARIABLE"], "SELFMOA_NO_SUCH_VARIABLE is not set"),
    ],
)
def test_bad_arguments_are_one_line(arguments, message, capsys):
    assert main(["serve", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def _default_ctrl_c() -> None:
    """A suite started in the background (``nohup make test &``) inherits SIGINT ignored,
    and a Python started with SIGINT ignored keeps ignoring it: give the child the
    default, as a terminal would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(port: int) -> subprocess.Popen[str]:
    """``selfmoa serve`` of the embedded model on ``port``, one slot, output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "selfmoa", "serve", "--port", str(port), "--slots", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_default_ctrl_c,
    )  # fmt: skip


def test_serve_answers_on_loopback_until_ctrl_c_stops_it_cleanly():
    port = free_port()
    process = start_serve(port)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        served = f"serving embedded:smollm2-135m-instruct on http://127.0.0.1:{port}"
        assert first.startswith(served)
        body = json.dumps({"prompt": "The capital of France is", "max_tokens": 4}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
        assert answer["usage"]["completion_tokens"] == 4 and answer["choices"][0]["text"].strip()
    finally:
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a server behind
            raise
    assert time.monotonic() - started < 30
    assert returncode == 0 and process.stdout.read().strip().endswith("stopped")


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not Path("/proc/self/task").is_dir(),
    reason="needs Linux's /proc and x86-64's tgkill syscall number",
)
def test_ctrl_c_delivered_to_a_llamacpp_thread_still_stops_serve():
    """The kernel may hand a process's SIGINT to any of its threads; Python raises
    KeyboardInterrupt only when the main thread wakes, so serve must wake up often."""
    import ctypes
    import os

    port = free_port()
    process = start_serve(port)
    try:
        assert process.stdout is not None and process.stdout.readline().startswith("serving")
        threads = [int(t) for t in os.listdir(f"/proc/{process.pid}/task") if int(t) != process.pid]
        assert threads  # llama.cpp's server threads
        tgkill = 234  # x86-64 syscall number
        assert ctypes.CDLL(None).syscall(tgkill, process.pid, max(threads), signal.SIGINT) == 0
        returncode = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert returncode == 0 and process.stdout.read().strip().endswith("stopped")
