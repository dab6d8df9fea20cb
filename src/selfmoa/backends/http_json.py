"""POST a JSON body with a timeout and retries with exponential backoff (stdlib urllib).

Retried: connection errors, timeouts, HTTP 408/409/429 and 5xx. Not retried: other
4xx (a wrong key or a bad request will not fix itself). Error messages name the URL
and the status, never the request headers (which hold the API key).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from selfmoa.core.errors import SelfMoaError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): 0.5, 1, 2, 4 ... <= cap."""
    return min(cap, base * (2**attempt))


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        detail = error.read().decode("utf-8", "replace").strip().replace("\n", " ")
    except OSError:
        detail = ""
    return f"HTTP {error.code}" + (f": {detail[:200]}" if detail else "")


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    api_key: str | None,
    timeout_s: float,
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """The decoded JSON reply; one-line SelfMoaError once retries are spent."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    last = ""
    for attempt in range(max_retries + 1):
        if attempt:
            sleep(backoff_delay(attempt - 1))
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            last = _reason(error)
            if error.code not in RETRY_STATUS:
                break
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            last = f"no reply ({reason})"
        except json.JSONDecodeError:
            last = "the reply is not JSON"
    tries = attempt + 1
    raise SelfMoaError(f"{url}: {last} (after {tries} attempt{'s' if tries > 1 else ''})")
