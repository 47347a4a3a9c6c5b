"""Class-agnostic region proposals from OpenCV: colour segments, edge contours and sliding windows.

Selective search (opencv-contrib's ``ximgproc``) is the classic choice, but it takes about a second per
image on a CPU and is not in the plain opencv-python wheel. These three cheap sources cover what it finds
for the objects pixembed looks for (things that stand out from their surroundings by colour or outline),
and the sliding windows keep recall for anything the other two miss. Every box is later judged by CLIP.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pixembed.runtime.detection.base import nms

Boxes = npt.NDArray[np.float32]  # (N, 4) x1, y1, x2, y2 in pixels

WORK_SIDE = 320  # proposals are found on a copy whose longer side is at most this many pixels
MIN_AREA = 0.002  # of the image: smaller segments are noise
MAX_AREA = 0.9
WINDOW_SCALES = (0.2, 0.3, 0.45, 0.65)


def propose_boxes(
    image: npt.NDArray[np.uint8], *, max_boxes: int = 400, windows: bool = True
) -> tuple[Boxes, npt.NDArray[np.bool_]]:
    """Candidate boxes for an (H, W, 3) RGB uint8 image, at most ``max_boxes``, segments first.

    Also returns which of them are sliding windows: those carry no evidence of an object's outline.
    """
    height, width = image.shape[:2]
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # a 1-pixel-wide image stays 1 wide
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    smooth = np.asarray(cv2.bilateralFilter(small, 7, 40, 5), dtype=np.uint8)
    found = [_colour_segments(smooth, k) for k in (3, 5, 8)]
    found.append(_edge_contours(smooth))
    boxes: Boxes = (
        np.concatenate([b for b in found if len(b)] or [np.zeros((0, 4), np.float32)]) / np.float32(scale)
    ).astype(np.float32)
    boxes = _keep_sizes(boxes, width, height)
    boxes = _dedupe(boxes, 0.85)[:max_boxes]
    grid = sliding_windows(width, height) if windows else np.zeros((0, 4), np.float32)
    merged = np.concatenate([boxes, grid])[:max_boxes].astype(np.float32)
    return merged, np.arange(len(merged)) >= len(boxes)


def sliding_windows(width: int, height: int) -> Boxes:
    """Square windows at a few scales of the shorter side, overlapping by half."""
    boxes = []
    for fraction in WINDOW_SCALES:
        side = max(8.0, fraction * min(width, height))
        step = side / 2
        for y in np.arange(0, max(1.0, height - side + 1), step):
            for x in np.arange(0, max(1.0, width - side + 1), step):
                boxes.append((x, y, min(width, x + side), min(height, y + side)))
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _colour_segments(image: npt.NDArray[np.uint8], k: int) -> Boxes:
    """Boxes of the connected parts of each colour cluster (k-means in Lab)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    if len(lab) < k:  # fewer pixels than clusters (a 1x1 image): k-means has nothing to split
        return np.zeros((0, 4), np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(k)
    _, labels, _ = cv2.kmeans(lab, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    labels = labels.reshape(image.shape[:2])
    kernel = np.ones((3, 3), np.uint8)
    boxes = []
    for cluster in range(k):
        mask = cv2.morphologyEx((labels == cluster).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for x, y, w, h, _area in stats[1:count]:
            boxes.append((x, y, x + w, y + h))
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _edge_contours(image: npt.NDArray[np.uint8]) -> Boxes:
    """Boxes of the outer contours of Canny edges, closed by a small dilation."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 40, 120)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [(x, y, x + w, y + h) for x, y, w, h in (cv2.boundingRect(c) for c in contours)]
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _keep_sizes(boxes: Boxes, width: int, height: int) -> Boxes:
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / float(width * height)
    return boxes[(areas >= MIN_AREA) & (areas <= MAX_AREA)]


def _dedupe(boxes: Boxes, iou: float) -> Boxes:
    """Drop boxes that nearly repeat an earlier one, keeping the larger-first order stable."""
    if not len(boxes):
        return boxes
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: Boxes = boxes[nms(boxes, areas.astype(np.float32), iou)]
    return kept
