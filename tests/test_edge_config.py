from pathlib import Path

import pytest

from edge.config import ConfigError, EdgeConfig, dump, json_schema, load_config

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "edge" / "default_config.toml"
NO_ENV: dict[str, str] = {}


def write(tmp_path, text):
    p = tmp_path / "edge.toml"
    p.write_text(text)
    return p


def test_defaults_load_with_no_file():
    cfg = load_config(None, NO_ENV)
    assert cfg == EdgeConfig()
    assert cfg.source.spec == "media/demo.mp4" and cfg.web.host == "127.0.0.1" and cfg.web.port == 8080
    assert cfg.web.preview is False and cfg.web.token is None and cfg.models.detector is None


def test_default_config_file_equals_the_defaults():
    assert load_config(DEFAULT_FILE, NO_ENV) == EdgeConfig()


def test_unknown_key_names_the_dotted_key(tmp_path):
    with pytest.raises(ConfigError, match=r"edge\.toml: web\.prot: Extra inputs are not permitted"):
        load_config(write(tmp_path, "[web]\nprot = 80\n"), NO_ENV)


def test_bad_value_names_key_and_value(tmp_path):
    with pytest.raises(ConfigError, match=r"edge\.toml: web\.port: .*less than or equal to 65535 \(got 70000\)"):
        load_config(write(tmp_path, "[web]\nport = 70000\n"), NO_ENV)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "none.toml", NO_ENV)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[web\n"), NO_ENV)


def test_env_overrides_the_file(tmp_path):
    env = {"FER_EDGE_SOURCE": "/dev/video0", "FER_EDGE_PORT": "9000", "FER_EDGE_THREADS": "2",
           "FER_EDGE_LOG_LEVEL": "DEBUG", "FER_EDGE_HOST": ""}  # empty counts as unset
    cfg = load_config(write(tmp_path, "[web]\nport = 8081\n"), env)
    assert cfg.source.spec == "/dev/video0" and cfg.web.port == 9000 and cfg.models.threads == 2
    assert cfg.log_level == "debug" and cfg.web.host == "127.0.0.1"


def test_bad_env_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"FER_EDGE_PORT: web\.port: .*65535 \(got '70000'\)"):
        load_config(None, {"FER_EDGE_PORT": "70000"})
    with pytest.raises(ConfigError, match=r"FER_EDGE_THREADS: models\.threads: .*greater than or equal to 1"):
        load_config(None, {"FER_EDGE_THREADS": "0"})


def test_non_loopback_host_needs_a_token(tmp_path):
    with pytest.raises(ConfigError, match=r"edge\.toml: web: .*binding to another address requires a token"):
        load_config(write(tmp_path, '[web]\nhost = "0.0.0.0"\n'), NO_ENV)
    with pytest.raises(ConfigError, match=r"FER_EDGE_HOST: web: .*requires a token"):
        load_config(None, {"FER_EDGE_HOST": "192.168.1.20"})
    cfg = load_config(None, {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN": "s3cret"})
    assert cfg.web.token.get_secret_value() == "s3cret"
    for host in ("127.0.0.1", "::1", "localhost"):
        assert load_config(None, {"FER_EDGE_HOST": host}).web.host == host


def test_dump_round_trips_with_the_token_masked(tmp_path):
    cfg = load_config(write(tmp_path, '[source]\nspec = "v4l2src ! videoconvert \\"q\\" \\\\ é"\n'
                                      'fallback_spec = "media/demo.mp4"\n[models]\ndetector = "d"\n'),
                      {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN": "s3cret", "FER_EDGE_LOG_LEVEL": "warning"})
    text = dump(cfg)
    assert "s3cret" not in text and 'token = "***"' in text
    again = load_config(write(tmp_path, text), NO_ENV)
    assert again.web.token.get_secret_value() == "***"
    assert again.model_copy(update={"web": again.web.model_copy(update={"token": cfg.web.token})}) == cfg
    assert load_config(write(tmp_path, dump(EdgeConfig())), NO_ENV) == EdgeConfig()


def test_json_schema_has_sections_and_descriptions():
    schema = json_schema()
    assert {"source", "models", "pipeline", "web", "log_level"} <= set(schema["properties"])
    for model in [schema, *schema["$defs"].values()]:
        for name, prop in model["properties"].items():
            assert prop.get("description"), f"{model['title']}.{name} has no description"
