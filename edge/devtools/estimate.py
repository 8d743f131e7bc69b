"""What the models would cost on a Raspberry Pi 4 / Pi 5 or a Jetson Orin Nano, on paper, until one is measured:
multiply-adds read from each .tflite file's own graph, divided by a published int8 rate per device.

    python -m edge.devtools.estimate [--config FILE] [--duty 0.34] [--faces 1] [--fps 30]

The rates (multiply-adds per second on one core, TensorFlow Lite int8):
- Raspberry Pi 4 (Cortex-A72, 1.8 GHz): MobileNet v1 1.0/224 (569 M multiply-adds) in about 87 ms on its CPU
  (published benchmarks, e.g. TildAlice 2026): ~6.5 G/s. Small nets use the cores less well than MobileNet,
  so this is optimistic.
- Raspberry Pi 5 (Cortex-A76, 2.4 GHz): 2.5x the Pi 4, the middle of the 2-3x CPU speed-up Raspberry Pi
  gives for it; its int8 dot-product instructions, which the A72 lacks, may give XNNPACK more.
- Jetson Orin Nano (Cortex-A78AE, 1.5 GHz, CPU only; its GPU is not used by this runtime): the Pi 5's rate
  scaled by clock (1.5 / 2.4) and ~15 % more work a clock for the A78: ~1.8x the Pi 4.
Every figure this prints is an estimate, marked so; `python -m edge bench` on the device replaces it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge.config import load_config
from edge.manifest import model_entry
from edge.tflite import load_interpreter

PI4_MULTIPLY_ADDS_PER_S = 569e6 / 0.087
DEVICES = {"Raspberry Pi 4": PI4_MULTIPLY_ADDS_PER_S, "Raspberry Pi 5": 2.5 * PI4_MULTIPLY_ADDS_PER_S,
           "Jetson Orin Nano (CPU)": 1.8 * PI4_MULTIPLY_ADDS_PER_S}


def multiply_adds(model: Path) -> int:
    """Multiply-adds of one inference: the convolutions and dense layers of the file's graph (the rest is
    a few per cent)."""
    interpreter = load_interpreter(model)
    shapes = {t["index"]: t["shape"] for t in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():  # the runtime's only listing of a graph's operators
        out, weights = (shapes[op["outputs"][0]], shapes[op["inputs"][1]]) if len(op["inputs"]) > 1 else (0, 0)
        if op["op_name"] == "CONV_2D":  # weights: out channels x kh x kw x in channels
            total += int(np.prod(out)) * int(np.prod(weights[1:]))
        elif op["op_name"] == "DEPTHWISE_CONV_2D":  # weights: 1 x kh x kw x channels
            total += int(np.prod(out)) * int(weights[1] * weights[2])
        elif op["op_name"] == "FULLY_CONNECTED":  # weights: out x in
            total += int(np.prod(out)) * int(weights[1])
    return total


def estimate(models: dict[str, Path], duty: float, faces: float, fps: float) -> str:
    """Markdown: each model's multiply-adds and ms per run by device, then the frame (detector on `duty` of
    the frames, the expression model on every frame for each of `faces`) and its share of one core at `fps`."""
    work = {role: multiply_adds(path) for role, path in models.items()}
    lines = ["| | multiply-adds | " + " | ".join(DEVICES) + " |", "|---|---|" + "---|" * len(DEVICES)]
    for role, path in models.items():
        lines.append(f"| {role}: {path.name} | {work[role] / 1e6:.1f} M | " +
                     " | ".join(f"~{1000 * work[role] / rate:.1f} ms" for rate in DEVICES.values()) + " |")
    frame = duty * work["detector"] + faces * work["emotion"]
    lines.append(f"| a frame: detector on {duty:.0%} of frames, {faces:g} face(s) classified | {frame / 1e6:.1f} M | " +
                 " | ".join(f"~{1000 * frame / rate:.1f} ms" for rate in DEVICES.values()) + " |")
    lines.append(f"| share of one core at {fps:g} fps (inference only) | | " +
                 " | ".join(f"~{100 * fps * frame / rate:.0f} %" for rate in DEVICES.values()) + " |")
    return "\n".join(lines) + "\n\nEstimates on paper (edge/devtools/estimate.py says how), not measurements.\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="daemon config (which models)")
    p.add_argument("--duty", type=float, default=0.34, help="share of frames the detector runs on (bench prints "
                   "it; 0.34 on the demo clip with detect_every 3)")
    p.add_argument("--faces", type=float, default=1.0, help="faces classified a frame")
    p.add_argument("--fps", type=float, default=30.0, help="the camera's frame rate")
    args = p.parse_args(argv)
    config = load_config(args.config)
    m = config.models
    models = {"detector": model_entry("face_detection", m.detector, m.dir)[1],
              "emotion": model_entry("emotion", m.emotion, m.dir)[1]}
    print(estimate(models, args.duty, args.faces, args.fps), end="")


if __name__ == "__main__":
    main()
