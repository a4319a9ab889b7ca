"""DATABASE_URL accepts a libpq multi-host URL (the app reconnects to whichever node is the primary)."""
import pytest

from jichitai.settings import database_from_url


def test_single_host_url_is_unchanged():
    d = database_from_url("postgres://app:s%40cret@db.example:5433/jichitai?sslmode=require")
    assert (d["USER"], d["PASSWORD"], d["HOST"], d["PORT"], d["NAME"]) == ("app", "s@cret", "db.example", "5433",
                                                                          "jichitai")
    assert d["OPTIONS"] == {"sslmode": "require"}
    d = database_from_url("postgres://postgres@127.0.0.1/x")
    assert (d["HOST"], d["PORT"]) == ("127.0.0.1", "")


def test_multi_host_url_gives_libpq_host_and_port_lists():
    d = database_from_url("postgres://postgres@127.0.0.1:55001,127.0.0.1:55002/jichitai"
                          "?target_session_attrs=read-write&connect_timeout=2")
    assert d["HOST"] == "127.0.0.1,127.0.0.1" and d["PORT"] == "55001,55002"
    assert d["OPTIONS"] == {"target_session_attrs": "read-write", "connect_timeout": "2"}
    assert d["USER"] == "postgres" and d["NAME"] == "jichitai" and d["TEST"]["NAME"] == "test_jichitai"
    # a host without a port gets the default one so the lists stay aligned; IPv6 in brackets
    d = database_from_url("postgres://u:p@[::1]:6000,db2/j")
    assert d["HOST"] == "::1,db2" and d["PORT"] == "6000,5432" and d["PASSWORD"] == "p"


def test_bad_port_is_refused():
    with pytest.raises(ValueError, match="bad port"):
        database_from_url("postgres://u@h1:54x2,h2:5432/j")


def test_psycopg_takes_the_lists_as_libpq_does():
    """What Django hands to psycopg is a conninfo libpq accepts with both hosts (no server needed)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    d = database_from_url("postgres://postgres@127.0.0.1:55001,127.0.0.1:55002/j?target_session_attrs=read-write")
    info = conninfo_to_dict(make_conninfo(host=d["HOST"], port=d["PORT"], dbname=d["NAME"], **d["OPTIONS"]))
    assert info["host"] == "127.0.0.1,127.0.0.1" and info["port"] == "55001,55002"
    assert info["target_session_attrs"] == "read-write"
