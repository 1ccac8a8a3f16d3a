"""P4Runtime over TLS and mutual TLS, with simple_switch_grpc's options and
certificates the test makes: who lacks the right certificate is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from frames import MAC_B
from p4rt_client import Controller, Update, update

from p4switch.launch import ServerTls, SwitchProcess
from p4switch.p4runtime.proto import p4runtime_pb2, p4runtime_pb2_grpc
from tests.tls_certs import CertificateAuthority

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory)
    rogue = CertificateAuthority(directory, "rogue CA")
    return {
        "ca": ca, "rogue": rogue,
        "server": ca.issue("switch", server=True),
        "client": ca.issue("controller", server=False),
        "rogue_client": rogue.issue("intruder", server=False),
    }


def credentials(pki, trust: str = "ca", client: str | None = None) -> grpc.ChannelCredentials:
    pem = pki[client] if client else None
    return grpc.ssl_channel_credentials(
        root_certificates=pki[trust].pem.cert.read_bytes(),
        private_key=pem.key.read_bytes() if pem else None,
        certificate_chain=pem.cert.read_bytes() if pem else None)


def capabilities(address: str, creds: grpc.ChannelCredentials | None) -> str:
    channel = (grpc.insecure_channel(address) if creds is None
               else grpc.secure_channel(address, creds))
    try:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        return stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(),
                                 timeout=10).p4runtime_api_version
    finally:
        channel.close()


def refused(address: str, creds: grpc.ChannelCredentials | None) -> bool:
    try:
        capabilities(address, creds)
    except grpc.RpcError as e:
        return e.code() == grpc.StatusCode.UNAVAILABLE
    return False


def start(tmp_path: Path, tls: ServerTls) -> SwitchProcess:
    return SwitchProcess(None, cpu_port=255, tls=tls, log_path=tmp_path / "switch.log").start()


def test_tls_switch_serves_only_clients_that_trust_it(pki, tmp_path) -> None:
    switch = start(tmp_path, ServerTls(pki["server"].cert, pki["server"].key))
    try:
        assert refused(switch.grpc_addr, None)  # plaintext
        assert refused(switch.grpc_addr, credentials(pki, trust="rogue"))  # wrong CA
        assert capabilities(switch.grpc_addr, credentials(pki))
    finally:
        switch.stop()


def test_mutual_tls_refuses_clients_without_a_certificate_from_its_ca(pki, features,
                                                                      tmp_path) -> None:
    switch = start(tmp_path, ServerTls(pki["server"].cert, pki["server"].key,
                                       ca=pki["ca"].pem.cert, require_client_auth=True))
    try:
        assert refused(switch.grpc_addr, None)
        assert refused(switch.grpc_addr, credentials(pki))  # no client certificate
        assert refused(switch.grpc_addr, credentials(pki, client="rogue_client"))
        c = Controller(switch.grpc_addr, credentials=credentials(pki, client="client"))
        try:
            c.set_pipeline(features.p4info, features.json)
            entry = features.names.entry("dmac", {"hdr.ethernet.dst": MAC_B}, "forward", port=2)
            c.write(update(Update.INSERT, table_entry=entry))
            read = c.read(p4runtime_pb2.Entity(table_entry=p4runtime_pb2.TableEntry(
                table_id=entry.table_id)))
            assert [e.table_entry.match for e in read] == [entry.match]
        finally:
            c.close()
    finally:
        switch.stop()


def run_switch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "p4switch.main", "--no-p4",
                           "--grpc-server-addr", "127.0.0.1:1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.embedded_only("the embedded switch's command line (BMv2 warns and serves "
                           "plaintext where this one refuses)")
def test_tls_options_that_do_not_add_up_are_refused(pki, tmp_path) -> None:
    cert, key, ca = (str(p) for p in (pki["server"].cert, pki["server"].key,
                                      pki["ca"].pem.cert))
    for args, says in [
        (["--grpc-server-cert", cert, "--grpc-server-key", key], "plaintext"),
        (["--grpc-server-with-client-auth"], "plaintext"),
        (["--grpc-server-ssl", "--grpc-server-cert", cert], "--grpc-server-key"),
        (["--grpc-server-ssl", "--grpc-server-cert", cert, "--grpc-server-key", key,
          "--grpc-server-with-client-auth"], "--grpc-server-cacert"),
    ]:
        r = run_switch(*args)
        assert r.returncode == 2 and says in r.stderr, (args, r.stderr)
    r = run_switch("--grpc-server-ssl", "--grpc-server-cert", str(tmp_path / "none.crt"),
                   "--grpc-server-key", key)
    assert r.returncode == 1 and "cannot read" in r.stderr and "none.crt" in r.stderr
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    r = run_switch("--grpc-server-ssl", "--grpc-server-cert", str(garbage),
                   "--grpc-server-key", key)
    assert r.returncode == 1 and "not a certificate" in r.stderr, r.stderr
    r = run_switch("--grpc-server-ssl", "--grpc-server-cert", cert, "--grpc-server-key", key,
                   "--grpc-server-cacert", str(garbage))
    assert r.returncode == 1 and "no CA certificate" in r.stderr, r.stderr

