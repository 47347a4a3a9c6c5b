"""Prometheus metrics shared by the layers that observe them; the API layer serves them at /metrics.

The metric objects live here, not in the API layer, because the runtime (batch sizes, queue depth, model
load time) and the API (requests, latencies) both record into them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "pixembed_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "pixembed_request_seconds",
    "Wall time from request start to response, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "pixembed_batch_size",
    "Items per model forward pass, by tower (image or text).",
    ["tower"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "pixembed_queue_depth",
    "Items waiting for the model, by tower.",
    ["tower"],
    registry=REGISTRY,
)
MODEL_LOAD_SECONDS = Gauge(
    "pixembed_model_load_seconds",
    "Seconds the last model load took.",
    registry=REGISTRY,
)
