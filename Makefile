# make run    - create .venv with the device runtime, start the daemon (camera if /dev/video0 exists, else
#               the bundled demo clip); the dashboard is at http://127.0.0.1:8080/
# make test   - add the training and test tools to .venv (and .venv-tflite for the older images' runtime),
#               run every test
# make test-fast - the edit-run loop: runtime and pytest only (no PyTorch, TensorFlow or browsers), the tests
#               not marked slow (no daemon processes, browsers, emulation or training); make test runs all
# make bench  - the standard benchmark on the bundled demo clip (docs/benchmarks.md)
# make bench-peers - the same in .venv-peers, with MediaPipe's own face detector among the comparisons
# make test-arm64 - install.sh inside an emulated arm64 Debian Bookworm root, then the daemon on the demo
#               clip there (root; minutes; the root is cached in /var/cache/fer-edge-arm64)
# make screenshots - every kiosk screen, the privacy page and the dashboard, taken from the daemon on the
#               demo clip in headless Chromium, into docs/screenshots/ (needs chromium chromium-driver)
# make train  - reproduce the shipped emotion models on CPU: the baseline, then the vote-trained student
#               (training/README.md; resumable: run it again after a stop)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TFLITE_VENV := .venv-tflite
PEERS_VENV := .venv-peers
PIP := $(VENV)/bin/pip install --quiet --disable-pip-version-check

.PHONY: run test test-fast test-arm64 bench bench-peers screenshots train check-models clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements/runtime.txt | $(VENV)/bin/python
	$(PIP) -r requirements/runtime.txt
	touch $@

$(VENV)/.test: requirements/runtime.txt requirements/training.txt requirements/teacher.txt requirements/test.txt | $(VENV)/bin/python
	@$(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11) and "$(VENV) is Python %d.%d: the device runtime (make run) works on 3.10, the test and training tools need 3.11. Remove $(VENV) and rerun with PYTHON=python3.11." % sys.version_info[:2])'
	$(PIP) -r requirements/test.txt
	touch $@ $(VENV)/.runtime

# The older device images: tflite-runtime with numpy 1, on JetPack 6's Python 3.10 where this machine has one
# (Pi OS Bookworm's 3.11 is the main venv's), with the rest of the runtime: the tests run the daemon's
# pipeline there too
# (one that can make a venv: Ubuntu's python3.10 cannot without python3.10-venv)
OLD_PYTHON ?= $(firstword $(foreach p,$(wildcard /usr/bin/python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10),\
	$(shell $(p) -c 'import ensurepip, venv' 2>/dev/null && echo $(p))) $(PYTHON))
$(TFLITE_VENV)/.installed: requirements/tflite-runtime.txt requirements/runtime.txt
	$(OLD_PYTHON) -m venv --clear $(TFLITE_VENV)
	grep -Ev '^(ai-edge-litert|numpy)[=<>; ]' requirements/runtime.txt >$(TFLITE_VENV)/runtime-rest.txt
	$(TFLITE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/tflite-runtime.txt \
		-r $(TFLITE_VENV)/runtime-rest.txt
	touch $@

# mediapipe apart from its declared dependencies: requirements/bench-peers-nodeps.txt says why
$(PEERS_VENV)/.installed: requirements/runtime.txt requirements/bench-peers.txt requirements/bench-peers-nodeps.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/bench-peers.txt
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements/bench-peers-nodeps.txt
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/python -m edge run $(if $(CONFIG),--config $(CONFIG),$(if $(wildcard /dev/video0),--source /dev/video0))

test: $(VENV)/.test $(TFLITE_VENV)/.installed
	$(VENV)/bin/python -m pytest

$(VENV)/.fast: requirements/runtime.txt requirements/test-fast.txt | $(VENV)/bin/python
	$(PIP) -r requirements/test-fast.txt
	touch $@ $(VENV)/.runtime

test-fast: $(VENV)/.fast
	$(VENV)/bin/python -m pytest -m "not slow" -q

test-arm64: $(VENV)/.test
	FER_EDGE_ARM64=1 $(VENV)/bin/python -m pytest -s -p no:cacheprovider --timeout 3600 tests/test_arm64_emulated.py

BENCH_ARGS := --source media/demo.mp4 --frames 300 --threads 1,2 --compare --markdown
bench: $(VENV)/.runtime
	$(VENV)/bin/python -m edge bench $(BENCH_ARGS)

bench-peers: $(PEERS_VENV)/.installed
	$(PEERS_VENV)/bin/python -m edge bench $(BENCH_ARGS)

screenshots: $(VENV)/.test
	$(VENV)/bin/python -m edge.devtools.screenshots --out docs/screenshots

train: $(VENV)/.test
	$(VENV)/bin/python -m training all --config training/configs/mini_xception.toml
	$(VENV)/bin/python -m training all --config training/configs/votes_long.toml

check-models: $(VENV)/.runtime
	$(VENV)/bin/python ../shared/tools/check_emotion_model.py .
	$(VENV)/bin/python ../shared/tools/check_face_detector.py models/face_detector/blazeface_short_int8.tflite

clean:
	rm -rf $(VENV) $(TFLITE_VENV) $(PEERS_VENV) .pytest_cache
