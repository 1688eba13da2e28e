"""The lean copy of Janome's dictionary: the same data as Janome's own modules, and a fallback."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from connector.domain.knowledge import janome_dict
from connector.domain.knowledge.analysis import _tokenizer

SYSDIC = os.path.join(os.path.dirname(importlib.util.find_spec("janome").origin), "sysdic")


def _janome_module(name: str):
    """One of Janome's dictionary modules, loaded from its file under a name Janome does not use."""
    spec = importlib.util.spec_from_file_location(f"_plain_{name}", os.path.join(SYSDIC, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_connection_costs_are_janomes_own():
    for i in (1, 2):
        plain = _janome_module(f"connections{i}").DATA
        lean = janome_dict._connections(os.path.join(SYSDIC, f"connections{i}.py"))
        assert [list(r) for r in lean] == plain


def test_entry_offsets_are_janomes_own():
    for name in ("entries_compact0_idx", "entries_extra9_idx"):
        plain = _janome_module(name).DATA
        lean = janome_dict._positions(os.path.join(SYSDIC, name + ".py"))
        assert lean["offset"] == plain["offset"]
        assert list(lean["positions"]) == plain["positions"]


def test_transducer_text_is_janomes_own():
    plain = _janome_module("fst_data1").DATA
    assert bytes(janome_dict._base64_view(os.path.join(SYSDIC, "fst_data1.py"))) == plain.encode("ascii")


def test_the_analyser_tokenizes_as_janome_does():
    text = (
        "荷物が届かないので注文をキャンセルしたい。ｽﾏﾎの機種変更は？"
        "引っ越しに伴う電気・ガスの契約の名義変更、住民票の写しと印鑑登録証明書の交付申請。"
        "ぱすわーど忘れちゃった😢 乗り継ぎ便の手荷物は預け直しが必要ですか"
    )
    lean = [str(t) for t in _tokenizer().tokenize(text)]
    plain = subprocess.run(  # a process of its own: this one's Janome already imports the lean modules
        [
            sys.executable,
            "-c",
            f"from janome.tokenizer import Tokenizer\nfor t in Tokenizer().tokenize({text!r}): print(t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert lean == plain
    assert any(line.startswith("届か\t") and ",届く," in line for line in lean)


def test_a_dictionary_file_of_another_layout_is_refused(tmp_path):
    base = tmp_path / "sysdic"
    shutil.copytree(SYSDIC, base, ignore=shutil.ignore_patterns("entries_compact*.py", "entries_extra?.py"))
    (base / "connections2.py").write_text("DATA = ((1, 2), (3, 4))\n")
    with pytest.raises(ValueError):
        janome_dict._lean_modules(str(base))


def test_a_second_tokenizer_shares_the_first_ones_dictionary():
    first = [str(t) for t in _tokenizer().tokenize("解約の手続きを教えて")]
    assert [str(t) for t in janome_dict.tokenizer().tokenize("解約の手続きを教えて")] == first
