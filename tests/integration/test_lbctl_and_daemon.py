"""lbctl and p4lb-controller as processes: what a user types, what they see."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from p4switch.launch import SwitchProcess, free_tcp_port
from tests.integration.lb_fixture import LB_JSON

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def lbctl(sock: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "controller.lbctl", "--socket", str(sock), *args],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60,
                          input=stdin)


@pytest.fixture
def daemon(tmp_path: Path):
    with SwitchProcess(LB_JSON, log_path=tmp_path / "switch.log") as switch:
        sock = tmp_path / "c.sock"
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.daemon", "--switch", switch.grpc_addr,
             "--socket", str(sock), "--state", str(tmp_path / "state.json")],
            cwd=ROOT, env=ENV, stdout=open(tmp_path / "controller.log", "wb"),
            stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            yield sock, proc, tmp_path
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0


def test_one_command_and_show(daemon) -> None:
    sock, _, _ = daemon
    assert lbctl(sock, "lb", "vip", "10.0.0.1/32", "encap", "gre4").returncode == 0
    assert lbctl(sock, "lb as 10.0.0.1/32 10.1.0.1 10.1.0.2").returncode == 0
    shown = lbctl(sock, "show", "lb", "vips", "verbose")
    assert shown.returncode == 0
    assert "ip4-gre4" in shown.stdout and "10.1.0.2" in shown.stdout


def test_json_answers_of_lbctl(daemon) -> None:
    sock, _, tmp = daemon
    lbctl(sock, "lb vip 10.0.0.1/32 encap gre4 new_len 16")
    lbctl(sock, "lb as 10.0.0.1/32 10.1.0.1")
    shown = lbctl(sock, "--json", "show", "lb", "vips", "verbose")
    assert shown.returncode == 0, shown.stderr
    (vip,) = json.loads(shown.stdout)["vips"]
    assert vip["new_len"] == 16 and vip["ases"][0]["address"] == "10.1.0.1"
    assert vip["ases"][0]["buckets"] == 16
    trailing = lbctl(sock, "sh", "lb", "--json")  # the flag after the command works too
    assert json.loads(trailing.stdout)["vips"] == 1
    f = tmp / "shows.lb"
    f.write_text("show lb\nshow ip route\n")
    lines = lbctl(sock, "--json", "-f", str(f)).stdout.splitlines()
    assert [sorted(json.loads(x))[0] for x in lines] == ["ases", "routes"]
    bad = lbctl(sock, "--json", "show lb flows vip 10.9.9.9/32")
    assert bad.returncode == 1 and "10.9.9.9/32 does not exist" in bad.stderr


def test_the_readme_api_example_runs(daemon, capsys) -> None:
    sock, _, _ = daemon
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The management API", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(code.replace("/tmp/p4lb/controller.sock", str(sock)), {})  # noqa: S102
    printed = capsys.readouterr().out.split()
    assert printed[:2] == ["10.0.0.1/32", "0"] and "('10.1.0.2'," in printed


def test_bad_command_names_the_token_and_fails(daemon) -> None:
    sock, _, _ = daemon
    r = lbctl(sock, "lb vip 10.0.0.1/32 encap gre5")
    assert r.returncode == 1 and "gre5" in r.stderr


def test_file_stops_at_the_first_error_with_its_line(daemon) -> None:
    sock, _, tmp = daemon
    f = tmp / "cmds.lb"
    f.write_text("# demo\nlb vip 10.0.0.1/32 encap nat4\nlb vip 10.0.0.2/32\n")
    r = lbctl(sock, "-f", str(f))
    assert r.returncode == 1 and "cmds.lb:2" in r.stderr
    assert "10.0.0.2" not in lbctl(sock, "show lb vips").stdout


def test_configuration_is_saved_to_the_state_file(daemon) -> None:
    sock, proc, tmp = daemon
    lbctl(sock, "lb vip 10.0.0.7/32 encap gre4")
    assert (tmp / "state.json").exists()
    assert "10.0.0.7" in (tmp / "state.json").read_text()


def test_daemon_serves_prometheus_metrics(tmp_path: Path) -> None:
    port = free_tcp_port()
    with SwitchProcess(LB_JSON, log_path=tmp_path / "switch.log") as switch:
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.daemon", "--switch", switch.grpc_addr,
             "--socket", str(tmp_path / "c.sock"), "--state", str(tmp_path / "state.json"),
             "--metrics-addr", f"127.0.0.1:{port}"],
            cwd=ROOT, env=ENV, stdout=open(tmp_path / "controller.log", "wb"),
            stderr=subprocess.STDOUT)
        try:
            def scrape() -> str:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
                        return r.read().decode()
                except OSError:
                    return ""

            deadline = time.monotonic() + 30
            while f'p4lb_switch_connected{{switch="{switch.grpc_addr}#0"}} 1.0' not in scrape():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0


def test_daemon_refuses_a_bad_metrics_address(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "controller.daemon", "--metrics-addr", "9100"],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "metrics address '9100': expected HOST:PORT" in r.stderr


def test_unreachable_controller(tmp_path: Path) -> None:
    r = lbctl(tmp_path / "nobody.sock", "show lb")
    assert r.returncode == 2 and "cannot reach the controller" in r.stderr


def test_daemon_refuses_a_corrupt_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": "p4lb-config", "version": 1, "vips": [{"prefix": 5}]}')
    r = subprocess.run([sys.executable, "-m", "controller.daemon", "--switch", "127.0.0.1:1",
                        "--socket", str(tmp_path / "c.sock"), "--state", str(state)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "corrupt" in r.stderr and "state.json" in r.stderr
    assert "vips" in state.read_text()  # left as it was


def test_interactive_shell_runs_lines_and_reports_errors(daemon) -> None:
    sock, _, _ = daemon
    r = lbctl(sock, stdin="lb vip 10.0.0.9/32\nlb vip bogus\nshow lb vips\nexit\n")
    assert r.returncode == 0
    assert "error:" in r.stdout and "bogus" in r.stdout and "10.0.0.9/32" in r.stdout


def start_daemon(tmp_path: Path, sock: Path, state: Path,
                 switch: str = "127.0.0.1:1") -> subprocess.Popen:
    """A daemon whose switch may not exist (it keeps retrying and serves lbctl)."""
    return subprocess.Popen(
        [sys.executable, "-m", "controller.daemon", "--switch", switch, "--socket", str(sock),
         "--state", str(state)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def refused_start(proc: subprocess.Popen) -> tuple[int, str]:
    """(exit code, stderr) of a daemon expected to refuse to start; one that
    starts anyway is stopped, and fails the test."""
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the daemon started instead of refusing") from None
    return proc.returncode, err


def test_a_second_daemon_on_the_same_socket_refuses_to_start(daemon) -> None:
    sock, _, tmp = daemon
    lbctl(sock, "lb vip 10.0.0.3/32 encap gre4")
    code, err = refused_start(start_daemon(tmp, sock, tmp / "state2.json"))
    assert code == 2 and "another controller" in err and str(sock) in err
    # the first one is still reachable, and only its state was written
    assert "10.0.0.3/32" in lbctl(sock, "show lb vips").stdout
    assert not (tmp / "state2.json").exists()


def test_daemon_keeps_its_files_private(tmp_path: Path) -> None:
    home = tmp_path / "p4lb"  # as /tmp/p4lb: created by the daemon
    sock, state = home / "c.sock", home / "state.json"
    proc = start_daemon(tmp_path, sock, state)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        assert lbctl(sock, "lb vip 10.0.0.4/32 encap gre4").returncode == 0
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0 and not sock.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_daemon_refuses_a_directory_another_user_owns(tmp_path: Path) -> None:
    home = tmp_path / "p4lb"
    home.mkdir(mode=0o755)
    os.chown(home, 65534, 65534)  # nobody made it first
    code, err = refused_start(start_daemon(tmp_path, home / "c.sock", home / "state.json"))
    assert code == 2 and "uid 65534" in err and str(home) in err
    assert list(home.iterdir()) == []
