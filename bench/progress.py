"""Progress lines, flushed at once so `make` shows them while the bench runs."""

import time

STARTED = time.perf_counter()


def say(msg):
    print(msg, flush=True)


class Steps:
    def __init__(self, total):
        self.total, self.done = total, 0

    def next(self, what):
        self.done += 1
        say(f"[{self.done}/{self.total}] {what} ... ({time.perf_counter() - STARTED:.0f} s elapsed)")


def percent(items, label, every=0.1):
    """Yields from `items` (a sized sequence), printing a line at each `every` fraction."""
    total, step, started = len(items), max(1, int(len(items) * every)), time.perf_counter()
    for i, item in enumerate(items):
        yield item
        if (i + 1) % step == 0 or i + 1 == total:
            say(f"      {label}: {100 * (i + 1) // total:3d}% ({i + 1:,}/{total:,}, "
                f"{time.perf_counter() - started:.1f} s)")
