"""The controller's state file: atomic saves, and a corrupt file is reported, never replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from controller.lb_config_document import to_json
from controller.lb_model import LbConfig
from controller.lb_service import StateFileError, load_state, save_atomically


def sample() -> LbConfig:
    config = LbConfig()
    config.add_vip("10.0.0.1/32")
    config.add_as(config.vips()[0].key, ["10.1.0.1", "10.1.0.2"])
    return config


def test_missing_file_is_an_empty_configuration(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json").vips() == []


def test_round_trip_keeps_ids(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    config = sample()
    save_atomically(path, to_json(config))
    back = load_state(path)
    assert [(v.vip_id, sorted(a.as_id for a in v.ases.values())) for v in back.vips()] == [
        (v.vip_id, sorted(a.as_id for a in v.ases.values())) for v in config.vips()
    ]
    assert not (tmp_path / "state.json.tmp").exists()


@pytest.mark.parametrize("content", [b"", b"{", b'{"format": "p4lb-config", "version": 99}',
                                     b"\xff\x00garbage", b"[]"])
def test_corrupt_file_is_reported_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateFileError, match="state.json"):
        load_state(path)
    assert path.read_bytes() == content


def test_half_written_temp_file_does_not_replace_the_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_atomically(path, to_json(sample()))
    (tmp_path / "state.json.tmp").write_text('{"format": "p4lb-con')  # a crash mid-save
    assert len(load_state(path).vips()) == 1


def test_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    (tmp_path / "state.json.tmp").write_text("left by a crash")
    (tmp_path / "state.json.tmp").chmod(0o644)
    save_atomically(path, to_json(sample()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_deeply_nested_state_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"[" * 200_000)
    with pytest.raises(StateFileError, match="state.json"):
        load_state(path)
