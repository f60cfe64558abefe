"""The provider-neutral deployment spec, as pydantic v2 models.

Every model forbids unknown keys: a typo in a spec must fail loudly (with a "did you
mean" from the loader), never be silently ignored and deployed without the setting.
Target-specific rules (name lengths, instance families) are checked at plan time by the
chosen target, so one spec stays portable.
"""

from __future__ import annotations

import difflib
import itertools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from cloudserve.spec.base import StrictModel
from cloudserve.spec.quantities import Cpu, Duration, MemoryMiB

__all__ = ["StrictModel"]  # re-exported: the spec's models and targets' settings share it

# The metrics every target reports; rollout gates read these. errors are server errors
# (5xx answers); client errors (4xx, requests the model refused as malformed) are counted
# apart, so malformed traffic cannot fail a healthy canary unless a gate asks for them.
NEUTRAL_METRICS = (
    "requests",
    "errors",
    "error_rate",
    "client_errors",
    "client_error_rate",
    "latency_p50_ms",
    "latency_p99_ms",
)
MAX_LABELS = 64

# Letters, digits and hyphens, starting with a letter: the intersection of what every
# target accepts for endpoint and version names, so a name that validates is portable.
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

Percent = Annotated[int, Field(ge=0, le=100)]


def _check_name(value: str, what: str, max_len: int) -> str:
    if not _NAME_RE.match(value) or value.endswith("-"):
        raise ValueError(
            f"{what} {value!r} must use lowercase letters, digits and hyphens, start with a "
            "letter and not end with a hyphen (the form every target accepts)"
        )
    if len(value) > max_len:
        raise ValueError(f"{what} {value!r} is {len(value)} characters; the limit is {max_len}")
    return value


class Metadata(StrictModel):
    name: str = Field(description="Deployment name; the endpoint name on every target.")
    labels: dict[str, str] = Field(default_factory=dict, description="Tags/labels on every resource.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "deployment name", 63)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_LABELS:
            raise ValueError(f"{len(value)} labels; the limit is {MAX_LABELS} (Vertex AI allows 64)")
        for key, val in value.items():
            if not _LABEL_KEY_RE.match(key):
                raise ValueError(
                    f"label key {key!r} must be lowercase letters, digits, '_' or '-', "
                    "start with a letter and be at most 63 characters (the rule Vertex AI "
                    "labels impose, so labels stay portable)"
                )
            if len(val) > 63:
                raise ValueError(f"label {key!r}: values are limited to 63 characters")
        return value


Framework = Literal["sklearn", "xgboost", "mlflow", "custom"]
ModelFormat = Literal["joblib", "skops", "pickle", "xgboost", "mlflow", "handler"]


class ModelSpec(StrictModel):
    uri: str = Field(description="Local path (file or directory), or s3://, gs://, azureml:// URI.")
    framework: Framework = Field(default="sklearn", description="What produced the model.")
    framework_version: str | None = Field(
        default=None,
        description=(
            "The library version the model was trained with, e.g. '1.5': selects the prebuilt "
            "serving container on Vertex AI, and is pinned beside cloudserve's runtime on "
            "SageMaker and Azure ML."
        ),
    )
    format: ModelFormat | None = Field(
        default=None,
        description="Artifact format; detected from the files when omitted.",
    )
    trust_pickle: bool = Field(
        default=False,
        description=(
            "Allow pickle-based files (joblib, pickle, MLflow pickle/cloudpickle). Loading one "
            "runs code from it: only for artifacts you built. skops and XGBoost files need no trust."
        ),
    )
    handler: str | None = Field(
        default=None,
        description=(
            "For framework: custom, the Python file (relative to uri, inside the model's "
            "folder) defining load() and predict()."
        ),
    )

    @field_validator("handler")
    @classmethod
    def _handler_inside_model(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = handler_path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _pickles_need_trust(self) -> ModelSpec:
        if self.trust_pickle:
            return self
        if self.format in PICKLED_FORMATS:
            raise ValueError(
                f"@format: '{self.format}' files are pickles, and unpickling runs code from the "
                "file; set trust_pickle: true if you built this artifact yourself, or save it "
                "with skops"
            )
        if self.uri.lower().endswith(PICKLE_SUFFIXES):
            raise ValueError(
                f"@uri: {self.uri.rsplit('/', 1)[-1]} is a pickle (joblib/pickle) file, and "
                "unpickling runs code from it; set trust_pickle: true if you built it yourself, "
                "or save the model with skops"
            )
        return self


#: Formats whose files are pickles underneath, and the file names that say so.
PICKLED_FORMATS = ("joblib", "pickle")
PICKLE_SUFFIXES = (".joblib", ".jbl", ".pkl", ".pickle")


def handler_path_problem(path: str) -> str | None:
    """Why a handler path could leave its model folder, judged on the text alone (the
    file system check, symlinks included, runs where the folder is on disk)."""
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or "\\" in path:
        return (
            f"handler {path[:200]!r} must be a path relative to the model's folder "
            "(forward slashes, e.g. handler.py or src/handler.py)"
        )
    if ".." in path.split("/"):
        return f"handler {path[:200]!r} leaves the model's folder ('..'); keep the handler inside it"
    if not path.endswith(".py"):
        return f"handler {path[:200]!r} must be a Python file (.py)"
    return None


class VersionSpec(StrictModel):
    model: ModelSpec | None = Field(default=None, description="The model this version serves.")
    image: str | None = Field(default=None, description="Bring your own container image instead.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Environment of the serving container on the cloud targets; the local target "
            "(one shared process) does not apply it, and `plan` says so."
        ),
    )

    @model_validator(mode="after")
    def _model_or_image(self) -> VersionSpec:
        if self.model is None and self.image is None:
            raise ValueError("a version needs a model (model: {uri: ...}) or an image")
        return self


class Accelerator(StrictModel):
    type: str = Field(description="Portable accelerator name, e.g. nvidia-t4, nvidia-a10g, nvidia-l4.")
    count: int = Field(default=1, ge=1, le=16)


class Replicas(StrictModel):
    min: int = Field(default=1, ge=0, le=1000)
    max: int | None = Field(default=None, ge=1, le=1000, description="Defaults to min.")

    @model_validator(mode="after")
    def _order(self) -> Replicas:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"@max: {self.max} is below replicas.min ({self.min})")
        return self

    @property
    def maximum(self) -> int:
        return self.max if self.max is not None else max(self.min, 1)


