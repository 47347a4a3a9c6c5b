"""``load_model``: one loader for the server, the CLI and the Ray indexer.

ONNX Runtime serves by default. A model comes as ONNX from, in order: a folder named by ``--weights`` or
``--model`` (immich's layout or pixembed's), the bundled ONNX pixembed-tiny, or pixembed's export cache
(``DATA_DIR/onnx/<checkpoint sha256>``, found again through an alias of the weights named, so a second start
needs no torch). Without torch, an open_clip name comes ready as ONNX from immich's hub repository
(``runtime.hub_onnx``). Anything else is loaded through open_clip once (pixembed[torch]), exported into the
cache, and checked against the open_clip module before it serves. bf16/fp16 and ``--runtime torch`` serve the
open_clip module itself. Every precision is checked against fp32 at load; ``auto`` keeps the fastest that
passes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import importlib.util
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixembed.errors import InvalidRequest, PixembedError, WeightsUnavailable
from pixembed.imaging.preprocess import Preprocess
from pixembed.metrics import MODEL_LOAD_SECONDS
from pixembed.runtime.auto_choice import auto_record, read_auto_choice, write_auto_choice
from pixembed.runtime.hub_onnx import hub_onnx_folder, immich_repository
from pixembed.runtime.image_models import IMAGE_MODELS, is_image_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.onnx_folder import OnnxFolder, is_onnx_folder, read_onnx_folder
from pixembed.runtime.options import RUNTIMES, LoadOptions
from pixembed.runtime.precision import PRECISIONS, CheckBatch, Choice, checked, fastest, native_bf16
from pixembed.runtime.session import ModelSession
from pixembed.runtime.tokenizer import TextTokenizer
from pixembed.runtime.weights import ASSETS_DIR, BUNDLED_MODELS, DEFAULT_TAGS, HF_HUB_PREFIX, LOCAL_DIR_PREFIX

if TYPE_CHECKING:
    from pixembed.config import Settings

log = logging.getLogger(__name__)

BUNDLED_ONNX: dict[str, Path] = {"pixembed-tiny": ASSETS_DIR / "pixembed-tiny-onnx"}
ONNX_FIDELITY = 0.9999
"""How closely an export must reproduce its open_clip module (fp32 both: differences are float noise)."""

__all__ = ["LoadOptions", "load_model", "load_model_from_settings", "torch_installed"]


def torch_installed() -> bool:
    """Whether pixembed[torch] (torch and open_clip) is installed, without importing either."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "open_clip"))


def onnx_cuda_available() -> bool:
    """Whether ONNX Runtime can run on CUDA here (onnxruntime-gpu with a visible device)."""
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def load_model_from_settings(settings: Settings) -> ClipModel:
    """Load the model ``settings`` name (blocking): the server's, the CLI's and the Ray indexer's way in."""
    return load_model(LoadOptions.from_settings(settings))


def load_model(spec: LoadOptions | str = "ViT-B-32", **changes: Any) -> ClipModel:
    """Load the model ``spec`` names (options, or a model name with ``changes`` as option fields)."""
    started = time.perf_counter()
    model = _load(spec, **changes)
    # The candidates auto did not keep, the check batch and the loaders' buffers are garbage by now.
    return_freed_memory()
    MODEL_LOAD_SECONDS.set(time.perf_counter() - started)
    return model


def _load(spec: LoadOptions | str, **changes: Any) -> ClipModel:
    options = spec if isinstance(spec, LoadOptions) else LoadOptions(model=spec)
    options = replace(options, **changes) if changes else options
    if options.precision not in PRECISIONS:
        raise InvalidRequest(f"unknown precision {options.precision!r}; use {', '.join(PRECISIONS)}")
    if options.runtime not in RUNTIMES:
        raise InvalidRequest(f"unknown runtime {options.runtime!r}; use {', '.join(RUNTIMES)}")
    if options.runtime == "onnx" and options.precision in ("bf16", "fp16"):
        raise InvalidRequest(
            f"ONNX Runtime serves fp32 and int8; {options.precision} needs --runtime torch or auto"
        )
    # bf16/fp16 are torch's; CUDA goes through torch where ONNX Runtime has no CUDA provider here.
    torch_only = options.runtime == "torch" or options.precision in ("bf16", "fp16")
    if options.device.startswith("cuda") and not onnx_cuda_available():
        if options.runtime == "onnx":
            raise InvalidRequest("ONNX Runtime here has no CUDA provider: install onnxruntime-gpu")
        torch_only = True
    if is_image_model(options.model):
        return _load_image_model(options, torch_only)
    folder = None if torch_only else ready_onnx_folder(options)
    if folder is not None:
        return _serve_onnx(folder, options, reference=None)
    if not torch_installed():
        repository = None if torch_only else immich_repository(options.model, options.pretrained)
        if repository is None or options.weights is not None:
            raise WeightsUnavailable(_needs_torch(options, torch_only))
        # No torch to export with: the same model, ready as ONNX on the hub (see runtime.hub_onnx).
        folder = hub_onnx_folder(repository, options.cache_dir, options.download_timeout_s)
        return _serve_onnx(folder, options, reference=None)
    return _load_through_torch(options, torch_only)


