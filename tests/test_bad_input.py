"""Bad input -> the one clear message it must give. The table below is the specification: to add a
check, add a row.

A row is `Bad(id, run, expect, setup=None, error=Exception)`:
- `run` is either a command line (a list: the first item is a vitok console script, run as a process
  in a fresh folder; it must exit non-zero, print `expect` on stderr, and print no traceback), or a
  callable `run(tmp)` that must raise `error` with a message matching `expect`;
- `expect` is a regular expression searched in the message (use `re.escape` for literal text);
- `setup(tmp)`, if given, prepares files in the folder first (a corrupt checkpoint, an unwritable path).

Placeholders in a command line: `{tmp}` is the row's folder.
"""
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

BIN = Path(sys.executable).parent


@dataclass
class Bad:
    id: str
    run: list | Callable
    expect: str
    setup: Callable | None = None
    error: type = Exception


# ---------------------------------------------------------------------------------------------------
# Helpers rows use to build their input.

def tokenizer(tmp: Path, name: str = "tok") -> Path:
    "A saved U-U/8 tokenizer (save_pretrained folder) in tmp/name."
    from vitok import ViTok, ViTokConfig
    d = Path(tmp) / name
    ViTok(ViTokConfig.from_name("U-U/8", channels=4, resolution=32)).save_pretrained(d)
    return d


def truncate(path: Path, keep: float = 0.5) -> Path:
    "Cut a file to `keep` of its bytes."
    b = Path(path).read_bytes()
    Path(path).write_bytes(b[: int(len(b) * keep)])
    return Path(path)


# ---------------------------------------------------------------------------------------------------
# The table. Sections by concern; keep each row's message test specific enough that a vaguer message fails.

CASES: list[Bad] = [
    # --- variants and sizes -----------------------------------------------------------------------
    Bad("info: unknown variant", ["vitok-info", "Z-B/16"], r"Unknown variant 'Z-B/16'.*S-B/16"),
]


# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Bad, tmp_path):
    if case.setup:
        case.setup(tmp_path)
    if callable(case.run):
        with pytest.raises(case.error) as e:
            case.run(tmp_path)
        assert re.search(case.expect, str(e.value), re.S), f"message was: {e.value}"
        return
    argv = [a.format(tmp=tmp_path) for a in case.run]
    p = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode != 0, f"exit 0 for bad input; stdout: {p.stdout[-2000:]}"
    assert re.search(case.expect, p.stderr, re.S), f"stderr was: {p.stderr[-3000:]}"
    assert "Traceback" not in p.stderr, f"a traceback instead of one clear line:\n{p.stderr[-3000:]}"
