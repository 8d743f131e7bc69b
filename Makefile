# make run    - create .venv with the device runtime, start the daemon (camera if /dev/video0 exists, else
#               the bundled demo clip); the dashboard is at http://127.0.0.1:8080/
# make test   - add the training and test tools to .venv (and .venv-tflite for the Pi runtime check),
#               run every test
# make bench  - the standard benchmark on the bundled demo clip (docs/benchmarks.md)
# make train  - reproduce the shipped emotion models (the teacher step needs a GPU: training/README.md)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TFLITE_VENV := .venv-tflite
PIP := $(VENV)/bin/pip install --quiet --disable-pip-version-check

.PHONY: run test bench train check-models clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements/runtime.txt | $(VENV)/bin/python
	$(PIP) -r requirements/runtime.txt
	touch $@

$(VENV)/.test: requirements/runtime.txt requirements/training.txt requirements/teacher.txt requirements/test.txt | $(VENV)/bin/python
	$(PIP) -r requirements/test.txt
	touch $@ $(VENV)/.runtime

$(TFLITE_VENV)/.installed: requirements/tflite-runtime.txt
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/tflite-runtime.txt
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/python -m edge run $(if $(CONFIG),--config $(CONFIG),$(if $(wildcard /dev/video0),--source /dev/video0))

test: $(VENV)/.test $(TFLITE_VENV)/.installed
	$(VENV)/bin/python -m pytest

bench: $(VENV)/.runtime
	$(VENV)/bin/python -m edge bench --source media/demo.mp4 --frames 300 --threads 1,2 --compare --markdown

train: $(VENV)/.test
	TF_ENABLE_ONEDNN_OPTS=0 $(VENV)/bin/python -m training all --config training/configs/mini_xception.toml
	$(VENV)/bin/python -m training all --config training/configs/fer_student.toml

check-models: $(VENV)/.runtime
	$(VENV)/bin/python ../shared/tools/check_emotion_model.py .
	$(VENV)/bin/python ../shared/tools/check_face_detector.py models/face_detector/blazeface_short_int8.tflite

clean:
	rm -rf $(VENV) $(TFLITE_VENV) .pytest_cache
