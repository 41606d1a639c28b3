"""/qbsync history's sentences (handlers/history.py): every audit action the code can record
has a sentence or is declared not about an invoice, and entries read as words in each
language whatever their action, outcome or detail. The whole command, end to end:
tests/e2e/test_history_words.py."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.slack.texts import TEXTS as CHANNEL_TEXTS
from handlers.history import NOT_ABOUT_AN_INVOICE, SENTENCES, WORDS, Reader, sentence_for
from handlers.texts import TEXTS as ANSWER_TEXTS

ROOT = Path(__file__).resolve().parents[1]
ALICE = "U0ALICE001"
KEY = "3003:missing-customer"
ALERT = {"key": KEY, "rule": "missing-customer", "invoice_id": "3003", "invoice_number": "INV-1003", "evidence": {}}


# ---- every audit action has its words -------------------------------------------------------
def _action_of(node: ast.expr) -> str | None:
    """An action literal ("slack:ack"), or an f-string's literal start ending in ":" as a
    prefix ("slack:fix:" of f"slack:fix:{fix_id}"); None for a variable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def audit_actions(paths) -> dict[str, str]:
    """action (or prefix) -> where, of every audit action literal in `paths`: the action
    argument of each `.audit(actor, action, ...)` / `._audit(ix, action, ...)` call, and the
    values given to the variables such calls pass (`action`, `ACTION_PLAN`, ...) and to
    keywords named `action` (what reaches them). Fails on an audit call whose action is given
    any other way (the scan would not see it)."""
    trees = [(path, ast.parse(Path(path).read_text(encoding="utf-8"))) for path in paths]
    calls = [(path, node) for path, tree in trees for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr in ("audit", "_audit") and len(node.args) >= 2]
    passed = {node.args[1].id for _, node in calls if isinstance(node.args[1], ast.Name)}
    found: dict[str, str] = {}
    named: set[str] = set()  # the passed variables a literal reaches

    def add(value: ast.expr, path, lineno: int, name: str = "") -> None:
        action = _action_of(value)
        if action:
            found.setdefault(action, f"{path}:{lineno}")
            named.add(name)

    for path, node in calls:
        arg = node.args[1]
        assert isinstance(arg, ast.Name) or _action_of(arg), \
            f"{path}:{node.lineno}: an audit action the scan cannot read"
        add(arg, path, node.lineno)
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id in passed:
                        add(node.value, path, node.lineno, t.id)
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Attribute)
                                                   and node.func.attr == "add_argument"):  # argparse's action=
                for k in node.keywords:
                    if k.arg in passed:
                        add(k.value, path, node.lineno, k.arg)
    unread = passed - named
    assert not unread, f"audit actions the scan cannot read: passed as {sorted(unread)}, never given a literal"
    return found


def production_files() -> list[Path]:
    return sorted(p for folder in ("bot", "handlers", "rules") for p in (ROOT / folder).rglob("*.py"))


def without_words(actions: dict[str, str]) -> list[str]:
    return [f"{action} ({where})" for action, where in sorted(actions.items())
            if sentence_for(action) is None and action not in NOT_ABOUT_AN_INVOICE]


def test_every_audit_action_of_the_code_has_a_sentence_or_is_not_about_an_invoice():
    actions = audit_actions(production_files())
    assert {"alert:post", "alert:reopen", "slack:fix:", "fix:", "slack:ack", "command:snooze", "job:fix",
            "fix-recovery", "slack:bulk-plan", "command:history"} <= set(actions)
    assert without_words(actions) == []
    # and the lists name nothing the code no longer records
    assert NOT_ABOUT_AN_INVOICE <= set(actions)
    assert set(SENTENCES) <= set(actions)


def test_a_new_audit_action_without_a_sentence_fails_the_check(tmp_path):
    source = tmp_path / "new_feature.py"
    source.write_text('def go(store, key, fix_id):\n'
                      '    store.audit("system", "alert:escalate", "ok", target=key)\n'
                      '    action = f"slack:retry:{fix_id}"\n'
                      '    store.audit("U1", action, "ok", target=key)\n', encoding="utf-8")
    found = audit_actions([source])
    assert without_words(found) == [f"alert:escalate ({source}:2)", f"slack:retry: ({source}:3)"]
    source.write_text('def go(store, key, what):\n    store.audit("system", what, "ok", target=key)\n',
                      encoding="utf-8")
    with pytest.raises(AssertionError, match="cannot read"):
        audit_actions([source])


# ---- entries as sentences -------------------------------------------------------------------
def entry(action: str, outcome: str = "ok", *, actor: str = ALICE, target: str = KEY, at: float = 1.8e9,
          n: int = 1, **detail) -> dict:
    return {"id": n, "at": at + n, "actor": actor, "action": action, "outcome": outcome, "target": target,
            "detail": detail}


