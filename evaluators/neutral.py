"""Names, titles and gendered pronouns made neutral before a judge reads a turn.

A grade must not depend on whether the customer is Dana or Dan, Mrs or Mr, she or he. Rather than hope a
model is unbiased, the judges never see the difference: the customer's names become one neutral name,
titles go, gendered pronouns become they/them. `Neutral.original` maps a quote from the neutral text back
to the trainee's own words, so evidence is still shown as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from evaluators.grade import GradingContext, Message, PersonaBrief

NEUTRAL_NAME = "Alex"
_PRONOUNS = {"he": "they", "she": "they", "him": "them", "her": "them", "his": "their", "hers": "theirs",
             "himself": "themself", "herself": "themself"}
_TITLES = r"(?:mr|mrs|ms|miss|mx|sir|madam|ma'am)\.?"


@dataclass(frozen=True)
class Neutral:
    text: str
    source: str
    # (neutral start, neutral end, source start, source end) for every replaced piece, in order
    pieces: tuple[tuple[int, int, int, int], ...]

    def _start(self, i: int) -> int:
        shift = 0
        for n_start, n_end, s_start, s_end in self.pieces:
            if i < n_start:
                break
            if i < n_end or i == n_start == n_end:
                return s_start
            shift = s_end - n_end
        return i + shift

    def _end(self, j: int) -> int:
        shift = 0
        for n_start, n_end, s_start, s_end in self.pieces:
            if j <= n_start:
                break
            if j <= n_end:
                return s_end
            shift = s_end - n_end
        return j + shift

    def original(self, quote: str) -> str:
        """`quote` (found in the neutral text) as the source text says it; the quote itself if not found."""
        start = self.text.find(quote)
        if start < 0 or not self.pieces:
            return quote
        return self.source[self._start(start):self._end(start + len(quote))]


@lru_cache(maxsize=64)
def _pattern(name: str) -> re.Pattern[str]:
    parts = sorted({p for p in re.split(r"[\s,]+", name.strip()) if len(p) >= 2 and p[0].isalpha()}, key=len,
                   reverse=True)
    names = [re.escape(name.strip())] if len(parts) > 1 else []
    names += [re.escape(p) for p in parts]
    name_group = rf"(?:{_TITLES}\s+)?(?:{'|'.join(names)})(?:\s+(?:{'|'.join(names)}))*" if names else None
    alternatives = ([rf"(?P<name>{name_group})"] if name_group else []) + \
        [rf"(?P<title>{_TITLES}\s+)(?=[A-Z])", r"(?P<pronoun>" + "|".join(_PRONOUNS) + ")"]
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


def neutralise(text: str, name: str = "") -> Neutral:
    """`text` with the customer's `name` (any of its parts, with or without a title), other titles before a
    capitalised word, and gendered pronouns replaced, one pass, with the pieces recorded."""
    out, pieces, cursor, length = [], [], 0, 0
    for match in _pattern(name).finditer(text):
        kind = match.lastgroup
        if kind == "name":
            replacement = NEUTRAL_NAME
        elif kind == "title":
            replacement = ""
        else:
            word = match.group()
            replacement = _PRONOUNS[word.lower()]
            replacement = replacement.capitalize() if word[0].isupper() else replacement
        out.append(text[cursor:match.start()])
        length += match.start() - cursor
        pieces.append((length, length + len(replacement), match.start(), match.end()))
        out.append(replacement)
        length += len(replacement)
        cursor = match.end()
    out.append(text[cursor:])
    return Neutral(text="".join(out), source=text, pieces=tuple(pieces))


def neutral_context(context: GradingContext) -> GradingContext:
    """The conversation as a judge should read it: the same, with names and genders made neutral."""
    name = context.persona.name
    persona = PersonaBrief.model_construct(name=NEUTRAL_NAME if name.strip() else "",
                                           situation=neutralise(context.persona.situation, name).text)
    history = [Message.model_construct(role=m.role, text=neutralise(m.text, name).text) for m in context.history]
    return GradingContext.model_construct(persona=persona, history=history)  # built from valid parts
