"""python -m edge.devtools.cadence_guard VIDEO...: does detecting only every few frames change what the booth
shows? Each video goes frame by frame through two pipelines, the configured cadence (pipeline.detect_every)
and the detector on every frame, and the guard compares them:

- expressions: per face and per second, the most frequent smoothed expression, agreeing in >= 99 % of them;
- boxes: the median IoU of the cadence's boxes with the every-frame ones, >= 0.9;
- a face entering the view (the video after a second of empty grey frames) found within 100 ms at the
  video's frame rate of when the every-frame pipeline finds it;
- no drift onto the background: no cadence face without an every-frame face under it (IoU >= 0.3) for
  longer than the cadence itself.

Prints one line per video and the verdict; --json prints the figures; exit status 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from edge.config import EdgeConfig, load_config
from edge.devtools.bench import every_frame
from edge.devtools.monitor_bench import read_clip
from edge.faces import corners, iou
from edge.pipeline import FrameResult, Pipeline

TARGETS = {"expression_agreement": 0.99, "median_box_iou": 0.9, "entry_ms": 100.0}
LEAD_IN_S = 1.0  # empty frames before the face enters


def run(pipeline: Pipeline, frames: list[np.ndarray], fps: float) -> list[FrameResult]:
    return [pipeline.process(frame, i / fps, i) for i, frame in enumerate(frames)]


def matched(a: FrameResult, b: FrameResult) -> list[tuple]:
    """Pairs (face of a, face of b) overlapping by IoU >= 0.3, best first, each face used once."""
    pairs = sorted(((iou(corners(fa.box), corners(fb.box)), fa, fb) for fa in a.faces for fb in b.faces),
                   key=lambda p: -p[0])
    used_a, used_b, out = set(), set(), []
    for overlap, fa, fb in pairs:
        if overlap >= 0.3 and id(fa) not in used_a and id(fb) not in used_b:
            used_a.add(id(fa))
            used_b.add(id(fb))
            out.append((overlap, fa, fb))
    return out


def compare(every: list[FrameResult], cadence: list[FrameResult], detect_every: int) -> dict:
    ious, seconds, phantom_run, longest_phantom = [], defaultdict(lambda: (Counter(), Counter())), 0, 0
    for e, c in zip(every, cadence):
        pairs = matched(e, c)
        ious += [overlap for overlap, _, _ in pairs]
        for _, fe, fc in pairs:  # per face (the every-frame track) and second
            votes = seconds[(fe.id, int(e.timestamp))]
            votes[0][fe.label] += 1
            votes[1][fc.label] += 1
        phantom_run = phantom_run + 1 if len(c.faces) > len(pairs) else 0
        longest_phantom = max(longest_phantom, phantom_run)
    agree = [e.most_common(1)[0][0] == c.most_common(1)[0][0] for e, c in seconds.values()]
    return {"frames": len(every), "face_seconds": len(agree),
            "expression_agreement": float(np.mean(agree)) if agree else None,
            "median_box_iou": float(np.median(ious)) if ious else None,
            "detector_duty": float(np.mean([r.detected for r in cadence])),
            "longest_unmatched_frames": longest_phantom, "drift_limit_frames": detect_every}


def entry_ms(config: EdgeConfig, frames: list[np.ndarray], fps: float) -> float | None:
    """How much later than the every-frame pipeline the cadence finds the face after LEAD_IN_S of grey frames."""
    lead = [np.full_like(frames[0], 128)] * int(round(LEAD_IN_S * fps))
    # start the clip one frame off the cadence, so that the entry is not on a detection frame by luck
    clip = lead + frames[1:]
    found = []
    for c in (every_frame(config), config):
        results = run(Pipeline.from_config(c), clip, fps)
        found.append(next((i for i, r in enumerate(results) if r.faces), None))
    if found[0] is None or found[1] is None:
        return None
    return (found[1] - found[0]) / fps * 1000


def guard(config: EdgeConfig, video: Path) -> dict:
    frames, fps = read_clip(video, None)
    every = run(Pipeline.from_config(every_frame(config)), frames, fps)
    cadence = run(Pipeline.from_config(config), frames, fps)
    figures = {"video": str(video), "fps": fps, "detect_every": config.pipeline.detect_every,
               **compare(every, cadence, config.pipeline.detect_every), "entry_ms": entry_ms(config, frames, fps)}
    figures["missed"] = [k for k, target in TARGETS.items() if figures[k] is not None and
                         (figures[k] > target if k == "entry_ms" else figures[k] < target)]
    if figures["longest_unmatched_frames"] > figures["drift_limit_frames"]:
        figures["missed"].append("longest_unmatched_frames")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.devtools.cadence_guard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+", type=Path, help="videos to compare on (e.g. the shared media)")
    parser.add_argument("--config", type=Path, help="the daemon's config (default: built-in defaults, "
                        "pipeline.detect_every 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    results = [guard(config, v) for v in args.videos]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            show = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
            print(f"{Path(r['video']).name}: expressions agree {show(r['expression_agreement'], '.2%')} of "
                  f"{r['face_seconds']} face-seconds, median box IoU {show(r['median_box_iou'], '.3f')}, entry "
                  f"{show(r['entry_ms'], '.0f')} ms later, longest unmatched {r['longest_unmatched_frames']} frames, "
                  f"detector on {r['detector_duty']:.0%} of {r['frames']} frames"
                  f"{'; MISSED ' + ', '.join(r['missed']) if r['missed'] else ''}")
    return 1 if any(r["missed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
