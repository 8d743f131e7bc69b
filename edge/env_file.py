"""systemd's EnvironmentFile= syntax, read as the service will see it (man systemd.exec), so that a
configuration can be checked with the overrides the installed service gets from /etc/fer-edge/environment."""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from edge.config import ENV_OVERRIDES, ConfigError

ENVIRONMENT_FILE_HELP = ("apply the FER_EDGE_* variables of ENVFILE (e.g. /etc/fer-edge/environment), read like the "
                         "unit's EnvironmentFile=, over this process's environment; unlike the unit's '-' prefix, "
                         "a missing ENVFILE is an error")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANKS = re.compile(r"[ \t]*")
_QUOTED = {"'": re.compile(r"'([^']*)'"), '"': re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)}
_UNQUOTED = re.compile(r"(?:\\.|[^\\\n])*\\?", re.S)  # up to the first newline not escaped by a backslash


def read_environment_file(path: Path) -> dict[str, str]:
    """The variables systemd's EnvironmentFile= gives a service (man systemd.exec): VAR=value lines; blank, `#`,
    `;` and `=`-less lines skipped; a value in single quotes verbatim, in double quotes or unquoted with
    backslash escapes; a backslash at a line's end continues it. What systemd would silently misread or drop
    (an unclosed quote, an invalid name) is a ConfigError naming the line."""
    try:
        with open(path, encoding="utf-8", newline="") as f:  # line ends as written: see below
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read environment file ({e.strerror or e}); check the path (install.sh "
                          "creates /etc/fer-edge/environment, readable by root only: use sudo)") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e}); save it as UTF-8") from e
    continued = raw.find("\\\r\n")
    if continued >= 0:  # systemd drops that \r and then ends the line: no continuation, unlike a Unix line end
        line = raw.count("\n", 0, continued) + 1
        raise ConfigError(f"{path}:{line}: a backslash before a Windows line end (CRLF), which systemd does not "
                          "read as a continued line; save the file with Unix line ends (dos2unix)")
    text = raw.replace("\r\n", "\n").replace("\r", "\n")  # systemd ends lines at \n and \r alike
    variables: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        head = text[pos:end].lstrip(" \t")
        line = text.count("\n", 0, pos) + 1
        if head[:1] in ("#", ";") and head.endswith("\\"):
            raise ConfigError(f"{path}:{line}: a comment ending in a backslash: systemd before v254 (Debian 12, "
                              "Ubuntu 22.04) joins the next line to it, later versions do not; remove the backslash")
        if not head or head[0] in "#;" or "=" not in head:
            pos = end + 1
            continue
        key = head.partition("=")[0].rstrip(" \t")
        if not _ENV_NAME.fullmatch(key):
            raise ConfigError(f"{path}:{line}: {key!r} is not a variable name (letters, digits and _, not "
                              "starting with a digit; no `export`); systemd would ignore the line: fix the name "
                              "or comment the line out with #")
        pos = text.index("=", pos) + 1
        value = ""
        while True:  # like systemd: quoted parts and what follows them are joined ('a'"b"c is abc)
            pos = _BLANKS.match(text, pos).end()
            quote = text[pos:pos + 1]
            if quote not in _QUOTED:
                break
            quoted = _QUOTED[quote].match(text, pos)
            if quoted is None:
                raise ConfigError(f"{path}:{line}: the quote ({quote}) opening the value of {key} is never "
                                  f"closed; close it (a quoted value may span lines) or write it as \\{quote}")
            value += quoted[1] if quote == "'" else re.sub(r"\\(.)", _double_quote_escape, quoted[1], flags=re.S)
            pos = quoted.end()
        rest = _UNQUOTED.match(text, pos)
        parts = re.findall(r"\\(.)|([^\\])", rest[0], flags=re.S)  # (escaped, plain) characters
        while parts and parts[-1][1] in (" ", "\t"):  # trailing blanks go, escaped ones stay
            parts.pop()
        variables[key] = value + "".join(escaped + plain for escaped, plain in parts if escaped != "\n")
        pos = rest.end() + 1
    return variables


def _double_quote_escape(escape: re.Match) -> str:
    # As in a POSIX shell's double quotes: \" \\ \` \$ give the character, \<newline> continues the line,
    # any other backslash stays.
    char = escape[1]
    return char if char in '"\\`$' else "" if char == "\n" else escape[0]


def service_environment(path: Path | None) -> Mapping[str, str]:
    """This process's environment with the variables of the environment file `path` laid over it, as systemd
    gives the service those; just this process's environment without one. A FER_EDGE_ name in the file that
    the daemon does not read is refused like an unknown key in the config: a misspelt FER_EDGE_HOST would
    otherwise leave the dashboard where it was without a word."""
    if path is None:
        return os.environ
    variables = read_environment_file(path)
    for name in sorted(variables):
        if name.startswith("FER_EDGE_") and name not in ENV_OVERRIDES:
            guess = difflib.get_close_matches(name, ENV_OVERRIDES, n=1)
            raise ConfigError(f"{path}: {name} is not a setting{f' (did you mean {guess[0]}?)' if guess else ''}; "
                              f"the daemon reads {', '.join(ENV_OVERRIDES)}")
    return {**os.environ, **variables}
