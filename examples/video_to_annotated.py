"""A video with every face boxed and labelled with what most people would read in it, frame by frame.

    python examples/video_to_annotated.py IN.mp4 OUT.mp4
"""
import sys

import cv2

from edge import Analyzer


def main(source: str, out: str) -> None:
    analyzer = Analyzer(detector="short")  # the booth's int8 detector: faces near the camera
    cap = cv2.VideoCapture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        for face in analyzer.analyze(frame, video=True):
            x, y, w, h = (int(v) for v in face.box)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 0), 2)
            cv2.putText(frame, f"{face.expression} {face.probabilities[face.expression]:.2f}", (x, max(y - 6, 12)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 0), 2)
        if writer is None:
            writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()


if __name__ == "__main__":
    main(*sys.argv[1:3])
