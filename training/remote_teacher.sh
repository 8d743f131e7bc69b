#!/usr/bin/env bash
# Train the teacher ensemble on a rented GPU machine that has PyTorch but no internet.
# Here:  python -m training.pack pack .gpu/fer_pack.npz ../shared/data/fer2013/fer2013_{train,publictest}.npz
#        and the pip wheels of requirements/teacher-remote.txt in .whl/ (Python 3.12, --no-deps)
# There: bash training/remote_teacher.sh CONFIG OUTDIR   -> OUTDIR/teacher_logits.npz, teacher_runs.tgz, teacher.log
set -euo pipefail
config=$1 out=$2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import torch, training.teacher; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m training.pack unpack .gpu/fer_pack.npz .gpu/data
python3 -m training teacher --config "$config" \
  --set data.train.path=.gpu/data/fer2013_train.npz --set data.val.path=.gpu/data/fer2013_publictest.npz \
  --set runs_dir=.gpu/runs "${@:3}" 2>&1 | grep -v -E "INFO|FutureWarning|FileStore" | tee "$out/teacher.log"
cp .gpu/runs/*/teacher/teacher_logits.npz "$out/"
tar czf "$out/teacher_runs.tgz" --exclude='*.pt' -C .gpu runs