def read(entries: list[dict], lang: str = "en") -> list[str]:
    return [re.sub(r"^• <!date\^\d+\^[^>]*> · ", "", line) for line in Reader([ALERT], lang).lines(entries)]


def test_a_resolution_written_in_one_language_is_read_in_another():
    # The scan resolved it in a Dutch channel; a Spanish reader reads why in Spanish.
    why = CHANNEL_TEXTS["nl"]["why_gone"]
    [line] = read([entry("alert:resolve", actor="system", why=why)], "es")
    assert line == WORDS["es"]["resolved_synced"].format(cause="Ningún cliente de QuickBooks tiene el correo del "
                                                               "contacto"), line
    assert why not in line
    fixed = ANSWER_TEXTS["es"]["th_fixed_why"].format(label="Crear un cliente")
    recheck = ANSWER_TEXTS["en"]["th_recheck_why"]
    lines = read([entry("alert:resolve", why=fixed, n=1), entry("alert:resolve", why=recheck, n=2),
                  entry("alert:resolve", actor="system", why="QuickBooks answers again", n=3)])
    assert lines[0].endswith("resolved: the re-check after the fix passed")
    assert lines[1].endswith(f"resolved: <@{ALICE}>'s re-check found the cause gone")
    assert lines[2].endswith("” resolved") and "answers again" not in lines[2]


def test_clicks_that_changed_nothing_say_why_in_words():
    lines = read([entry("slack:ack", "noop", why="a fix is running", n=1),
                  entry("slack:fix:create-customer", "noop", why="changed since the plan", bulk="p1", n=2),
                  entry("slack:snooze", "noop", why="something new", n=3),
                  entry("slack:ack", "refused", why="snoozed", until=1.8e9, n=4),
                  entry("slack:recheck", "refused", why="record details", shown="rule level", n=5)], "nl")
    assert lines[0].endswith(": er liep al een oplossing") and lines[0].startswith(f"de klik van <@{ALICE}> op “")
    assert lines[1].endswith("is niet uitgevoerd: de melding was intussen veranderd")
    assert lines[2].endswith(": er was niets te doen")
    assert lines[3].endswith("niet oppakken: het was gesnoozed")
    assert "zonder namen, e-mailadressen of bedragen" in lines[4]
    assert not any(code in " ".join(lines) for code in ("noop", "refused", "why", "p1", "bulk", "slack:"))


def test_a_fix_s_write_is_said_once_and_people_processes_and_the_invoice_are_named():
    message = "Created QBO customer Ann Jansen (Id 66)."
    lines = read([entry("slack:fix:create-customer", "started", label="Create a customer", request_id="r", n=1),
                  entry("fix:create-customer", message=message, changed={"Id": "66"}, n=2),
                  entry("alert:resolve", why=ANSWER_TEXTS["en"]["th_fixed_why"].format(label="x"), n=3),
                  entry("slack:fix:create-customer", message=message, n=4),
                  entry("fix:create-customer", "noop", message="Already there.", n=5),
                  entry("job:fix", "started", actor="worker:4242", n=6),
                  entry("fix-recovery", actor="system", fix="create-customer", by=ALICE, cause="still", n=7),
                  entry("command:snooze", target="3003", until=1.8e9, n=8),
                  entry("alert:escalate", n=9), entry("alert:escalate", "refused", n=10)])
    # the write and the resolution the fix wrote are said by the click's own line
    assert lines[0] == f"<@{ALICE}> started the fix “Create a customer”"   # no finding: the stored label
    assert lines[1] == f"<@{ALICE}> fixed “No QuickBooks customer has the contact's email”: {message}"
    assert lines[2] == "the change for “" + lines[1].split("“")[1].split("”")[0] + "” was already made: Already there."
    assert lines[3].startswith("a qbsync worker began the fix of “")
    assert lines[4].startswith("qbsync settled an interrupted fix of “") and \
        lines[4].endswith(f"by <@{ALICE}>: the cause still holds")
    assert lines[5].startswith(f"<@{ALICE}> snoozed the invoice until <!date^")
    # an action without a sentence of its own still reads as words
    assert lines[6].startswith(f"<@{ALICE}> acted on “") and lines[7] == f"<@{ALICE}> was refused: not allowed"
    assert len(lines) == 8 and "escalate" not in " ".join(lines) and "Id'" not in " ".join(lines)


@pytest.mark.parametrize("lang", ["en", "nl", "es"])
def test_every_sentence_has_the_placeholders_of_the_english(lang):
    for key, en in WORDS["en"].items():
        assert set(re.findall(r"\{\w+\}", WORDS[lang][key])) == set(re.findall(r"\{\w+\}", en)), key
        assert lang == "en" or WORDS[lang][key] != en, key
