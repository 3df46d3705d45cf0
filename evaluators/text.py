"""Text helpers the offline judge needs: normalising, sentences, content words, cue matching.

Pure functions over strings, so every cue rule is testable without a judge object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ", "\u2013": "-"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z][a-z']+")

STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't
my myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd
she'll she's should shouldn't so some such than that that's the their theirs them themselves then there there's
these they they'd they'll they're they've this those through to too under until up very was wasn't we we'd
we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's with
won't would wouldn't you you'd you'll you're you've your yours yourself yourselves just now also really still
get got going go want need know like yes yeah ok okay well one even sure right thing things way lot please thank
thanks sorry hello hi dear understand see hear tell said say says told make made will shall may might must
problem issue help today time day every any anything something nothing someone everyone customer
""".split())


def normalise(text: str) -> str:
    """Straighten quotes and dashes so one cue spelling matches every keyboard."""
    return text.translate(_QUOTES)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(normalise(text)) if s.strip()]


def stem(word: str) -> str:
    """A deliberately crude stemmer: enough to match 'delivered' with 'delivery'."""
    word = word.strip("'")
    for suffix in ("ing", "ies", "ied", "ed", "es", "ery", "s", "y", "e"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousl":
        word = word[:-1]  # dropped -> dropp -> drop
    return word


def recent_words(texts: list[str], last: int = 3) -> set[str]:
    """The content stems of the last few texts (e.g. what the customer has just been saying)."""
    return set().union(*(content_stems(t) for t in texts[-last:]))


def content_stems(text: str) -> set[str]:
    words = _WORD.findall(normalise(text).lower())
    return {stem(w) for w in words if w not in STOPWORDS and len(w) > 2}


@lru_cache(maxsize=4096)
def compile_cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class CueHit:
    pattern: str
    start: int
    end: int
    quote: str


_ESCAPE_OR_CAPITAL = re.compile(r"\\.|[A-Z]")


@lru_cache(maxsize=1024)
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """All the patterns as one, for lower-cased text: capitals outside escapes are lowered, since matching
    without IGNORECASE is about three times faster. It may match more than the patterns do (a case-sensitive
    part matches any case), never less: it only decides which groups to read closely."""
    lowered = (_ESCAPE_OR_CAPITAL.sub(lambda m: m.group().lower() if len(m.group()) == 1 else m.group(), p)
               for p in patterns)
    return re.compile("|".join(f"(?:{p})" for p in lowered))


@lru_cache(maxsize=64)
def _lower(text: str) -> str:
    return text.lower()


def find_cues(text: str, patterns: list[str], original: str | None = None) -> list[CueHit]:
    """Every cue hit in `text`, each quoting its sentence from `original` (same positions, unmasked)."""
    if not patterns or not _any_of(tuple(patterns)).search(_lower(text)):
        return []  # one scan for the whole group first: most groups match nothing in a given reply
    source = text if original is None else original
    hits = []
    for pattern in patterns:
        for match in compile_cue(pattern).finditer(text):
            hits.append(CueHit(pattern, match.start(), match.end(), sentence_around(source, match.start())))
    return hits


def sentence_around(text: str, index: int, limit: int = 220) -> str:
    """The sentence containing position `index`, trimmed to `limit` characters."""
    start = max(text.rfind(mark, 0, index) for mark in (". ", "! ", "? ", "\n"))
    start = 0 if start < 0 else start + 1
    ends = [pos for pos in (text.find(mark, index) for mark in (". ", "! ", "? ", "\n")) if pos >= 0]
    end = min(ends) + 1 if ends else len(text)
    quote = text[start:end].strip()
    if len(quote) > limit:
        offset = max(0, index - start - limit // 2)
        quote = "…" + quote[offset: offset + limit].strip() + "…"
    return quote


def mask(text: str, hits: list[CueHit]) -> str:
    """Blank out matched spans so a hollow formula cannot also count as a positive cue."""
    chars = list(text)
    for hit in hits:
        for i in range(hit.start, hit.end):
            chars[i] = " "
    return "".join(chars)


def strip_grader_address(reply: str, cues: list[str]) -> tuple[str, list[str]]:
    """The reply with sentences addressed to the grader removed, and those sentences: they are data that
    must never raise a score."""
    text = normalise(reply)
    removed = list(dict.fromkeys(h.quote for h in find_cues(text, cues)))
    for sentence in removed:
        text = text.replace(sentence, " ")
    return re.sub(r"\s+", " ", text).strip(), removed
