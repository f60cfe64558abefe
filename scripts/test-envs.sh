# Sourced by scripts/test after bootstrap.sh (or run alone after it): what some tests need
# beside the project's .venv, built once and kept (each part skips itself when current).
# Each environment is a plain venv with exactly the listed packages and nothing of
# cloudserve's; its .ready-<hash> stamp names the pins it was built from (conftest.built).
#   .cache/envs/sklearn-1.5  scikit-learn 1.5 alone: writes models the way the Vertex example
#                            and Vertex AI's prebuilt sklearn-cpu.1-5 container expect
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLOUDSERVE_VENV:-$ROOT/.venv}"
CACHE="${CLOUDSERVE_TEST_CACHE:-$ROOT/.cache}"
PY="$VENV/bin/python"
# The interpreter the project venv was made from: an "image" Python with nothing installed.
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"

# python_for VERSION: an interpreter of that minor version (the one a cloud image runs),
# else the base interpreter, with a notice (the stack is then checked on another Python).
python_for() {
  local found
  found="$(command -v "python$1" || true)"
  if [ -n "$found" ] && "$found" -c 'import venv' 2>/dev/null; then
    echo "$found"
  else
    echo "note: no python$1 here; using $BASE_PY" >&2
    echo "$BASE_PY"
  fi
}

# build_env DIR PYTHON WHAT PINS... : a fresh venv at DIR with exactly PINS, unless its
# stamp for these pins is there. PINS may include pip options (--no-build-isolation ...).
build_env() {
  local dir="$1" python="$2" what="$3"
  shift 3
  local stamp
  stamp=".ready-$(printf '%s\n' "$python" "$@" | sha256sum | cut -c1-12)"
  [ -f "$dir/$stamp" ] && return 0
  echo "building $dir ($what)" >&2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  touch "$dir/$stamp"
}

build_env "$CACHE/envs/sklearn-1.5" "$BASE_PY" "scikit-learn 1.5; about 30 s" \
  scikit-learn==1.5.2 joblib==1.4.2
