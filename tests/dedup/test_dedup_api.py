"""POST /v1/dedup, /v1/cluster, collection runs, the duplicate check and jobs, through the real app."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import MakeClient


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def flat(sets: list[list[bytes]]) -> list[bytes]:
    return [image for group in sets for image in group]


@pytest.mark.parametrize("method", ["phash", "dhash", "semantic", "combined"])
def test_copies_group_together_and_different_shapes_do_not(
    client: TestClient, duplicate_sets: list[list[bytes]], method: str
) -> None:
    images = flat(duplicate_sets)
    response = client.post("/v1/dedup", json={"images": [b64(i) for i in images], "method": method})
    assert response.status_code == 200, response.text
    body = response.json()
    groups = sorted(sorted(g["members"], key=int) for g in body["groups"])
    assert groups == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8"], ["9", "10", "11"]]
    # keep="resolution": the full-size original (first of each set) is kept, the copies dropped.
    assert sorted(g["keep"] for g in body["groups"]) == ["0", "3", "6", "9"]
    assert sorted(body["drop"], key=int) == ["1", "2", "4", "5", "7", "8", "10", "11"]
    pair = body["pairs"][0]
    if method in ("phash", "dhash", "combined"):  # combined: the four hashes' joint distance, of 256 bits
        assert 0 <= pair["distance"] <= (256 if method == "combined" else 64)
    if method in ("semantic", "combined"):
        assert pair["similarity"] >= 0.9
    assert body["items"][2]["width"] == 115 and body["items"][0]["width"] == 192


def test_keep_size_and_multipart(client: TestClient, duplicate_sets: list[list[bytes]]) -> None:
    files = [
        ("images", (f"{i}.img", data, "application/octet-stream")) for i, data in enumerate(duplicate_sets[0])
    ]
    response = client.post(
        "/v1/dedup", files=files, data={"method": "phash", "keep": "size", "hash_threshold": "12"}
    )
    assert response.status_code == 200, response.text
    group = response.json()["groups"][0]
    sizes = [len(d) for d in duplicate_sets[0]]
    assert group["keep"] == str(sizes.index(max(sizes)))
    assert response.json()["items"][1]["name"] == "1.img"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"method": "sha1"}, "unknown dedup method"),
        ({"method": "phash", "hash_threshold": 65}, "hash_threshold"),
        ({"method": "semantic", "similarity_threshold": 1.5}, "similarity_threshold"),
        ({"keep": "newest"}, "unknown keep rule"),
    ],
)
def test_bad_options_are_400(
    client: TestClient, duplicate_sets: list[list[bytes]], body: dict[str, Any], needle: str
) -> None:
    response = client.post("/v1/dedup", json={"images": [b64(duplicate_sets[0][0])], **body})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and needle in response.json()["message"]


def test_empty_bad_and_too_many_sets(make_client: MakeClient, duplicate_sets: list[list[bytes]]) -> None:
    client = make_client(max_dataset_items=3)
    empty = client.post("/v1/dedup", json={"images": []})
    assert empty.status_code == 400 and "no images" in empty.json()["message"]
    many = client.post("/v1/cluster", json={"images": [b64(i) for i in flat(duplicate_sets)[:4]]})
    assert many.status_code == 400 and many.json()["error"] == "too_many_items"
    broken = client.post("/v1/dedup", json={"images": [b64(b"not an image at all")]})
    assert broken.status_code == 415 and "image 0" in broken.json()["message"]


@pytest.mark.parametrize("method", ["kmeans", "hdbscan", "threshold"])
def test_clusters_are_the_shapes(client: TestClient, duplicate_sets: list[list[bytes]], method: str) -> None:
    response = client.post(
        "/v1/cluster", json={"images": [b64(i) for i in flat(duplicate_sets)], "method": method}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["k"] == 4 and body["noise"] == []
    members = sorted(sorted(c["members"], key=int) for c in body["clusters"])
    assert members == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8"], ["9", "10", "11"]]
    for cluster in body["clusters"]:
        assert cluster["medoid"] in cluster["members"] and 0.9 <= cluster["cohesion"] <= 1.0001
    assert len(body["items"]) == 12 and all(isinstance(i["x"], float) for i in body["items"])


def test_zero_shot_and_propagated_labels(client: TestClient, duplicate_sets: list[list[bytes]]) -> None:
    images = [b64(i) for i in flat(duplicate_sets)]
    texts = ["a red circle", "a blue square", "a green triangle", "a yellow star"]
    body = client.post("/v1/cluster", json={"images": images, "k": 4, "labels": texts}).json()
    by_first = {min(c["members"], key=int): c for c in body["clusters"]}
    assert [by_first[f]["label"] for f in ("0", "3", "6", "9")] == texts
    assert all(c["label_confidence"] > 0.5 for c in body["clusters"])
    known = {"0": "ball", "3": "box"}
    body = client.post("/v1/cluster", json={"images": images, "k": 4, "known_labels": known}).json()
    labels = {i["id"]: (i["label"], i["label_confidence"]) for i in body["items"]}
    assert labels["0"] == ("ball", 1.0) and labels["1"][0] == "ball" and labels["5"][0] == "box"
    bad = client.post("/v1/cluster", json={"images": images, "known_labels": {"99": "x"}})
    assert bad.status_code == 400 and "99" in bad.json()["message"]
    wrong = client.post("/v1/cluster", json={"images": images, "method": "dbscan"})
    assert wrong.status_code == 400 and "unknown cluster method" in wrong.json()["message"]


def _stored(client: TestClient, sets: list[list[bytes]]) -> None:
    assert client.post("/v1/collections", json={"name": "shop"}).status_code == 201
    items = [{"id": f"p{i}", "image": b64(data)} for i, data in enumerate(flat(sets))]
    assert client.post("/v1/collections/shop/items", json={"items": items}).status_code == 200


def test_collection_dedup_check_and_job(client: TestClient, duplicate_sets: list[list[bytes]]) -> None:
    _stored(client, duplicate_sets)
    body = client.post("/v1/collections/shop/dedup", json={"method": "phash"}).json()
    defaults = client.post("/v1/collections/shop/dedup")  # no body: every option at its default
    assert defaults.status_code == 200 and defaults.json()["method"] == "combined"
    assert (defaults.json()["hash_threshold"], defaults.json()["similarity_threshold"]) == (33, 0.75)
    groups = {frozenset(g["members"]) for g in defaults.json()["groups"]}
    assert groups == {frozenset({f"p{3 * n}", f"p{3 * n + 1}", f"p{3 * n + 2}"}) for n in range(4)}
    assert sorted(sorted(g["members"]) for g in body["groups"])[0] == ["p0", "p1", "p2"]
    check = client.post(
        "/v1/collections/shop/duplicates/check",
        json={"image": b64(duplicate_sets[1][1]), "hash_threshold": 10},
    )
    assert check.status_code == 200
    found = {m["id"] for m in check.json()["matches"]}
    assert check.json()["is_duplicate"] and {"p3", "p4", "p5"} <= found and "p0" not in found

    accepted = client.post("/v1/collections/shop/cluster", json={"k": 4, "background": True})
    assert accepted.status_code == 202
    status_url = accepted.json()["status_url"]
    assert status_url == f"/v1/jobs/{accepted.json()['job_id']}"
    for _ in range(200):
        job = client.get(status_url).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None
    assert job["kind"] == "cluster" and len(job["result"]["clusters"]) == 4
    missing = client.get("/v1/jobs/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.post("/v1/collections/none/dedup", json={}).status_code == 404


def test_failed_job_reports_its_error(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "empty"})
    job_id = client.post("/v1/collections/empty/dedup", json={"background": True}).json()["job_id"]
    for _ in range(100):
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "failed" and job["error"]["status"] == 400 and "empty" in job["error"]["message"]


def test_large_collection_runs_as_a_job(make_client: MakeClient, duplicate_sets: list[list[bytes]]) -> None:
    client = make_client(dedup_background_items=5)
    _stored(client, duplicate_sets)  # 12 items, over the limit of 5
    accepted = client.post("/v1/collections/shop/dedup", json={"method": "semantic"})
    assert accepted.status_code == 202
    for _ in range(200):
        job = client.get(accepted.json()["status_url"]).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done" and len(job["result"]["groups"]) == 4


def test_hdbscan_reports_the_odd_one_out_as_noise(
    client: TestClient, duplicate_sets: list[list[bytes]]
) -> None:
    import numpy as np

    from pixembed.synthetic.shapes import render_shape
    from tests.helpers import encode

    odd = encode(render_shape("heart", "cyan", size=192, rng=np.random.default_rng(11)))
    images = [b64(i) for i in [*flat(duplicate_sets), odd]]
    body = client.post(
        "/v1/cluster", json={"images": images, "method": "hdbscan", "min_cluster_size": 3}
    ).json()
    assert body["noise"] == ["12"] and body["k"] == 4
    assert body["items"][12]["cluster"] is None


def test_zero_shot_says_unknown_when_no_label_fits(
    client: TestClient, duplicate_sets: list[list[bytes]]
) -> None:
    images = [b64(i) for i in duplicate_sets[0]]  # three red circles
    body = client.post(
        "/v1/cluster",
        json={"images": images, "k": 1, "labels": ["a blue square", "a green star"], "label_threshold": 0.95},
    ).json()
    assert body["clusters"][0]["label"] == "unknown" and body["clusters"][0]["label_confidence"] < 0.95
    fits = client.post(
        "/v1/cluster", json={"images": images, "k": 1, "labels": ["a red circle", "a red square"]}
    )
    assert fits.json()["clusters"][0]["label"] == "a red circle"
    bad = client.post("/v1/cluster", json={"images": images, "labels": ["x"], "label_threshold": 2})
    assert bad.status_code == 400 and "label_threshold" in bad.json()["message"]
