"""Open a .tflite model with the best runtime installed: ai-edge-litert, else tflite-runtime.

ai-edge-litert is the maintained runtime (numpy 1 and 2, fast int8 kernels); tflite-runtime 2.14 is
what older Pi OS and JetPack images have (numpy < 2 only).
"""
from __future__ import annotations

from pathlib import Path


class ModelLoadError(RuntimeError):
    """A model file is missing, corrupt or not loadable; the message names the file."""


def interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as e:
            raise ModelLoadError("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime on "
                                 "images with numpy < 2)") from e
    return Interpreter


def runtime_name() -> str:
    module = interpreter_class().__module__.split(".")[0]
    from importlib.metadata import version
    dist = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}[module]
    return f"{dist} {version(dist)}"


def load_interpreter(path: str | Path, threads: int = 1):
    """An allocated interpreter for ``path`` running on ``threads`` CPU threads."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found.")
    try:
        interpreter = interpreter_class()(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ModelLoadError(f"{path}: not a loadable TFLite model ({e}).") from e
    return interpreter
