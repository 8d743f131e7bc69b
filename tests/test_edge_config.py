import subprocess
import sys
from pathlib import Path

import pytest

from edge.__main__ import main
from edge.config import ENV_OVERRIDES, ConfigError, EdgeConfig, dump, json_schema, load_config
from edge.env_file import read_environment_file
from tests.conftest import ROOT

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
    cfg = load_config(None, {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN": "s3cret-0123456789"})
    assert cfg.web.token.get_secret_value() == "s3cret-0123456789"
    for host in ("127.0.0.1", "::1", "localhost"):
        assert load_config(None, {"FER_EDGE_HOST": host}).web.host == host


def test_dump_round_trips_with_the_token_masked(tmp_path):
    cfg = load_config(write(tmp_path, '[source]\nspec = "v4l2src ! videoconvert \\"q\\" \\\\ é"\n'
                                      'fallback_spec = "media/demo.mp4"\n[models]\ndetector = "d"\n'),
                      {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN": "s3cret-0123456789", "FER_EDGE_LOG_LEVEL": "warning"})
    text = dump(cfg)
    assert "s3cret-0123456789" not in text and 'token = "***"' in text
    with pytest.raises(ConfigError, match=r"is 3 characters long; at least 16"):  # the mask is no token
        load_config(write(tmp_path, text), NO_ENV)
    assert load_config(write(tmp_path, text), {"FER_EDGE_TOKEN": "s3cret-0123456789"}) == cfg
    assert load_config(write(tmp_path, dump(EdgeConfig())), NO_ENV) == EdgeConfig()


def test_json_schema_has_sections_and_descriptions():
    schema = json_schema()
    assert {"source", "models", "pipeline", "web", "log_level"} <= set(schema["properties"])
    for model in [schema, *schema["$defs"].values()]:
        for name, prop in model["properties"].items():
            assert prop.get("description"), f"{model['title']}.{name} has no description"


def write_env(tmp_path, text, name="environment"):
    p = tmp_path / name
    p.write_bytes(text.encode())  # bytes: no newline translation, the file holds exactly what the test wrote
    return p


def test_environment_file_skips_comments_blank_and_equals_less_lines(tmp_path):
    env = write_env(tmp_path, "# FER_EDGE_HOST=0.0.0.0\n; FER_EDGE_PORT=1\n\n   \t\njust words\n"
                              "  FER_EDGE_PORT = 9000  \nFER_EDGE_TOKEN=\nFER_EDGE_LOG_LEVEL=info\n"
                              "FER_EDGE_LOG_LEVEL=debug # no inline comments\r\nA_1=last line, no newline")
    assert read_environment_file(env) == {"FER_EDGE_PORT": "9000", "FER_EDGE_TOKEN": "",
                                          "FER_EDGE_LOG_LEVEL": "debug # no inline comments",
                                          "A_1": "last line, no newline"}


def test_environment_file_quotes_escapes_and_continued_lines(tmp_path):
    env = write_env(tmp_path, "\n".join([
        r"""SINGLE=  ' verbatim \n "$HOME" \ '  """,
        r"""DOUBLE="a \"b\" \\ \$x \`y\` \q" """,
        r"""BARE=a\ b\\c\'d\  """,
        "CONT=one \\",
        "  two",
        'DCONT="x\\',
        'y"',
        "MULTI='line 1",
        "line 2'",
        """JOINED='a'"b"c 'd'""",
        "AFTER=ok"]))
    assert read_environment_file(env) == {
        "SINGLE": r' verbatim \n "$HOME" \ ', "DOUBLE": r'a "b" \ $x `y` \q', "BARE": "a b\\c'd ",
        "CONT": "one   two", "DCONT": "xy", "MULTI": "line 1\nline 2", "JOINED": "abc 'd'", "AFTER": "ok"}


def test_environment_file_errors_name_the_line_and_hide_the_value(tmp_path):
    env = write_env(tmp_path, "FER_EDGE_HOST=0.0.0.0\n\nFER_EDGE_TOKEN='s3cret-value\nFER_EDGE_PORT=9000\n")
    with pytest.raises(ConfigError, match=r"environment:3: the quote \('\) opening the value of FER_EDGE_TOKEN is "
                                          r"never closed; close it") as caught:
        read_environment_file(env)
    assert "s3cret-0123456789" not in str(caught.value)
    with pytest.raises(ConfigError, match=r'environment:1: the quote \("\) .* or write it as \\"'):
        read_environment_file(write_env(tmp_path, 'FER_EDGE_SOURCE="/dev/video0\\"\n'))
    for line, name in (("export FER_EDGE_HOST=0.0.0.0", "export FER_EDGE_HOST"), ("2FA=x", "2FA"),
                       ("FER-EDGE-HOST=x", "FER-EDGE-HOST"), ("=x", "")):
        with pytest.raises(ConfigError, match=rf"environment:2: '{name}' is not a variable name .*fix the name"):
            read_environment_file(write_env(tmp_path, f"# booth 7\n{line}\n"))
    with pytest.raises(ConfigError, match=r"none: cannot read environment file \(No such file or directory\)"):
        read_environment_file(tmp_path / "none")
    # what systemd versions, or systemd and this reader, would read differently is refused, not guessed
    with pytest.raises(ConfigError, match=r"environment:2: a comment ending in a backslash: systemd before v254"):
        read_environment_file(write_env(tmp_path, "A=1\n# old token, see below \\\nFER_EDGE_TOKEN=x\n"))
    with pytest.raises(ConfigError, match=r"environment:2: a backslash before a Windows line end \(CRLF\)"):
        read_environment_file(write_env(tmp_path, "A=1\r\nB=a\\\r\nC=2\r\n"))
    latin1 = tmp_path / "latin1"
    latin1.write_bytes(b"FER_EDGE_SOURCE=/media/caf\xe9.mp4\n")
    with pytest.raises(ConfigError, match=r"latin1: not UTF-8 text .*save it as UTF-8"):
        read_environment_file(latin1)


@pytest.fixture
def service_env(monkeypatch):
    """No FER_EDGE_* variable and no systemd credential in this process: only the files under test count."""
    for var in [*ENV_OVERRIDES, "CREDENTIALS_DIRECTORY"]:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_check_sees_a_token_that_is_only_in_the_environment_file(tmp_path, service_env, capsys):
    conf = write(tmp_path, '[web]\nhost = "0.0.0.0"\n')
    env = write_env(tmp_path, "# per-booth secrets\nFER_EDGE_TOKEN='tok-0123456789ab'\n")
    assert main(["config", "--check", str(conf), "--environment-file", str(env)]) == 0
    assert capsys.readouterr().out == f"{conf}: ok\n"
    assert main(["config", "--check", str(conf)]) == 2  # without the file, as before: no token
    assert "requires a token" in capsys.readouterr().err


def test_check_refuses_a_host_from_the_environment_file_without_a_token(tmp_path, service_env, capsys):
    conf = write(tmp_path, "[pipeline]\nmax_faces = 2\n")
    env = write_env(tmp_path, "FER_EDGE_HOST=0.0.0.0\n")
    assert main(["config", "--check", str(conf), "--environment-file", str(env)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: FER_EDGE_HOST: web: host '0.0.0.0' is not a loopback address")
    assert "requires a token: set FER_EDGE_TOKEN" in err
    assert main(["config", "--check", str(conf)]) == 0  # the same config without the file is fine


def test_environment_file_lies_over_the_process_environment(tmp_path, service_env, capsys):
    service_env.setenv("FER_EDGE_PORT", "9000")  # kept: the file does not set it
    service_env.setenv("FER_EDGE_LOG_LEVEL", "error")  # replaced by the file's
    env = write_env(tmp_path, 'FER_EDGE_LOG_LEVEL=warning\nFER_EDGE_HOST=0.0.0.0\nFER_EDGE_TOKEN="tok-0123456789ab"\n')
    assert main(["config", "--dump", "--environment-file", str(env)]) == 0
    text = capsys.readouterr().out
    assert 'log_level = "warning"' in text and "port = 9000" in text and 'host = "0.0.0.0"' in text
    assert 'token = "***"' in text and "tok-0123456789ab" not in text


def test_environment_file_must_exist_parse_and_not_go_with_schema(tmp_path, service_env, capsys):
    conf = write(tmp_path, "")
    assert main(["config", "--check", str(conf), "--environment-file", str(tmp_path / "none")]) == 2
    assert "none: cannot read environment file (No such file or directory)" in capsys.readouterr().err
    bad = write_env(tmp_path, "FER_EDGE_HOST=0.0.0.0\nFER_EDGE_TOKEN='unclosed\n")
    assert main(["config", "--check", str(conf), "--environment-file", str(bad)]) == 2
    assert "environment:2: the quote (') opening the value of FER_EDGE_TOKEN" in capsys.readouterr().err
    typo = write_env(tmp_path, "TZ=Europe/Berlin\nFER_EDGE_HOTS=0.0.0.0\n")  # other variables are the unit's business
    assert main(["config", "--check", str(conf), "--environment-file", str(typo)]) == 2
    assert "environment: FER_EDGE_HOTS is not a setting (did you mean FER_EDGE_HOST?); the daemon reads FER_EDGE_SOURCE," \
        in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["config", "--schema", "--environment-file", str(bad)])
    assert exited.value.code == 2
    assert "--environment-file goes with --check or --dump" in capsys.readouterr().err


def test_the_installers_check_command_line(tmp_path):
    """What install.sh runs, in a process of its own: the installed empty web-token credential, and the token
    only in the environment file, is a config the service starts with; with no token anywhere it is not."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "web-token").write_text("")
    conf = write(etc, '[web]\nhost = "0.0.0.0"\n')
    command = [sys.executable, "-m", "edge", "config", "--check", str(conf), "--environment-file", str(etc / "env")]
    env = {"CREDENTIALS_DIRECTORY": str(etc)}  # install.sh runs it under env -i, as systemd starts the service
    script = (ROOT / "firmware_setup/install.sh").read_text()
    at = script.index("-m edge config --check")
    assert 'env -i CREDENTIALS_DIRECTORY="$ETC"' in script[at - 120:at], "install.sh's check no longer runs so"
    assert '--environment-file "$ETC/environment"' in script[at:at + 120], "install.sh's check no longer runs so"
    write_env(etc, "FER_EDGE_TOKEN=tok-0123456789ab\n", "env")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == f"{conf}: ok\n", done.stderr
    write_env(etc, "FER_EDGE_TOKEN=\n", "env")  # empty here and in the credential: no token
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "requires a token" in done.stderr


@pytest.mark.parametrize("token, problem", [("x", "is 1 characters long"), (" " * 20, "contains white space"),
                                            ("abababababababababab", "uses only 2 different characters"),
                                            ("correct horse battery staple", "contains white space")])
def test_a_weak_token_is_refused_beyond_loopback_with_the_command_for_a_good_one(token, problem):
    with pytest.raises(ConfigError, match=problem) as e:
        load_config(None, {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN": token})
    assert "secrets.token_urlsafe(32)" in str(e.value)
    assert load_config(None, {"FER_EDGE_TOKEN": token}).web.token.get_secret_value() == token  # loopback: any


def test_a_weak_token_file_or_credential_is_refused_when_the_config_loads(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("short\n")
    with pytest.raises(ConfigError, match=r"web.token_file .* is 5 characters long"):
        load_config(None, {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN_FILE": str(tmp_path / "token")})
    (tmp_path / "web-token").write_text("aaaaaaaaaaaaaaaaaaaa")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError, match=r"credential web-token .* uses only 1 different characters"):
        load_config(None, {"FER_EDGE_HOST": "0.0.0.0"})
