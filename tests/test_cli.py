from linkhaven.cli import run


def test_help_exits_zero() -> None:
    assert run(["--help"]) == 0


def test_unknown_command_is_a_usage_error() -> None:
    assert run(["no-such-command"]) == 2
