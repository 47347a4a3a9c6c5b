"""Detectors behind one interface: CLIP region scoring (default, no extra weights) and OWLv2."""

from pixembed.runtime.detection.base import ClassQuery, Detector, RawDetection
from pixembed.runtime.detection.clip_regions import ClipRegionDetector

__all__ = ["ClassQuery", "ClipRegionDetector", "Detector", "RawDetection"]
