import pytest

"""The CI version of the fault-injecting soak: the real daemon for 60 s on the shared talking-face video at
30 fps, every in-process camera fault once, three local API clients and open event streams throughout;
then a driver read that never returns, which only a restart cures (the 30-minute run: docs/reliability.md)."""
from edge.devtools.soak import CAMERA_FAULTS, soak

pytestmark = pytest.mark.slow  # daemon processes: make test runs it, make test-fast does not

VIDEO = "media/videos/pyfeat_single_face_talking.mp4"
IN_PROCESS = tuple(f for f in CAMERA_FAULTS if f != "hang")


def test_soak_60_s_with_faults_recovers_from_every_fault(shared_data):
    result = soak(str(shared_data / VIDEO), 60, faults=(*IN_PROCESS, "api"), fault_every_s=10, fault_length_s=4,
                  streams=8)
    faults, api = result["faults"], result["api"]
    print(f"\nsoak 60 s: {faults['recovered']}/{faults['outages']} outages recovered (detected within "
          f"{faults['max_detected_after_s']} s, longest outage {faults['max_outage_s']} s from the fault's start, "
          f"{faults['frames_lost']} frames lost), {result['counters']['processed']} frames processed, "
          f"RSS {result['rss_mb']} MB, threads {result['threads']}, {api['requests']} API requests "
          f"({api['failed']} failed), streams {result['streams']}, log {result['log']}")
    assert [e["kind"] for e in faults["events"]] == list(IN_PROCESS)
    assert faults["outages"] == len(IN_PROCESS) - 1 and faults["recovered"] == faults["outages"], faults["events"]
    bad = next(e for e in faults["events"] if e["kind"] == "bad")
    assert bad["outage"] is False and bad["frames_rejected"] > 0 and bad["survived"]  # not an outage
    for event in faults["events"]:
        if event["outage"]:  # the outage counts from the fault's start: at least the fault itself
            assert event["outage_s"] >= event["length_s"], event
            # a frozen camera's repeated images are still processed (stale, not lost)
            assert event["frames_lost"] > 0 or event["kind"] == "freeze", event
    assert result["log"]["tracebacks"] == 0 and result["exit_code"] == 0
    assert api["failed"] == 0 and api["unanswered_daemon_down"] == 0 and api["sessions_finished"] >= 3, api["failures"]
    assert result["streams"]["without_events"] == 0
    assert result["rss_mb"]["trend_after_warmup"] <= 10 and result["rss_mb"]["max"] >= result["rss_mb"]["last"]
    assert result["fps_average"] > 10 and result["camera"]["stalls"] == len(IN_PROCESS) - 1  # bad: no stall


def test_a_read_that_never_returns_ends_in_a_restart_not_a_pile_of_threads(shared_data, tmp_path):
    config = tmp_path / "edge.toml"
    config.write_text("[watchdog]\ncamera_failing_s = 2\ncamera_give_up_s = 6\n")
    result = soak(str(shared_data / VIDEO), 30, config, faults=("hang",), fault_every_s=15, fault_length_s=3)
    hang = result["faults"]["events"][0]
    print(f"\nhang: {hang}; threads {result['threads']}, open files {result['open_files']}")
    assert hang["restarted"]["exit_code"] == 4 and hang["recovered"], hang  # exit 4: systemd restarts it
    assert hang["outage_s"] >= 6 and hang["frames_lost"] > 0
    assert result["restarts"] == 1 and result["log"]["tracebacks"] == 0
    assert result["threads"]["max"] - result["threads"]["first"] <= 3  # one abandoned reader, not one per retry
