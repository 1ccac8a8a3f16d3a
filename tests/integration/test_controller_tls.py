"""The controller daemon programs a switch that serves P4Runtime over mutual TLS
(--switch-ca/--cert/--key), and one without the right certificate cannot."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from controller.p4_schema import P4Schema
from p4switch.launch import ServerTls, SwitchProcess
from tests.integration.lb_fixture import LB_JSON, SwitchReader, lb_p4info, wait_for
from tests.integration.test_lbctl_and_daemon import ENV, ROOT, lbctl
from tests.tls_certs import CertificateAuthority


@pytest.fixture
def tls_switch(tmp_path: Path):
    ca = CertificateAuthority(tmp_path / "pki")
    server = ca.issue("switch", server=True)
    rogue = CertificateAuthority(tmp_path / "pki", "rogue CA")
    pems = {"ca": ca.pem.cert, "client": ca.issue("controller", server=False),
            "rogue": rogue.issue("intruder", server=False)}
    tls = ServerTls(server.cert, server.key, ca=ca.pem.cert, require_client_auth=True)
    switch = SwitchProcess(LB_JSON, tls=tls, log_path=tmp_path / "switch.log").start()
    try:
        yield switch, pems
    finally:
        switch.stop()


def start_daemon(tmp_path: Path, name: str, switch: SwitchProcess, *tls_args: str):
    sock = tmp_path / f"{name}.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.daemon", "--switch", switch.grpc_addr,
         "--socket", str(sock), "--state", str(tmp_path / f"{name}.json"), *tls_args],
        cwd=ROOT, env=ENV, stdout=open(tmp_path / f"{name}.log", "wb"),
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, (
            tmp_path / f"{name}.log").read_text()
        time.sleep(0.05)
    return sock, proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(15) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_the_controller_programs_a_mutual_tls_switch(tls_switch, tmp_path: Path) -> None:
    switch, pems = tls_switch
    client = pems["client"]
    sock, proc = start_daemon(tmp_path, "good", switch, "--switch-ca", str(pems["ca"]),
                              "--cert", str(client.cert), "--key", str(client.key))
    try:
        assert lbctl(sock, "lb vip 10.0.0.1/32 encap gre4").returncode == 0
        assert wait_for(lambda: "primary, election id" in lbctl(sock, "show lb").stdout,
                        timeout=20)
        reader = SwitchReader(switch.grpc_addr, P4Schema(lb_p4info()),
                              credentials=grpc.ssl_channel_credentials(
                                  pems["ca"].read_bytes(), client.key.read_bytes(),
                                  client.cert.read_bytes()))
        try:
            assert wait_for(lambda: len(reader.table("vip4")) == 1, timeout=20)
        finally:
            reader.close()
    finally:
        stop(proc)


def test_a_controller_without_the_right_certificate_cannot(tls_switch, tmp_path: Path) -> None:
    switch, pems = tls_switch
    rogue = pems["rogue"]
    for name, args in [("plain", ()), ("no_cert", ("--switch-ca", str(pems["ca"]))),
                       ("rogue", ("--switch-ca", str(pems["ca"]), "--cert", str(rogue.cert),
                                  "--key", str(rogue.key)))]:
        sock, proc = start_daemon(tmp_path, name, switch, *args)
        try:
            assert lbctl(sock, "lb vip 10.0.0.1/32 encap gre4").returncode == 0
            time.sleep(1.5)  # a few connection attempts
            assert "connecting" in lbctl(sock, "show lb").stdout, name
        finally:
            stop(proc)
    client = pems["client"]
    reader = SwitchReader(switch.grpc_addr, P4Schema(lb_p4info()),
                          credentials=grpc.ssl_channel_credentials(
                              pems["ca"].read_bytes(), client.key.read_bytes(),
                              client.cert.read_bytes()))
    try:
        # none of them got as far as setting the pipeline, let alone writing
        with pytest.raises(grpc.RpcError) as e:
            reader.table("vip4")
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        reader.close()


def test_tls_options_are_checked_at_start(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.crt"
    garbage.write_text("not a certificate")
    for args, says in [(("--cert", str(garbage)), "--cert and --key go together"),
                       (("--switch-ca", str(garbage)), "--switch-ca"),
                       (("--switch-ca", str(tmp_path / "none.crt")), "none.crt")]:
        r = subprocess.run([sys.executable, "-m", "controller.daemon", "--switch",
                            "127.0.0.1:1", "--socket", str(tmp_path / "c.sock"),
                            "--state", str(tmp_path / "s.json"), *args],
                           cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and says in r.stderr, (args, r.stderr)
