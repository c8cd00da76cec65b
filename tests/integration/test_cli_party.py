"""temix party enroll / unenroll and service areas, as processes against a real PostgreSQL."""

from __future__ import annotations

CTX = "http://market.example/ctx-1"


def test_memberships_are_added_at_registration_and_edited_later(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    assert temix("market-context", "add", CTX, env=env).returncode == 0
    added = temix(
        "party", "add", "carol", "--password-stdin", "--market-context", CTX,
        "--group", "north", "--service-area", "ZONE-1", stdin="pw\n", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    # CTX is registered: no warning, only which database was used
    assert [line for line in added.stderr.splitlines() if not line.startswith("temix: database: ")] == []

    enrolled = temix(
        "party", "enroll", "carol", "--service-area", "ZONE-2", "--service-area", "ZONE-1",
        "--group", "south", env=env,
    )  # fmt: skip
    unenrolled = temix(
        "party", "unenroll", "carol", "--market-context", CTX, "--group", "north",
        "--service-area", "ZONE-9", env=env,
    )  # fmt: skip
    listed = temix("party", "list", env=env)

    assert enrolled.returncode == 0, enrolled.stderr
    assert enrolled.stdout.splitlines() == [
        "party carol: enrolled in group south; service area ZONE-2",
        "party carol: already in service area ZONE-1",
    ]
    assert unenrolled.returncode == 0, unenrolled.stderr
    assert unenrolled.stdout.splitlines() == [
        f"party carol: taken out of market context {CTX}; group north",
        "party carol: was not in service area ZONE-9",
    ]
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["PARTY", "MARKET", "CONTEXTS", "GROUPS", "SERVICE", "AREAS", "ROLES", "DIGEST"],
        ["carol", "-", "south", "ZONE-1,ZONE-2", "-", "yes"],
    ]


def test_enroll_refuses_an_unknown_party_and_a_call_naming_nothing(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}

    unknown = temix("party", "enroll", "nobody", "--group", "north", env=env)
    empty = temix("party", "unenroll", "nobody", env=env)
    spaced = temix("party", "enroll", "nobody", "--service-area", "ZONE 1", env=env)

    assert unknown.returncode == 1
    assert "no party 'nobody'; nothing changed" in unknown.stderr
    assert empty.returncode == 2
    assert "name at least one --market-context, --group or --service-area" in empty.stderr
    assert spaced.returncode == 1
    assert "--service-area must be non-empty without spaces or commas" in spaced.stderr


def test_enrolling_in_an_unregistered_market_context_works_with_a_warning(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    assert temix("party", "add", "dave", "--password-stdin", stdin="pw", env=env).returncode == 0

    enrolled = temix("party", "enroll", "dave", "--market-context", CTX, env=env)

    assert enrolled.returncode == 0, enrolled.stderr
    assert f"market context {CTX} is not registered" in enrolled.stderr
    assert f"temix market-context add {CTX}" in enrolled.stderr
    assert enrolled.stdout == f"party dave: enrolled in market context {CTX}\n"


def test_roles_are_given_at_registration_and_changed_later(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    added = temix("party", "add", "erin", "--password-stdin", "--role", "registrar", stdin="pw", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added party erin (PasswordText and PasswordDigest, roles registrar)\n"
    assert temix("party", "add", "frank", "--password-stdin", stdin="pw", env=env).returncode == 0

    taken = temix("party", "role", "erin", "--remove", "registrar", env=env)
    given = temix("party", "role", "frank", "--add", "registrar", env=env)
    unchanged = temix("party", "role", "frank", "--add", "registrar", env=env)
    unknown = temix("party", "role", "frank", "--add", "astronaut", env=env)
    listed = temix("party", "list", env=env)

    assert taken.stdout == "party erin: taken away role registrar\n"
    assert given.stdout == "party frank: given role registrar\n"
    assert unchanged.stdout == "party frank: nothing changed\n"
    assert unknown.returncode == 2 and "invalid choice: 'astronaut'" in unknown.stderr
    assert [line.split()[0::4] for line in listed.stdout.splitlines()[1:]] == [["erin", "-"], ["frank", "registrar"]]


def test_add_registrar_prints_a_new_registrars_credentials(temix, fresh_database_url):
    env = {"DATABASE_URL": fresh_database_url}
    done = temix("party", "add-registrar", "reg-1", env=env)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["added party reg-1 (PasswordText and PasswordDigest, roles registrar)", "registrar: reg-1"]
    password = lines[2].removeprefix("password: ")
    assert len(password) >= 24 and lines[2].startswith("password: ")
    assert "TEMIX_ALLOW_REGISTRAR_PASSWORDS=1" in done.stderr
    again = temix("party", "add-registrar", "reg-1", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
