"""The service's settings: one frozen object, built once at start-up.

``Settings.from_env(**overrides)`` reads the environment and applies the command-line values
given as keyword arguments (``None`` means "not given"). Precedence: argument, environment,
default. Nothing here has a secret default: the database password comes only from
``DATABASE_URL`` and the server key lives in its own file (``secret_key_file``).

| setting            | environment             | default                                   |
|--------------------|-------------------------|-------------------------------------------|
| host               | TEMIX_HOST              | 127.0.0.1                                 |
| port               | TEMIX_PORT              | 8080                                      |
| workers            | TEMIX_WORKERS           | 2                                         |
| front              | TEMIX_FRONT             | granian (or gunicorn)                     |
| header_timeout_seconds | TEMIX_HEADER_TIMEOUT | 10 (request head, and idle keep-alive)   |
| body_timeout_seconds | TEMIX_BODY_TIMEOUT    | 30 (whole request body, after the head)   |
| public_url         | TEMIX_PUBLIC_URL        | None: from the Host header, see below     |
| data_dir           | TEMIX_DATA_DIR          | the per-user data folder, see below       |
| database_url       | DATABASE_URL            | None: an embedded PostgreSQL in data_dir  |
| max_body_bytes     | TEMIX_MAX_BODY_BYTES    | 2 MiB                                     |
| clock_skew_seconds | TEMIX_CLOCK_SKEW        | 300                                       |
| schema_dir         | (none)                  | schemas/ of this checkout                 |
| schema_entry       | TEMIX_SCHEMA_ENTRY      | oasis/cts-all.xsd (relative to schema_dir)|
| secret_key_file    | TEMIX_SECRET_KEY_FILE   | data_dir/secret.key                       |
| log_level          | TEMIX_LOG_LEVEL         | INFO                                      |
| allow_registrar_passwords | TEMIX_ALLOW_REGISTRAR_PASSWORDS | false (1/true/yes to allow)   |
| log_format         | TEMIX_LOG_FORMAT        | plain (or json: one JSON object per line) |
| gunicorn_config    | TEMIX_GUNICORN_CONFIG   | deploy/gunicorn.conf.py of this checkout  |
| certfile           | TEMIX_CERTFILE          | None: plain HTTP; with keyfile: HTTPS     |
| keyfile            | TEMIX_KEYFILE           | None                                      |
| client_ca          | TEMIX_CLIENT_CA         | None: no client certificates asked        |
| allow_insecure_password | TEMIX_ALLOW_INSECURE_PASSWORD | no: PasswordText needs HTTPS    |
| push               | TEMIX_PUSH              | yes: serve runs the push worker (--no-push) |
| push_timeout_seconds | TEMIX_PUSH_TIMEOUT    | 10 (one delivery to a callback URL)       |
| push_backoff_cap_seconds | TEMIX_PUSH_BACKOFF_CAP | 300 (longest wait between attempts)  |

``certfile``/``keyfile`` (PEM) make ``serve`` speak HTTPS, TLS 1.2 or newer. ``client_ca`` (PEM,
one or more CA certificates) asks clients for a certificate signed by one of them (optional:
a client without one still authenticates with WS-Security); it needs the gunicorn front, which
is then the default, since granian verifies client certificates but does not tell the
application which one was presented.

``public_url`` (``--public-url``) is the service's address as clients reach it, an http or https
URL without query or fragment (a path prefix is kept), for the WSDLs' soap:address. Without it
the address is built from the request's Host header when that is a valid host[:port], else
from ``bind_url``. The deadlines apply to the granian front only (see service/front/).

The per-user data folder is ``platformdirs.user_data_path("temix")`` (on Linux
``$XDG_DATA_HOME/temix``, usually ``~/.local/share/temix``; on macOS
``~/Library/Application Support/temix``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The service runs from its checkout (``pip install -e .``): these are found from here.
REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "schemas"
MIGRATIONS_DIR = REPO_ROOT / "migrations"
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SOAP_STACKS = ("lxml", "spyne")
LOG_FORMATS = ("plain", "json")
FRONTS = ("granian", "gunicorn")


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


def default_data_dir() -> Path:
    """The documented per-user folder for the embedded database and the server key."""
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".local" / "share" / "temix"
    return platformdirs.user_data_path("temix")


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    # the HTTP front: granian (deadlines, keep-alive) or gunicorn (sync workers, the first one)
    front: str = "granian"
    # a connection that sends no complete request head for this long (or idles between
    # requests this long) is closed; a body not complete this long after the head gets a 408
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 30
    public_url: str | None = None
    data_dir: Path
    # SQLAlchemy URL of the database; None until resolved means "start the embedded server".
    # Kept out of repr() because it may carry a password.
    database_url: str | None = dataclasses.field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    clock_skew_seconds: int = 300
    # how long a worker remembers a party's stored credentials (0: look them up every request)
    credential_cache_seconds: int = 10
    # the SOAP layer on the request path: "lxml" (service.soap.endpoint) or "spyne"
    soap_stack: str = "lxml"
    schema_dir: Path = SCHEMA_DIR
    schema_entry: str = "oasis/cts-all.xsd"
    secret_key_file: Path
    log_level: str = "INFO"
    # "plain" text lines, or "json": one object per line, and one line per SOAP request
    log_format: str = "plain"
    gunicorn_config: Path = GUNICORN_CONFIG
    # whether a registrar may create a party with its first password over SOAP (the password
    # then travels in the request: only over TLS)
    allow_registrar_passwords: bool = False
    # HTTPS: the server's certificate (chain) and private key, PEM
    certfile: Path | None = None
    keyfile: Path | None = None
    # mutual TLS: the CA certificates client certificates are verified against, PEM
    client_ca: Path | None = None
    # accept PasswordText over plain HTTP (it reveals the password): for local tests only
    allow_insecure_password: bool = False
    # push (service.push): whether serve runs the worker, its HTTP timeout, the backoff's cap
    push: bool = True
    push_timeout_seconds: int = 10
    push_backoff_cap_seconds: int = 300

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("host (--host, TEMIX_HOST) must not be empty")
        _check_range("port (--port, TEMIX_PORT)", self.port, 1, 65535)
        _check_range("workers (--workers, TEMIX_WORKERS)", self.workers, 1, 256)
        if self.front not in FRONTS:
            raise SettingsError(f"front (TEMIX_FRONT) must be one of {', '.join(FRONTS)}, got {self.front!r}")
        # granian takes at most 60 s for the head
        _check_range("header_timeout_seconds (TEMIX_HEADER_TIMEOUT)", self.header_timeout_seconds, 1, 60)
        _check_range("body_timeout_seconds (TEMIX_BODY_TIMEOUT)", self.body_timeout_seconds, 1, 3600)
        if self.public_url is not None:
            _check_public_url(self.public_url)
        _check_range("max_body_bytes (TEMIX_MAX_BODY_BYTES)", self.max_body_bytes, 1024, 1 << 30)
        _check_range("clock_skew_seconds (TEMIX_CLOCK_SKEW)", self.clock_skew_seconds, 1, 86400)
        _check_range(
            "credential_cache_seconds (TEMIX_CREDENTIAL_CACHE)", self.credential_cache_seconds, 0, 3600
        )
        if self.soap_stack not in SOAP_STACKS:
            raise SettingsError(
                f"soap_stack (TEMIX_SOAP_STACK) must be one of {', '.join(SOAP_STACKS)}, got {self.soap_stack!r}"
            )
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"log_level (TEMIX_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)},"
                f" got {self.log_level!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"log_format (TEMIX_LOG_FORMAT) must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}"
            )
        if self.database_url is not None and not self.database_url.startswith(
            ("postgresql://", "postgresql+psycopg2://", "postgres://")
        ):
            raise SettingsError(
                "DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/dbname)"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("HTTPS needs both --certfile and --keyfile (TEMIX_CERTFILE, TEMIX_KEYFILE)")
        for what, path in (("--certfile", self.certfile), ("--keyfile", self.keyfile), ("--client-ca", self.client_ca)):
            if path is not None and not path.is_file():
                raise SettingsError(f"{what} {path} is not a file")
        if self.client_ca is not None and self.certfile is None:
            raise SettingsError("--client-ca (TEMIX_CLIENT_CA) needs HTTPS: give --certfile and --keyfile too")
        if self.client_ca is not None and self.front != "gunicorn":
            raise SettingsError(
                "--client-ca (TEMIX_CLIENT_CA) needs TEMIX_FRONT=gunicorn: granian verifies client"
                " certificates but does not tell the application which one was presented"
            )
        _check_range("push_timeout_seconds (TEMIX_PUSH_TIMEOUT)", self.push_timeout_seconds, 1, 300)
        _check_range("push_backoff_cap_seconds (TEMIX_PUSH_BACKOFF_CAP)", self.push_backoff_cap_seconds, 1, 86400)
        if not self.schema_path.is_file():
            raise SettingsError(
                f"schema entry (TEMIX_SCHEMA_ENTRY) {self.schema_entry!r} is not a file"
                f" under {self.schema_dir}"
            )

    @property
    def schema_path(self) -> Path:
        """The XSD that includes every schema the service validates against."""
        return self.schema_dir / self.schema_entry

    @property
    def bind_url(self) -> str:
        """http(s)://HOST:PORT of the listening socket (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.certfile else 'http'}://{host}:{self.port}"

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build the settings from ``environ`` (default ``os.environ``) and the given overrides.

        Overrides use the field names (``host=``, ``port=``, ``data_dir=``, ...); an override
        of ``None`` is ignored, so argparse results can be passed straight in.
        """
        env = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        given = {name: value for name, value in overrides.items() if value is not None}

        def pick(name: str, variable: str | None, convert, default):
            if name in given:
                return convert(given[name], f"--{name.replace('_', '-')}")
            if variable is not None and env.get(variable, "") != "":
                return convert(env[variable], variable)
            return default

        data_dir = pick("data_dir", "TEMIX_DATA_DIR", _path, None) or default_data_dir()
        client_ca = pick("client_ca", "TEMIX_CLIENT_CA", _path, None)
        return cls(
            host=pick("host", "TEMIX_HOST", _str, "127.0.0.1"),
            port=pick("port", "TEMIX_PORT", _int, 8080),
            workers=pick("workers", "TEMIX_WORKERS", _int, 2),
            front=pick("front", "TEMIX_FRONT", _str, "gunicorn" if client_ca else "granian").lower(),
            header_timeout_seconds=pick("header_timeout_seconds", "TEMIX_HEADER_TIMEOUT", _int, 10),
            body_timeout_seconds=pick("body_timeout_seconds", "TEMIX_BODY_TIMEOUT", _int, 30),
            public_url=pick("public_url", "TEMIX_PUBLIC_URL", _str, None),
            data_dir=data_dir,
            database_url=pick("database_url", "DATABASE_URL", _str, None),
            max_body_bytes=pick("max_body_bytes", "TEMIX_MAX_BODY_BYTES", _int, DEFAULT_MAX_BODY_BYTES),
            clock_skew_seconds=pick("clock_skew_seconds", "TEMIX_CLOCK_SKEW", _int, 300),
            credential_cache_seconds=pick("credential_cache_seconds", "TEMIX_CREDENTIAL_CACHE", _int, 10),
            soap_stack=pick("soap_stack", "TEMIX_SOAP_STACK", _str, "lxml"),
            schema_dir=pick("schema_dir", None, _path, SCHEMA_DIR),
            schema_entry=pick("schema_entry", "TEMIX_SCHEMA_ENTRY", _str, "oasis/cts-all.xsd"),
            secret_key_file=pick(
                "secret_key_file", "TEMIX_SECRET_KEY_FILE", _path, data_dir / "secret.key"
            ),
            log_level=pick("log_level", "TEMIX_LOG_LEVEL", _str, "INFO").upper(),
            log_format=pick("log_format", "TEMIX_LOG_FORMAT", _str, "plain").lower(),
            gunicorn_config=pick("gunicorn_config", "TEMIX_GUNICORN_CONFIG", _path, GUNICORN_CONFIG),
            allow_registrar_passwords=pick(
                "allow_registrar_passwords", "TEMIX_ALLOW_REGISTRAR_PASSWORDS", _bool, False
            ),
            certfile=pick("certfile", "TEMIX_CERTFILE", _path, None),
            keyfile=pick("keyfile", "TEMIX_KEYFILE", _path, None),
            client_ca=client_ca,
            allow_insecure_password=pick("allow_insecure_password", "TEMIX_ALLOW_INSECURE_PASSWORD", _bool, False),
            push=pick("push", "TEMIX_PUSH", _bool, True),
            push_timeout_seconds=pick("push_timeout_seconds", "TEMIX_PUSH_TIMEOUT", _int, 10),
            push_backoff_cap_seconds=pick("push_backoff_cap_seconds", "TEMIX_PUSH_BACKOFF_CAP", _int, 300),
        )


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingsError(f"{what} must be an integer from {low} to {high}, got {value!r}")


def _check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"public URL (--public-url, TEMIX_PUBLIC_URL) must be an http or https URL, got {url!r}")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise SettingsError(f"public URL (--public-url, TEMIX_PUBLIC_URL) must have no query or fragment, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise SettingsError(f"public URL (--public-url, TEMIX_PUBLIC_URL) must carry no credentials, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise SettingsError(f"public URL (--public-url, TEMIX_PUBLIC_URL) has a bad port: {url!r}") from None
    if any(ord(c) <= 32 or c in '<>"\\^`{|}' for c in url):
        raise SettingsError(f"public URL (--public-url, TEMIX_PUBLIC_URL) has characters a URL cannot hold: {url!r}")


def _str(value: Any, source: str) -> str:
    return str(value)


def _bool(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{source} must be yes or no (1/0, true/false), got {value!r}")


def _int(value: Any, source: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{source} must be an integer, got {value!r}") from None


def _bool(value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{source} must be 1/true/yes or 0/false/no, got {value!r}")


def _path(value: Any, source: str) -> Path:
    text = str(value)
    if not text:
        raise SettingsError(f"{source} must not be empty")
    return Path(text).expanduser().absolute()
