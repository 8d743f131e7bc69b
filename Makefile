# make test   - create .venv (and .venv-tflite for the Pi runtime check), run every test
# make train  - reproduce the shipped emotion models (the teacher step needs a GPU: see training/README.md)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TFLITE_VENV := .venv-tflite

.PHONY: test train check-models clean

$(VENV)/.installed: requirements/runtime.txt requirements/training.txt requirements/teacher.txt requirements/test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/test.txt
	touch $@

$(TFLITE_VENV)/.installed: requirements/tflite-runtime.txt
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/tflite-runtime.txt
	touch $@

test: $(VENV)/.installed $(TFLITE_VENV)/.installed
	$(VENV)/bin/python -m pytest

train: $(VENV)/.installed
	$(VENV)/bin/python -m training all --config training/configs/mini_xception.toml
	$(VENV)/bin/python -m training all --config training/configs/fer_student.toml

check-models: $(VENV)/.installed
	$(VENV)/bin/python ../shared/tools/check_emotion_model.py .

clean:
	rm -rf $(VENV) $(TFLITE_VENV) .pytest_cache
