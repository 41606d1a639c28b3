"""manifest.yml: valid against Slack's manifest schema, and asks for exactly the scopes and
features the bot uses."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.slack_scopes import BOT_SCOPES
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(shared_file("specs", "slack", "manifest.schema.1.0.0.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_validates_against_slacks_schema(manifest, schema):
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_check_is_not_a_rubber_stamp(manifest, schema):
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "qbsync"  # must start with "/"
    broken["settings"]["unknown_setting"] = True
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_bot_scopes_are_exactly_the_ones_the_bot_uses(manifest):
    scopes = manifest["oauth_config"]["scopes"]
    assert scopes["bot"] == list(BOT_SCOPES)  # same scopes, same order, no duplicates
    assert len(set(BOT_SCOPES)) == len(BOT_SCOPES)
    assert not scopes.get("user") and not scopes.get("bot_optional") and not scopes.get("user_optional")


def test_socket_mode_without_request_urls(manifest):
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    text = json.dumps(manifest)
    assert "request_url" not in text and '"url"' not in text


def test_slash_command_and_home_tab(manifest):
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/qbsync"}
    assert commands["/qbsync"]["description"] and commands["/qbsync"]["usage_hint"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["bot_user"]["display_name"]


def test_the_readme_manifest_for_several_workspaces_validates(manifest, schema):
    """README "Install qbsync in several Slack workspaces": HTTP mode plus a redirect URL and
    the uninstall events is still a valid manifest."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Install qbsync in several Slack workspaces", 1)[1].split("\n## ", 1)[0]
    snippet = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    variant = json.loads(json.dumps(manifest))
    variant["settings"]["socket_mode_enabled"] = False
    url = "https://qbsync.example.com/slack/events"
    variant["settings"]["event_subscriptions"]["request_url"] = url
    variant["settings"]["interactivity"]["request_url"] = url
    variant["features"]["slash_commands"][0]["url"] = url
    variant["oauth_config"]["redirect_urls"] = snippet["oauth_config"]["redirect_urls"]
    variant["settings"]["event_subscriptions"]["bot_events"] = snippet["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(variant["settings"]["event_subscriptions"]["bot_events"])
    assert variant["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(variant))
    assert not errors, [e.message for e in errors]
