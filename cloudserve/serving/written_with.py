"""Which scikit-learn or XGBoost version wrote a model artifact, read without loading it.

Plan needs this before any container starts, and a pickle must not be unpickled to find
out (that runs code from the file), so each format is read as data:

- skops: ``schema.json`` in the zip holds every estimator's state as JSON, including the
  ``_sklearn_version`` that ``BaseEstimator.__getstate__`` adds (scikit-learn,
  sklearn/base.py); skops hands that state back to ``__setstate__`` on load.
- joblib / pickle: the same ``_sklearn_version`` key and its string value are pickle
  opcodes; they are found in the byte stream and decoded with :mod:`pickletools` (never
  executed). joblib writes raw array bytes between opcodes, so the stream is searched for
  the key rather than walked from the start; joblib's zlib/gzip/bz2/xz compression is
  undone on the fly.
- XGBoost JSON / UBJSON (``save_model``): the top-level ``version`` array
  (xgboost doc/tutorials/saving_model.rst, "Introduction to Model IO").
- MLflow: the MLmodel file's ``sklearn_version`` / ``xgb_version`` flavor fields
  (mlflow/sklearn/__init__.py, mlflow/xgboost/__init__.py).

Everything here is stdlib and bounded: a file that is not what it claims gives None.
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import pickletools
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from cloudserve.serving.pins import FRAMEWORK_PACKAGES
from cloudserve.spec.models import ModelSpec

_CHUNK = 1 << 20
_SKLEARN_KEY = "_sklearn_version"
# The key as each pickle protocol writes a str: SHORT_BINUNICODE (4+), BINUNICODE (1-3), UNICODE (0).
_PICKLED_KEY = re.compile(rb"(?:\x8c\x10|X\x10\x00\x00\x00|V)_sklearn_version\n?")
_MEMO_OPS = {"MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
_VERSION = re.compile(r"^\d+(\.\d+){1,3}([a-z0-9.+-]*)?$")


def written_with(root: Path, model: ModelSpec) -> str | None:
    """The version of the model's own library (``FRAMEWORK_PACKAGES[model.framework]``) that
    wrote the artifact at ``root``, or None when the artifact does not record it."""
    from cloudserve.serving.loaders import LoaderError, detect

    package = FRAMEWORK_PACKAGES.get(model.framework)
    if package is None or not root.exists():
        return None
    try:
        fmt, path = detect(root, model)
        stat = path.stat()
    except (LoaderError, OSError):
        return None
    return _cached(package, fmt, str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _cached(package: str, fmt: str, path: str, size: int, mtime_ns: int) -> str | None:
    """Plan, validation and staging ask about the same file several times: read it once."""
    readers: dict[tuple[str, str], Callable[[Path], str | None]] = {
        ("scikit-learn", "skops"): skops_version,
        ("scikit-learn", "joblib"): pickle_version,
        ("scikit-learn", "pickle"): pickle_version,
        ("xgboost", "xgboost"): xgboost_version,
        ("scikit-learn", "mlflow"): lambda p: mlflow_version(p, "sklearn", "sklearn_version"),
        ("xgboost", "mlflow"): lambda p: mlflow_version(p, "xgboost", "xgb_version"),
    }
    reader = readers.get((package, fmt))
    try:
        version = reader(Path(path)) if reader else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, lzma.LZMAError, zlib.error):
        return None
    return version if version and _VERSION.match(version) else None


def skops_version(path: Path) -> str | None:
    with zipfile.ZipFile(path) as archive:
        if archive.getinfo("schema.json").file_size > 512 << 20:
            return None
        schema = json.loads(archive.read("schema.json"))
    return _skops_state_version(schema, 0)


def _skops_state_version(node: Any, depth: int) -> str | None:
    """The first ``_sklearn_version`` entry of a DictNode, depth first (a pipeline's steps
    are all written by the same scikit-learn)."""
    if depth > 200:
        return None
    if isinstance(node, dict):
        entry = node.get(_SKLEARN_KEY) if node.get("__loader__") is None else None
        if isinstance(entry, dict) and entry.get("__loader__") == "JsonNode":
            value = json.loads(entry.get("content", "null"))
            return value if isinstance(value, str) else None
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _skops_state_version(child, depth + 1)
        if found:
            return found
    return None


def pickle_version(path: Path) -> str | None:
    with path.open("rb") as raw:
        tail = b""
        for chunk in _decompressed(raw):
            buffer = tail + chunk
            for match in _PICKLED_KEY.finditer(buffer):
                if len(buffer) - match.end() < 64 and chunk:
                    break  # the value may straddle the next chunk
                value = _string_after(buffer[match.end() :])
                if value:
                    return value
            tail = buffer[-256:]
    return None


def _string_after(data: bytes) -> str | None:
    """The string a pickle pushes next, past memo bookkeeping (decoded, never run)."""
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if opcode.name in _MEMO_OPS:
                continue
            if opcode.name in _STRING_OPS and isinstance(arg, str | bytes):
                return arg.decode("ascii", "replace") if isinstance(arg, bytes) else arg
            return None
    except ValueError:  # ran off the end of the slice, or not a pickle there
        return None
    return None


def _decompressed(raw: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes in bounded chunks, through joblib's compressor if the magic says one
    was used (joblib/compressor.py: zlib, gzip, bz2, xz, lzma); ends with an empty chunk."""
    head = raw.read(6)
    raw.seek(0)
    if head[:1] == b"\x78" or head[:2] == b"\x1f\x8b":
        yield from _inflate(raw, zlib.decompressobj(zlib.MAX_WBITS | 32))  # zlib or gzip header
    elif head[:3] == b"BZh":
        yield from _unpack(raw, bz2.BZ2Decompressor())
    elif head == b"\xfd7zXZ\x00" or head[:3] == b"\x5d\x00\x00":
        yield from _unpack(raw, lzma.LZMADecompressor())
    else:
        while chunk := raw.read(_CHUNK):
            yield chunk
    yield b""


