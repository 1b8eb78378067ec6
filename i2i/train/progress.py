"""What the user sees while training: a live two-line display on a terminal, plain lines elsewhere.

The rate and the ETA are measured from the end of the first step of this process, not from
its start: start-up (building data and networks, spawning workers, resuming a checkpoint)
and the first step's one-off costs (cuDNN autotuning, compilation, worker warm-up) would
otherwise make the ETA wrong for most of a short run. Every loss the method logs is shown,
grouped by player (the prefix before ``/``): ``G: gan_A=1.02 cycle_A=5.7 | D: A=0.43 B=0.3``.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Mapping, TextIO


def format_time(seconds: float) -> str:
    """``mm:ss`` or ``h:mm:ss``."""
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def group_losses(losses: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Loss keys grouped by player: ``{"G": {"gan_A": ..}, "D": {"A": ..}}``; keys without a
    ``/`` go to the group ``""`` under their own name."""
    groups: dict[str, dict[str, float]] = {}
    for key, value in losses.items():
        player, _, term = key.rpartition("/")
        groups.setdefault(player, {})[term] = value
    return groups


def format_losses(losses: Mapping[str, float]) -> str:
    """Every loss, compactly: ``G: gan=0.71 l1=12.3 | D: real=0.35 fake=0.33``."""
    parts = []
    for player, terms in group_losses(losses).items():
        text = " ".join(f"{term}={value:.3g}" for term, value in terms.items())
        parts.append(f"{player}: {text}" if player else text)
    return " | ".join(parts)


class Progress:
    """``update(step)`` every step is cheap (redraws at most ~5 times a second on a TTY);
    ``log(step, losses)`` prints a plain line when not on a TTY.

    ``rate()``, ``train_seconds()`` and ``steps_timed()`` say how fast the run went, counted
    from the first step this process completed.
    """

    def __init__(
        self, total: int, *, start: int = 0, enabled: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.start_step = start
        self.created = time.monotonic()
        self.t0: float | None = None  # when the first step of this process ended
        self.first_step = start
        self.t_last: float | None = None
        self.last_draw = 0.0
        self.losses: Mapping[str, float] = {}
        self.step = start
        self._drawn_lines = 0  # lines of the live display now on screen (TTY)

    # -- timing ----------------------------------------------------------------------------------
    def _tick(self, step: int) -> None:
        now = time.monotonic()
        if self.t0 is None and step > self.start_step:
            self.t0, self.first_step = now, step
        if step > self.step or self.t_last is None:
            self.t_last = now
        self.step = step

    def steps_timed(self) -> int:
        """Steps completed after the first one (the ones the rate is measured over)."""
        return max(self.step - self.first_step, 0) if self.t0 is not None else 0

    def train_seconds(self) -> float:
        """Seconds from the end of the first step to the end of the latest one."""
        if self.t0 is None or self.t_last is None:
            return 0.0
        return max(self.t_last - self.t0, 0.0)

    def rate(self) -> float:
        """Steps per second after the first step; 0 until two steps are done."""
        seconds, steps = self.train_seconds(), self.steps_timed()
        return steps / seconds if seconds > 0 and steps > 0 else 0.0

    def first_step_seconds(self) -> float:
        """From creating the display (the end of start-up) to the end of the first step."""
        return 0.0 if self.t0 is None else self.t0 - self.created

    # -- drawing ---------------------------------------------------------------------------------
    def status(self) -> str:
        """``12/400 3.41 it/s ETA 01:53`` (no rate or ETA before the second step)."""
        rate = self.rate()
        if rate > 0:
            timing = f"{rate:.2f} it/s ETA {format_time((self.total - self.step) / rate)}"
        else:
            timing = "-- it/s ETA --:--"
        return f"{self.step}/{self.total} {timing}"

    def _line(self) -> str:
        width = 24
        filled = min(width, int(width * self.step / self.total)) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        return f"[{bar}] {self.status()}"

    def _clear(self) -> None:
        """Erase the live display (cursor ends at the start of its first line)."""
        if self._drawn_lines == 2:
            self.stream.write("\r\033[K\033[B\r\033[K\033[A")
        elif self._drawn_lines == 1:
            self.stream.write("\r\033[K")
        self._drawn_lines = 0

    def _draw(self) -> None:
        columns = max(shutil.get_terminal_size((160, 24)).columns - 1, 20)
        self._clear()
        self.stream.write(self._line()[:columns])
        self._drawn_lines = 1
        if self.losses:
            # The second line; the cursor goes back up so the next draw overwrites both.
            self.stream.write("\n\033[K" + format_losses(self.losses)[:columns] + "\r\033[A")
            self._drawn_lines = 2
        self.stream.flush()

    def update(self, step: int) -> None:
        self._tick(step)
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last_draw >= 0.2 or step >= self.total:
            self.last_draw = now
            self._draw()

    def log(self, step: int, losses: Mapping[str, float]) -> None:
        self._tick(step)
        self.losses = losses
        if self.tty:
            self.last_draw = time.monotonic()
            self._draw()
        else:
            self.stream.write(f"step {self.status()}  {format_losses(losses)}\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the live display."""
        if self.tty:
            self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn_lines:
            self.stream.write("\n" * self._drawn_lines)
            self._drawn_lines = 0
            self.stream.flush()
