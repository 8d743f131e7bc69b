"""python -m edge analyze and the Python API (edge/analyze.py) on the shared photos and videos, the examples,
and the package a `pip install .` gives."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import edge
from edge.analyze import AnalyzeError, Analyzer
from edge.crop import face_crop
from edge.faces import Face
from tests.conftest import ROOT

PHOTOS = "media/photos"


def analyze(*args, stdin: bytes | None = None, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "edge", "analyze", *map(str, args)], cwd=cwd, input=stdin,
                          capture_output=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer()


def test_group_photos_need_the_full_range_detector_and_auto_uses_it(shared_data, analyzer):
    group = cv2.imread(str(shared_data / PHOTOS / "pyfeat_multi_face.jpg"))
    short = Analyzer(detector="short")
    assert short.analyze(group) == []  # the booth's detector is made for faces near the camera
    faces = analyzer.analyze(group)
    assert len(faces) >= 5 and analyzer.kinds(video=False) == ("short", "full")
    for f in faces:
        assert abs(sum(f.probabilities.values()) - 1) < 1e-4 and f.expression == max(f.probabilities, key=f.probabilities.get)
        assert set(f.landmarks) == {"right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear"}
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    # a face both detectors find is reported once
    assert len(Analyzer(detector="both").analyze(cv2.imread(str(shared_data / PHOTOS / "pyfeat_single_face.jpg")))) == 1


def test_the_api_gives_the_daemons_expression_for_the_same_face(shared_data, analyzer):
    image = cv2.imread(str(shared_data / PHOTOS / "pyfeat_happy_black.jpg"))
    (reading,) = analyzer.analyze(image)
    face = Face(reading.box, reading.score, np.array(list(reading.landmarks.values())))
    expected = analyzer.emotion.probabilities(face_crop(image, face, analyzer.crop))
    assert np.allclose([reading.probabilities[k] for k in analyzer.emotion.labels], expected)
    assert reading.expression == "happy"  # the shared photo is labelled happy


def test_cli_json_lines_for_images_and_a_sampled_video_with_track_ids(shared_data, tmp_path):
    video = shared_data / "media/videos/pyfeat_single_face_talking.mp4"
    done = analyze(shared_data / PHOTOS / "facerec_two_people.jpg", video, "--json", "--every", "1",
                   "--draw", tmp_path / "drawn")
    assert done.returncode == 0, done.stderr.decode()
    docs = [json.loads(line) for line in done.stdout.decode().splitlines()]
    photo, frames = docs[0], docs[1:]
    assert len(photo["faces"]) == 2 and photo["detectors"] == ["short", "full"] and "frame" not in photo
    fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS)
    assert len(frames) >= 3 and [d["frame"] for d in frames] == [i * round(fps) for i in range(len(frames))]
    assert all(d["detectors"] == ["short"] for d in frames)
    assert {f["track_id"] for d in frames for f in d["faces"]} == {1}  # one person, one id throughout
    p = frames[0]["faces"][0]["probabilities"]
    assert all(len(str(v).split(".")[-1]) <= 4 for v in p.values())  # rounded to 4 places
    drawn = sorted(x.name for x in (tmp_path / "drawn").iterdir())
    assert drawn[0] == "facerec_two_people.jpg" and len(drawn) == 1 + len(frames)


def test_cli_csv_from_stdin_and_a_folder(shared_data, tmp_path):
    photo = (shared_data / PHOTOS / "pyfeat_single_face.jpg").read_bytes()
    done = analyze("-", "--csv", stdin=photo)
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    assert done.returncode == 0 and len(rows) == 1 and rows[0]["source"] == "-"
    assert abs(sum(float(rows[0][k]) for k in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")) - 1) < 1e-3
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("pyfeat_single_face.jpg", "facerec_obama.jpg"):
        (folder / name).write_bytes((shared_data / PHOTOS / name).read_bytes())
    (folder / "notes.txt").write_text("not an image, skipped by suffix")
    rows = list(csv.DictReader(io.StringIO(analyze(folder, "--csv").stdout.decode())))
    assert [r["source"].split("/")[-1] for r in rows] == ["facerec_obama.jpg", "pyfeat_single_face.jpg"]


def test_unreadable_inputs_are_one_line_each_and_the_rest_is_analysed(shared_data, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    done = analyze(tmp_path / "missing.jpg", text, shared_data / PHOTOS / "pyfeat_single_face.jpg")
    err = done.stderr.decode().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 2 and "Traceback" not in done.stderr.decode()
    assert "missing.jpg: no such file or folder" in errors[0] and "notes.jpg: not a readable image" in errors[1]
    assert not [line for line in err if "WARN" in line]  # no OpenCV warning beside our line
    assert "pyfeat_single_face.jpg" in done.stdout.decode()
    garbage = analyze("-", stdin=b"garbage")
    assert garbage.returncode == 1 and "standard input is not an image" in garbage.stderr.decode()
    assert analyze(tmp_path, "--detector", "short").returncode == 1  # a folder with nothing to analyse
    with pytest.raises(AnalyzeError, match="choose one of auto, short, full, both"):
        Analyzer(detector="wide")


def test_examples_run(shared_data, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda *args: subprocess.run([sys.executable, *map(str, args)], cwd=tmp_path, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=300)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "group.jpg").write_bytes((shared_data / PHOTOS / "pyfeat_multi_face.jpg").read_bytes())
    done = run(ROOT / "examples/folder_to_csv.py", folder, tmp_path / "faces.csv")
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "faces.csv").read_text().splitlines()) >= 6  # header + the five faces
    done = run(ROOT / "examples/webcam_loop.py", ROOT / "media/demo.mp4", "--frames", "30")
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("frame 30: "), done.stderr
    done = run(ROOT / "examples/video_to_annotated.py", ROOT / "media/demo.mp4", tmp_path / "out.mp4")
    assert done.returncode == 0, done.stderr
    out, source = (cv2.VideoCapture(str(p)) for p in (tmp_path / "out.mp4", ROOT / "media/demo.mp4"))
    assert out.get(cv2.CAP_PROP_FRAME_COUNT) == source.get(cv2.CAP_PROP_FRAME_COUNT) > 0


@pytest.mark.slow  # builds a wheel and installs it into a fresh venv
def test_pip_install_gives_the_console_command_with_the_models(shared_data, tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(wheels)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q",
                                "--no-deps", *map(str, wheels.glob("*.whl"))], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr
    # the runtime's dependencies come from this venv's site-packages; fer-edge itself only from the wheel
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = {**os.environ, "PYTHONPATH": site}
    version = subprocess.run([str(venv / "bin/fer-edge"), "--version"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert version.stdout.strip() == f"fer-edge {edge.__version__}", version.stderr
    done = subprocess.run([str(venv / "bin/fer-edge"), "analyze", str(shared_data / PHOTOS / "pyfeat_single_face.jpg"),
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["faces"]) == 1
    assert str(venv) in subprocess.run([str(venv / "bin/python"), "-c", "import edge; print(edge.__file__)"],
                                       cwd=tmp_path, env=env, capture_output=True, text=True).stdout


def test_the_readme_lists_every_command_and_option_of_the_parser():
    import argparse

    from edge.__main__ import build_parser
    readme = (ROOT / "README.md").read_text()
    usage = readme[readme.index("## Using it"):]
    usage = usage[:usage.index("```", usage.index("```") + 3)]
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = []
    for name, sub in commands.items():
        lines = [line for line in usage.splitlines() if line.startswith(f"python -m edge {name}")]
        if not lines:
            missing.append(name)
            continue
        block = usage[usage.index(lines[0]):].split("\npython -m", 1)[0]
        missing += [f"{name} {o}" for a in sub._actions for o in a.option_strings if o.startswith("--")
                    and a.help != argparse.SUPPRESS
                    and o != "--help" and o not in block]
        missing += [f"{name} {a.dest}" for a in sub._actions if not a.help and a.dest != "help"]
    assert missing == [], "README's 'Using it' block is out of step with `python -m edge --help`"
    assert "--version" in usage
