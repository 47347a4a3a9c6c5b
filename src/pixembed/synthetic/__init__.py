"""Procedurally generated pictures of coloured shapes: the training and test data of pixembed-tiny."""

from pixembed.synthetic.shapes import CLASSES, COLOURS, SHAPES, Sample, caption, render_shape, sample_dataset

__all__ = ["CLASSES", "COLOURS", "SHAPES", "Sample", "caption", "render_shape", "sample_dataset"]