def ready_onnx_folder(options: LoadOptions) -> OnnxFolder | None:
    """The ONNX folder for ``options`` that exists without exporting anything (no torch needed), or None."""
    for named in (options.weights, Path(options.model)):
        if named is not None and named.is_dir() and is_onnx_folder(named):
            return read_onnx_folder(named)
    if options.model in BUNDLED_ONNX and options.weights is None:
        return read_onnx_folder(BUNDLED_ONNX[options.model], options.model)
    alias = _alias_file(options)
    if alias is not None and alias.is_file():
        folder = options.onnx_cache / alias.read_text().strip()
        if is_onnx_folder(folder):
            return read_onnx_folder(folder)
    return None


def _serve_onnx(
    folder: OnnxFolder, options: LoadOptions, reference: Choice | None, module: Any = None
) -> ClipModel:
    """Serve ``folder`` through ONNX Runtime in the precision asked for (``auto``: the fastest that passes).

    ``reference`` (with ``module``, the open_clip module it wraps) is given for a fresh export.
    """
    from pixembed.runtime.onnx_graphs import op_types
    from pixembed.runtime.onnx_session import INT8_OP_SETS, OnnxSession

    try:
        fp32 = OnnxSession(folder, "fp32", options.device, options.threads)
    except ValueError as exc:  # CUDA asked for where ONNX Runtime has no CUDA provider
        raise InvalidRequest(str(exc)) from exc
    tokenizer = folder.tokenizer() if folder.text_tower else None
    batch = CheckBatch.build(folder.preprocess, tokenizer)
    if reference is not None:  # a fresh export: it must reproduce the torch module first
        exported = checked(reference.session, "onnx fp32", lambda: fp32, batch, bar=ONNX_FIDELITY)
        if exported.session is not fp32:
            raise WeightsUnavailable(
                f"the ONNX export of {folder.name} does not match its torch module: "
                f"{exported.fallback_reason}"
            )
    on_cpu = fp32.info.device == "cpu"
    auto = options.precision == "auto"
    # auto on a CPU: a choice made on an earlier start on this machine is rebuilt alone (and checked again).
    record = auto_record(options.onnx_cache, folder, options.threads) if auto and on_cpu else None
    remembered = read_auto_choice(record) if record is not None else None
    choices = [Choice(fp32)]
    # int8 is a CPU path: ONNX Runtime's CUDA provider has no fast integer MatMul for it.
    if options.precision == "int8" or (auto and on_cpu and remembered in (None, "int8")):
        int8_dir = options.onnx_cache / "int8" / _digest(str(folder.path.resolve()))[:16]
        used = op_types(folder.visual)
        # An op set the image graph does not use would quantise nothing (a convolutional backbone has no
        # MatMul) and pass the check as an "int8" that is fp32: skip it.
        for ops in (ops for ops in INT8_OP_SETS if used & set(ops)):
            int8 = checked(
                fp32,
                "int8",
                lambda ops=ops: OnnxSession(  # type: ignore[misc]
                    folder, "int8", options.device, options.threads, int8_dir=int8_dir, int8_ops=ops
                ),
                batch,
            )
            if int8.session is not fp32:
                choices.append(int8)
                break
    if auto and on_cpu and remembered in (None, "bf16") and folder.text_tower and native_bf16():
        bf16 = _torch_bf16_choice(options, fp32, batch, module)
        if bf16 is not None:
            choices.append(bf16)
    if options.precision == "int8" or remembered is not None:
        chosen = choices[-1]
    else:
        chosen, timings = fastest(choices, batch.pixels)
        if record is not None:
            write_auto_choice(record, chosen.session.info.precision, timings)
    return _clip_model(chosen, folder.preprocess, tokenizer, folder.name, folder.logit_scale, options)


