import json

import pytest

from edge.manifest import float_version, model_entry
from edge.tflite import ModelLoadError
from tests.conftest import require_module
from training.manifest import sha256, update_manifest


def entry(name, task, file="x.tflite"):
    return {"name": name, "task": task, "file": file, "sha256": "0" * 64}


def names(path):
    return [m["name"] for m in json.loads(path.read_text())["models"]]


def test_primary_models_go_first_in_their_task_and_entries_are_replaced_by_name(tmp_path):
    path = tmp_path / "manifest.json"
    update_manifest(path, [entry("det", "face_detection")], primary=True)
    update_manifest(path, [entry("base", "emotion"), entry("base_float", "emotion")], primary=False)
    update_manifest(path, [entry("student", "emotion"), entry("student_float", "emotion")], primary=True)
    assert names(path) == ["det", "student", "student_float", "base", "base_float"]
    update_manifest(path, [dict(entry("student", "emotion"), version="2")], primary=True)
    manifest = json.loads(path.read_text())
    assert manifest["schema"] == 1 and names(path) == ["det", "student", "student_float", "base", "base_float"]
    assert manifest["models"][1]["version"] == "2"


def test_edge_reads_back_what_training_wrote_and_checks_sha256(tmp_path):
    model = tmp_path / "emotion/m.tflite"
    model.parent.mkdir()
    model.write_bytes(b"model bytes")
    update_manifest(tmp_path / "manifest.json", [dict(entry("m", "emotion", "emotion/m.tflite"), sha256=sha256(model))],
                    primary=True)
    got, path = model_entry("emotion", models_dir=tmp_path)
    assert got["name"] == "m" and path == model
    model.write_bytes(b"tampered")
    with pytest.raises(ModelLoadError, match=r"m.tflite: sha256 .* does not match the manifest"):
        model_entry("emotion", models_dir=tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match="manifest.json: not valid JSON"):
        model_entry("emotion", models_dir=tmp_path)


def test_float_version_of_each_shipped_model():
    assert float_version("emotion")[0]["name"] == "fer_student_float"  # the default int8 student's original
    assert float_version("face_detection")[0]["name"] == "blazeface_short_float"
    assert float_version("face_detection", "blazeface_full_float")[0]["name"] == "blazeface_full_float"  # float already


def test_re_export_keeps_reference_stats_only_when_they_describe_the_same_file(tmp_path):
    require_module("mlflow")  # training.export tracks its runs
    from training.export import carry_reference_stats
    stats = tmp_path / "emotion/m_reference.json"
    stats.parent.mkdir()
    stats.write_text(json.dumps({"model": {"name": "m_int8", "sha256": "a" * 64}}))
    fields = {"reference_stats": "emotion/m_reference.json", "reference_stats_sha256": sha256(stats)}
    update_manifest(tmp_path / "manifest.json", [dict(entry("m_int8", "emotion"), **fields)], primary=True)

    same = [dict(entry("m_int8", "emotion"), sha256="a" * 64, precision="int8")]
    assert carry_reference_stats(tmp_path, same) and same[0]["reference_stats_sha256"] == fields["reference_stats_sha256"]
    retrained = [dict(entry("m_int8", "emotion"), sha256="b" * 64, precision="int8")]
    assert not carry_reference_stats(tmp_path, retrained) and "reference_stats" not in retrained[0]
