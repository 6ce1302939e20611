"""The ops CLI names the account by id, or creates a new one: never both, never an email alone."""

from __future__ import annotations

import pytest

from gateway.entrypoints.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["create-ops-user"],
        ["create-ops-user", "--email", "olga@example.com"],
        ["create-ops-user", "--user-id", "usr_1", "--email", "olga@example.com"],
        ["create-ops-user", "--user-id", "usr_1", "--name", "Olga"],
        ["create-ops-user", "--user-id", "usr_1", "--password-stdin"],
    ],
)
def test_create_ops_user_refuses_an_ambiguous_or_email_only_promotion(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_create_ops_user_refuses_a_short_password_from_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit) as exited:
        main(
            ["create-ops-user", "--email", "olga@example.com", "--name", "Olga", "--password-stdin"]
        )
    assert exited.value.code == 2
    assert "the password must have 8 to 128 characters" in capsys.readouterr().err
