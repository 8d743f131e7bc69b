"""The dashboard's recent history, in memory: expression mix, frame rate and latency per interval.

settings (the config section) -> intervals (History: fed by the inference loop, read by GET /api/history).
"""
