# Sourced by scripts/test after bootstrap.sh (or run alone after it): what some tests need
# beside the project's .venv, built once and kept (each part skips itself when current).
#   .cache/envs/sklearn-1.5  scikit-learn 1.5 alone: writes models the way the Vertex example
#                            and Vertex AI's prebuilt sklearn-cpu.1-5 container expect
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLOUDSERVE_VENV:-$ROOT/.venv}"
CACHE="${CLOUDSERVE_TEST_CACHE:-$ROOT/.cache}"
PY="$VENV/bin/python"
# The interpreter the project venv was made from: an "image" Python with nothing installed.
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"

SKLEARN_ENV="$CACHE/envs/sklearn-1.5"
SKLEARN_PINS="scikit-learn==1.5.2 joblib==1.4.2"
if [ ! -f "$SKLEARN_ENV/.ready-$(echo "$SKLEARN_PINS" | sha256sum | cut -c1-12)" ]; then
  echo "building $SKLEARN_ENV ($SKLEARN_PINS; about 30 s)" >&2
  rm -rf "$SKLEARN_ENV"
  "$BASE_PY" -m venv "$SKLEARN_ENV"
  # shellcheck disable=SC2086
  "$SKLEARN_ENV/bin/python" -m pip install -q --disable-pip-version-check $SKLEARN_PINS
  touch "$SKLEARN_ENV/.ready-$(echo "$SKLEARN_PINS" | sha256sum | cut -c1-12)"
fi
