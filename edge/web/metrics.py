"""Prometheus metrics, read from LiveState at scrape time (no second set of counters to keep in step)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edge.state import LiveState

HEALTH = {"ok": 0, "degraded": 1, "failing": 2}


class StateCollector:
    def __init__(self, state: LiveState):
        self.state = state

    def collect(self):
        s = self.state
        for name, value, doc in (("frames_in", s.frames_in, "frames captured by the source"),
                                 ("frames_processed", s.processed, "frames run through the pipeline"),
                                 ("frames_dropped", s.dropped, "frames replaced by a newer one before processing"),
                                 ("errors", s.errors, "frames that failed in the pipeline")):
            yield CounterMetricFamily(f"fer_edge_{name}", doc, value=value)
        yield GaugeMetricFamily("fer_edge_fps", "processed frames per second (5 s window)", value=s.fps())
        yield GaugeMetricFamily("fer_edge_health", "0 ok, 1 degraded, 2 failing", value=HEALTH[s.health().status])
        faces = len(s.latest.faces) if s.latest else 0
        yield GaugeMetricFamily("fer_edge_faces", "faces in the latest frame", value=faces)
        latency = GaugeMetricFamily("fer_edge_stage_latency_ms", "per-stage latency percentiles (ms)",
                                    labels=["stage", "quantile"])
        for stage, q in s.latency().items():
            latency.add_metric([stage, "0.5"], q["p50_ms"])
            latency.add_metric([stage, "0.95"], q["p95_ms"])
        yield latency


def registry_for(state: LiveState) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(state))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