def _torch_bf16_choice(
    options: LoadOptions, fp32: ModelSession, batch: CheckBatch, module: Any
) -> Choice | None:
    """On CPUs that multiply bf16 natively (AMX), torch bf16 can beat ONNX Runtime: a checked candidate for
    ``auto``, where pixembed[torch] and the open_clip weights are at hand; None otherwise."""
    if module is None:
        if not torch_installed():
            return None
        from pixembed.runtime.torch_loading import load_open_clip

        try:
            module = load_open_clip(options).module
        except PixembedError as exc:  # an ONNX-only folder has no open_clip weights to cast
            log.info("auto: no torch bf16 candidate: %s", exc.message)
            return None
    from pixembed.runtime.torch_session import TorchSession

    choice = checked(fp32, "bf16", lambda: TorchSession.converted(module, "bf16", "cpu"), batch)
    return None if choice.session is fp32 else choice


def _load_image_model(options: LoadOptions, torch_only: bool) -> ClipModel:
    """An image-only backbone: from its ONNX export when cached, else through timm once (exported, checked
    against timm's forward, then served through ONNX Runtime like a CLIP export)."""
    if torch_only:
        raise InvalidRequest(
            f"{options.model} is served through ONNX Runtime only (fp32 or int8, on CPU or onnxruntime-gpu)"
        )
    folder = ready_onnx_folder(options)
    if folder is not None:
        return _serve_onnx(folder, options, reference=None)
    if not torch_installed() or importlib.util.find_spec("timm") is None:
        raise WeightsUnavailable(
            f"cannot load {options.model}: it has no ONNX export in {options.onnx_cache} yet, and exporting "
            "one needs timm and torch, which this install lacks: `pip install 'pixembed[torch]'`"
        )
    from pixembed.runtime.export import export_image_onnx
    from pixembed.runtime.timm_loading import TimmSession, load_image_model

    model = load_image_model(options)
    key = _file_digest(f"{model.label}|{model.preprocess}", [model.checkpoint])
    target = options.onnx_cache / key[:32]
    if not is_onnx_folder(target):
        log.info("exporting %s to ONNX in %s (once)", model.label, target)
        export_image_onnx(model.module, model.preprocess, target, name=model.label)
    _write_alias(options, target)
    reference = Choice(TimmSession(model.module, model.label))
    return _serve_onnx(read_onnx_folder(target, model.label), options, reference=reference)


def _load_through_torch(options: LoadOptions, torch_only: bool) -> ClipModel:
    from pixembed.runtime.torch_loading import default_torch_precision, load_open_clip, torch_sessions

    model = load_open_clip(options)
    fp32, convert = torch_sessions(model, options.device)
    if not torch_only and model.exportable:
        folder = _export_to_cache(model, options)
        if folder is not None:
            return _serve_onnx(folder, options, reference=Choice(fp32), module=model.module)
    if options.runtime == "onnx":
        why = "its tokenizer is not CLIP's BPE" if not model.exportable else "the export failed (see the log)"
        raise InvalidRequest(
            f"{model.source.label} cannot be served through ONNX Runtime: {why}; use --runtime auto"
        )
    precision = options.precision
    if precision == "auto":
        precision = default_torch_precision(options.device)
    chosen = Choice(fp32)
    if precision != "fp32":
        batch = CheckBatch.build(model.preprocess, model.tokenizer)
        chosen = checked(fp32, precision, lambda: convert(precision), batch)
    scale = float(model.module.logit_scale.exp().item())
    return_freed_memory()
    return _clip_model(chosen, model.preprocess, model.tokenizer, model.source.label, scale, options)


def _export_to_cache(model: Any, options: LoadOptions) -> OnnxFolder | None:
    """Export ``model`` into the cache (named by its checkpoint's sha256) and alias it; None if that fails."""
    from pixembed.runtime.export import export_onnx

    key = _checkpoint_digest(model.source) or _digest(_alias_text(options) or model.source.label)
    target = options.onnx_cache / key[:32]
    try:
        if not is_onnx_folder(target):
            log.info("exporting %s to ONNX in %s (once)", model.source.label, target)
            export_onnx(model.module, model.preprocess, target, name=model.source.label)
    # The exporter fails with many error types (unsupported ops, tracing errors, a full or read-only disk);
    # whichever it is, the open_clip module still serves through torch.
    except Exception as exc:
        log.warning("could not export %s to ONNX, serving it through torch: %s", model.source.label, exc)
        return None
    _write_alias(options, target)
    return read_onnx_folder(target, model.source.label)


