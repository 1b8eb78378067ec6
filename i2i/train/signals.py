"""SIGINT/SIGTERM/SIGHUP: finish the current step, write a checkpoint, exit cleanly.

The first signal only sets a flag that the loop checks between steps; a second SIGINT
interrupts at once (KeyboardInterrupt), for when the current step hangs.

``timeout``, SLURM's ``scancel``, a job time limit and a closed SSH session signal the whole
process group, DataLoader workers included. A worker killed by the signal would make the main
process raise "DataLoader worker ... is killed by signal" at any point, losing the run, so
workers ignore the stop signals (:func:`ignore_stop_signals`, their ``worker_init_fn``): the
main process decides, saves, and shuts them down as usual. A worker whose main process dies
(SIGKILL) still exits by itself (the DataLoader's parent watchdog).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

#: The signals that ask a run to stop (SIGHUP: the terminal or SSH session went away).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def ignore_stop_signals(worker_id: int = 0) -> None:
    """``worker_init_fn`` of every DataLoader: leave stop requests to the main process."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class StopRequest:
    """Installs the handlers while active (main thread only); ``requested`` is the flag."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