AutoscaleMetric = Literal["requests_per_replica", "cpu_utilization", "gpu_utilization"]


class Autoscale(StrictModel):
    metric: AutoscaleMetric = "requests_per_replica"
    target: float = Field(gt=0, description="Target value per replica (requests/min, or percent).")
    scale_in_cooldown: Duration = Field(default=300.0, json_schema_extra={"default": "5m"})
    scale_out_cooldown: Duration = Field(default=60.0, json_schema_extra={"default": "1m"})


class Serverless(StrictModel):
    memory: MemoryMiB = Field(
        default=2048.0, description="Memory per invocation environment.", json_schema_extra={"default": "2Gi"}
    )
    max_concurrency: int = Field(default=5, ge=1, le=200)


class Compute(StrictModel):
    cpu: Cpu = Field(default=1.0, json_schema_extra={"default": 1})
    memory: MemoryMiB = Field(default=2048.0, json_schema_extra={"default": "2Gi"})
    accelerator: Accelerator | None = None
    replicas: Replicas = Field(default_factory=Replicas)
    autoscale: Autoscale | None = None
    serverless: Serverless | None = Field(
        default=None, description="Scale to zero where the target supports it."
    )
    instance_type: dict[str, str] = Field(
        default_factory=dict,
        description="Per-target escape hatch, e.g. {sagemaker: ml.c5.xlarge}.",
    )

    @field_validator("instance_type")
    @classmethod
    def _known_targets(cls, value: dict[str, str]) -> dict[str, str]:
        from cloudserve.spec.targets import check_target_name

        for key in value:
            check_target_name(key, "instance_type")
        return value

    @model_validator(mode="after")
    def _autoscale_range(self) -> Compute:
        if self.autoscale is not None and self.replicas.maximum <= self.replicas.min:
            raise ValueError("@autoscale: autoscale needs room to scale; set replicas.max above replicas.min")
        return self


class Gate(StrictModel):
    metric: str | None = Field(
        default=None,
        description=(
            "Neutral metric: requests; errors / error_rate (server errors, 5xx answers); "
            "client_errors / client_error_rate (4xx: requests refused as malformed, counted apart "
            "so malformed traffic cannot fail a healthy canary); latency_p50_ms, latency_p99_ms."
        ),
    )
    max: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Absolute upper bound.")
    min: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Absolute lower bound.")
    max_over_stable: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="Upper bound relative to the stable version: new <= stable + this.",
    )
    http: str | None = Field(default=None, description="Custom gate: URL whose 2xx answer passes.")
    window: Duration | None = Field(default=None, description="Metric window; defaults to the bake time.")
    min_requests: int = Field(default=100, ge=0, description="Below this the gate is inconclusive.")

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        if value is not None and value not in NEUTRAL_METRICS:
            close = difflib.get_close_matches(value, NEUTRAL_METRICS, n=1, cutoff=0.6)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown gate metric {value!r}; {guess}metrics: {', '.join(NEUTRAL_METRICS)}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a gate window must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Gate:
        if self.http is None and self.metric is None:
            raise ValueError("a gate needs a metric (with max, min or max_over_stable) or http")
        if self.metric is not None and self.max is None and self.min is None and self.max_over_stable is None:
            raise ValueError(f"gate on {self.metric!r} needs a bound: max, min or max_over_stable")
        return self


