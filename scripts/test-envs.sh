# Sourced by scripts/test after bootstrap.sh (or run alone after it): what some tests need
# beside the project's .venv, built once and kept (each part skips itself when current).
# Each environment is a plain venv with exactly the listed packages and nothing of
# cloudserve's; its .ready-<hash> stamp names the pins it was built from (conftest.built).
#   .cache/envs/sklearn-1.5  scikit-learn 1.5 alone: writes models the way the Vertex example
#                            and Vertex AI's prebuilt sklearn-cpu.1-5 container expect
#   .cache/envs/azureml-inference-server  Python 3.12 with exactly the pip list of cloudserve's
#                            Azure ML conda file for a scikit-learn model (translate.conda_pip_pins):
#                            azureml-inference-server-http (azmlinfsrv), azureml-ai-monitoring and
#                            the runtime's pins; the code folder brings cloudserve itself
#   .cache/envs/sagemaker-sklearn-1.4-2  SageMaker's scikit-learn serving image's packages
#   .cache/wheels/sagemaker  wheels of offline SageMaker archives and the drift job's runtime zip
#   .cache/images/{runtime,baked}  `cloudserve package` images, their Dockerfiles followed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLOUDSERVE_VENV:-$ROOT/.venv}"
CACHE="${CLOUDSERVE_TEST_CACHE:-$ROOT/.cache}"
PY="$VENV/bin/python"
# The interpreter the project venv was made from: an "image" Python with nothing installed.
BASE_PY="$("$PY" -c 'import sys; print(sys._base_executable)')"

# python_for VERSION: an interpreter of that minor version (the one a cloud image runs),
# else the base interpreter, with a notice (the stack is then checked on another Python).
# A pyenv shim on PATH fails unless that version is selected, so pyenv's own installs count too.
python_for() {
  local candidate
  for candidate in "$(command -v "python$1" || true)" \
    "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/"python$1" 2>/dev/null | sort -V | tail -n 1)"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "note: no python$1 here; using $BASE_PY" >&2
  echo "$BASE_PY"
}

# build_env DIR PYTHON WHAT PINS... : a fresh venv at DIR with exactly PINS, unless its
# stamp for these pins is there. PINS may include pip options (--no-build-isolation ...).
build_env() {
  local dir="$1" python="$2" what="$3"
  shift 3
  local stamp lock
  stamp=".ready-$(printf '%s\n' "$python" "$@" | sha256sum | cut -c1-12)"
  [ -f "$dir/$stamp" ] && return 0
  mkdir -p "$(dirname "$dir")"
  # Two set-ups at once (parallel test runs) must not build the same venv over each other.
  exec {lock}>"$dir.lock"
  flock "$lock"
  if [ ! -f "$dir/$stamp" ]; then
    echo "building $dir ($what)" >&2
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
    touch "$dir/$stamp"
  fi
  exec {lock}>&-
}

# The Azure ML emulator's wire check (cloudserve_azureml.emulator.wire) reads each ARM body against
# the REST models generated for the request's api-version. azure-ai-ml 1.35 ships a single
# client (arm_ml_service, the 2025-12-01 models) for all of them; 1.34.1 is the last release
# with the per-api-version packages (_restclient/v2022_02_01_preview, ..., generated from
# Azure/azure-rest-api-specs), so only those folders of its wheel are kept, as data.
AZUREML_REST_MODELS="$CACHE/rest-models/azure-ai-ml-1.34.1"
if [ ! -f "$AZUREML_REST_MODELS/.ready-1" ]; then
  mkdir -p "$CACHE/rest-models"
  exec {models_lock}>"$AZUREML_REST_MODELS.lock"
  flock "$models_lock"
  if [ ! -f "$AZUREML_REST_MODELS/.ready-1" ]; then
    echo "fetching azure-ai-ml 1.34.1's REST models into $AZUREML_REST_MODELS" >&2
    rm -rf "$AZUREML_REST_MODELS"
    "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$AZUREML_REST_MODELS.whl" azure-ai-ml==1.34.1
    "$PY" - "$AZUREML_REST_MODELS.whl" "$AZUREML_REST_MODELS" <<'PY'
import sys
import zipfile
from pathlib import Path