def _write_alias(options: LoadOptions, target: Path) -> None:
    """Name ``target`` under the alias of the weights ``options`` name, so the next start finds it."""
    alias = _alias_file(options)
    if alias is not None:
        alias.parent.mkdir(parents=True, exist_ok=True)
        alias.write_text(target.name)


def _alias_text(options: LoadOptions) -> str | None:
    """What names these weights without opening them: a file's path, size and mtime, or model/tag."""
    spec = f"{options.model}|{options.pretrained}"
    if options.weights is not None:
        path = options.weights.resolve()
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        stamps = [f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file()]
        return f"weights|{spec}|{'|'.join(stamps)}" if stamps else None
    if options.model.startswith(LOCAL_DIR_PREFIX):
        return _alias_text(
            replace(options, model="local-dir", weights=Path(options.model[len(LOCAL_DIR_PREFIX) :]))
        )
    if options.model.startswith(HF_HUB_PREFIX):
        return f"hub|{options.model}"
    if options.model in BUNDLED_MODELS:
        return None
    if options.model in IMAGE_MODELS:
        checkpoint = IMAGE_MODELS[options.model].packaged_checkpoint()
        return None if checkpoint is None else _alias_text(replace(options, weights=checkpoint))
    tag = options.pretrained or DEFAULT_TAGS.get(options.model)
    return f"pretrained|{options.model}|{tag}" if tag else None


def _alias_file(options: LoadOptions) -> Path | None:
    text = _alias_text(options)
    return None if text is None else options.onnx_cache / "aliases" / _digest(text)[:32]


def _checkpoint_digest(source: Any) -> str | None:
    """sha256 of the checkpoint file (or a local folder's weight files), None when there is no file."""
    checkpoint = source.checkpoint
    if checkpoint is None and str(source.model_name).startswith(LOCAL_DIR_PREFIX):
        folder = Path(str(source.model_name)[len(LOCAL_DIR_PREFIX) :])
        files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".json"))
    elif checkpoint is not None and Path(checkpoint).is_file():
        files = [Path(checkpoint)]
    else:
        return None
    return _file_digest(f"{source.model_name}|{source.quick_gelu}|{source.preprocess}", files)


def _file_digest(prefix: str, files: list[Path]) -> str:
    """sha256 of ``prefix`` and the contents of ``files``, in order."""
    digest = hashlib.sha256(prefix.encode())
    for file in files:
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _clip_model(
    chosen: Choice,
    preprocess: Preprocess,
    tokenizer: TextTokenizer | None,
    name: str,
    logit_scale: float,
    options: LoadOptions,
) -> ClipModel:
    session: ModelSession = chosen.session
    log.info(
        "serving %s through %s %s on %s",
        name,
        session.info.runtime,
        session.info.precision,
        session.info.device,
    )
    return ClipModel(
        session,
        preprocess,
        tokenizer,
        name=name,
        logit_scale=logit_scale,
        min_cosine=chosen.min_cosine,
        batch_size=options.batch_size,
        batch_wait_ms=options.batch_wait_ms,
        max_queue_items=options.max_queue_items,
        text_cache_size=options.text_cache_size,
    )


def _needs_torch(options: LoadOptions, torch_only: bool) -> str:
    if options.device.startswith("cuda"):
        why = "this ONNX Runtime has no CUDA provider (install onnxruntime-gpu), so CUDA needs torch"
    elif torch_only:
        why = f"runtime {options.runtime} / precision {options.precision} serves through torch"
    else:
        why = f"{options.model} has no ONNX export in {options.onnx_cache} yet, and exporting one needs torch"
    return (
        f"cannot load {options.model}: {why}, which this install lacks. Install it with "
        "`pip install 'pixembed[torch]'`, pass an ONNX model folder (immich's layout) with --weights, "
        "or run with --model pixembed-tiny."
    )


def return_freed_memory() -> None:
    """Hand the heap freed by loading (the checkpoint's tensors, the fp32 copy a fast path replaced) back to
    the OS. glibc keeps it mapped otherwise: ViT-B/32's server RSS measured 1616 MB before, 1443 MB after."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim this way
        pass
