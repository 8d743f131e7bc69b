"""fer-edge: on-device facial expressions. The daemon (python -m edge run), its tools, and a Python API:

    from edge import Analyzer
    faces = Analyzer().analyze(cv2.imread("photo.jpg"))   # [FaceReading(box, score, landmarks, probabilities,
                                                           #              expression, track_id)]

The API is imported on first use, so the daemon's own modules do not load it.
"""
__version__ = "0.2.0"
__all__ = ["Analyzer", "FaceReading", "Reading", "AnalyzeError", "__version__"]


def __getattr__(name: str):
    if name in ("Analyzer", "FaceReading", "Reading", "AnalyzeError"):
        from edge import analyze
        return getattr(analyze, name)
    raise AttributeError(f"module 'edge' has no attribute {name!r}")
