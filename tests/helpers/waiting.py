"""Waiting in tests for something another thread or process does."""
import time


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """The first true value `predicate()` returns within `timeout` seconds; AssertionError naming `what` if none."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