class Rollout(StrictModel):
    strategy: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    steps: list[Percent] | None = Field(default=None, description="Canary steps, rising, ending at 100.")
    increment: Percent | None = Field(default=None, description="Linear step size in percent.")
    bake: Duration = Field(
        default=0.0,
        description="Time at each step before gates are read.",
        json_schema_extra={"default": "0s"},
    )
    gates: list[Gate] = Field(default_factory=list)
    on_failure: Literal["rollback", "pause"] = "rollback"
    keep_failed_version: bool = Field(default=False, description="Keep the failed version deployed at 0%.")
    lease: Duration = Field(
        default=900.0,
        description="How long a rollout's lock lasts without renewal.",
        json_schema_extra={"default": "15m"},
    )

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("the lease must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _steps(self) -> Rollout:
        if self.strategy == "canary":
            steps = self.steps or [10, 50, 100]
            if any(b <= a for a, b in itertools.pairwise(steps)) or steps[0] <= 0:
                raise ValueError(f"@steps: {steps} must rise strictly and start above 0")
            if steps[-1] != 100:
                raise ValueError(f"@steps: {steps} must end at 100")
            self.steps = steps
        elif self.steps is not None:
            raise ValueError(f"@steps: steps are for strategy: canary, not {self.strategy}")
        if self.strategy == "linear":
            if self.increment is None:
                self.increment = 25
            elif self.increment <= 0:
                raise ValueError(f"@increment: increment must be between 1 and 100, not {self.increment}")
        elif self.increment is not None:
            raise ValueError(f"@increment: increment is for strategy: linear, not {self.strategy}")
        return self

    def step_percents(self) -> list[int]:
        if self.strategy == "canary":
            return list(self.steps or [])
        if self.strategy == "linear":
            inc = self.increment or 25
            return [*range(inc, 100, inc), 100]
        return [100]


class Capture(StrictModel):
    sample_percent: Percent = 100
    destination: str | None = Field(
        default=None, description="Where captured data goes (s3://, gs://, a local directory)."
    )
    request: bool = True
    response: bool = True


class Alert(StrictModel):
    webhook: str | None = None
    email: list[str] = Field(default_factory=list)
    channel: str | None = Field(
        default=None, description="Target-native channel id, e.g. a Vertex notification channel."
    )


DriftMethod = Literal["auto", "psi", "ks", "chi2", "js", "wasserstein"]


class Drift(StrictModel):
    baseline: str = Field(description="Training data (CSV or Parquet) the live traffic is compared with.")
    features: list[str] | None = Field(default=None, description="Columns to watch; all when omitted.")
    schedule: str = Field(default="hourly", description="hourly, daily, or a duration such as 6h.")
    method: DriftMethod = "auto"
    threshold: float = Field(default=0.2, gt=0, allow_inf_nan=False)
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per-feature overrides.")
    sampling_percent: Percent = 100
    alert: Alert | None = None

    @model_validator(mode="after")
    def _thresholds_mean_something(self) -> Drift:
        from cloudserve.monitor.config import threshold_problems

        explicit = self.threshold if "threshold" in self.model_fields_set else None
        problems = threshold_problems(self.method, explicit, self.thresholds)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Monitoring(StrictModel):
    drift: Drift | None = None


class DeploymentSpec(StrictModel):
    target: str | None = Field(
        default=None,
        description="Where it runs: local, sagemaker, vertex, azureml or an installed target's "
        "name; CLOUDSERVE_TARGET and --target override. Default local.",
    )
    versions: dict[str, VersionSpec] = Field(min_length=1)
    traffic: dict[str, Percent] | None = Field(
        default=None,
        description="{version: percent}, summing to 100. Default: all to the only version.",
    )
    mirror: dict[str, Percent] = Field(default_factory=dict, description="Shadow traffic copies.")
    compute: Compute = Field(default_factory=Compute)
    rollout: Rollout = Field(default_factory=Rollout)
    capture: Capture | None = None
    monitoring: Monitoring = Field(default_factory=Monitoring)

    @field_validator("target")
    @classmethod
    def _known_target(cls, value: str | None) -> str | None:
        from cloudserve.spec.targets import check_target_name

        return value if value is None else check_target_name(value, "spec.target")

    @field_validator("versions")
    @classmethod
    def _version_names(cls, value: dict[str, VersionSpec]) -> dict[str, VersionSpec]:
        for name in value:
            try:
                _check_name(name, "version name", 32)
            except ValueError as exc:
                raise ValueError(f"@{name}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _traffic(self) -> DeploymentSpec:
        names = set(self.versions)
        if self.traffic is None:
            if len(names) != 1:
                raise ValueError(
                    "@traffic: traffic is required with more than one version, e.g. "
                    + "{"
                    + ", ".join(f"{n}: {100 if i == 0 else 0}" for i, n in enumerate(self.versions))
                    + "}"
                )
            self.traffic = {next(iter(names)): 100}
        for field, mapping in (("traffic", self.traffic), ("mirror", self.mirror)):
            unknown = sorted(set(mapping) - names)
            if unknown:
                raise ValueError(
                    f"@{field}: names {', '.join(map(repr, unknown))}, which is not a declared version "
                    f"(declared: {', '.join(sorted(names))})"
                )
        total = sum(self.traffic.values())
        if total != 100:
            raise ValueError(
                f"@traffic: must sum to 100; it sums to {total}: "
                + "{"
                + ", ".join(f"{k}: {v}" for k, v in self.traffic.items())
                + "}"
            )
        both = [v for v in self.mirror if self.traffic.get(v, 0) > 0]
        if both:
            raise ValueError(
                f"@mirror: names {', '.join(both)}, which already takes live traffic; mirror only "
                "versions at 0% traffic"
            )
        return self

    def traffic_split(self) -> dict[str, int]:
        """Traffic with every declared version present (0 where unnamed)."""
        assert self.traffic is not None
        return {name: self.traffic.get(name, 0) for name in self.versions}


class Deployment(StrictModel):
    """One deployment: a named endpoint serving one or more model versions."""

    api_version: Literal["cloudserve/v1"] = Field(default="cloudserve/v1", alias="apiVersion")
    kind: Literal["Deployment"] = "Deployment"
    metadata: Metadata
    spec: DeploymentSpec
    targets: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings per target, keyed by the target's name; each block is checked by "
        "the settings model its target declares (see each provider's README).",
    )
    environments: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Named overlays merged over this document with --env."
    )
    # Where the document came from: relative model paths resolve against its folder.
    _source_file: str | None = PrivateAttr(default=None)
    _source_dir: str | None = PrivateAttr(default=None)
    # (line, column) of every key and value, so later checks (a target's rules at plan
    # time) can point at the line they are about, as the loader's own errors do.
    _source_positions: dict[tuple[str | int, ...], tuple[int, int]] = PrivateAttr(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _target_blocks(cls, value: dict[str, Any]) -> dict[str, Any]:
        from cloudserve.spec.targets import validate_blocks

        return validate_blocks(value)

    @classmethod
    def child_model(cls, field: str, key: str) -> type[BaseModel] | None:
        """The model that validates ``targets.<key>`` (for the loader's did-you-mean)."""
        from cloudserve.spec.targets import settings_model

        return settings_model(key) if field == "targets" else None

    def target_settings(self, target: str | None = None) -> Any:
        """The ``targets.<target>`` block (default: this deployment's target) as its target's
        settings model, the model's defaults when the block is absent; None for a target that
        declares no settings or is not installed. Providers read it typed, through
        ``TheirSettings.of(deployment)``."""
        from cloudserve.spec.targets import default_settings

        name = target or self.target
        if self.targets.get(name) is None:
            # Kept, so that settings changed in Python (spec.target_settings().x = 1) stick.
            self.targets[name] = default_settings(name)
        return self.targets[name]

    def locate(self, field: str) -> tuple[int, int] | None:
        """Line and column of a dotted field path (or of its nearest ancestor) in the source."""
        parts: tuple[str | int, ...] = tuple(field.split("."))
        for end in range(len(parts), 0, -1):
            found = self._source_positions.get(parts[:end])
            if found is not None:
                return found
        return None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def source_file(self) -> str | None:
        """The file this deployment was loaded from (None for one built in Python)."""
        return self._source_file

    @property
    def source_dir(self) -> Path | None:
        """The folder relative paths in the spec start at (None for one built in Python:
        then they start at the working directory)."""
        return Path(self._source_dir) if self._source_dir else None

    def local_path(self, uri: str) -> Path | None:
        """The file or folder a model ``uri`` or drift ``baseline`` names on this machine; None
        for a cloud URI. The one place the spec's paths are resolved."""
        from cloudserve.artifacts import is_remote, resolve_local

        return None if is_remote(uri) else resolve_local(uri, self.source_dir)

    @property
    def target(self) -> str:
        return self.spec.target or "local"
