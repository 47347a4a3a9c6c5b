"""The grouping and safety rules at their edges: items exactly at each default threshold and one step past
it, a borderline chain, and which copies are safe to drop.

The default thresholds are written out here on purpose (not read from ``services.dedup``): a change of a
default must fail these tests until they are changed with it, and docs/benchmarks.md re-measured.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixembed.services.dedup import Catalogue, find_duplicates

DEFAULT_BITS = {"phash": 14, "dhash": 12, "ahash": 2, "whash": 4}
COMBINED_BITS, COMBINED_COSINE, SEMANTIC_COSINE = 33, 0.75, 0.95
FAR = "ffffffffffffffff"


def bits_apart(n: int) -> str:
    """A 64-bit hex hash exactly ``n`` bits from the all-zero hash."""
    return f"{(1 << n) - 1:016x}"


def catalogue(
    hashes: dict[str, list[str | None]],
    vectors: np.ndarray | None = None,
    widths: list[int] | None = None,
) -> Catalogue:
    n = len(next(iter(hashes.values()))) if hashes else len(vectors)  # type: ignore[arg-type]
    sides = widths or [100] * n
    return Catalogue(
        ids=[str(i) for i in range(n)],
        names=[None] * n,
        widths=list(sides),
        heights=list(sides),
        sizes=[None] * n,
        ages=[None] * n,
        vectors=vectors,
        hashes=hashes,
    )


def at_cosine(cosines: list[float]) -> np.ndarray:
    """Unit vectors: row 0, then one row at each given cosine to row 0 (and far from each other)."""
    rows = [np.eye(1, 8, 0)[0]]
    for k, c in enumerate(cosines, start=1):
        rows.append(c * np.eye(1, 8, 0)[0] + np.sqrt(1.0 - c * c) * np.eye(1, 8, k)[0])
    return np.array(rows, dtype=np.float32)


@pytest.mark.parametrize("method", ["phash", "dhash", "ahash", "whash"])
def test_hash_methods_pair_at_their_default_and_not_one_bit_past(method: str) -> None:
    bits = DEFAULT_BITS[method]
    # 0 is the keeper (largest); 1 sits exactly at the threshold, 2 one bit past it (on other bits).
    past = f"{((1 << (bits + 1)) - 1) << 20:016x}"
    cat = catalogue({method: ["0" * 16, bits_apart(bits), past]}, widths=[300, 100, 100])
    result = find_duplicates(cat, method)  # type: ignore[arg-type]
    assert result.hash_threshold == bits
    assert [g.members for g in result.groups] == [[0, 1]]
    assert [(p.a, p.b, p.distance) for p in result.pairs] == [(0, 1, bits)]


def test_semantic_pairs_at_its_default_cosine_and_not_just_below() -> None:
    vectors = at_cosine([SEMANTIC_COSINE + 1e-4, SEMANTIC_COSINE - 0.005, 0.6])
    result = find_duplicates(catalogue({}, vectors, [300, 100, 100, 100]), "semantic")
    assert result.similarity_threshold == SEMANTIC_COSINE
    assert [g.members for g in result.groups] == [[0, 1]]


def joint(total: int, items: int = 1) -> dict[str, list[str | None]]:
    """The four hashes of item 0 (all zero) and of ``items`` more, each ``total`` bits from item 0 in all
    (spread over the four hashes: pHash gets the rest), every view equal to the picture's."""
    share = [total // 4] * 3
    bits = [total - sum(share), *share]
    hashes = {}
    for method, n in zip(("phash", "dhash", "ahash", "whash"), bits, strict=True):
        row = ["0" * 16] + [bits_apart(n)] * items
        for key in [method] + [f"{method}_{v}" for v in ("trimmed", "mirrored", "centre", "centre_mirrored")]:
            hashes[key] = list(row)
    return hashes


def set_bits(cat: Catalogue, item: int, bits: dict[str, int]) -> None:
    """Item ``item``'s hashes, every view alike, each the given number of bits from the all-zero hash."""
    for method, n in bits.items():
        for key in [method] + [f"{method}_{v}" for v in ("trimmed", "mirrored", "centre", "centre_mirrored")]:
            cat.hashes[key][item] = bits_apart(n)


def test_combined_needs_the_joint_distance_and_the_cosine_each_at_its_threshold() -> None:
    # Three catalogues of two items: joint distance at the threshold with cosine at it (a pair), one bit
    # past (none), and at the threshold with cosine just below (none).
    def pairs(total: int, cosine: float) -> list[tuple[int | None, float | None]]:
        cat = catalogue(joint(total), at_cosine([cosine]), [300, 100])
        result = find_duplicates(cat)
        assert (result.method, result.hash_threshold, result.similarity_threshold) == (
            "combined",
            COMBINED_BITS,
            COMBINED_COSINE,
        )
        return [(p.distance, p.similarity) for p in result.pairs]

    ((distance, similarity),) = pairs(COMBINED_BITS, COMBINED_COSINE + 1e-4)
    assert distance == COMBINED_BITS and similarity == pytest.approx(COMBINED_COSINE, abs=1e-3)
    assert pairs(COMBINED_BITS + 1, 0.99) == []
    assert pairs(0, COMBINED_COSINE - 0.005) == []


def test_combined_sums_the_four_hashes_and_takes_the_nearest_view() -> None:
    # Item 1: 33 bits in pHash alone (every view; the other hashes equal): a pair. Item 2: a 40-bit dHash
    # except in its centre views, which equal 0's: a pair through the centre view (and 33 from item 1).
    # Item 3: 10 bits in each hash, 40 in all: none.
    cat = catalogue(joint(0, 3), at_cosine([0.99, 0.99, 0.99]), [300, 100, 100, 100])
    set_bits(cat, 1, {"phash": COMBINED_BITS})
    for key in ("dhash", "dhash_trimmed", "dhash_mirrored"):
        cat.hashes[key][2] = bits_apart(40)
    set_bits(cat, 3, {"phash": 10, "dhash": 10, "ahash": 10, "whash": 10})
    result = find_duplicates(cat)
    bits = COMBINED_BITS
    assert [(p.a, p.b, p.distance) for p in result.pairs] == [(0, 1, bits), (0, 2, 0), (1, 2, bits)]
    assert [(g.keep, g.members) for g in result.groups] == [(0, [0, 1, 2])]


def test_combined_mirrored_views_count_four_bits_farther() -> None:
    # Item 1 matches item 0 only mirrored (1's trimmed view against 0's mirrored one, every other view
    # 64 bits apart per hash): pHash 29 bits away + 4 = 33, a pair; 30 + 4 = 34, none.
    high, low = "ffffffff00000000", "00000000ffffffff"

    def pairs(mirrored_bits: int) -> list[tuple[int, int, int | None]]:
        cat = catalogue(joint(0), at_cosine([0.99]), [300, 100])
        for method in ("phash", "dhash", "ahash", "whash"):
            for view in ("", "_trimmed", "_centre", "_centre_mirrored"):
                cat.hashes[method + view] = [high, low]
            cat.hashes[f"{method}_mirrored"] = ["0" * 16, low]
            cat.hashes[f"{method}_trimmed"][1] = bits_apart(mirrored_bits if method == "phash" else 0)
        return [(p.a, p.b, p.distance) for p in find_duplicates(cat).pairs]

    assert pairs(COMBINED_BITS - 4) == [(0, 1, COMBINED_BITS)]
    assert pairs(COMBINED_BITS - 3) == []


def test_combined_copies_are_safe_inside_the_margin_or_confirmed_by_dhash() -> None:
    # The margin is a quarter of the range: 9 of 33 bits (so 24 is inside) and cosine 0.8125. Item 1: 24
    # bits, cosine 0.9: margin. 2: 25 bits, dHash 9 (one past its confirming 8): borderline. 3: 33 bits,
    # dHash 8: confirmed. 4: 24 bits but cosine 0.81: dHash 6 confirms it.
    cat = catalogue(joint(0, 4), at_cosine([0.9, 0.9, 0.9, 0.81]), [300, 100, 100, 100, 100])
    set_bits(cat, 1, {"phash": 6, "dhash": 6, "ahash": 6, "whash": 6})
    set_bits(cat, 2, {"phash": 4, "dhash": 9, "ahash": 6, "whash": 6})
    set_bits(cat, 3, {"phash": 13, "dhash": 8, "ahash": 6, "whash": 6})
    set_bits(cat, 4, {"phash": 6, "dhash": 6, "ahash": 6, "whash": 6})
    result = find_duplicates(cat)
    (group,) = result.groups
    reasons = {c.index: (c.distance, c.reason) for c in group.copies}
    assert reasons == {
        1: (24, "margin"),
        2: (25, "borderline"),
        3: (33, "confirmed by dhash (8 bits)"),
        4: (24, "confirmed by dhash (6 bits)"),
    }
    assert result.drop == [1, 3, 4] and result.borderline == [2]


def test_combined_without_the_hashes_never_pairs() -> None:
    # An item missing one of the four hashes in every view has no joint distance.
    hashes = joint(0)
    for key in [k for k in hashes if k.startswith("ahash")]:
        hashes[key][1] = None
    assert find_duplicates(catalogue(hashes, at_cosine([0.99]), [300, 100])).pairs == []


def test_a_borderline_chain_never_becomes_one_group() -> None:
    # Five items, each 16 bits from the next, the ends 64 bits apart: connected components made one group.
    chain = [bits_apart(16 * k) for k in range(5)]
    for widths in ([100] * 5, [100, 100, 300, 100, 100], [100, 100, 100, 100, 300]):
        result = find_duplicates(catalogue({"phash": list(chain)}, widths=widths), "phash", hash_threshold=16)
        assert len(result.pairs) == 4
        for group in result.groups:
            assert len(group.members) < 5
            for member in group.members:  # every member is within 16 bits of the item kept
                assert abs(member - group.keep) <= 1
    # Keepers best-first: the middle one, largest, takes both neighbours; the ends are left alone.
    middle = find_duplicates(
        catalogue({"phash": list(chain)}, widths=[100, 100, 300, 100, 100]), "phash", hash_threshold=16
    )
    assert [(g.keep, g.members) for g in middle.groups] == [(2, [1, 2, 3])]


def test_only_copies_inside_the_margin_or_confirmed_are_dropped() -> None:
    # pHash 14 (default): the margin is 4 bits, so 10 bits is safe and 11 is borderline, unless dHash
    # (within its confirming 8 bits) confirms.
    phash = ["0" * 16, bits_apart(10), bits_apart(11), bits_apart(14), bits_apart(14)]
    dhash = ["0" * 16, FAR, bits_apart(9), FAR, bits_apart(8)]
    cat = catalogue({"phash": phash, "dhash": dhash}, widths=[300, 100, 100, 100, 100])
    result = find_duplicates(cat, "phash")
    (group,) = result.groups
    assert group.keep == 0 and group.members == [0, 1, 2, 3, 4]
    assert result.drop == [1, 4] and result.borderline == [2, 3]
    reasons = {c.index: (c.distance, c.reason) for c in group.copies}
    assert reasons == {
        1: (10, "margin"),
        2: (11, "borderline"),
        3: (14, "borderline"),
        4: (14, "confirmed by dhash (8 bits)"),
    }


def test_semantic_margin_is_a_quarter_of_the_cosine_range() -> None:
    # Cosine 0.95: safe from 0.9625 up; 0.955 is a duplicate but borderline.
    result = find_duplicates(catalogue({}, at_cosine([0.97, 0.955]), [300, 100, 100]), "semantic")
    assert result.drop == [1] and result.borderline == [2]


def test_one_default_method_for_the_cli_the_api_the_client_and_the_web_page() -> None:
    import inspect

    from pixembed.api.dedup_schemas import DedupOptions
    from pixembed.api.web import WEB_DIR
    from pixembed.cli.dedup import dedup
    from pixembed.client.analysis_operations import dedup as client_dedup
    from pixembed.services.dedup import DEFAULT_METHOD

    assert DEFAULT_METHOD == "combined" and DedupOptions().method == DEFAULT_METHOD
    assert inspect.signature(dedup).parameters["method"].default == DEFAULT_METHOD
    assert inspect.signature(client_dedup).parameters["method"].default == DEFAULT_METHOD
    page = (WEB_DIR / "index.html").read_text()
    first_option = page.split('<select id="dedup-method">', 1)[1].split("<option>", 1)[1]
    assert first_option.startswith(f"{DEFAULT_METHOD}</option>")  # a select shows its first option


def test_phash_sees_a_flipped_and_a_framed_copy_but_not_another_picture() -> None:
    from PIL import ImageOps

    from pixembed.services.catalogue import catalogue_from_images
    from pixembed.services.hashing import hamming_distance, image_hashes
    from pixembed.synthetic.scenes import render_scene

    kinds = [("star", "blue"), ("circle", "red"), ("cross", "green")]
    scene = render_scene(np.random.default_rng(3), width=240, height=160, kinds=kinds).image
    other = render_scene(np.random.default_rng(4), width=240, height=160, kinds=kinds).image
    flipped, framed = ImageOps.mirror(scene), ImageOps.expand(scene, border=20, fill=(255, 255, 255))
    plain = [image_hashes(i)["phash"] for i in (scene, flipped, framed)]
    assert min(hamming_distance(plain[0], h) for h in plain[1:]) > 14  # the plain pHash misses both
    images = [scene, flipped, framed, other]
    cat = catalogue_from_images(images, ["a", "b", "c", "d"], [None] * 4, [None] * 4, hash_methods=["phash"])
    result = find_duplicates(cat, "phash")
    assert [g.members for g in result.groups] == [[0, 1, 2]] and result.groups[0].keep == 2
    assert all(c.distance is not None and c.distance <= 14 for c in result.groups[0].copies)


def test_a_mirrored_match_counts_four_bits_farther() -> None:
    zero, high, low = "0" * 16, "ffffffff00000000", "00000000ffffffff"
    views = {
        "phash": [zero, high, low],
        "phash_trimmed": [zero, high, low],
        "phash_mirrored": [zero, bits_apart(10), bits_apart(11)],  # 1 and 2 only match 0 mirrored
    }
    result = find_duplicates(catalogue(views, widths=[300, 100, 100]), "phash")
    assert [(p.a, p.b, p.distance) for p in result.pairs] == [(0, 1, 14)]


def test_combined_on_photographs_sees_a_frame_and_a_flip_and_keeps_other_photographs_apart() -> None:
    # scikit-image's photographs (installed with the benchmarks' dependencies): a framed and a flipped copy
    # of the cat are far in plain pHash (20 and 30 bits) but near in the joint distance (trimmed and
    # mirrored views); the coffee cup and the astronaut are 100+ joint bits from the cat.
    data = pytest.importorskip("skimage.data")
    from PIL import Image, ImageOps

    from pixembed.services.catalogue import catalogue_from_images
    from pixembed.services.dedup import hashes_needed
    from pixembed.services.hashing import STORED_HASHES

    cat_photo = Image.fromarray(data.chelsea())
    framed, flipped = ImageOps.expand(cat_photo, border=40, fill=(0, 0, 0)), ImageOps.mirror(cat_photo)
    images = [framed, cat_photo, flipped, Image.fromarray(data.coffee()), Image.fromarray(data.astronaut())]
    needed = hashes_needed("combined")
    assert set(needed) == set(STORED_HASHES) and len(needed) == 20
    cat = catalogue_from_images(images, list("abcde"), [None] * 5, [None] * 5, hash_methods=needed)
    cat.vectors = np.ones((5, 4), dtype=np.float32) / 2.0  # cosine 1: only the hashes decide here
    result = find_duplicates(cat)
    assert [(g.keep, g.members) for g in result.groups] == [(0, [0, 1, 2])]
    assert all(p.distance is not None and p.distance <= 8 for p in result.pairs)
