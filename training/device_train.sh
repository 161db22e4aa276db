#!/usr/bin/env bash
# The one command a lent GPU machine runs (docs/training.md, "A GPU run"), from a lightened
# checkout (`python -m training device-tree lighten`) that carries .data/fer2013.tar.gz:
#   bash training/device_train.sh CONFIG MINUTES
# Unpacks FER-2013 train and val, trains CONFIG for at most MINUTES (the one-cycle schedule is
# fitted to that time), and leaves in $OUT what comes back: best.pt (weights, no optimiser state:
# about 8 MB), summary.json, log.csv, run.log and curves.png. The export, mirror form, calibration
# and comparison run afterwards on the CPU here, since the device takes no registered model.
set -euo pipefail
config=${1:?usage: device_train.sh CONFIG MINUTES}
minutes=${2:?usage: device_train.sh CONFIG MINUTES}
: "${OUT:?OUT must name the folder whose files come back}"
python=${PYTHON:-python3}
if [ ! -d .data/fer2013/train ]; then
  [ -f .data/fer2013.tar.gz ] || { echo "no .data/fer2013.tar.gz: carry it" >&2; exit 2; }
  tar -xzf .data/fer2013.tar.gz -C .data
fi
export WELLBEING_RUNS_DIR=${WELLBEING_RUNS_DIR:-/tmp/wellbeing-runs}
"$python" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(), flush=True)'
"$python" -m training train --config "$config" --max-minutes "$minutes" --threads 8
run=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["run"]["name"])' "$config")
for name in best.pt summary.json log.csv run.log curves.png; do
  if [ -f "$WELLBEING_RUNS_DIR/$run/$name" ]; then cp "$WELLBEING_RUNS_DIR/$run/$name" "$OUT/"; fi
done
ls -l "$OUT"
