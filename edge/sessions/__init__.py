"""Interview-practice sessions for kiosk booths: per-second expression aggregates, summaries and advice.

settings (config models) -> aggregate (frames to seconds to summaries) -> store (SQLite) -> recorder
(the active session, fed by the inference loop) -> advice (explainable tips) -> api (Flask blueprint).
"""
