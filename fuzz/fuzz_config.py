"""atheris fuzz target: the config loader (edge/config.py) on arbitrary file bytes and environment values.

Whatever the bytes, load_config ends in a ConfigError, or in a config that `dump` writes out and load_config
reads back to the same text. Run from the repository root (new inputs go to the first folder):
  mkdir -p /tmp/corpus && python -m fuzz.fuzz_config -runs=100000 -max_len=4096 /tmp/corpus fuzz/seeds/config
(tests/test_hostile_input.py runs a short bounded session on every test run).
"""
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["edge.config", "edge.sessions.settings", "tomllib"]):
    from edge.config import ENV_OVERRIDES, ConfigError, dump, load_config

CONFIG = Path(tempfile.mkdtemp(prefix="fuzz-config-")) / "edge.toml"


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    env = {var: fdp.ConsumeUnicodeNoSurrogates(24) for var in ENV_OVERRIDES if fdp.ConsumeProbability() < 0.1}
    CONFIG.write_bytes(fdp.ConsumeBytes(fdp.remaining_bytes()))
    try:
        config = load_config(CONFIG, env)
    except ConfigError as e:
        assert str(e).startswith(f"{CONFIG}: ") or str(e).split(":")[0] in ENV_OVERRIDES, str(e)
        return
    text = dump(config)
    CONFIG.write_text(text, encoding="utf-8")
    # dump masks the token as "***", which is no token to bind beyond loopback with: give the real one back
    token = {} if config.web.token is None else {"FER_EDGE_TOKEN": config.web.token.get_secret_value()}
    assert dump(load_config(CONFIG, token)) == text, "dump does not read back to itself"


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
