"""The run report opens in a real browser: every sample image decodes, every curve is drawn.

Runs headless Chromium on ``OUT/index.html`` from disk; the page's own inline script writes
what it found into ``#report-check``, which ``--dump-dom`` shows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from train_support import dummy_config, dummy_host, make_paired

from i2i.train.trainer import Trainer

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (.ci/run installs Debian's chromium)"
)


def _check(page: Path, profile: Path) -> dict[str, str]:
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'<p id="report-check"([^>]*)>', proc.stdout)
    assert match, f"no report-check element in the dumped DOM (rc={proc.returncode}): {proc.stderr[-2000:]}"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(1)))


def test_report_renders_in_headless_chromium(tmp_path):
    host = dummy_host()
    cfg = dummy_config(host, make_paired(tmp_path / "data"), steps=6, log_every=1, sample_every=3)
    out = tmp_path / "out"
    Trainer(cfg, out_dir=out, host=host, progress=False).fit()

    result = _check(out / "index.html", tmp_path / "profile")
    assert result["images"] == "2" and result["images-ok"] == "true", result  # samples at steps 3 and 6
    assert int(result["curves"]) >= 2 and result["curves-ok"] == "true", result

    # the check is not vacuous: a missing image is reported as such
    broken = out / "broken.html"
    broken.write_text((out / "index.html").read_text().replace("samples/step_000003.png", "samples/missing.png"))
    result = _check(broken, tmp_path / "profile2")
    assert result["images-ok"] == "false", result
