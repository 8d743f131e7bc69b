"""Every face in a folder of photos (and videos, one sample a second) to a CSV file, one row per face.

    python examples/folder_to_csv.py PHOTOS_DIR faces.csv
"""
import csv
import sys

from edge import Analyzer


def main(folder: str, out: str) -> None:
    analyzer = Analyzer()  # images: both detectors, so the small faces of group photos are found too
    with open(out, "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["source", "frame", "x", "y", "w", "h", "expression", *analyzer.emotion.labels])
        for reading in analyzer.analyze_path(folder):
            for face in reading.faces:
                rows.writerow([reading.source, reading.frame, *(round(v) for v in face.box), face.expression,
                               *(round(face.probabilities[k], 4) for k in analyzer.emotion.labels)])


if __name__ == "__main__":
    main(*sys.argv[1:3])
