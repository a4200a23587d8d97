"""What the serving process loads and how it runs: BLAS threads, modules spaCy would pull in needlessly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contactlens.text import import_without, without_modules

ROOT = Path(__file__).resolve().parents[2]


def _last_line_of_fresh_python(code: str) -> str:
    """Run `code` in a fresh interpreter (this test process may have imported anything) and give the last
    line it printed; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


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


def test_import_without_hides_modules_from_one_module_s_first_import_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cl_probe_opt.py").write_text("VALUE = 3\n")
    (tmp_path / "cl_probe_user.py").write_text(
        "try:\n    import cl_probe_opt\nexcept ImportError:\n    cl_probe_opt = None\n"
    )
    (tmp_path / "cl_probe_other.py").write_text("import cl_probe_opt\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finders = list(sys.meta_path)
    import_without("cl_probe_user", ("cl_probe_opt",))
    import_without("cl_probe_user", ("cl_probe_opt",))  # once is enough: no second finder
    assert len(sys.meta_path) == len(finders) + 1
    import cl_probe_user

    assert cl_probe_user.cl_probe_opt is None  # its optional import was skipped
    assert "cl_probe_opt" not in sys.modules and sys.meta_path == finders  # the finder stepped aside
    import cl_probe_other  # anyone else imports it as usual

    assert cl_probe_other.cl_probe_opt.VALUE == 3
    for name in ("cl_probe_opt", "cl_probe_user", "cl_probe_other"):
        monkeypatch.delitem(sys.modules, name)


def test_the_service_loads_without_pandas_until_a_route_needs_it() -> None:
    """scikit-learn imports pandas (and pandas pyarrow: about 100 MB) whenever installed; the service and the
    CLI that starts it load neither on the typing path; pandas still works with scikit-learn afterwards."""
    code = (
        "import sys\n"
        "import contactlens.cli, service.app, service.cli\n"
        "from contactlens.model import ContactModel\n"
        "import sklearn.linear_model, sklearn.feature_extraction.text, sklearn.cluster\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n"
        "import pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "frame = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'b': [1.0, 0.0, 1.0, 0.0]})\n"
        "head = LogisticRegression().fit(frame, [0, 0, 1, 1])\n"
        "assert list(head.feature_names_in_) == ['a', 'b']\n"
    )
    assert _last_line_of_fresh_python(code) == "[]"


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
    assert _last_line_of_fresh_python(code) == "[]"


def test_limit_blas_threads_caps_numpy_blas() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from contactlens.model import limit_blas_threads

    with threadpool_limits():  # restores whatever was set before, once the test is done
        limit_blas_threads(1)
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)


def test_the_cli_and_the_supervising_parent_load_no_model_libraries() -> None:
    """`contactlens --help`, and what `serve --workers N`'s parent imports before it starts the workers (the
    CLI, the migration, uvicorn and the supervisor), leave the scoring and drift libraries to the commands and
    workers that use them: the parent stays light (it serves nothing) and every command starts quickly."""
    code = (
        "import sys\n"
        "import contactlens.cli, uvicorn\n"
        "from contactlens.store import make_engine, upgrade\n"
        "from service import supervisor\n"
        "heavy = ('scipy', 'sklearn', 'pandas', 'onnxruntime', 'tokenizers', 'fastapi', 'spacy', 'mlflow')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert _last_line_of_fresh_python(code) == "[]"


def test_the_drift_package_gives_its_names_on_first_use() -> None:
    """`contactlens.drift` imports its checks when a name of it is first asked for (PEP 562), and gives the
    same objects as the modules that define them; a name it does not have is an AttributeError."""
    code = (
        "import sys\n"
        "import contactlens.drift as drift\n"
        "assert 'contactlens.drift.analysis' not in sys.modules\n"
        "from contactlens.drift import DriftConfig, run_drift, CHECKS, DriftReport, novelty\n"
        "from contactlens.drift import analysis, base, checks, result\n"
        "assert run_drift is analysis.run_drift and DriftConfig is base.DriftConfig\n"
        "assert CHECKS is checks.CHECKS and DriftReport is result.DriftReport\n"
        "assert all(getattr(drift, name) is not None for name in drift.__all__)\n"
        "try:\n"
        "    drift.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print('AttributeError', 'no_such_name' in str(exc))\n"
    )
    assert _last_line_of_fresh_python(code) == "AttributeError True"
