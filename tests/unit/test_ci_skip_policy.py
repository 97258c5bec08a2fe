"""The suite's CI policy (tests/conftest.py): with CI=true no test may skip, whether it
skips while running, through a skipif marker, or by its module skipping while collected.
Checked by running pytest on probe modules with that conftest loaded as a plugin."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMPORT_SKIP = ('import pytest\npytest.importorskip("no_such_module_nq")\n'
               "def test_never():\n    pass\n")
MARKER_SKIP = ('import pytest\npytestmark = pytest.mark.skipif(True, reason="module skipif")\n'
               "def test_marked():\n    pass\n")
RUNTIME_SKIP = ('import pytest\ndef test_skips():\n    pytest.skip("no server here")\n'
                "def test_runs():\n    pass\n")


def run_probes(tmp_path: Path, ci: bool, **probes: str) -> subprocess.CompletedProcess:
    for name, text in probes.items():
        (tmp_path / f"test_{name}.py").write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", "-rA", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_outside_ci_skips_are_skips(tmp_path):
    result = run_probes(tmp_path, False, imports=IMPORT_SKIP, marks=MARKER_SKIP,
                        runtime=RUNTIME_SKIP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 3 skipped" in result.stdout, result.stdout


def test_in_ci_a_module_skipped_while_collecting_fails(tmp_path):
    result = run_probes(tmp_path, True, imports=IMPORT_SKIP)
    assert result.returncode != 0, result.stdout
    assert "test_imports.py was skipped while collecting" in result.stdout, result.stdout
    assert "no_such_module_nq" in result.stdout


def test_in_ci_marker_and_run_time_skips_fail(tmp_path):
    result = run_probes(tmp_path, True, marks=MARKER_SKIP, runtime=RUNTIME_SKIP)
    assert result.returncode != 0, result.stdout
    # A skipif marker acts in setup, so it shows as an error; a pytest.skip() as a failure.
    assert "1 failed, 1 passed, 1 error" in result.stdout, result.stdout
    assert "Skip reason: Skipped: module skipif" in result.stdout
    assert "Skip reason: Skipped: no server here" in result.stdout
