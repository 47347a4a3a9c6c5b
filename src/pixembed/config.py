"""pixembed's one Settings object; every field can be set as a ``PIXEMBED_<FIELD>`` environment variable."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "openai"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/pixembed``, else ``~/.local/share/pixembed``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pixembed"


class Settings(BaseSettings):
    """Server, model and limit settings (``PIXEMBED_`` prefix, nested fields with ``__``)."""

    model_config = SettingsConfigDict(env_prefix="PIXEMBED_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    model: str = DEFAULT_MODEL
    # Several models in one server (runtime/pool.py): ``model`` is the default, ``extra_models`` are served
    # beside it (``serve --model A --model B``), or a models file names each with its own settings
    # (runtime/models_file.py). Over model_memory_mb, loading one unloads the least recently used others.
    extra_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    models_file: Path | None = None
    model_memory_mb: float | None = Field(default=None, gt=0)
    pretrained: str | None = None
    weights: Path | None = None
    device: str = "cpu"
    # ONNX Runtime serves by default (auto); torch (pixembed[torch]) for bf16/fp16 or models ONNX cannot run.
    runtime: Literal["auto", "onnx", "torch"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=32, ge=1, le=1024)
    download_timeout_s: float = Field(default=20.0, gt=0)
    # Dynamic batching: concurrent requests share forward passes of up to batch_size items, waiting at most
    # batch_wait_ms for company; beyond max_queue_items waiting, requests get 503 + Retry-After.
    batch_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    max_queue_items: int = Field(default=512, ge=1)
    text_cache_size: int = Field(default=4096, ge=0)

    data_dir: Path = Field(default_factory=default_data_dir)
    store: str | None = Field(
        default=None,
        description="store location: a folder, :memory:, qdrant://host:port or postgresql://...; default "
        "data_dir",
    )
    # Embedded store: a collection up to this many items is searched exactly (int8 scan + float32 re-rank,
    # proven exact), above it through an inverted file (approximate; recall in docs/benchmarks.md).
    exact_max: int = Field(default=200_000, ge=0, description="largest collection searched exactly")

    max_upload_mb: float = Field(default=25.0, gt=0)
    max_request_mb: float = Field(default=1024.0, gt=0)
    # JSON bodies are parsed whole in memory (several times their size), so they get a cap of their own,
    # well under the multipart one (multipart files stream to disk). Over it: 413 before the rest is read.
    max_json_mb: float = Field(default=64.0, gt=0)
    # Slow clients: request headers must arrive within read_timeout_s of the first byte; a body may pause
    # at most read_timeout_s and must average body_min_rate_kb KB/s beyond its first read_timeout_s.
    read_timeout_s: float = Field(default=20.0, gt=0)
    body_min_rate_kb: float = Field(default=1.0, gt=0)
    max_image_pixels: int = Field(default=100_000_000, ge=1)
    # Decoded pixels, in memory (issue 14): what one request may hold at once (413 past it), what all
    # requests together may (beyond it a decode waits up to decode_wait_s, then 503 + Retry-After).
    max_decoded_mb: float = Field(default=192.0, gt=0)
    max_decoded_total_mb: float = Field(default=256.0, gt=0)
    decode_wait_s: float = Field(default=10.0, ge=0)
    # Regions (/v1/embed/regions, APIClaw boundingBoxes): the pixels all boxes of one request may crop.
    max_region_pixels: int = Field(default=64_000_000, ge=1)
    max_batch_items: int = Field(default=256, ge=1)
    max_dataset_items: int = Field(default=10_000, ge=1)
    max_texts: int = Field(default=1024, ge=1)
    max_text_chars: int = Field(default=2000, ge=1)
    # Item metadata (issue 14): deeper or larger JSON is refused when the item is added.
    max_metadata_depth: int = Field(default=16, ge=1, le=64)
    max_metadata_kb: float = Field(default=64.0, gt=0)

    # Dedup and clustering (issue 4): collection runs over this many items answer 202 with a job.
    dedup_background_items: int = Field(default=2000, ge=0)
    max_dedup_items: int = Field(default=200_000, ge=1)
    duplicate_check_top_k: int = Field(default=20, ge=1, le=1000)
    job_workers: int = Field(default=1, ge=1)
    # Background jobs waiting to start, in all and per API key (anonymous callers share one): 429 beyond.
    max_queued_jobs: int = Field(default=64, ge=1)
    max_queued_jobs_per_key: int = Field(default=8, ge=1)

    fetch_connect_timeout_s: float = Field(default=5.0, gt=0)
    fetch_total_timeout_s: float = Field(default=20.0, gt=0)
    fetch_max_redirects: int = Field(default=5, ge=0)
    allow_private_urls: bool = False

    # Detection (/v1/detect, /v1/embed/regions): "clip-regions" needs no weights beyond the CLIP model;
    # "owlv2" loads an OWLv2 checkpoint through transformers (hub id, or a local folder in detector_weights).
    detector: Literal["clip-regions", "owlv2"] = "clip-regions"
    detector_model: str = "google/owlv2-base-patch16-ensemble"
    detector_weights: Path | None = None
    detect_threshold: float | None = Field(default=None, ge=0, le=1, description="default: the detector's")

    # Empty (and an empty key store) means auth is off (the loopback default). Once a server has keys it
    # keeps asking for them until it stops (api/auth.py). NoDecode: the env var may be a plain comma list.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host names the server answers to besides localhost, 127.0.0.1, [::1] and the address it is bound to
    # ("api.example.com", "*.example.com", or "*" for any); other Host headers are refused (DNS rebinding).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Web origins ("https://app.example.com", or "*") allowed to call the API from a browser: CORS answers,
    # and state-changing requests from them are not refused as cross-site. Default: none.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys made by `pixembed keys create` (hashed, scoped, with quotas); default data_dir/keys.sqlite.
    key_store: Path | None = None
    # Keys, quota and rate counters, jobs, thumbnails and the collection catalogue: SQLite files in the data
    # directory by default; postgresql://USER:PASSWORD@HOST/DB puts them where several replicas share them.
    state: str | None = Field(
        default=None,
        description="shared state: postgresql://USER:PASSWORD@HOST/DATABASE; default SQLite files",
    )
    request_timeout_s: float = Field(default=120.0, gt=0, description="per-request deadline (504 after)")
    shutdown_grace_s: float = Field(default=30.0, ge=0, description="time in-flight requests get on exit")
    max_form_fields: int = Field(default=20_000, ge=1)
    max_form_field_kb: float = Field(default=1024.0, gt=0, description="per non-file multipart field")
    log_format: Literal["json", "text"] = "json"

    @field_validator("api_keys", "allowed_hosts", "cors_origins", "extra_models", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Accept a list setting (``PIXEMBED_API_KEYS``...) as a JSON list or as comma-separated values."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            # A trailing comma or "a, b" spacing must not create an empty or padded key.
            stripped = [k.strip() if isinstance(k, str) else k for k in value]
            return [k for k in stripped if k != ""]
        return value

    @property
    def store_location(self) -> str:
        """Where collections live: ``store`` if set, else the data directory."""
        return self.store or str(self.data_dir)

    @property
    def model_memory_bytes(self) -> int | None:
        """The models' memory budget in bytes; None for no budget."""
        return None if self.model_memory_mb is None else int(self.model_memory_mb * 1024 * 1024)

    @property
    def key_store_path(self) -> Path:
        """Where API keys live: ``key_store`` if set, else ``data_dir/keys.sqlite``."""
        return self.key_store or self.data_dir / "keys.sqlite"

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_decoded_bytes(self) -> int:
        """The per-request decoded-pixel budget in bytes."""
        return int(self.max_decoded_mb * 1024 * 1024)

    @property
    def max_decoded_total_bytes(self) -> int:
        """The server-wide decoded-pixel budget in bytes."""
        return int(self.max_decoded_total_mb * 1024 * 1024)

    @property
    def max_metadata_bytes(self) -> int:
        """The metadata size limit in bytes (as UTF-8 JSON)."""
        return int(self.max_metadata_kb * 1024)

    @property
    def max_request_bytes(self) -> int:
        """The whole-request body limit in bytes (posted-set searches carry many files)."""
        return int(self.max_request_mb * 1024 * 1024)

    @property
    def max_json_bytes(self) -> int:
        """The cap in bytes of a non-multipart (JSON) body: the JSON cap, or the request cap if lower."""
        return min(int(self.max_json_mb * 1024 * 1024), self.max_request_bytes)
