"""Keyed HMACs over content: dedupe MACs and keyword blind-index tokens.

Both use the space's index key, never plaintext in the database. Tokens are
truncated HMAC-SHA256 of normalised, lightly stemmed words, written as short
hex strings so PostgreSQL's full-text machinery (``tsvector`` + GIN) can index
and rank them without ever seeing a word. Equal words give equal tokens within
a space (that is what makes keyword search work), so the index reveals word
*frequency patterns* within a space to someone holding the database — the
README states this trade-off.
"""

import hashlib
import hmac
import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")

# Very common English words carry no retrieval signal and would dominate the
# index; dropping them keeps postings short.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because
    been before being below between both but by can could did do does doing down
    during each few for from further had has have having he her here hers herself
    him himself his how i if in into is it its itself just me more most my myself
    no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours
    yourself yourselves im ive id dont s t""".split()
)

TOKEN_HEX_CHARS = 16


def normalize_content(text: str) -> str:
    """Canonical form for dedupe: NFKC, case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_mac(index_key: bytes, text: str) -> bytes:
    """HMAC-SHA256 of the normalised content (dedupe; also the mem0 ``hash``)."""
    return hmac.new(
        index_key, b"mac:" + normalize_content(text).encode(), hashlib.sha256
    ).digest()


def _stem(word: str) -> str:
    """A light suffix stripper, so "hiking" and "hikes" share a token."""
    for suffix in ("ingly", "edly", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                stem += "y"
            return stem
    return word


def _kept(text: str) -> list[str]:
    """Normalised, stopword-free words of ``text`` in order, not stemmed."""
    found = _WORD.findall(normalize_content(text))
    return [w for w in found if w not in STOPWORDS and len(w) > 1]


def blind_tokens(index_key: bytes, text: str) -> list[str]:
    """Keyed tokens for each distinct word of ``text`` (order kept)."""
    return list(blind_terms(index_key, text))


def blind_terms(index_key: bytes, text: str) -> dict[str, str]:
    """:func:`blind_tokens`, each with the word it came from (normalised,
    before stemming; the first of several with one token).

    The words are for ranking a query in memory only: they never leave the
    process.
    """
    terms: dict[str, str] = {}
    for word in _kept(text):
        digest = hmac.new(index_key, b"tok:" + _stem(word).encode(), hashlib.sha256)
        terms.setdefault("t" + digest.hexdigest()[:TOKEN_HEX_CHARS], word)
    return terms
