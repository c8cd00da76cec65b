"""Settings (service/config.py) and database URLs (service/store/db.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import DEFAULT_MAX_BODY_BYTES, SCHEMA_DIR, Settings, SettingsError
from service.store.db import to_sqlalchemy_url


def test_defaults_with_an_empty_environment():
    settings = Settings.from_env({})

    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8080, 2)
    assert settings.database_url is None
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 2 * 1024 * 1024
    assert settings.clock_skew_seconds == 300
    assert settings.schema_path == SCHEMA_DIR / "oasis" / "cts-all.xsd"
    assert settings.data_dir.name == "temix"
    assert settings.secret_key_file == settings.data_dir / "secret.key"
    assert settings.log_level == "INFO"
    assert (settings.soap_stack, settings.credential_cache_seconds) == ("lxml", 10)


def test_the_environment_sets_values_and_arguments_win_over_it(tmp_path):
    environ = {
        "TEMIX_PORT": "9000",
        "TEMIX_WORKERS": "4",
        "TEMIX_DATA_DIR": str(tmp_path / "env"),
        "DATABASE_URL": "postgresql://u:p@db/temix",
        "TEMIX_MAX_BODY_BYTES": "65536",
        "TEMIX_CLOCK_SKEW": "60",
        "TEMIX_LOG_LEVEL": "debug",
    }

    settings = Settings.from_env(environ, port=9100, data_dir=str(tmp_path / "arg"), host=None)

    assert settings.port == 9100
    assert settings.workers == 4
    assert settings.data_dir == tmp_path / "arg"
    assert settings.secret_key_file == tmp_path / "arg" / "secret.key"
    assert settings.database_url == "postgresql://u:p@db/temix"
    assert (settings.max_body_bytes, settings.clock_skew_seconds) == (65536, 60)
    assert settings.log_level == "DEBUG"


def test_the_key_file_can_live_outside_the_data_folder(tmp_path):
    settings = Settings.from_env({"TEMIX_SECRET_KEY_FILE": str(tmp_path / "k")})

    assert settings.secret_key_file == tmp_path / "k"


def test_the_database_password_is_not_in_the_repr():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@db/temix"})

    assert "hunter2" not in repr(settings)


def test_settings_are_frozen():
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "overrides", "message"),
    [
        ({"TEMIX_PORT": "http"}, {}, "TEMIX_PORT must be an integer"),
        ({}, {"port": 0}, "port .* from 1 to 65535"),
        ({}, {"port": 70000}, "port .* from 1 to 65535"),
        ({"TEMIX_WORKERS": "0"}, {}, "workers .* from 1"),
        ({"TEMIX_MAX_BODY_BYTES": "10"}, {}, "max_body_bytes"),
        ({"TEMIX_CLOCK_SKEW": "-5"}, {}, "clock_skew_seconds"),
        ({"TEMIX_LOG_LEVEL": "loud"}, {}, "log_level"),
        ({"TEMIX_SOAP_STACK": "zeep"}, {}, "soap_stack .* lxml, spyne"),
        ({"TEMIX_CREDENTIAL_CACHE": "-1"}, {}, "credential_cache_seconds"),
        ({"DATABASE_URL": "sqlite:///x.db"}, {}, "PostgreSQL URL"),
        ({"TEMIX_SCHEMA_ENTRY": "missing.xsd"}, {}, "missing.xsd"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_it(environ, overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ, **overrides)


def test_an_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="colour"):
        Settings.from_env({}, colour="blue")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5433/d", "postgresql+psycopg2://u:p@h:5433/d"),
        ("postgres://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql://postgres:@/temix?host=/run/pg", "postgresql+psycopg2://postgres:@/temix?host=%2Frun%2Fpg"),
    ],
)
def test_database_urls_are_normalised_to_psycopg2(given, expected):
    assert to_sqlalchemy_url(given) == expected


def test_another_driver_is_refused():
    with pytest.raises(ValueError, match="unsupported"):
        to_sqlalchemy_url("mysql://u@h/d")


def test_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({"TEMIX_DATA_DIR": "relative"})

    assert settings.data_dir == Path(tmp_path, "relative")


def test_the_soap_stack_and_the_credential_cache_come_from_the_environment():
    settings = Settings.from_env({"TEMIX_SOAP_STACK": "spyne", "TEMIX_CREDENTIAL_CACHE": "0"})
    assert (settings.soap_stack, settings.credential_cache_seconds) == ("spyne", 0)


def test_the_front_and_its_deadlines_have_defaults_and_bounds():
    settings = Settings.from_env({})
    assert (settings.front, settings.header_timeout_seconds, settings.body_timeout_seconds) == ("granian", 10, 30)
    assert settings.public_url is None
    assert Settings.from_env({"TEMIX_FRONT": "gunicorn"}).front == "gunicorn"
    for environ in ({"TEMIX_FRONT": "waitress"}, {"TEMIX_HEADER_TIMEOUT": "61"}, {"TEMIX_BODY_TIMEOUT": "0"}):
        with pytest.raises(SettingsError):
            Settings.from_env(environ)


@pytest.mark.parametrize("url", ["https://temix.example.com", "http://10.0.0.7:8080/energy/", "http://[::1]:8080"])
def test_a_public_url_is_taken_as_given(url):
    assert Settings.from_env({"TEMIX_PUBLIC_URL": url}).public_url == url
    assert Settings.from_env({}, public_url=url).public_url == url


@pytest.mark.parametrize(
    "url",
    ["ftp://temix.example.com", "temix.example.com", "https://", "https://temix.example.com/?wsdl",
     "https://temix.example.com/#x", "https://user:pw@temix.example.com", "https://temix.example.com:99999",
     'https://temix.example.com/"><x/>', "https://temix.example.com/a b"],
)
def test_a_public_url_that_is_no_plain_http_url_is_refused_at_start(url):
    with pytest.raises(SettingsError, match="public URL"):
        Settings.from_env({"TEMIX_PUBLIC_URL": url})


def test_registrars_passwords_are_off_unless_the_environment_or_the_option_says_so():
    assert Settings.from_env({}).allow_registrar_passwords is False
    assert Settings.from_env({"TEMIX_ALLOW_REGISTRAR_PASSWORDS": "1"}).allow_registrar_passwords is True
    assert Settings.from_env({"TEMIX_ALLOW_REGISTRAR_PASSWORDS": "no"}).allow_registrar_passwords is False
    assert Settings.from_env({}, allow_registrar_passwords=True).allow_registrar_passwords is True
    with pytest.raises(SettingsError, match="TEMIX_ALLOW_REGISTRAR_PASSWORDS must be 1/true/yes"):
        Settings.from_env({"TEMIX_ALLOW_REGISTRAR_PASSWORDS": "maybe"})


def test_tls_settings_need_both_files_and_client_certificates_need_the_gunicorn_front(tmp_path):
    cert, key, ca = (tmp_path / name for name in ("cert.pem", "key.pem", "ca.pem"))
    for path in (cert, key, ca):
        path.write_text("-")
    https = Settings.from_env({"TEMIX_CERTFILE": str(cert), "TEMIX_KEYFILE": str(key)})
    mutual = Settings.from_env({}, certfile=cert, keyfile=key, client_ca=ca)

    assert (https.front, https.bind_url, https.allow_insecure_password) == ("granian", "https://127.0.0.1:8080", False)
    assert mutual.front == "gunicorn"  # granian does not tell the application the client's certificate
    assert Settings.from_env({"TEMIX_ALLOW_INSECURE_PASSWORD": "yes"}).allow_insecure_password
    for environ, overrides in (
        ({}, {"certfile": cert}),
        ({}, {"certfile": cert, "keyfile": tmp_path / "missing.pem"}),
        ({}, {"client_ca": ca}),
        ({"TEMIX_FRONT": "granian"}, {"certfile": cert, "keyfile": key, "client_ca": ca}),
        ({"TEMIX_ALLOW_INSECURE_PASSWORD": "perhaps"}, {}),
    ):
        with pytest.raises(SettingsError):
            Settings.from_env(environ, **overrides)
