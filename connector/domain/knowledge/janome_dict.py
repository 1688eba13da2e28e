"""Janome with its system dictionary loaded lean: the same data, a quarter of the private memory.

Janome 0.5 ships its dictionary as Python modules. Importing them turns ~1.7 million connection
costs and ~780,000 entry offsets into Python ints in lists, and keeps the finite-state
transducer as a 13 MB base64 string next to its decoded bytes: ~70 MB of private memory in every
worker (docs/benchmarks.md, "Where a bot worker's memory goes"). Here the same files are read
directly: the costs become int16 rows and the offsets uint32 arrays (indexing either still
gives Python ints, so Janome's code runs unchanged on them), and the base64 text is read through
a file mapping that is let go once decoded. Janome's own word entries were already memory-mapped
(``Tokenizer(mmap=True)``, its default on 64-bit): those pages are file-backed, shared by every
worker through the page cache.

The lean modules are put in ``sys.modules`` under Janome's names before Janome is imported, so
they are what it imports. Anything unexpected (another Janome layout, a file that does not parse
as this one does) leaves Janome to load itself the usual way.
"""

from __future__ import annotations

import importlib.util
import logging
import mmap
import os
import sys
import types
from array import array
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_PKG = "janome.sysdic"
_IDX_FILES = 10  # entries_compact0..9_idx, entries_extra0..9_idx (janome/dic.py: 10 buckets)
_fst_maps: list[mmap.mmap] = []


def tokenizer() -> Any:
    """A warmed-up Janome ``Tokenizer`` over the lean dictionary (ImportError without Janome)."""
    lean = install()
    from janome.tokenizer import Tokenizer

    tk = Tokenizer()  # mmap=True on 64-bit: word entries stay in their (shared) files
    list(tk.tokenize("ウォームアップ用の文です。"))  # load dictionary pages now, not on the first user
    if lean:
        for mm in _fst_maps:  # decoded into the matcher; the base64 pages need not stay resident
            mm.madvise(mmap.MADV_DONTNEED)
        _read_entries_by_pread(tk.sys_dic)
    return tk


class _EntryFile:
    """What Janome's MMapDictionary asks of a mapped entries file (``find``, slices), read with
    ``pread``. A mapping made every looked-up entry fault in 64 KB around it (the kernel's
    fault-around; MADV_RANDOM does not stop it), so a worker's RSS grew by up to the files' 88 MB
    as customers used more words. Read this way the pages sit in the page cache, shared by every
    process, outside each worker's RSS. An entry is one read: Janome looks for its field
    separators and slices them out of the chunk read at its start."""

    CHUNK = 1024  # an entry with its extra fields is ~100-400 bytes

    def __init__(self, fd: int):
        self._fd = fd
        self._last = (-1, b"")  # (offset, bytes) of the last read: one tuple, swapped atomically

    def _chunk(self, start: int) -> tuple[int, bytes]:
        last = self._last
        if last[0] <= start and start + 16 <= last[0] + len(last[1]):
            return last
        last = (start, os.pread(self._fd, self.CHUNK, start))
        self._last = last
        return last

    def find(self, sub: bytes, start: int) -> int:
        while True:
            at, data = self._chunk(start)
            i = data.find(sub, start - at)
            if i >= 0:
                return at + i
            if len(data) < self.CHUNK:  # end of file
                return -1
            start = at + len(data) - len(sub) + 1

    def __getitem__(self, span: slice) -> bytes:
        at, data = self._chunk(span.start)
        if span.stop <= at + len(data):
            return data[span.start - at : span.stop - at]
        return os.pread(self._fd, span.stop - span.start, span.start)


def _read_entries_by_pread(sys_dic: Any) -> None:
    """Swap the system dictionary's entry mappings for pread readers (see _EntryFile)."""
    tables = [getattr(sys_dic, "entries_compact", None), getattr(sys_dic, "entries_extra", None)]
    files = getattr(sys_dic, "open_files", None)
    if not files or any(t is None for t in tables) or len(files) != sum(len(t) for t in tables):
        return  # not the layout janome 0.5's mmap_entries makes: keep its mappings
    swaps = [(table, bucket) for table in tables for bucket in table]  # the order files were opened in
    if not all(isinstance(table[bucket][0], mmap.mmap) for table, bucket in swaps):
        return  # swapped already (Janome's system dictionary is one per process)
    names = [f"entries_{kind}{i}.py" for kind in ("compact", "extra") for i in range(len(tables[0]))]
    if [os.path.basename(getattr(f, "name", "")) for f in files] != names:
        return
    for (table, bucket), f in zip(swaps, files):
        mm, idx = table[bucket]
        table[bucket] = (_EntryFile(f.fileno()), idx)
        mm.close()


