"""Which connection a Slack request acts on (handlers/tenancy.py), without Slack: the rules
(channel's connection; else "default" for the env workspace or while no connection exists;
else none), one Services per connection kept and rebuilt when its row changes, the App Home's
list per workspace, and a connection's own fixers (bot/connections.py settings_for)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.config import parse_settings
from bot.connections import ConnectionRegistry, settings_for
from bot.store import Store
from handlers.home import home_view
from handlers.services import StatusData
from handlers.tenancy import ConnectionServices

HOME, OTHER, THIRD = "T0HOME0001", "T0OTHER001", "T0THIRD001"


class FakeSlack:
    def __init__(self, token="xoxb-home", fail: int = 0):  # noqa: S107 - a fake token for a fake client
        self.token, self.fail, self.asked = token, fail, 0

    def auth_test(self):
        self.asked += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionError("down")
        return {"team_id": HOME}


class FakeServices:
    def __init__(self, parts, *, connection_id="default"):
        self.parts, self.connection_id = parts, connection_id
        self.store = SimpleNamespace(close=lambda: parts.closed.append("store"))
        self.scan_jobs, self.closed = None, False

    def close(self):
        self.closed = True


@pytest.fixture
def main(store_target):
    s = Store(store_target)
    yield s
    s.close()


def tenants(main, slack=None):
    default = SimpleNamespace(settings=object(), store=main, slack=slack or FakeSlack(), scan_jobs="jobs",
                              closed=False)
    default.close = lambda: setattr(default, "closed", True)
    built = []

    def build_parts(settings, main_store, connection_id, **kwargs):
        parts = SimpleNamespace(id=connection_id, kwargs=kwargs, closed=[])
        built.append(parts)
        return parts
    return ConnectionServices(default, build_kwargs={"post_interval": 0}, build_parts=build_parts,
                              make_services=FakeServices), built


def complete(reg, cid, team, channel, **more):
    reg.save(cid, qbo_realm_id="9130", slack_team_id=team, slack_channel=channel, hubspot_auth="private_app", **more)


def test_without_connections_every_request_is_the_default(main):
    cs, built = tenants(main, FakeSlack(token=None))
    assert cs.resolve(OTHER, "C0ANY00001") is cs.default and cs.resolve(None, None) is cs.default
    assert [name for name, _ in cs.for_team(OTHER)] == ["default"] and not built


def test_the_channel_picks_its_connection_else_default_at_home_else_none(main):
    cs, built = tenants(main)
    reg = ConnectionRegistry(main)
    complete(reg, "acme", OTHER, "C0ACME0001", name="Acme")
    complete(reg, "home2", HOME, "C0HOME0002")
    reg.save("half", slack_team_id=OTHER, slack_channel="C0HALF0001")       # HubSpot, QuickBooks not connected

    acme = cs.resolve(OTHER, "C0ACME0001")
    assert isinstance(acme, FakeServices) and acme.connection_id == "acme" and acme.scan_jobs == "jobs"
    assert built[0].kwargs == {"post_interval": 0}
    assert cs.resolve(OTHER, "C0ACME0001") is acme and len(built) == 1   # kept, not built again
    assert cs.resolve(HOME, "C0HOME0002").connection_id == "home2"       # a connection in the env workspace
    assert cs.resolve(HOME, "C0ALERTS01") is cs.default                   # the env workspace's other channels
    assert cs.resolve(OTHER, "C0ELSE0001") is None                        # another workspace's unbound channel
    assert cs.resolve(THIRD, "C0ACME0001") is None                        # Acme's channel id, another workspace
    assert cs.resolve(OTHER, "C0HALF0001") is None                        # bound, but not fully connected
    assert cs.resolve(HOME, "C0ACME0001") is cs.default                   # not Acme's: Acme's is in OTHER


def test_with_connections_only_there_is_no_default_anywhere(main):
    """The listener's parts of a connections-only install (wiring.build_listener: no scanner):
    a channel of no connection is not connected, in the env token's workspace too, and the
    App Home lists the workspace's connections only."""
    cs, _ = tenants(main)
    cs.default.scanner = None
    cs = ConnectionServices(cs.default, build_parts=lambda *a, **k: SimpleNamespace(closed=[]),
                            make_services=FakeServices)
    assert cs.resolve(HOME, "C0ALERTS01") is None and cs.resolve(None, None) is None  # no connection at all
    complete(ConnectionRegistry(main), "home2", HOME, "C0HOME0002")
    assert cs.resolve(HOME, "C0HOME0002").connection_id == "home2"
    assert cs.resolve(HOME, "C0ALERTS01") is None
    assert [n for n, _ in cs.for_team(HOME)] == ["home2"] and cs.for_team(OTHER) == []


