"""Model runtime: weight resolution, loading through open_clip, and the loaded ``ClipModel``."""
