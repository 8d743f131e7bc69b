"""Run inside .venv-tflite (tflite-runtime 2.14, numpy < 2): logits of every model in a manifest on the
fixture faces, as JSON on stdout. edge.tflite falls back to tflite-runtime there, as on older Pi images."""
import json
import sys
from pathlib import Path

import numpy as np

from edge.emotion import EmotionModel
from edge.tflite import runtime_name

models_dir, faces_file = Path(sys.argv[1]), sys.argv[2]
manifest = json.loads((models_dir / "manifest.json").read_text())
faces = np.load(faces_file)["x"]
out = {"runtime": runtime_name(), "numpy": np.__version__, "logits": {}}
for m in manifest["models"]:
    if m["task"] != "emotion":
        continue
    model = EmotionModel(models_dir / m["file"], m["input"]["mean"], m["input"]["std"], m["labels"])
    out["logits"][m["name"]] = [model.logits(f).tolist() for f in faces]
print(json.dumps(out))
