"""The process harness reads the Procfile as an operator's tool would and controls what it starts."""

from __future__ import annotations

import signal
import sys

import pytest

from tools.harness import (
    BIN,
    PROCFILE,
    Harness,
    HarnessError,
    command_argv,
    port_variables,
    procfile_read,
    substitute,
)

ECHO = "python -c \"import sys, time; print('ready on', sys.argv[1], flush=True); time.sleep(60)\" ${PORT:-1}"


def test_substitution_follows_the_shell_for_defaults_set_and_empty_variables():
    env = {"PORT": "9000", "EMPTY": ""}
    assert substitute("-p ${PORT:-8000}", env) == "-p 9000"
    assert substitute("-p ${WS_PORT:-8001}", env) == "-p 8001"
    assert substitute("${EMPTY:-x} ${EMPTY} $PORT ${UNSET}", env) == "x  9000 "


def test_every_procfile_process_resolves_to_this_venv_with_its_port_variables():
    commands = procfile_read(PROCFILE)
    assert set(commands) >= {"web", "ws", "matcher", "worker", "beat"}
    for command in commands.values():
        argv = command_argv(command, {})
        assert argv[0] == sys.executable or argv[0].startswith(str(BIN)), argv
    assert port_variables(commands["web"]) == ["PORT"]
    assert port_variables(commands["ws"]) == ["WS_PORT"]
    assert port_variables(commands["matcher"]) == []


def test_a_procfile_line_without_a_name_is_refused(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: daphne x\nnot a process line\n")
    with pytest.raises(HarnessError, match="not a 'name: command' line"):
        procfile_read(procfile)


def test_started_process_gets_its_port_arguments_and_log_and_restarts_with_the_same_arguments(tmp_path):
    with Harness(env={}, log_dir=tmp_path, commands={"echo": ECHO}, ports={"echo": 4321}) as harness:
        proc = harness.start("echo", "--extra")
        assert proc.argv[-2:] == ["4321", "--extra"]
        harness.wait_log("echo", "ready on 4321")
        assert proc.env["PORT"] == "4321"
        assert proc.cpu_seconds() >= 0
        assert proc.group_pids() == [proc.pid]

        harness.kill("echo")  # SIGKILL
        assert proc.returncode == -signal.SIGKILL
        again = harness.restart("echo")
        assert again.argv == proc.argv
        assert harness.restarts["echo"] == 1
        harness.wait_log("echo", "ready on 4321")
    assert not again.running


def test_a_process_that_exits_fails_the_readiness_wait_with_its_output(tmp_path):
    harness = Harness(env={}, log_dir=tmp_path, commands={"bad": "python -c \"print('boom'); raise SystemExit(3)\""})
    harness.start("bad")
    with pytest.raises(HarnessError, match="exited with 3"):
        harness.wait_log("bad", "never printed", timeout=30)
    harness.stop_all()


def test_reap_restarts_a_process_that_died_on_its_own_and_counts_it(tmp_path):
    with Harness(env={}, log_dir=tmp_path, commands={"echo": ECHO}) as harness:
        first = harness.start("echo")
        harness.wait_log("echo", "ready on")
        first.signal(signal.SIGKILL)
        first.wait()
        seen: list[str] = []
        assert harness.reap_unexpected(seen.append) == ["echo"]
        assert harness.unexpected_exits["echo"] == 1
        assert "exited on its own" in seen[0]
        assert harness.get("echo").running
