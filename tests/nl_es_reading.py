"""What a Dutch or Spanish reader must not read in a Slack text (issue 12 part 3): an amount
written the English way, an ISO date, an amount without its currency, or an English sentence
of the catalog. Used by tests/e2e/test_no_english_in_nl_es.py (everything read in Slack) and
tests/rules/test_fix_words_nl_es.py (what each fix says it did)."""
from __future__ import annotations

import re
from functools import lru_cache

from babel.messages.pofile import read_po

from rules import catalog
from sandbox.slack_blocks import iter_texts
from sandbox.slack_workspace import unescape

# ---- what a person reads --------------------------------------------------------------------
# Slack's own tokens in mrkdwn (https://api.slack.com/reference/surfaces/formatting): a link
# `<url|label>` shows its label, `<url>` its URL, `<!date^ts^format|fallback>` a date Slack
# writes for the reader (the fallback is shown only "should parsing, formatting or displaying
# fail": https://docs.slack.dev/reference/block-kit/block-elements/date-element), mentions a name.
_DATE_TOKEN = re.compile(r"<!date\^[^>]*>")
_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>")
_TOKEN = re.compile(r"<[^>]*>")


def readable(text: str) -> str:
    """What a person reads of one text object: links by their label, no URLs, no date tokens."""
    text = _DATE_TOKEN.sub(" ", text or "")
    text = _LINK.sub(r"\1", text)
    text = _TOKEN.sub(" ", text)
    return unescape(text)


def texts_of(text: str | None, blocks: list | None) -> list[str]:
    """The notification text and every text object of the blocks (fields, buttons, confirm
    dialogs, context), each made readable."""
    out = [readable(text)] if text else []
    return out + [readable(t) for _, t in iter_texts(blocks or [])]


# ---- the checks -----------------------------------------------------------------------------
# An amount as English writes it: 1,450.00 or 120.00.
EN_AMOUNT = re.compile(r"\d,\d{3}\.\d{2}\b|(?<![\d.,])\d+\.\d{2}\b(?![.,]\d)")
# A calendar date as ISO writes it (a person should read "31 oktober 2026").
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# An amount in nl/es form (1.450,00 / 120,00) and a currency next to it: a symbol or code
# within a few characters (Babel writes `€ 1.450,00`, `1.450,00 €`, `US$ 1.450,00`).
LOCAL_AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})*,\d{2}(?![\d,])")
CURRENCY = re.compile(r"[$€£¥₹]|\b[A-Z]{3}\b")
WORD = re.compile(r"[^\W\d_]+")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Where an English sentence is cut into fragments: its {placeholders} and the mrkdwn around them.
CUT = re.compile(r"\{[^{}]*\}|[*_`\n:()\[\]\"“”]")


def bare_amounts(text: str) -> list[str]:
    """nl/es amounts in `text` with no currency beside them."""
    out = []
    for m in LOCAL_AMOUNT.finditer(text):
        around = text[max(0, m.start() - 5):m.start()] + " " + text[m.end():m.end() + 5]
        if not CURRENCY.search(around):
            out.append(text[max(0, m.start() - 30):m.end() + 10])
    return out


@lru_cache(maxsize=None)
def english_fragments(lang: str) -> tuple[str, ...]:
    """English pieces of the catalog a reader of `lang` must never see: of every msgid of
    rules/locale/qbsync.pot with at least 4 words whose `lang` translation differs, the parts
    between its placeholders with at least 3 words. A part that the translations themselves
    use (a product name such as "Revenue Recognition") is left out."""
    with (catalog.LOCALE_DIR / "qbsync.pot").open("rb") as f:
        template = read_po(f)
    translated = catalog.catalog(lang)
    everything = "\n".join(_forms(translated.values()))
    out: set[str] = set()
    for message in template:
        if not message.id:
            continue
        theirs = translated.get((message.context, tuple(message.id) if isinstance(message.id, (tuple, list))
                                 else message.id))
        # a plural entry: each English form against the translated forms
        for msgid in _forms([message.id]):
            if len(WORD.findall(PLACEHOLDER.sub(" ", msgid))) < 4:
                continue
            if not theirs or msgid in _forms([theirs]):
                continue
            for piece in CUT.split(msgid):
                piece = " ".join(piece.split()).strip(" .,;·—-")
                if len(WORD.findall(piece)) >= 3 and piece not in everything:
                    out.add(piece)
    return tuple(sorted(out))


def _forms(values) -> list[str]:
    """Catalog strings flattened: a plural entry's forms (a tuple) each count as one."""
    out: list[str] = []
    for v in values:
        out.extend(v if isinstance(v, (tuple, list)) else [v])
    return out


def english_in(text: str, lang: str) -> list[str]:
    flat = " ".join(text.replace("\u00a0", " ").split())
    return [f for f in english_fragments(lang) if f in flat]


# English words that are no Dutch or Spanish word: English that is not in the catalog (a piece
# assembled in code, an f-string) shows itself by them. One that a translation itself uses
# with its neighbours (QuickBooks' English menu path "Account and settings") is not counted.
ENGLISH_WORDS = re.compile(r"\b(?:the|has|have|with|already|and|which|would|matches|uses|this|that|now|same|"
                           r"is off|is active|is dated|instead of|added in|removed in)\b")


@lru_cache(maxsize=None)
def _translations(lang: str) -> str:
    return " ".join(" ".join(_forms(catalog.catalog(lang).values())).split())


# An error QuickBooks answered, quoted as it came ("(Request has invalid or unsupported
# property; ...; code 2010)", rules/fixes.py error_words): QuickBooks' words, not qbsync's.
QUOTED_API_ERROR = re.compile(r"\([^()]*\bcode \d+\)")


def english_words_in(text: str, lang: str) -> list[str]:
    flat = " ".join(QUOTED_API_ERROR.sub("(…)", text).replace("\u00a0", " ").split())
    out = []
    for m in ENGLISH_WORDS.finditer(flat):
        before = [w.strip(".,;:!?()") for w in flat[:m.start()].split()[-1:]]
        after = [w.strip(".,;:!?()") for w in flat[m.end():].split()[:1]]
        window = " ".join(before + [m.group()] + after)
        if window not in _translations(lang):
            out.append(flat[max(0, m.start() - 40):m.end() + 40])
    return out


def problems(texts: list[str], lang: str) -> list[str]:
    """One line per thing a reader of `lang` should not read."""
    found = []
    for text in texts:
        for m in EN_AMOUNT.finditer(text):
            found.append(f"English amount {m.group()!r} in: {text[max(0, m.start() - 40):m.end() + 20]!r}")
        for m in ISO_DATE.finditer(text):
            found.append(f"ISO date {m.group()!r} in: {text[max(0, m.start() - 40):m.end() + 20]!r}")
        for bare in bare_amounts(text):
            found.append(f"amount without its currency: {bare!r}")
        for fragment in english_in(text, lang):
            found.append(f"English {fragment!r} in: {text[:160]!r}")
        for around in english_words_in(text, lang):
            found.append(f"English words in: {around!r}")
    return sorted(set(found))
