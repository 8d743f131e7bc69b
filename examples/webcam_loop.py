"""Live expressions from a camera (or a video standing in for one), printed once a second.

    python examples/webcam_loop.py [SOURCE] [--frames N]     SOURCE: /dev/video0 (default), a video file, ...

The daemon does the same with a watchdog, a web page and smoothing (python -m edge run); this is the
smallest loop around the API.
"""
import argparse
import time

import cv2

from edge import Analyzer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default="/dev/video0")
    parser.add_argument("--frames", type=int, help="stop after N frames (default: until the source ends)")
    args = parser.parse_args()
    cap = cv2.VideoCapture(args.source)
    if not cap.isOpened():
        raise SystemExit(f"error: {args.source}: cannot open this camera or video")
    analyzer, shown, n = Analyzer(detector="short"), 0.0, 0
    while args.frames is None or n < args.frames:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        faces = analyzer.analyze(frame, video=True)
        if time.monotonic() - shown >= 1.0 or (args.frames and n == args.frames):
            shown = time.monotonic()
            print(f"frame {n}: " + (", ".join(f"{f.expression} ({f.probabilities[f.expression]:.2f})" for f in faces)
                                    or "no face"), flush=True)
    cap.release()


if __name__ == "__main__":
    main()