def install() -> bool:
    """Make Janome import the lean dictionary modules; False when Janome loads its own (already
    imported, or files not as expected)."""
    if _PKG in sys.modules:
        return getattr(sys.modules.get(f"{_PKG}.connections1"), "LEAN", False)
    spec = importlib.util.find_spec("janome")
    if spec is None or spec.origin is None:
        raise ImportError("janome is not installed")
    base = os.path.join(os.path.dirname(spec.origin), "sysdic")
    try:
        modules = _lean_modules(base)
    except (OSError, ValueError) as exc:
        log.warning("Janome's dictionary loaded the usual way (%s: %s)", type(exc).__name__, exc)
        return False
    sys.modules.update(modules)
    return True


def _module(name: str, data: Any) -> types.ModuleType:
    mod = types.ModuleType(f"{_PKG}.{name}")
    mod.DATA = data
    mod.LEAN = True
    return mod


def _lean_modules(base: str) -> dict[str, types.ModuleType]:
    out: dict[str, types.ModuleType] = {}
    halves = [_connections(os.path.join(base, f"connections{i}.py")) for i in (1, 2)]
    width = len(halves[0][0])
    if sum(len(h) for h in halves) != width or any(len(r) != width for h in halves for r in h):
        raise ValueError("connection costs are not a square matrix")
    for i, rows in enumerate(halves, 1):
        out[f"{_PKG}.connections{i}"] = _module(f"connections{i}", rows)
    for kind in ("compact", "extra"):
        for i in range(_IDX_FILES):
            name = f"entries_{kind}{i}_idx"
            out[f"{_PKG}.{name}"] = _module(name, _positions(os.path.join(base, name + ".py")))
    for i in range(2):
        name = f"fst_data{i}"
        out[f"{_PKG}.{name}"] = _module(name, _base64_view(os.path.join(base, name + ".py")))
    return out


def _literal(path: str, head: bytes) -> bytes:
    with open(path, "rb") as f:
        text = f.read()
    if not text.startswith(head):
        raise ValueError(f"{os.path.basename(path)}: unexpected layout")
    return text


def _connections(path: str) -> list[array]:
    """``DATA=[[c, c, ...], [...], ...]``: rows of int16 costs (Janome reads ``DATA[id1][id2]``)."""
    text = _literal(path, b"DATA=[[")
    body = text[len(b"DATA=") :].strip()
    n_rows = body.count(b"[") - 1
    flat = np.fromstring(body.translate(None, b"[]"), dtype=np.int64, sep=",")
    if n_rows <= 0 or flat.size % n_rows or flat.min() < -(2**15) or flat.max() >= 2**15:
        raise ValueError(f"{os.path.basename(path)}: unexpected connection costs")
    matrix = flat.astype(np.int16).reshape(n_rows, -1)
    return [array("h", row.tobytes()) for row in matrix]


def _positions(path: str) -> dict[str, Any]:
    """``DATA={"offset": n, "positions": [p, p, ...,]}``: the offsets as a uint32 array."""
    text = _literal(path, b'DATA={"offset": ')
    head, sep, rest = text.partition(b', "positions": [')
    body, end, _ = rest.rpartition(b"]}")
    if not sep or not end:
        raise ValueError(f"{os.path.basename(path)}: unexpected layout")
    offset = int(head[len(b'DATA={"offset": ') :])
    pos = np.fromstring(body.rstrip(b", "), dtype=np.int64, sep=",")
    if pos.size != body.count(b",") + (0 if body.rstrip().endswith(b",") else 1) or pos.min() < 0:
        raise ValueError(f"{os.path.basename(path)}: unexpected positions")
    if pos.max() >= 2**32:
        raise ValueError(f"{os.path.basename(path)}: positions beyond 4 GB")
    return {"offset": offset, "positions": array("I", pos.astype(np.uint32).tobytes())}


def _base64_view(path: str) -> memoryview:
    """``DATA="..."``: the base64 text, read through a file mapping (Janome decodes it once)."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if mm[:6] != b'DATA="' or mm[-1:] != b'"':
        mm.close()
        raise ValueError(f"{os.path.basename(path)}: unexpected layout")
    _fst_maps.append(mm)
    return memoryview(mm)[6:-1]
