"""The README's offline walkthrough, run as printed in a fresh folder and data dir: every command works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    """The bash block after the README's ``<!-- walkthrough`` marker."""
    text = README.read_text()
    found = re.search(r"<!-- walkthrough[^>]*-->\s*```bash\n(.*?)```", text, re.S)
    assert found, "the README lost its walkthrough block"
    return found.group(1)


@pytest.mark.slow
def test_the_readme_walkthrough_works_as_printed(tmp_path: Path) -> None:
    # `pixembed` and `python` from this interpreter's environment, as with the virtualenv active; nothing
    # but the bundled model, and a data dir of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXEMBED_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        "PIXEMBED_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "100",
    }
    script = "set -euo pipefail\n" + walkthrough()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    # What the commands left behind is what the README says they make.
    assert len(json.loads((tmp_path / "vectors.jsonl").read_text())["embedding"]) == 128
    rows = json.loads((tmp_path / "vectors.files.json").read_text())
    assert np.load(tmp_path / "vectors.npy").shape == (len(rows), 128) and len(rows) == 12
    assert (tmp_path / "annotated.png").stat().st_size > 0
    assert "groups" in json.loads((tmp_path / "dedup.json").read_text())
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info == {"name": "products", "model": "pixembed-tiny", "dimensions": 128, "count": 12}
    searches = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"id"')]
    assert [hit["id"].split("_")[0] for hit in searches[:3]] == ["red"] * 3
    assert searches[3]["id"] == "blue_square_0.png"
