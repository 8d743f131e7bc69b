"""Configuration of on-device monitoring: window lengths and the ok / warn / alert limits of every metric.

EdgeConfig holds a `MonitoringSettings` as its `monitoring` section. Each limit is a pair [warn, alert]:
`<metric>_low` limits warn below `warn` and alert below `alert` (so alert <= warn); `<metric>_high`
limits warn above `warn` and alert above `alert` (so alert >= warn). The defaults and where they come
from are in docs/monitoring.md.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from edge.strict import Strict

Limits = tuple[float, float]  # [warn, alert]


def _limits(warn: float, alert: float, what: str) -> Limits:
    return Field((warn, alert), description=f"[warn, alert] limits of {what}")


class MonitoringSettings(Strict):
    quality_window_s: float = Field(30.0, gt=0, description="seconds of face crops and frames behind the input "
                                    "quality figures (brightness, contrast, sharpness, face size, frames without "
                                    "a face)")
    drift_window_s: float = Field(3600.0, gt=0, description="seconds of predictions compared with the training "
                                  "reference; long, because one person's expressions are not a population")
    health_window_s: float = Field(30.0, gt=0, description="seconds behind fps, latency and error rate")
    quality_samples_per_s: float = Field(5.0, gt=0, description="frames per second whose faces are measured "
                                         "at most (each measurement cuts the face again); light and focus "
                                         "change more slowly than that")
    min_samples: int = Field(30, ge=1, description="faces (or frames) a quality or health window needs before "
                             "it is judged; fewer read as unknown")
    drift_min_faces: int = Field(3000, ge=1, description="faces the drift window needs before prediction "
                                 "drift and confidence drop are judged")
    drift_reference: Literal["baseline", "training"] = Field(
        "baseline", description="what the predictions are compared with: 'baseline', the booth's own first "
        "baseline_faces faces after start-up (its people, its light: a booth is not FER2013's population), or "
        "'training', the model's predictions on its training faces (alerts on any booth whose visitors differ)")
    baseline_faces: int = Field(3000, ge=1, description="faces the booth's baseline gathers before drift is "
                                "judged against it (drift_reference = 'baseline'; about 2 minutes of one face "
                                "at 24 fps)")
    brightness_low: Limits = _limits(60.0, 40.0, "the median mean grey level (0-255) of face crops, below")
    brightness_high: Limits = _limits(195.0, 215.0, "the median mean grey level (0-255) of face crops, above")
    contrast_low: Limits = _limits(25.0, 15.0, "the median grey-level standard deviation of face crops, below")
    sharpness_low: Limits = _limits(0.2, 0.1, "the median sharpness of face crops (variance of the Laplacian "
                                    "over the grey-level variance), below")
    face_size_low: Limits = _limits(48.0, 32.0, "the median face box side in pixels, below")
    no_face_share_high: Limits = _limits(0.5, 0.8, "the share of frames without a face, above")
    prediction_psi_high: Limits = _limits(0.5, 1.0, "the population stability index of predicted expressions "
                                          "against the training reference, above")
    confidence_drop_high: Limits = _limits(0.1, 0.2, "the fall of the mean top-class probability below the "
                                           "training reference's, above")
    fps_low: Limits = _limits(10.0, 5.0, "processed frames per second, below")
    latency_p95_ms_high: Limits = _limits(50.0, 100.0, "the 95th percentile of the per-frame pipeline latency "
                                          "(ms), above")
    error_rate_high: Limits = _limits(0.01, 0.05, "the share of frames that failed in the pipeline, above")
    temperature_c_high: Limits = _limits(75.0, 82.0, "the hottest thermal zone (deg C; a Pi throttles at 80-85), "
                                         "above")

    @field_validator("*")
    @classmethod
    def _ordered(cls, value, info: ValidationInfo):
        # an alert limit on the good side of its warn limit would alert before it warns
        name = info.field_name or ""
        if name.endswith("_low") and value[1] > value[0]:
            raise ValueError(f"the alert limit {value[1]:g} is above the warn limit {value[0]:g}: "
                             "a _low pair is [warn, alert] with alert <= warn")
        if name.endswith("_high") and value[1] < value[0]:
            raise ValueError(f"the alert limit {value[1]:g} is below the warn limit {value[0]:g}: "
                             "a _high pair is [warn, alert] with alert >= warn")
        return value
