"""Loading pyvi leaves no ``model*.crfsuite`` file in the temporary directory (it did, one per
process), and tokenizes as before once its file is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, tempfile
from pathlib import Path
from app.text.tokens import words
first = words("Bộ Thông tin và Truyền thông tổ chức hội nghị")
left = sorted(p.name for p in Path(tempfile.gettempdir()).iterdir())
again = words("Bộ Thông tin và Truyền thông tổ chức hội nghị")
print(first == again and "thông_tin" in first, left)
"""


def test_loading_pyvi_leaves_nothing_in_the_temporary_directory(tmp_path: Path) -> None:
    # A fresh process (the tokenizer loads once per process) with a temporary directory of its own.
    env = {"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True []", done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []
