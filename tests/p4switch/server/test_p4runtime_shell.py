"""p4runtime-shell works against the server unchanged (from its own environment:
tests/p4runtime_shell/run.py)."""

from frames import MAC_B, ethernet

from tests.p4runtime_shell.run import run_shell_script


def test_shell_pushes_the_pipeline_inserts_and_reads(switch, features):
    out = run_shell_script("srv_features.py", "program", switch.address,
                           str(features.p4info_path), str(features.json_path))
    assert out.splitlines() == ["dmac entries 1", "dmac dst bb", "dmac port 03",
                                "acl entries 1"]
    switch.send(1, ethernet(MAC_B))
    assert switch.next_frame()[0] == 3
    out = run_shell_script("srv_features.py", "check", switch.address)
    assert out.splitlines() == ["port_counter[1] packets [1]", "dmac entries 0"]
