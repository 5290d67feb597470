"""The ``superposition`` command's option errors: one line each, before any work, and (like
``--help``) without importing torch, so that they answer at once.

Each case runs in a fresh interpreter, which then reports the heavy modules it imported."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest

from superposition_lib.cli import MIN_KEY_PREFIX, main

# Runs main(argv) and prints its exit status and the heavy modules it imported.
LIGHT = """
import sys
from superposition_lib.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as e:
    status = e.code
print(status, sorted({"torch", "numpy", "pandas", "distributed"} & set(sys.modules)))
"""


def _light(argv: list[str]) -> tuple[str, str]:
    """(last stdout line: status and heavy modules, stderr) of ``main(argv)`` in a new process."""
    proc = subprocess.run([sys.executable, "-c", LIGHT, *argv], capture_output=True, text=True,
                          timeout=120, check=False)
    return proc.stdout.splitlines()[-1], proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["train", "--help"]])
def test_help_does_not_import_torch(argv):
    assert _light(argv)[0] == "0 []"


# (argv with FILE and MISSING for paths, the command's one-line message)
ERRORS = [
    (["run", "intro-relu", "--workers", "0"], "--workers must be a positive integer (got 0)"),
    (["run", "intro-relu", "--scheduler", "notaurl"],
     "--scheduler: expected an address like tcp://HOST:8786 (got 'notaurl')"),
    (["run", "intro-relu", "--scheduler", "tcp://host:port"],
     "--scheduler: expected an address like tcp://HOST:8786 (got 'tcp://host:port')"),
    (["run", "intro-relu", "--workers", "2", "--scheduler", "tcp://10.0.0.5:8786"],
     "--workers, --scheduler: give one of them, not both"),
    (["run", "intro-relu", "--threads", "0"], "--threads must be a positive integer (got 0)"),
    (["train", "intro", "--threads", "-1"], "--threads must be a positive integer (got -1)"),
    (["show", "7fd"], f"key prefix '7fd' is too short: give at least {MIN_KEY_PREFIX} hex digits"),
    (["show", "7fdq"], ("'7fdq' is not a run key: keys are hex digits (`superposition list "
                        "--cached` lists them)")),
    (["figures", "export", "--out", "FILE"], "--out: FILE is not a directory"),
    (["figures", "export", "--out", "FILE/sub"],
     "--out: cannot create FILE/sub: FILE is not a directory"),
    (["list", "--cached", "--store", "FILE"], "--store: FILE is not a directory"),
    (["list", "--cached", "--store", "MISSING"], "--store: MISSING does not exist"),
    (["show", "0123abcd", "--store", "MISSING"], "--store: MISSING does not exist"),
    (["migrate", "--store", "MISSING"], "--store: MISSING does not exist"),
    (["migrate", "--store", "FILE"], "--store: FILE is not a directory"),
    (["train", "intro", "--store", "FILE"], "--store: FILE is not a directory"),
    (["run", "intro-relu", "--store", "FILE/sub"],
     "--store: cannot create FILE/sub: FILE is not a directory"),
]


@pytest.mark.parametrize("argv, message", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_option_errors_are_one_line_before_any_work(argv, message, tmp_path):
    """Exit status 2 and ``superposition COMMAND: MESSAGE`` naming the option and the cause;
    nothing heavy imported (so nothing loaded or trained), nothing created."""
    file, missing = tmp_path / "file", tmp_path / "missing"
    file.write_text("not a directory")

    def paths(text: str) -> str:
        return text.replace("FILE", str(file)).replace("MISSING", str(missing))

    result, err = _light([paths(a) for a in argv])
    assert err == f"superposition {argv[0]}: {paths(message)}\n"
    assert result == "2 []"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_argparse_errors_do_not_import_torch():
    result, err = _light(["run", "--workers", "x"])
    assert result == "2 []" and "argument --workers: invalid int value: 'x'" in err


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def test_an_ambiguous_key_prefix_lists_the_matches(tmp_path):
    keys = ["abcd000000000001", "abcd000000000002"]
    for key in keys:
        (tmp_path / "runs" / key).mkdir(parents=True)
        (tmp_path / "runs" / key / "manifest.json").write_text("{}")
    status, out, err = _run(["show", "ABCD", "--store", str(tmp_path)])
    assert (status, out) == (2, "")
    assert err == ("superposition show: key prefix 'abcd' is ambiguous: it starts "
                   f"{', '.join(keys)}\n")
    status, _, err = _run(["show", "abcd0000000000019", "--store", str(tmp_path)])
    assert status == 2 and "no cached run 'abcd0000000000019'" in err
