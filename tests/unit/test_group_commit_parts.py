"""Group commit's pieces that need no database (the behaviour is in tests/integration/test_group_commit.py)."""

from gridgov.services import group_commit


def test_the_setting_reads_its_environment_variable():
    from config.settings import load_settings

    assert load_settings({}).REPORT_GROUP_COMMIT is True
    assert load_settings({"GRIDGOV_REPORT_GROUP_COMMIT": "0"}).REPORT_GROUP_COMMIT is False


def test_named_parameters_become_positional_once_each():
    sql, names = group_commit._positional("SELECT %(a)s, %(b)s::int, %(a)s || %(c)s")
    assert sql == "SELECT $1, $2::int, $1 || $3"
    assert names == ["a", "b", "c"]


def test_an_escaped_percent_reaches_the_server_as_one():
    sql, names = group_commit._positional("SELECT %(a)s LIKE 'x%%' || %(b)s, 100%%")
    assert sql == "SELECT $1 LIKE 'x%' || $2, 100%"
    assert names == ["a", "b"]
