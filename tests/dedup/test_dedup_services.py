"""The search kernels against brute force, keep rules, and the job runner's lifecycle."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pixembed.errors import InvalidRequest
from pixembed.services.dedup import Catalogue, find_duplicates
from pixembed.services.hashing import codes_from_hex, hamming_distance, hamming_pairs
from pixembed.services.jobs import JobRunner
from pixembed.services.neighbours import similar_pairs


def test_hamming_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    hexes = [f"{v:016x}" for v in rng.integers(0, 2**63, 300)]
    # Near copies: flip a few bits of some hashes.
    for i in range(0, 60, 3):
        hexes[i + 1] = f"{int(hexes[i], 16) ^ (1 << int(rng.integers(0, 63))) ^ 0b1011:016x}"
    a, b, dist = hamming_pairs(codes_from_hex(hexes), 6)
    found = {(int(x), int(y), int(d)) for x, y, d in zip(a, b, dist, strict=True)}
    expected = {
        (i, j, hamming_distance(hexes[i], hexes[j]))
        for i in range(300)
        for j in range(i + 1, 300)
        if hamming_distance(hexes[i], hexes[j]) <= 6
    }
    assert found == expected and len(expected) >= 20


def test_ivf_pairs_agree_with_exact_on_clustered_vectors() -> None:
    rng = np.random.default_rng(5)
    base = rng.standard_normal((400, 64)).astype(np.float32)
    copies = base[:100] + 0.05 * rng.standard_normal((100, 64)).astype(np.float32)
    vectors = np.vstack([base, copies])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = similar_pairs(vectors, 0.95)
    approximate = similar_pairs(vectors, 0.95, exact_max=100)  # forces the IVF path
    exact_set = set(zip(exact[0].tolist(), exact[1].tolist(), strict=True))
    approx_set = set(zip(approximate[0].tolist(), approximate[1].tolist(), strict=True))
    assert {(i, 400 + i) for i in range(100)} <= exact_set
    assert approx_set <= exact_set and len(approx_set) >= 0.9 * len(exact_set)


def test_keep_rules_and_semantic_without_vectors() -> None:
    same = "f0f0f0f0f0f0f0f0"
    cat = Catalogue(
        ids=["a", "b", "c"],
        names=[None] * 3,
        widths=[100, 400, 200],
        heights=[100, 400, 200],
        sizes=[900, 100, 500],
        ages=[3.0, 2.0, 1.0],
        hashes={"phash": [same, same, same]},
    )
    assert find_duplicates(cat, "phash", keep="resolution").groups[0].keep == 1
    assert find_duplicates(cat, "phash", keep="size").groups[0].keep == 0
    oldest = find_duplicates(cat, "phash", keep="oldest")
    assert oldest.groups[0].keep == 2 and oldest.drop == [0, 1]
    with pytest.raises(InvalidRequest, match="needs embeddings"):
        find_duplicates(cat, "semantic")


def test_job_runner_reports_progress_result_and_errors() -> None:
    runner = JobRunner(workers=1)

    def work(progress: object) -> int:
        assert callable(progress)
        progress(0.5)
        return 42

    def broken(_: object) -> None:
        raise InvalidRequest("bad input")

    done, failed = runner.submit("t", work), runner.submit("t", broken)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and {done.status, failed.status} - {"done", "failed"}:
        time.sleep(0.01)
    assert (done.status, done.progress, done.result) == ("done", 1.0, 42)
    assert failed.status == "failed" and failed.error is not None and failed.error.message == "bad input"
    runner.close()
