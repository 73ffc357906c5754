"""Running a nasdsl command on hostile files as a subprocess, and what to check after.

`run_cli` reports the exit code, the output and the command's peak RSS; `snapshot` is a
listing of a folder (links not followed) with each file's size, mtime and, for files up
to 16 MiB, SHA-256, so "no file outside the command's output changed" is a dict compare.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# NASDSL_UNDER_TEST: another checkout's root, to show a case fails on an older nasdsl
CODE = Path(os.environ.get("NASDSL_UNDER_TEST", ROOT))
HASH_LIMIT = 16 << 20


@dataclass
class Result:
    code: int
    out: str
    rss_mib: float
    timed_out: bool


# NOTE: Linux carries the parent's RSS high-water mark across fork+exec into the child's
# ru_maxrss, so a command started straight from a pytest process that has grown to 1.4 GB
# "peaks" at 1.4 GB. A small launcher (a fresh interpreter) starts the command and reports
# the grandchild's own rusage, which starts from the launcher's few MiB.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "with open(sys.argv[1], 'w') as f: f.write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 300.0) -> Result:
    full_env = {**os.environ, "PYTHONPATH": str(CODE), "OMP_NUM_THREADS": "1",
                "NO_COLOR": "1", **(env or {})}
    rss_file = Path(tempfile.mkdtemp(prefix="nasdsl-rss-")) / "maxrss"
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(rss_file),
                             sys.executable, "-m", "nasdsl", *args], cwd=cwd, env=full_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command

    timer = threading.Timer(timeout, kill)
    timer.start()
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    try:
        code = proc.wait()
    finally:
        timer.cancel()
        reader.join()
        proc.stdout.close()  # type: ignore[union-attr]
    rss_kib = float(rss_file.read_text()) if rss_file.exists() else float("nan")
    shutil.rmtree(rss_file.parent, ignore_errors=True)
    return Result(code, b"".join(chunks).decode("utf-8", "replace"), rss_kib / 1024,
                  timed_out.is_set())


def snapshot(folder: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """{relative path: (kind, size, mtime_ns, sha256 or link target)}, links not followed."""
    out: dict[str, tuple] = {}
    skipped = {os.path.abspath(p) for p in skip}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skipped]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if full in skipped:
                continue
            st = os.lstat(full)
            rel = os.path.relpath(full, folder)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                digest = _sha(full) if st.st_size <= HASH_LIMIT else None
                out[rel] = ("file", st.st_size, st.st_mtime_ns, digest)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


def _sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def assert_refused(res: Result, expect: tuple[str, ...], rss_bound_mib: float) -> None:
    """Exit 1 or 2, the expected words, no traceback, no hang, bounded memory."""
    assert not res.timed_out, f"hung (killed after the timeout):\n{res.out}"
    assert res.code in (1, 2), f"exit {res.code}:\n{res.out}"
    assert "Traceback" not in res.out and "internal error" not in res.out, res.out
    for word in expect:
        assert word in res.out, f"{word!r} not in:\n{res.out}"
    assert res.rss_mib < rss_bound_mib, f"peak RSS {res.rss_mib:.0f} MiB:\n{res.out}"
