"""The CI version of the fault-injecting soak: the real daemon for 60 s on the shared talking-face video at
30 fps, every camera fault once, a local API client throughout (the 30-minute run: docs/reliability.md)."""
from edge.soak import CAMERA_FAULTS, soak

VIDEO = "media/videos/pyfeat_single_face_talking.mp4"


def test_soak_60_s_with_faults_recovers_from_every_fault(shared_data):
    result = soak(str(shared_data / VIDEO), 60, faults=(*CAMERA_FAULTS, "api"), fault_every_s=10, fault_length_s=4)
    faults, api = result["faults"], result["api"]
    print(f"\nsoak 60 s: {faults['recovered']}/{faults['injected']} faults recovered (detected within "
          f"{faults['max_detected_after_s']} s, recovered within {faults['max_recovered_after_s']} s), "
          f"{result['counters']['processed']} frames processed, {result['counters']['dropped']} dropped, "
          f"RSS growth {result['rss_mb_growth_after_warmup']} MB (max {result['rss_mb_max']} MB), "
          f"{api['requests']} API requests ({api['failed']} failed), log {result['log']}")
    assert [e["kind"] for e in faults["events"]] == list(CAMERA_FAULTS)
    assert faults["recovered"] == faults["injected"] == len(CAMERA_FAULTS), faults["events"]
    assert result["log"]["tracebacks"] == 0 and result["exit_code"] == 0
    assert api["failed"] == 0 and api["sessions_finished"] >= 3, api["failures"]
    assert result["rss_mb_growth_after_warmup"] <= 10
    assert result["fps_average"] > 10 and result["camera"]["stalls"] == len(CAMERA_FAULTS) - 1  # bad: no stall