def test_the_app_home_lists_only_the_workspace_s_own_connections(main):
    cs, _ = tenants(main)
    reg = ConnectionRegistry(main)
    complete(reg, "acme", OTHER, "C0ACME0001", name="Acme")
    complete(reg, "beta", OTHER, "C0BETA0001")
    complete(reg, "home2", HOME, "C0HOME0002")
    complete(reg, "zeta", THIRD, "C0ZETA0001")
    assert [(n, s.connection_id) for n, s in cs.for_team(OTHER)] == [("Acme", "acme"), ("beta", "beta")]
    assert [n for n, _ in cs.for_team(HOME)] == ["default", "home2"]
    assert cs.for_team("T0NOBODY01") == [] and cs.for_team(None) == []

    view = home_view(StatusData(), "en", others=[("Beta <b>", 3)])
    text = str(view["blocks"])
    assert "Beta &lt;b&gt; (3 open alerts)" in text and "Also in this workspace" in text
    assert "Also in this workspace" not in str(home_view(StatusData(), "en")["blocks"])


def test_a_changed_row_builds_the_connection_again_and_close_closes_everything(main):
    cs, built = tenants(main)
    reg = ConnectionRegistry(main, clock=iter([100.0, 101.0, 102.0, 200.0]).__next__)
    complete(reg, "acme", OTHER, "C0ACME0001")
    first = cs.resolve(OTHER, "C0ACME0001")
    reg.save("acme", overrides={"QBSYNC_FIX_ALLOWED": "U0NEW00001"})
    second = cs.resolve(OTHER, "C0ACME0001")
    assert second is not first and first.closed and built[0].closed == ["store"] and not second.closed
    cs.close()
    assert second.closed and built[1].closed == ["store"] and cs.default.closed and cs.built() == {}
    with pytest.raises(RuntimeError):      # the picking pool is shut too
        cs.work(print)


def test_the_env_workspace_is_asked_once_and_a_failure_is_not_remembered(main):
    slack = FakeSlack(fail=1)
    cs, _ = tenants(main, slack)
    complete(ConnectionRegistry(main), "acme", OTHER, "C0ACME0001")
    assert cs.resolve(HOME, "C0ALERTS01") is None     # auth.test failed: not known to be the env workspace
    assert cs.resolve(HOME, "C0ALERTS01") is cs.default
    assert cs.resolve(HOME, "C0ALERTS01") is cs.default and slack.asked == 2


def test_a_connection_has_only_its_own_fixers_and_viewers():
    base = parse_settings({"QBSYNC_FIX_ALLOWED": "U0ENVFIX01", "QBSYNC_VIEW_ALLOWED": "U0ENVVIEW1"})
    bare = SimpleNamespace(overrides={}, qbo_realm_id="1", slack_channel="C0ACME0001")
    mine = settings_for(base, bare, hubspot_token=None, slack_bot_token=None)
    assert mine.fix_allowed == ((), ()) and mine.view_allowed == ((), ())
    own = SimpleNamespace(overrides={"QBSYNC_FIX_ALLOWED": "U0ANNA0001"}, qbo_realm_id="1",
                          slack_channel="C0ACME0001")
    assert settings_for(base, own, hubspot_token=None, slack_bot_token=None).fix_users == ("U0ANNA0001",)
    assert base.fix_users == ("U0ENVFIX01",)     # the env company keeps its own
