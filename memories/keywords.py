"""A search query's keyword terms: its blind tokens, and which come from rare words.

Hybrid search lifts a memory that holds only some of the query's words by
the *rare* ones among them (``memories.search``, module doc): a name, a
code or an uncommon term is what an embedding misses, while a common word
a memory happens to share ("family", "living") is the embedding's to judge,
also when it is the query's only word.

Rare means less frequent in English than ``RARE_ZIPF`` on the Zipf scale
(log10 of occurrences per billion words; 4 is ten per million, the usual
line between low- and high-frequency words) by ``wordfreq``'s small
English list — about 29,000 words, loaded once per process on first use
(~50 ms, ~3 MB). A word the list lacks is rare: names, numbers, codes, and
the words of other languages, which therefore keep the boost every word
had before rarity counted.

The query's words are looked up in that static table here, in process, and
go nowhere else (no cache holds them); the search itself gets tokens only.
"""

from functools import cache

from memoryhub.crypto.blind import blind_terms

RARE_ZIPF = 4.0


def keyword_terms(index_key: bytes, query: str) -> tuple[list[str], frozenset[str]]:
    """The blind tokens of ``query`` (as ``blind_tokens``) and those of them
    from rare words."""
    terms = blind_terms(index_key, query)
    return list(terms), frozenset(t for t, word in terms.items() if is_rare(word))


def is_rare(word: str) -> bool:
    """Whether ``word`` (normalised, lower case) is rare in English."""
    return _english().get(word, 0.0) < 10 ** (RARE_ZIPF - 9)


@cache
def _english() -> dict[str, float]:
    """Word -> frequency (share of all words) of wordfreq's small English list."""
    from wordfreq import get_frequency_dict  # ~0.3 s to import: only when searched

    return get_frequency_dict("en", wordlist="small")
