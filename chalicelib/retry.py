"""Exponential backoff with full jitter for transient backend errors."""
import random
import time

from chalicelib import settings


class TransientError(Exception):
    """A failure worth retrying (throttling, 5xx, connection)."""

    def __init__(self, code, message=""):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code = code


def call_with_retries(fn, attempts=None, base=None, cap=None, sleep=time.sleep, deadline=None):
    """Call `fn()`; on TransientError wait ``uniform(0, min(cap, base*2**n))`` and retry.

    After `attempts` tries (or when the next wait would pass the monotonic
    `deadline`) the last TransientError is raised.
    """
    attempts = attempts or settings.get_int("RETRY_ATTEMPTS", minimum=1)
    base = settings.get_float("RETRY_BASE_SECONDS", minimum=0) if base is None else base
    cap = settings.get_float("RETRY_MAX_SECONDS", minimum=0) if cap is None else cap
    for attempt in range(attempts):
        try:
            return fn()
        except TransientError:
            if attempt == attempts - 1:
                raise
            wait = random.uniform(0, min(cap, base * (2 ** attempt)))
            if deadline is not None and time.monotonic() + wait > deadline:
                raise
            sleep(wait)
