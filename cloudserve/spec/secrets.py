"""Refuse credentials written inline in a spec.

Specs live in git and are printed by `plan`; a key pasted into one leaks. Every cloud
already has a credential chain, so the error points there instead.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cloudserve.errors import SpecProblem
from cloudserve.spec.yamlpos import Path, SourceDoc, format_path

SECRET_KEY_RE = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"client[_-]?secret|connection[_-]?string|credential|sas)",
    re.IGNORECASE,
)
_SECRET_VALUE_PATTERNS = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"), "an Azure storage account key"),
    (re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"), "an Azure SAS token"),
    (re.compile(r"\"private_key_id\"\s*:"), "a Google service-account key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "a GitHub token"),
]

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
SECRET_PARAM_RE = re.compile(
    r"^(token|access_token|id_token|auth|auth_token|key|api_key|apikey|api-key|secret|"
    r"client_secret|password|passwd|pwd|sig|signature|x-amz-signature|x-goog-signature|"
    r"x-amz-security-token|sas)$|(token|secret|password|api_?key)",
    re.IGNORECASE,
)
URL_HINT = (
    "write the URL without credentials, or move the whole URL into an environment variable "
    "and reference it as ${GATE_URL} (the value is then read at run time, not stored in the spec)"
)


def _url_secret(value: str) -> str | None:
    """What secret a URL carries inline, if any: user:password@ or a secret query parameter."""
    if not _URL_RE.match(value.strip()):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.password is not None or (parts.username and "@" in parts.netloc):
        return "a URL with credentials (user:password@)"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if SECRET_PARAM_RE.search(name):
            return f"a URL with a secret-looking query parameter {name!r}"
    for name, _ in parse_qsl(parts.fragment, keep_blank_values=True):
        if SECRET_PARAM_RE.search(name):
            return f"a URL with a secret-looking fragment parameter {name!r}"
    return None


def redact_url(url: str) -> str:
    """``url`` fit to show or record: user:password@ becomes ***@ and the values of
    secret-looking query and fragment parameters become ***. A URL can legitimately carry a
    secret when it came from a ${ENV} reference; it is still never printed or tagged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]

    def clean(section: str) -> str:
        pairs = parse_qsl(section, keep_blank_values=True)
        if not any(SECRET_PARAM_RE.search(name) for name, _ in pairs):
            return section
        return "&".join(f"{n}={'***' if SECRET_PARAM_RE.search(n) else v}" for n, v in pairs)

    return urlunsplit((parts.scheme, netloc, parts.path, clean(parts.query), clean(parts.fragment)))


CREDENTIAL_CHAINS = (
    "use each cloud's credential chain instead: AWS profiles/environment/instance roles, "
    "Google Application Default Credentials (gcloud auth application-default login), "
    "Azure DefaultAzureCredential (az login, managed identity); pass container secrets "
    "through the cloud's secret store or as ${ENV_VAR} references"
)


def find_inline_secrets(data: Any, doc: SourceDoc, from_env: set[Path]) -> list[SpecProblem]:
    problems: list[SpecProblem] = []

    def visit(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                visit(child, (*path, key))
            return
        if isinstance(value, list):
            for i, child in enumerate(value):
                visit(child, (*path, i))
            return
        if not isinstance(value, str) or not value:
            return
        what = next((label for rx, label in _SECRET_VALUE_PATTERNS if rx.search(value)), None)
        hint = CREDENTIAL_CHAINS
        key = path[-1] if path else ""
        in_env_block = len(path) >= 2 and path[-2] in ("env", "labels", "tags")
        if what is None and path not in from_env:
            what = _url_secret(value)
            if what is not None:
                hint = URL_HINT
        if what is None and in_env_block and isinstance(key, str) and SECRET_KEY_RE.search(key):
            if path in from_env:
                return  # a ${VAR} reference: the value is not in the file
            what = f"a secret-looking value for {key}"
        if what is None:
            return
        pos = doc.locate(path)
        problems.append(
            SpecProblem(
                f"{what} is written inline; cloudserve refuses secrets in spec files",
                file=doc.file,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                field=format_path(path),
                hint=hint,
            )
        )

    visit(data, ())
    return problems
