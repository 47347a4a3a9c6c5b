"""The client's dedup, cluster, jobs, duplicate-check, detect and regions methods against a real server.

These routes come from other branches (issues 4 and 8, shapes fixed in CONTRACTS.md); this file passes once
they are merged.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixembed import Client, errors
from pixembed.client import ClusterResult, DedupResult, Job
from pixembed.synthetic.shapes import render_shape
from tests.contract_images import near_copy, side_by_side
from tests.helpers import encode

RED, BLUE, GREEN, YELLOW = "a red circle", "a blue square", "a green triangle", "a yellow star"


def _shapes_collection(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    api.create_collection("shapes")
    images, ids, metadata = [], [], []
    for caption, pngs in shape_images.items():
        for i, png in enumerate(pngs):
            images.append(png)
            ids.append(f"{caption.split()[-1]}-{i}")
            metadata.append({"caption": caption})
    images.append(near_copy(shape_images[RED][0]))
    ids.append("circle-copy")
    metadata.append({"caption": RED})
    assert api.add_images("shapes", images, ids=ids, metadata=metadata).written == len(images)


def test_posted_set_dedup_groups_a_near_copy(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    red = shape_images[RED][0]
    images = [red, shape_images[BLUE][0], near_copy(red), shape_images[YELLOW][0]]
    for method in ("phash", "semantic"):
        result = api.dedup(images, method=method, keep="resolution")  # type: ignore[arg-type]
        assert isinstance(result, DedupResult)
        assert [item.id for item in result.items] == ["0", "1", "2", "3"]
        assert [sorted(g.members) for g in result.groups] == [["0", "2"]], method
        group = result.groups[0]
        assert group.keep == "0"  # the original has the higher resolution
        assert result.drop == ["2"]


def test_posted_set_clusters_are_pure_and_labelled(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    captions = list(shape_images)
    images = [png for caption in captions for png in shape_images[caption]]
    result = api.cluster(images, method="kmeans", k=4, labels=captions)
    assert isinstance(result, ClusterResult)
    assert len(result.clusters) == 4
    for cluster in result.clusters:
        truth = {captions[int(member) // 3] for member in cluster.members}
        assert len(truth) == 1 and len(cluster.members) == 3
        assert cluster.label == truth.pop()
    assert len(result.items) == len(images)
    assert all(np.isfinite([item.x, item.y]).all() for item in result.items)


def test_collection_dedup_and_cluster_with_job_progress(
    api: Client, shape_images: dict[str, list[bytes]]
) -> None:
    _shapes_collection(api, shape_images)
    direct = api.dedup_collection("shapes", method="phash")
    assert isinstance(direct, DedupResult)
    assert [sorted(g.members) for g in direct.groups] == [["circle-0", "circle-copy"]]

    seen: list[Job] = []
    waited = api.cluster_collection("shapes", k=4, background=True, on_progress=seen.append)
    assert isinstance(waited, ClusterResult)
    assert {frozenset(c.members) for c in waited.clusters} >= {
        frozenset({"square-0", "square-1", "square-2"}),
        frozenset({"star-0", "star-1", "star-2"}),
    }
    assert seen and seen[-1].status == "done" and seen[-1].progress == pytest.approx(1.0)

    queued = api.dedup_collection("shapes", method="phash", background=True, wait=False)
    assert isinstance(queued, Job)
    body = api.wait_for_job(queued.id, timeout=60)
    assert isinstance(body, DedupResult)
    assert [sorted(g.members) for g in body.groups] == [["circle-0", "circle-copy"]]
    with pytest.raises(errors.NotFound):
        api.get_job("no-such-job")


def test_check_duplicate_against_a_collection(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    _shapes_collection(api, shape_images)
    copy = api.check_duplicate("shapes", near_copy(shape_images[BLUE][1]))
    assert copy.is_duplicate and copy.matches[0].id == "square-1"
    heart = encode(render_shape("heart", "pink", size=160, rng=np.random.default_rng(7)))
    fresh = api.check_duplicate("shapes", heart)
    assert not fresh.is_duplicate


def test_detect_finds_each_shape_on_its_side(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    picture, left, right = side_by_side(shape_images[RED][0], shape_images[BLUE][0])
    result = api.detect(picture, [RED, BLUE], top_k=10)
    assert (result.width, result.height) == (right[2], right[3])
    assert result.detections
    by_label = {}
    for detection in sorted(result.detections, key=lambda d: -d.score):
        by_label.setdefault(detection.label, detection)
    assert set(by_label) <= {RED, BLUE}
    if RED in by_label:
        x1, _, x2, _ = by_label[RED].box
        assert (x1 + x2) / 2 < left[2]
    if BLUE in by_label:
        x1, _, x2, _ = by_label[BLUE].box
        assert (x1 + x2) / 2 > left[2]
    drawn = api.detect(picture, [RED, BLUE], return_image=True)
    assert drawn.image is not None and drawn.image.startswith(b"\x89PNG")


def test_region_vectors_follow_their_boxes(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    picture, left, right = side_by_side(shape_images[RED][0], shape_images[BLUE][0])
    result = api.embed_regions(picture, [left, right], texts=[RED])
    assert len(result.regions) == 2
    for region in result.regions:
        assert region.vector.dtype == np.float32 and region.vector.shape == (result.dimensions,)
        assert abs(float(np.linalg.norm(region.vector)) - 1) < 1e-4
    red_left = result.regions[0].relevance[0].score
    red_right = result.regions[1].relevance[0].score
    assert red_left > red_right


def test_search_a_collection_by_a_box_of_the_query(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    _shapes_collection(api, shape_images)
    picture, left, right = side_by_side(shape_images[YELLOW][0], shape_images[GREEN][0])
    on_left = api.search_collection("shapes", image=picture, box=left, top_k=3)
    on_right = api.search_collection("shapes", image=picture, box=right, top_k=3)
    assert {m.metadata["caption"] for m in on_left} == {YELLOW}
    assert {m.metadata["caption"] for m in on_right} == {GREEN}


def test_adding_with_regions_stores_each_region_as_a_child_item(
    api: Client, shape_images: dict[str, list[bytes]]
) -> None:
    api.create_collection("outfits")
    picture, _, _ = side_by_side(shape_images[RED][0], shape_images[BLUE][0])
    added = api.add_images("outfits", [picture], ids=["look"], regions=True, region_classes=[RED, BLUE])
    assert added.ids == ["look"]
    assert api.get_collection("outfits").count >= 2  # the picture and at least one region
    children = api.search_collection("outfits", text=RED, filter={"parent_id": "look"}, top_k=10)
    assert children and all(c.id.startswith("look#") for c in children)
    child = api.get_item("outfits", children[0].id)  # '#' travels escaped in the URL
    assert child.metadata["parent_id"] == "look" and len(child.metadata["box"]) == 4
