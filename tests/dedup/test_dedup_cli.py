"""``pixembed dedup`` and ``pixembed cluster`` on a folder: JSON, the HTML report, dry run vs --yes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixembed.cli import app

runner = CliRunner()
TINY = ["--model", "pixembed-tiny"]


@pytest.fixture
def folder(tmp_path: Path, duplicate_sets: list[list[bytes]]) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for n, group in enumerate(duplicate_sets):
        for i, data in enumerate(group):
            (root / f"s{n}_{i}.{'jpg' if i == 1 else 'png'}").write_bytes(data)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def _self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script src" not in page and "@import" not in page


def test_dedup_json_report_and_dry_run_then_move(folder: Path, tmp_path: Path) -> None:
    report, target = tmp_path / "dedup.html", tmp_path / "dupes"
    (target).mkdir()
    (target / "s0_1.jpg").write_bytes(b"already here")  # must not be overwritten
    args = ["dedup", str(folder), "--json", "--report", str(report), "--move-duplicates", str(target), *TINY]
    dry = runner.invoke(app, args)
    assert dry.exit_code == 0, dry.stderr
    result = json.loads(dry.stdout)
    names = {i["id"]: i["name"] for i in result["items"]}
    groups = sorted(sorted(names[m] for m in g["members"]) for g in result["groups"])
    assert groups[0] == ["s0_0.png", "s0_1.jpg", "s0_2.png"] and len(groups) == 4
    assert "broken.png" in dry.stderr and "would move" in dry.stderr
    assert len(list(folder.iterdir())) == 13 and (target / "s0_1.jpg").read_bytes() == b"already here"

    page = report.read_text()
    _self_contained(page)
    assert page.count("data:image/jpeg;base64,") == 12 and "KEEP" in page and "DROP" in page

    moved = runner.invoke(app, ["dedup", str(folder), "--move-duplicates", str(target), "--yes", *TINY])
    assert moved.exit_code == 0, moved.stderr
    left = sorted(p.name for p in folder.iterdir())
    assert left == ["broken.png", "s0_0.png", "s1_0.png", "s2_0.png", "s3_0.png"]
    assert (target / "s0_1.jpg").read_bytes() == b"already here" and (target / "s0_1-1.jpg").exists()
    assert len(list(target.iterdir())) == 9


def test_cluster_with_labels_and_report(folder: Path, tmp_path: Path) -> None:
    report, out = tmp_path / "clusters.html", tmp_path / "clusters.json"
    labels = ["a red circle", "a blue square", "a green triangle", "a yellow star"]
    args = ["cluster", str(folder), "--model", "pixembed-tiny", "-o", str(out), "--report", str(report)]
    result = runner.invoke(app, args + [arg for label in labels for arg in ("-l", label)])
    assert result.exit_code == 0, result.stderr
    body = json.loads(out.read_text())
    assert body["k"] == 4 and sorted(c["label"] for c in body["clusters"]) == sorted(labels)
    page = report.read_text()
    _self_contained(page)
    assert "<svg" in page and page.count("<circle") == 12 and "a red circle" in page


def test_bad_method_exits_with_a_message(folder: Path) -> None:
    result = runner.invoke(app, ["dedup", str(folder), "--method", "md5"])
    assert result.exit_code != 0


def test_move_takes_only_safe_copies_and_reports_borderline_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pixembed.cli.dedup import move_safe_copies

    folder, target = tmp_path / "photos", tmp_path / "dupes"
    folder.mkdir()
    paths = [folder / name for name in ("keep.png", "copy.png", "near.png")]
    for path in paths:
        path.write_bytes(b"x")
    copies = [
        {"id": "1", "distance": 2, "similarity": 0.99, "safe": True, "reason": "margin"},
        {"id": "2", "distance": 14, "similarity": 0.81, "safe": False, "reason": "borderline"},
    ]
    result = {
        "hash_threshold": 14,
        "similarity_threshold": 0.8,
        "groups": [{"keep": "0", "copies": copies}],
        "drop": ["1"],
        "borderline": ["2"],
    }
    move_safe_copies(folder, paths, result, target, yes=True)
    said = capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["keep.png", "near.png"]
    assert [p.name for p in target.iterdir()] == ["copy.png"]
    assert "copy of keep.png: 2/14 bits, cosine 0.990/0.8; margin" in said
    assert f"borderline, not moved: {paths[2]} (near keep.png: 14/14 bits, cosine 0.810/0.8)" in said