def _inflate(raw: IO[bytes], decompressor: Any) -> Iterator[bytes]:
    while data := raw.read(_CHUNK):
        while data and not decompressor.eof:
            yield decompressor.decompress(data, _CHUNK)  # bounded: a bomb is read, never held
            data = decompressor.unconsumed_tail


def _unpack(raw: IO[bytes], decompressor: Any) -> Iterator[bytes]:
    while not decompressor.eof and (data := raw.read(_CHUNK)):
        yield decompressor.decompress(data, _CHUNK)
        while not decompressor.needs_input and not decompressor.eof:
            yield decompressor.decompress(b"", _CHUNK)


def xgboost_version(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head[:1] != b"{":
            return None  # the pre-1.0 binary format records no version
        if head[1:2] in b'"\t\n\r }' and head[1:2] != b"":
            found: Any = json.load(fh).get("version")
        else:
            found = _UbjReader(fh).top_level("version")
    if isinstance(found, list) and found and all(isinstance(n, int) for n in found):
        return ".".join(str(n) for n in found)
    return None


class _UbjReader:
    """Just enough UBJSON (ubjson.org, the subset XGBoost's src/common/json.cc writes) to
    walk a model's top-level object and read one small value; other values are skipped."""

    _FIXED = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d", b"C": ">c"}

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh

    def _read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError("truncated UBJSON")
        return data

    def _int(self, marker: bytes) -> int:
        if marker not in (b"i", b"U", b"I", b"l", b"L"):
            raise ValueError(f"not a UBJSON length: {marker!r}")
        fmt = self._FIXED[marker]
        value: int = struct.unpack(fmt, self._read(struct.calcsize(fmt)))[0]
        if value < 0:
            raise ValueError("negative UBJSON length")
        return value

    def top_level(self, key: str) -> Any:
        if self._read(1) != b"{":
            return None
        for name, keep in self._members(keep=key):
            if name == key:
                return keep
        return None

    def _members(self, keep: str) -> Iterator[tuple[str, Any]]:
        while (marker := self._read(1)) != b"}":
            name = self._read(self._int(marker)).decode("utf-8", "replace")
            yield name, self._value(self._read(1), depth=1, keep=name == keep)

    def _value(self, marker: bytes, depth: int, keep: bool) -> Any:
        if depth > 64:
            raise ValueError("UBJSON nested too deep")
        if marker in (b"Z", b"N", b"T", b"F"):
            return {b"T": True, b"F": False}.get(marker)
        if marker in self._FIXED:
            fmt = self._FIXED[marker]
            return struct.unpack(fmt, self._read(struct.calcsize(fmt)))[0]
        if marker in (b"S", b"H"):
            return self._read(self._int(self._read(1))).decode("utf-8", "replace")
        if marker == b"[":
            return self._array(depth, keep)
        if marker == b"{":
            while (key := self._read(1)) != b"}":
                self._read(self._int(key))
                self._value(self._read(1), depth + 1, keep=False)
            return None
        raise ValueError(f"unknown UBJSON marker {marker!r}")

    def _array(self, depth: int, keep: bool) -> list[Any] | None:
        marker = self._read(1)
        typed = None
        if marker == b"$":
            typed, marker = self._read(1), self._read(1)
        if marker == b"#":
            count = self._int(self._read(1))
            if typed in self._FIXED and not keep:
                self.fh.seek(count * struct.calcsize(self._FIXED[typed]), io.SEEK_CUR)
                return None
            return [self._value(typed or self._read(1), depth + 1, keep) for _ in range(count)]
        items = []
        while marker != b"]":
            items.append(self._value(marker, depth + 1, keep))
            marker = self._read(1)
        return items if keep else None


def mlflow_version(root: Path, flavor: str, field: str) -> str | None:
    import yaml

    text = (root / "MLmodel").read_text()
    data = yaml.safe_load(text) if len(text) < 1 << 20 else None
    flavors = data.get("flavors") if isinstance(data, dict) else None
    entry = flavors.get(flavor) if isinstance(flavors, dict) else None
    value = entry.get(field) if isinstance(entry, dict) else None
    return str(value) if value else None
