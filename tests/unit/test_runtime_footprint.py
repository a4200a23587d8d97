"""What the serving process loads and how it runs: BLAS threads, modules spaCy would pull in needlessly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contactlens.text import without_modules

ROOT = Path(__file__).resolve().parents[2]


def test_without_modules_hides_only_the_named_modules_inside_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cl_probe_a.py").write_text("VALUE = 1\n")
    (tmp_path / "cl_probe_b.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import cl_probe_b  # imported before the block: stays usable in it

    finders = list(sys.meta_path)
    with without_modules(("cl_probe_a", "cl_probe_b")):
        with pytest.raises(ModuleNotFoundError, match="cl_probe_a"):
            import cl_probe_a  # noqa: F401
        assert "cl_probe_a" not in sys.modules  # no placeholder that a later look-up could trip on
        import cl_probe_b as again

        assert again.VALUE == 2
    assert sys.meta_path == finders
    import cl_probe_a

    assert cl_probe_a.VALUE == 1 and cl_probe_b.VALUE == 2
    monkeypatch.delitem(sys.modules, "cl_probe_a")
    monkeypatch.delitem(sys.modules, "cl_probe_b")


def test_spacy_pipelines_load_without_torch_or_transformers() -> None:
    """The sentence splitter and the NER redaction pass work, and neither pulls torch or transformers into
    the process (a fresh one: this test process may have imported them for training)."""
    code = (
        "import sys\n"
        "from contactlens import redaction, text\n"
        "assert text.split_sentences('Parcel late. Refund please!') == ['Parcel late.', 'Refund please!']\n"
        "out = redaction.redact_full('Hi, John Smith here, sort code 12-34-56')\n"
        "assert '<NAME>' in out and 'John' not in out, out\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
        "import torch  # still importable afterwards, for whoever needs it\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_limit_blas_threads_caps_numpy_blas() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from contactlens.model import limit_blas_threads

    with threadpool_limits():  # restores whatever was set before, once the test is done
        limit_blas_threads(1)
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
