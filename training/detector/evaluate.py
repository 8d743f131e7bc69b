"""Evaluate face detectors float vs int8: AP@0.5 and recall at the shipped threshold on the shared
face-detection sets, agreement of int8 with float on video frames, latency on one thread."""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from edge.detector import FaceDetector
from edge.faces import corners, iou

AP_MIN_SCORE = 0.3  # detections kept for the precision-recall curve
MIN_FACE = 32  # WIDER faces smaller than this (shorter side) are "ignore" regions, neither hit nor miss


def load_set(folder: Path, min_face: int | None) -> list[dict]:
    images = []
    for a in json.loads((folder / "annotations.json").read_text()):
        boxes = np.array(a["boxes"], float).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # x0,y0,x1,y1
        attrs = np.array(a.get("attrs", [[0] * 6] * len(boxes))).reshape(-1, 6)
        sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        positive = np.ones(len(boxes), bool) if min_face is None else (sides >= min_face) & (attrs[:, 3] == 0)
        images.append({"image": cv2.imread(str(folder / a["file"])), "boxes": boxes, "positive": positive,
                       "attrs": attrs})
    return images


def average_precision(detector: FaceDetector, images: list[dict], shipped_score: float) -> dict:
    """VOC all-point AP at IoU 0.5; a detection on an ignored face counts as neither TP nor FP."""
    scored, npos, hits_at_shipped = [], 0, 0
    for item in images:
        gt, positive = item["boxes"], item["positive"]
        npos += int(positive.sum())
        faces = sorted(detector.detect(item["image"]), key=lambda f: -f.score)
        taken = np.zeros(len(gt), bool)
        for f in faces:
            box = corners(f.box)
            overlaps = np.array([iou(box, g) for g in gt])
            best = int(overlaps.argmax()) if len(gt) else -1
            if best >= 0 and overlaps[best] >= 0.5:
                if not positive[best]:
                    continue
                if not taken[best]:
                    taken[best] = True
                    scored.append((f.score, 1))
                    hits_at_shipped += f.score >= shipped_score
                    continue
            scored.append((f.score, 0))
    scored.sort(key=lambda s: -s[0])
    tp = np.cumsum([s[1] for s in scored])
    fp = np.cumsum([1 - s[1] for s in scored])
    recall = tp / max(npos, 1)
    precision = tp / np.maximum(tp + fp, 1)
    mrec = np.concatenate([[0], recall, [1]])
    mpre = np.concatenate([[0], precision, [0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    ap = float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    false_pos = sum(1 for s, hit in scored if not hit and s >= shipped_score)
    return {"ap50": ap, "recall_at_shipped": hits_at_shipped / max(npos, 1), "false_positives_at_shipped": false_pos,
            "positives": npos}


SIZE_BUCKETS = ((0, 48), (48, 96), (96, 192), (192, 10**6))  # the face box's longer side, px
BOOTH_FACE = 48  # px, longer side: a face at 0.5-2 m from a booth's camera is at least this big
# WIDER's attribute columns (illumination, occlusion, blur, pose): the conditions a booth meets
ILLUMINATION, OCCLUSION, BLUR, POSE, INVALID = 2, 4, 0, 5, 3
DIM = 0.3  # the synthetic dim-light condition: every pixel at 30 % of its brightness


def sides(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def face_hits(detector: FaceDetector, image: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Which annotated faces a detection at the detector's own threshold finds: IoU >= 0.5, each detection
    finding one face, best-scored first."""
    hit = np.zeros(len(gt), bool)
    for f in sorted(detector.detect(image), key=lambda f: -f.score):
        overlaps = np.array([iou(corners(f.box), g) if not hit[i] else 0.0 for i, g in enumerate(gt)])
        if len(gt) and overlaps.max() >= 0.5:
            hit[int(overlaps.argmax())] = True
    return hit


def _recall(hits: np.ndarray, members: np.ndarray) -> dict:
    n = int(members.sum())
    return {"faces": n, "recall": float(hits[members].mean()) if n else None}


def recall_by_size(detector: FaceDetector, images: list[dict]) -> dict[str, dict]:
    """Recall at the detector's own threshold per face size. Every annotated face counts, however small."""
    hits = np.concatenate([face_hits(detector, item["image"], item["boxes"]) for item in images])
    size = np.concatenate([sides(item["boxes"]) for item in images])
    return {(f"{lo}-{hi} px" if hi < 10**6 else f"{lo}+ px"): _recall(hits, (size >= lo) & (size < hi))
            for lo, hi in SIZE_BUCKETS}


def recall_by_condition(detector: FaceDetector, images: list[dict]) -> dict[str, dict]:
    """Recall at the detector's own threshold on the faces a booth needs (>= BOOTH_FACE px), by WIDER's own
    condition labels, and on the same photos darkened to DIM of their brightness (the attributes say little
    about a dim booth: WIDER's "extreme illumination" is as often glare as darkness)."""
    hits = np.concatenate([face_hits(detector, item["image"], item["boxes"]) for item in images])
    dim = np.concatenate([face_hits(detector, (item["image"] * DIM).astype(np.uint8), item["boxes"])
                          for item in images])
    attrs = np.concatenate([item["attrs"] for item in images])
    booth = (np.concatenate([sides(item["boxes"]) for item in images]) >= BOOTH_FACE) & (attrs[:, INVALID] == 0)
    typical = (attrs[:, ILLUMINATION] == 0) & (attrs[:, POSE] == 0) & (attrs[:, OCCLUSION] == 0) & \
        (attrs[:, BLUR] < 2)
    return {"all": _recall(hits, booth),
            "typical (normal light, typical pose, no occlusion, not heavily blurred)": _recall(hits, booth & typical),
            "extreme illumination (WIDER)": _recall(hits, booth & (attrs[:, ILLUMINATION] == 1)),
            "atypical pose: turned or tilted head (WIDER)": _recall(hits, booth & (attrs[:, POSE] == 1)),
            "partly or heavily occluded (WIDER)": _recall(hits, booth & (attrs[:, OCCLUSION] > 0)),
            "heavy blur (WIDER)": _recall(hits, booth & (attrs[:, BLUR] == 2)),
            f"dim: the same photos at {DIM:.0%} brightness": _recall(dim, booth)}


def video_frames(videos: list[Path], every: int = 5) -> list[np.ndarray]:
    frames = []
    for v in videos:
        cap = cv2.VideoCapture(str(v))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(frame)
            i += 1
        cap.release()
    return frames


def agreement(reference: FaceDetector, candidate: FaceDetector, frames: list[np.ndarray]) -> dict:
    """Match each reference face to the candidate's best-overlapping one (IoU >= 0.5)."""
    ious, score_diffs, missed, extra = [], [], 0, 0
    for frame in frames:
        ref, cand = reference.detect(frame), candidate.detect(frame)
        boxes = [corners(f.box) for f in cand]
        used = set()
        for f in ref:
            box = corners(f.box)
            overlaps = np.array([iou(box, b) for b in boxes])
            k = int(overlaps.argmax()) if len(boxes) else -1
            if k < 0 or overlaps[k] < 0.5:
                missed += 1
                continue
            used.add(k)
            ious.append(float(overlaps[k]))
            score_diffs.append(abs(f.score - cand[k].score))
        extra += len(cand) - len(used)
    return {"frames": len(frames), "matched": len(ious), "missed": missed, "extra": extra,
            "iou_mean": float(np.mean(ious)) if ious else 0.0, "iou_median": float(np.median(ious)) if ious else 0.0,
            "score_diff_mean": float(np.mean(score_diffs)) if score_diffs else 0.0}


def latency_ms(detector: FaceDetector, runs: int = 300) -> float:
    x = np.zeros((detector.size, detector.size, 3), np.uint8)
    for _ in range(30):
        detector.raw(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        detector.raw(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def evaluate(models: dict[str, Path], shared: Path, shipped: dict[str, float]) -> dict:
    """models and shipped: kind ("float", "int8") -> file and the score threshold it ships with."""
    data = shared / "data"
    sets = {"wider32": load_set(data / "face_detection/wider_face_val_subset", MIN_FACE),
            "dlib": load_set(data / "face_detection/dlib_pascal_faces", None)}
    frames = video_frames(sorted((data / "media/videos").glob("*.mp4")))
    report = {"shipped_min_score": shipped, "models": {}}
    for kind, path in models.items():
        ap_detector = FaceDetector(path, min_score=AP_MIN_SCORE)
        shipped_detector = FaceDetector(path, min_score=shipped[kind])
        report["models"][kind] = {"file": path.name, "size_bytes": path.stat().st_size,
                                  "latency_ms": latency_ms(FaceDetector(path)),
                                  "recall_by_size": {name: recall_by_size(shipped_detector, images)
                                                     for name, images in sets.items()},
                                  "recall_by_condition": recall_by_condition(shipped_detector, sets["wider32"]),
                                  **{name: average_precision(ap_detector, images, shipped[kind])
                                     for name, images in sets.items()}}
    report["int8_vs_float_video"] = agreement(FaceDetector(models["float"], min_score=shipped["float"]),
                                              FaceDetector(models["int8"], min_score=shipped["int8"]), frames)
    return report


def markdown(report: dict) -> str:
    f, q = report["models"]["float"], report["models"]["int8"]
    a = report["int8_vs_float_video"]
    shipped = report["shipped_min_score"]
    lines = ["| | float (MediaPipe original) | int8 (shipped) |", "|---|---|---|",
             f"| shipped score threshold | {shipped['float']} | {shipped['int8']} |"]
    for name, label in (("wider32", "WIDER val subset, faces >= 32 px"), ("dlib", "dlib PASCAL faces")):
        lines.append(f"| AP@0.5, {label} | {f[name]['ap50']:.4f} | {q[name]['ap50']:.4f} |")
        lines.append(f"| recall at the shipped threshold, {label} | {f[name]['recall_at_shipped']:.4f} "
                     f"| {q[name]['recall_at_shipped']:.4f} |")
        lines.append(f"| false positives at the shipped threshold, {label} | "
                     f"{f[name]['false_positives_at_shipped']} | {q[name]['false_positives_at_shipped']} |")
    lines.append(f"| latency, one thread, median | {f['latency_ms']:.3f} ms | {q['latency_ms']:.3f} ms "
                 f"({q['latency_ms'] / f['latency_ms']:.2f}x) |")
    lines.append(f"| file | {f['size_bytes'] / 1024:.1f} KiB | {q['size_bytes'] / 1024:.1f} KiB |")
    lines += ["", "Recall at the shipped thresholds by face size (longer side of the annotated box; every annotated "
              "face counts):", "", "| set | face size | faces | float | int8 | int8 - float |", "|---|---|---|---|---|---|"]
    for name in f["recall_by_size"]:
        for size, fr in f["recall_by_size"][name].items():
            qr = q["recall_by_size"][name][size]
            if fr["faces"]:
                lines.append(f"| {name} | {size} | {fr['faces']} | {fr['recall']:.3f} | {qr['recall']:.3f} | "
                             f"{qr['recall'] - fr['recall']:+.3f} |")
    lines += ["", f"Recall at the shipped thresholds on WIDER faces of {BOOTH_FACE} px and more, by condition:", "",
              "| condition | faces | float | int8 | int8 - float |", "|---|---|---|---|---|"]
    for condition, fr in f["recall_by_condition"].items():
        qr = q["recall_by_condition"][condition]
        if fr["faces"]:
            lines.append(f"| {condition} | {fr['faces']} | {fr['recall']:.3f} | {qr['recall']:.3f} | "
                         f"{qr['recall'] - fr['recall']:+.3f} |")
    lines += ["", f"int8 vs float on {a['frames']} frames of the shared videos (every 5th frame): {a['matched']} faces "
              f"matched, mean IoU {a['iou_mean']:.3f} (median {a['iou_median']:.3f}), mean score difference "
              f"{a['score_diff_mean']:.3f}, {a['missed']} float faces missed, {a['extra']} extra int8 detections."]
    return "\n".join(lines) + "\n"
