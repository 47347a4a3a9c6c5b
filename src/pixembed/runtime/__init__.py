"""Model runtime: sessions (ONNX Runtime, torch), loading and export, precision checks, batching, caches."""
