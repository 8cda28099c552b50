"""bench.forkserver: pytest processes forked from a server that imported torch
once: each a process of its own, with the server's environment, its exit code
and its output; none outliving an interrupted run; subprocesses where forking
is not possible."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import aslr
import pytest

from bench import forkserver

pytestmark = [pytest.mark.spawns,
              pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available here")]

TESTS = '''
import os, pathlib, time

def test_pid():
    pathlib.Path(os.environ["OUT"], f"pid-{os.getpid()}").write_text(os.environ["SIDE"])
    print("hello from", os.getpid())

def test_fails_when_asked():
    assert os.environ.get("FAIL") is None

def test_layout():
    import ctypes
    from bench.suite.command import layout_fixed
    malloc = ctypes.cast(ctypes.CDLL(None).malloc, ctypes.c_void_p).value
    pathlib.Path(os.environ["OUT"], f"layout-{os.environ['SIDE']}-{os.getpid()}").write_text(
        f"{layout_fixed()} {malloc}")

def test_slow():
    pathlib.Path(os.environ["OUT"], "slow-pid").write_text(str(os.getpid()))
    time.sleep(60)
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "test_probe.py").write_text(TESTS)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "SIDE": "base"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return tmp_path, out, env


def _args(*more):
    return ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *more]


def test_each_run_is_a_process_of_its_own_with_the_servers_environment(project):
    root, out, env = project
    with forkserver.serving(root, env) as server:
        assert server.available()
        codes = [server.run(_args("-k", "pid"), root / f"o{i}", root / f"e{i}") for i in range(3)]
        assert codes == [0, 0, 0]
        pids = {int(p.name.split("-")[1]) for p in out.glob("pid-*")}
        assert len(pids) == 3 and os.getpid() not in pids
        assert {p.read_text() for p in out.glob("pid-*")} == {"base"}
        assert "1 passed" in (root / "o0").read_text()


@pytest.mark.skipif(not Path("/proc/self/personality").exists(), reason="Linux only")
def test_servers_with_the_layout_fixed_place_everything_alike(project):
    if not aslr.can_be_turned_off():
        pytest.skip("this machine refuses personality(ADDR_NO_RANDOMIZE)")
    root, out, env = project
    for side in ("a", "b"):  # two servers, two children each
        with forkserver.serving(root, {**env, "SIDE": side}, fixed_layout=True) as server:
            assert server.available()
            assert [server.run(_args("-k", "layout"), root / "o", root / "e") for _ in (1, 2)] == [0, 0]
    seen = [p.read_text().split() for p in out.glob("layout-*")]
    assert len(seen) == 4 and {fixed for fixed, _ in seen} == {"True"}
    assert len({address for _, address in seen}) == 1  # libc where every other process has it
    if Path("/proc/sys/kernel/randomize_va_space").read_text().strip() != "0":
        with forkserver.serving(root, {**env, "SIDE": "random"}) as server:  # the control
            assert server.available() and server.run(_args("-k", "layout"), root / "o", root / "e") == 0
        ((fixed, address),) = [p.read_text().split() for p in out.glob("layout-random-*")]
        assert fixed == "False" and address != seen[0][1]


def test_a_failing_run_gives_pytests_exit_code(project):
    root, _, env = project
    with forkserver.serving(root, {**env, "FAIL": "1"}) as server:
        assert server.available()
        assert server.run(_args("-k", "fails"), root / "o", root / "e") == 1
        assert "assert" in (root / "o").read_text()


def test_an_interrupted_run_leaves_no_child_behind(project):
    root, out, env = project
    main = threading.get_ident()

    def interrupt_once_started():
        while not (out / "slow-pid").exists():
            time.sleep(0.02)
        signal.pthread_kill(main, signal.SIGUSR1)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, interrupted)
    try:
        with forkserver.serving(root, env) as server:
            assert server.available()
            threading.Thread(target=interrupt_once_started, daemon=True).start()
            with pytest.raises(KeyboardInterrupt):
                server.run(_args("-k", "slow"), root / "o", root / "e")
            pid = int((out / "slow-pid").read_text())
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)
            assert not Path(f"/proc/{pid}").exists()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_server_starts_only_when_first_asked(project):
    root, _, env = project
    with forkserver.serving(root, env) as server:
        assert server._process is None  # nothing started for a run that measures nothing


def test_without_fork_there_is_no_server(project, monkeypatch):
    root, _, env = project
    monkeypatch.delattr(os, "fork")
    with forkserver.serving(root, env) as server:
        assert server is None


def test_a_server_that_cannot_start_serves_nothing(project):
    root, _, env = project
    broken = {**env, "PYTHONHOME": str(root / "missing")}  # python itself cannot start
    with forkserver.serving(root, broken) as server:
        assert not server.available()


def test_what_a_trees_imports_print_does_not_confuse_the_server(project):
    root, _, env = project
    (root / "sitecustomize.py").write_text('print("hello from a tree")\nprint("[1, 2]")\n')
    with forkserver.serving(root, {**env, "PYTHONPATH": str(root)}) as server:
        assert server.available()
        assert server.run(_args("-k", "pid"), root / "o", root / "e") == 0
