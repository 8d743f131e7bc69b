import pytest

from training.__main__ import parse_override
from training.config import ConfigError, load_config

GOOD = """
name = "exp"
[data]
train = { path = "train.npz" }
val = { path = "val.npz" }
[export]
name = "exp_int8"
"""


def write(tmp_path, text):
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def test_defaults_fill_a_minimal_config(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.student.arch == "student" and cfg.targets.teacher_logits is None
    assert (cfg.targets.votes, cfg.targets.label, cfg.targets.teacher) == (1.0, 0.0, 0.0)  # the crowd by default
    assert str(cfg.run_dir) == "runs/exp"


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"student\.epochz: Extra inputs are not permitted"):
        load_config(write(tmp_path, GOOD + "[student]\nepochz = 3\n"))


def test_bad_value_is_named_with_the_value(tmp_path):
    with pytest.raises(ConfigError, match=r"student\.erasing_p: .*less than or equal to 1 \(got 1\.5\)"):
        load_config(write(tmp_path, GOOD + "[student]\nerasing_p = 1.5\n"))


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "name = \n"))


def test_overrides_are_typed_and_validated(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), dict([parse_override("student.epochs=3"),
                                                    parse_override("teacher.seeds=[1, 2]"),
                                                    parse_override("data.train.path=/x/y.csv")]))
    assert cfg.student.epochs == 3 and cfg.teacher.seeds == [1, 2] and str(cfg.data.train.path) == "/x/y.csv"
    with pytest.raises(ConfigError, match="student.epochs"):
        load_config(write(tmp_path, GOOD), {"student.epochs": 0})


def test_targets_need_a_weight_and_a_teacher_file_for_the_teacher_part(tmp_path):
    with pytest.raises(ConfigError, match="all 0"):
        load_config(write(tmp_path, GOOD + "[targets]\nvotes = 0\n"))
    with pytest.raises(ConfigError, match="teacher > 0 needs teacher_logits"):
        load_config(write(tmp_path, GOOD + "[targets]\nteacher = 0.5\n"))


def test_a_variant_extends_its_base_and_names_only_what_changes(tmp_path):
    write(tmp_path, GOOD + "[student]\nwidth = 1.0\nepochs = 20\n")
    variant = tmp_path / "wide.toml"
    variant.write_text('extends = "exp.toml"\nname = "wide"\n[student]\nwidth = 1.5\n')
    cfg = load_config(variant)
    assert (cfg.name, cfg.student.width, cfg.student.epochs) == ("wide", 1.5, 20)  # epochs from the base
    assert str(cfg.data.train.path) == "train.npz"
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\nname = "loop"\n')
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(loop)
    variant.write_text('extends = "absent.toml"\n')
    with pytest.raises(ConfigError, match="absent.toml: cannot read config"):
        load_config(variant)


def test_every_shipped_experiment_file_loads():
    from pathlib import Path
    files = sorted(Path("training/configs").glob("*.toml"))
    assert len(files) >= 4
    for f in files:
        assert load_config(f).name  # a broken base or key would raise ConfigError naming the file
