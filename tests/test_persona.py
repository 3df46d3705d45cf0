from pathlib import Path

import pytest
import yaml

from simulator.errors import DataFileError
from simulator.persona import Persona, dump_persona, load_persona, load_personas
from tests.conftest import SHIPPED


@pytest.mark.parametrize("persona_id", SHIPPED)
def test_every_shipped_persona_loads_and_round_trips(persona_id, shipped_dir):
    persona = load_persona(shipped_dir / f"{persona_id}.yaml")
    assert persona.id == persona_id
    assert Persona.model_validate(yaml.safe_load(dump_persona(persona))) == persona


def test_shipped_set_covers_required_customer_types(personas):
    assert len(personas) >= 6
    assert len({p.industry for p in personas.values()}) >= 6
    assert len({p.typology for p in personas.values()}) >= 6
    starts = {p.anger.start for p in personas.values()}
    assert max(starts) - min(starts) >= 3
    text = {pid: (p.title + p.situation + p.typology).lower() for pid, p in personas.items()}
    assert any("internal" in t or "colleague" in t for t in text.values())  # seed 003
    assert any("budget" in t and "discount" in t for t in text.values())  # seed 004
    assert any("social media" in t or "video" in t or "public" in t for t in text.values())  # seed 002


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _valid(shipped_dir) -> dict:
    return yaml.safe_load((shipped_dir / "late-birthday-gift.yaml").read_text())


def test_unknown_field_names_file_field_and_fix(tmp_path, shipped_dir):
    data = _valid(shipped_dir)
    data["anger"]["volatilty"] = 0.5
    path = _write(tmp_path, "late-birthday-gift.yaml", data)
    with pytest.raises(DataFileError) as caught:
        load_persona(path)
    message = str(caught.value)
    assert str(path) in message and "anger.volatilty" in message and "fix: remove it" in message


def test_out_of_range_and_missing_fields_each_get_a_line(tmp_path, shipped_dir):
    data = _valid(shipped_dir)
    data["anger"]["start"] = 14
    del data["opening_line"]
    path = _write(tmp_path, "late-birthday-gift.yaml", data)
    with pytest.raises(DataFileError) as caught:
        load_persona(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any("anger.start" in line and "smaller value" in line for line in lines)
    assert any("opening_line" in line and "add this field" in line for line in lines)


def test_missing_move_lines_are_named(tmp_path, shipped_dir):
    data = _valid(shipped_dir)
    del data["lines"]["by_move"]["blamed"]
    with pytest.raises(DataFileError, match=r"lines\.by_move.*blamed"):
        load_persona(_write(tmp_path, "late-birthday-gift.yaml", data))


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = _write(tmp_path, "broken.yaml", "id: broken\nname: [unclosed\n")
    with pytest.raises(DataFileError, match=r"broken\.yaml: line \d+: YAML syntax error"):
        load_persona(path)


def test_id_must_match_file_name(tmp_path, shipped_dir):
    path = _write(tmp_path, "other-name.yaml", _valid(shipped_dir))
    with pytest.raises(DataFileError, match="set id: other-name"):
        load_persona(path)


def test_bad_file_is_reported_and_skipped_while_valid_ones_load(tmp_path, shipped_dir):
    _write(tmp_path, "late-birthday-gift.yaml", _valid(shipped_dir))
    _write(tmp_path, "bad.yaml", "- just\n- a list\n")
    loaded = load_personas(tmp_path)
    assert list(loaded.personas) == ["late-birthday-gift"]
    assert len(loaded.errors) == 1 and "bad.yaml" in str(loaded.errors[0])


def test_empty_folder_is_an_error(tmp_path):
    assert "no persona files" in str(load_personas(tmp_path).errors[0])
