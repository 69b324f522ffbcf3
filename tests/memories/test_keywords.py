"""A query's keyword terms: blind tokens, and which come from rare words
(``memories/keywords.py``), and what hybrid search does with them through
the API."""

import pytest

from memories.keywords import is_rare, keyword_terms
from memoryhub.crypto.blind import blind_tokens
from tests.api_support import add_memory, space_url

KEY = b"k" * 32


def test_terms_are_the_blind_tokens_with_the_rare_ones_marked():
    query = "Who are the members of her family at Vanguard, code 57029007?"
    tokens, rare = keyword_terms(KEY, query)
    assert tokens == blind_tokens(KEY, query)  # same tokens, same order
    assert len(tokens) == 5  # members, family, vanguard, code, 57029007
    assert rare == frozenset(blind_tokens(KEY, "Vanguard 57029007"))


@pytest.mark.parametrize(
    ("word", "rare"),
    [
        ("family", False),
        ("living", False),
        ("travel", False),
        ("members", False),
        ("vanguard", True),  # a name
        ("murakami", True),  # not in the list at all
        ("57029007", True),  # a number
        ("qx7plm", True),  # a code
        ("schmetterling", True),  # another language: as before rarity counted
    ],
)
def test_rare_means_less_common_in_english_than_ten_per_million_words(word, rare):
    assert is_rare(word) is rare


def test_words_stemmed_alike_share_a_token_and_the_first_word_decides():
    tokens, rare = keyword_terms(KEY, "playing plays")
    assert len(tokens) == 1 and not rare


@pytest.mark.django_db
def test_hybrid_search_lifts_a_partial_match_only_on_a_rare_word(cast):
    """Through the API: a memory sharing one common word of two is scored as
    in vector search; sharing one rare word of two, it is lifted by half the
    keyword weight."""
    from memories.search import KEYWORD_WEIGHT

    memory = add_memory(cast.space, "GP is Dr Haddad at Maple Street Family Practice")
    client = cast.clients["viewer"]

    def score(query: str, mode: str) -> float:
        response = client.post(
            space_url(cast.space, "search/"),
            {"query": query, "mode": mode, "top_k": 5},
            format="json",
        )
        assert response.status_code == 200, response.json()
        (found,) = [r for r in response.json()["results"] if r["id"] == str(memory.pk)]
        return found["score"]

    common = "Who are the members of her family?"
    assert score(common, "hybrid") == pytest.approx(score(common, "vector"))
    rare = "Where does Haddad see patients?"  # haddad, see, patients: 1 of 3
    assert score(rare, "hybrid") == pytest.approx(score(rare, "vector"))  # < half
    rare = "Haddad patients"  # 1 of 2 held, and it is rare
    assert score(rare, "hybrid") == pytest.approx(
        score(rare, "vector") + KEYWORD_WEIGHT / 2
    )
