"""pixembed: self-hosted CLIP image embeddings, zero-shot comparison and visual search."""

__version__ = "0.1.0"
