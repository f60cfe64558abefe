# Sourced by the other scripts: make .venv (Python 3.11+) and install what is asked.
# Usage: . scripts/bootstrap.sh EXTRAS [provider[extras] ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${CLOUDSERVE_VENV:-$ROOT/.venv}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "cloudserve needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt")
install_args=(-e "$ROOT[$1]")
shift
for provider in "$@"; do
  install_args+=(-e "$ROOT/providers/$provider")
done
# Skip the resolver when nothing changed since the last install (keeps re-runs fast).
stamp="$VENV/.cloudserve-install-$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" "$ROOT"/providers/*/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)-$(echo "${install_args[*]}" | sha256sum | cut -c1-8)"
if [ ! -f "$stamp" ]; then
  echo "installing into $VENV: ${install_args[*]}" >&2
  echo "  (about a minute on a fresh machine; later runs skip this step)" >&2
  if [ -t 2 ]; then
    # On a terminal, one line per package as pip fetches it, so a long install shows progress.
    log="$VENV/pip-install.log"
    set +e
    "${PIP[@]}" --progress-bar off -v "${install_args[@]}" 2>&1 | tee "$log" \
      | grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' \
      | cut -c1-100 >&2
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
      tail -n 30 "$log" >&2
      echo "pip failed (exit $status); the whole log is $log" >&2
      exit "$status"
    fi
  else
    "${PIP[@]}" "${install_args[@]}"
  fi
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