wheel = next(Path(sys.argv[1]).glob("azure_ai_ml-1.34.1-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    keep = [n for n in archive.namelist() if n.startswith("azure/ai/ml/_restclient/v20")]
    archive.extractall(sys.argv[2], members=keep)
PY
    rm -rf "$AZUREML_REST_MODELS.whl"
    touch "$AZUREML_REST_MODELS/.ready-1"
  fi
  exec {models_lock}>&-
fi

build_env "$CACHE/envs/sklearn-1.5" "$BASE_PY" "scikit-learn 1.5; about 30 s" \
  scikit-learn==1.5.2 joblib==1.4.2

# The pins are cloudserve's own conda-file list (what environment_entity writes) for a skops
# model saved by this venv's scikit-learn, so the env follows any change to that list.
AZUREML_PINS_TEXT="$("$PY" -c '
from cloudserve.spec.models import ModelSpec
from cloudserve_azureml.translate import conda_pip_pins
print("\n".join(conda_pip_pins(ModelSpec(uri="model", framework="sklearn", format="skops"), None)))
')"
mapfile -t AZUREML_PINS <<<"$AZUREML_PINS_TEXT"
build_env "$CACHE/envs/azureml-inference-server" "$(python_for 3.12)" \
  "azureml-inference-server-http with cloudserve's Azure ML pins; about 30 s" "${AZUREML_PINS[@]}"

# SageMaker's scikit-learn serving image, 1.4-2-py312, as its Dockerfiles install it
# (aws/sagemaker-scikit-learn-container at 8782528: docker/1.4-2-py312/base/Dockerfile.cpu
# pins numpy 2.1.0 and scikit-learn 1.4.2, then requirements.txt). Left out: what only
# training, multi-model (MMS) serving or nginx use (sagemaker-training, multi-model-server,
# model-archiver, sagemaker-inference, pyarrow). The image's own framework package
# (sagemaker_sklearn_container) is not on PyPI: the test restates its serving entry point.
build_env "$CACHE/envs/sagemaker-sklearn-1.4-2" "$(python_for 3.12)" \
  "SageMaker scikit-learn 1.4-2-py312 serving stack; about 2 min" \
  numpy==2.1.0 scikit-learn==1.4.2 "scipy>=1.9.0" pandas==2.3.2 boto3==1.28.57 \
  "botocore>=1.31.57,<1.32.0" certifi Flask==1.1.1 gevent==23.9.1 gunicorn==23.0.0 \
  itsdangerous==2.0.1 "jinja2<3.0" "MarkupSafe<2.0" protobuf==3.20.2 psutil==5.7.2 \
  python-dateutil PyYAML==6.0.1 retrying==1.3.3 sagemaker-containers==2.8.6.post2 \
  setuptools==80.9.0 six==1.16.0 urllib3==1.26.17 Werkzeug==2.0.3 wheel==0.45.1
# The image's own fix for Python 3.12 (final/Dockerfile.cpu: collections.Mapping).
SM_MAPPING="$(echo "$CACHE"/envs/sagemaker-sklearn-1.4-2/lib/python3.*/site-packages/sagemaker_containers/_mapping.py)"
sed -i 's/collections\.Mapping/collections.abc.Mapping/g' "$SM_MAPPING"

# The wheels offline artifacts carry, for a skops model saved by this venv's scikit-learn:
# a SageMaker archive (staging.offline_pins) and the drift job's runtime zip (job_runtime),
# and an Azure ML build context (translate.conda_pip_pins), fetched once with cloudserve's
# own fetcher; the tests pack them and give the container no index.
"$PY" - "$CACHE/wheels" <<'PY'
import sys
from pathlib import Path

from cloudserve.serving.wheels import cached_wheels, fetch_wheels
from cloudserve.spec.models import ModelSpec
from cloudserve_azureml.translate import conda_pip_pins
from cloudserve_sagemaker.job_runtime import monitor_pins
from cloudserve_sagemaker.staging import offline_pins

root = Path(sys.argv[1])
model = ModelSpec(uri="model.skops", framework="sklearn", format="skops")
wanted = {
    "sagemaker": [offline_pins(model), monitor_pins()],
    "azureml": [conda_pip_pins(model, None)],
}
for name, pin_sets in wanted.items():
    folder = root / name
    for pins in pin_sets:
        if cached_wheels(pins, folder) is None:
            print(f"fetching {len(pins)} wheels into {folder}", file=sys.stderr)
            fetch_wheels(pins, folder)
    (folder / ".ready-wheels").touch()
PY

# Images from `cloudserve package`, built by following their Dockerfiles without Docker
# (scripts/follow-dockerfile.py: a root folder, a venv for the image's Python, resumed at
# the first changed step like docker's layer cache): the runtime-only image
# (targets.vertex.serving_image) and one with a scikit-learn model baked in. The tests
# regenerate both contexts and refuse to run if these were followed from other files.
IMAGES="$CACHE/images"
mkdir -p "$IMAGES"
"$PY" - "$IMAGES/model" <<'PY'
import sys
from pathlib import Path

folder = Path(sys.argv[1])
if not (folder / "model.skops").is_file():
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    folder.mkdir(parents=True, exist_ok=True)
    sio.dump(LogisticRegression(max_iter=500).fit(x, y), folder / "model.skops")
PY
for kind in runtime baked; do
  rm -rf "$IMAGES/$kind-context"
  if [ "$kind" = runtime ]; then
    "$VENV/bin/cloudserve" package --runtime-only --context-dir "$IMAGES/$kind-context" >/dev/null
  else
    "$VENV/bin/cloudserve" package "$IMAGES/model" --context-dir "$IMAGES/$kind-context" >/dev/null
  fi
  "$PY" "$ROOT/scripts/follow-dockerfile.py" "$IMAGES/$kind-context" "$IMAGES/$kind" --python "$(python_for 3.11)"
  touch "$IMAGES/$kind/.ready-followed"
done
