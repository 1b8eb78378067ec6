"""What the user sees while training: a one-line progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Mapping, TextIO


def _fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def format_losses(losses: Mapping[str, float], limit: int = 4) -> str:
    return " ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:limit])


class Progress:
    """``update(step)`` every step is cheap (redraws at most ~5 times a second on a TTY);
    ``log(step, losses)`` prints a plain line when not on a TTY."""

    def __init__(self, total: int, *, start: int = 0, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.start_step = start
        self.t0 = time.monotonic()
        self.last_draw = 0.0
        self.losses: Mapping[str, float] = {}
        self.step = start

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.t0
        done = self.step - self.start_step
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    def _line(self) -> str:
        rate = self._rate()
        eta = (self.total - self.step) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * self.step / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        return f"[{bar}] {self.step}/{self.total} {rate:.2f} it/s ETA {_fmt_time(eta)} {format_losses(self.losses)}"

    def update(self, step: int) -> None:
        self.step = step
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last_draw >= 0.2 or step >= self.total:
            self.last_draw = now
            self.stream.write("\r" + self._line()[:160] + "\033[K")
            self.stream.flush()

    def log(self, step: int, losses: Mapping[str, float]) -> None:
        self.step = step
        self.losses = losses
        if self.tty:
            self.update(step)
        else:
            self.stream.write("step " + self._line().split("] ", 1)[1] + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the bar."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
