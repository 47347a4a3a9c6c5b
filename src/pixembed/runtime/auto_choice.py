"""What ``--precision auto`` chose for one ONNX model on one machine, remembered between starts.

Choosing means building every candidate (ONNX Runtime fp32 and int8; torch bf16 on CPUs that multiply bf16
natively, which imports torch and loads the open_clip weights) and timing them: seconds and gigabytes that a
restart should not pay again. The record is keyed by the model's graphs, the CPU's feature flags, the cores
and threads the process may use and the ONNX Runtime version, so a new machine, a new export or an upgrade
chooses afresh. Later starts build only fp32 and the remembered choice, and still check it against fp32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from pixembed.runtime.onnx_folder import OnnxFolder
from pixembed.runtime.precision import cpu_flags

log = logging.getLogger(__name__)


def auto_record(cache: Path, folder: OnnxFolder, threads: int | None) -> Path:
    """Where the choice for ``folder`` on this machine, with ``threads``, is remembered."""
    import onnxruntime

    graphs = [graph.stat() for graph in (folder.visual, folder.textual) if graph.is_file()]  # image-only: one
    key = "|".join(
        [
            str(folder.path.resolve()),
            *(f"{s.st_size}:{s.st_mtime_ns}" for s in graphs),
            ",".join(sorted(cpu_flags())),
            f"cores={len(os.sched_getaffinity(0))}",
            f"threads={threads}",
            f"onnxruntime={onnxruntime.__version__}",
        ]
    )
    return cache / "auto" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def read_auto_choice(record: Path) -> str | None:
    """The precision chosen before (``fp32``, ``int8`` or ``bf16``), or None to choose now."""
    try:
        chosen = json.loads(record.read_text()).get("precision")
    except (OSError, ValueError, AttributeError):
        return None
    return chosen if chosen in ("fp32", "int8", "bf16") else None


def write_auto_choice(record: Path, precision: str, timings_ms: dict[str, float]) -> None:
    """Remember ``precision`` (atomically); a cache that cannot be written is logged and skipped."""
    partial = record.with_name(f"{record.name}.partial-{os.getpid()}")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"precision": precision, "check_batch_ms": timings_ms}))
        os.replace(partial, record)
    except OSError as exc:
        log.warning("could not remember the auto precision in %s: %s", record, exc)
        partial.unlink(missing_ok=True)
