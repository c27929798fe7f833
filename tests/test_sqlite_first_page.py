"""The SQLite index scores the first page of a relevance search from a few candidates and leaves
out rows that cannot reach it (SQLiteIndex._pruned).  The page must be exactly the first page of
the full ranking, for one word and several, with synonyms, slips and colours."""
import random

import pytest

from chalicelib.index import ANY
from chalicelib.index.sqlite import SQLiteIndex
from chalicelib.query import expand, parse
from tests.test_search_language import label
from tests.contract.test_index_contract import rich_doc

NAMES = [("Cat", ["Animal", "Mammal", "Pet"]), ("Dog", ["Animal", "Mammal", "Pet"]), ("Beach", ["Nature", "Coast"]),
         ("Car", ["Vehicle"]), ("Sports Car", ["Car", "Vehicle"]), ("Apple", ["Fruit", "Food"])]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    rng = random.Random(3)
    idx = SQLiteIndex(str(tmp_path_factory.mktemp("first") / "index.sqlite3"))
    idx.ensure_index()
    for n in range(1, 400):
        labels = [label(name, round(rng.uniform(16, 99), 1), parents) for name, parents in rng.sample(NAMES, 2)]
        lines = [("OPEN DAILY", rng.uniform(50, 99))] if n % 7 == 0 else []
        idx.put(rich_doc(n, labels=labels, lines=lines, colors=rng.sample(["red", "blue", "green"], 1),
                         evidence=[("Monument", rng.uniform(5, 40))] if n % 5 == 0 else []), ANY)
    return idx


@pytest.mark.parametrize("q", ["animal", "cat", "kitty", "dog on the beach", "red sports car", "mammal animal cat",
                               "monument", "open", "apple fruit", "vehicle -beach"])
@pytest.mark.parametrize("size", [1, 5, 20])
@pytest.mark.parametrize("sorted_read_max", [30000, 0])       # 0: no word's best photos read in order
def test_the_first_page_is_the_first_page_of_the_full_ranking(index, q, size, sorted_read_max, monkeypatch):
    monkeypatch.setattr("chalicelib.index.sqlite.SORTED_READ_MAX", sorted_read_max)
    parsed = parse(q)
    groups = expand.index_groups(expand.plan(parsed))
    filters = {"without_words": list(parsed.excluded), "without_min_confidence": 15.0} if parsed.excluded else {}
    everything = index.search("alice", groups, 1000, None, filters, min_score=15.0)   # too many to prune
    page = index.search("alice", groups, size, None, filters, min_score=15.0)
    assert everything.next is None and len(everything.hits) > size
    assert [(h["photo_id"], h["_score"]) for h in page.hits] == \
        [(h["photo_id"], h["_score"]) for h in everything.hits[:size]]
    second = index.search("alice", groups, size, page.next, filters, min_score=15.0)
    assert [h["photo_id"] for h in second.hits] == [h["photo_id"] for h in everything.hits[size:2 * size]]


def test_a_common_word_is_not_read_in_order_when_the_join_already_gives_the_page(index, monkeypatch):
    """With SORTED_READ_MAX under every word's rows, the first page of a query whose every word
    many photos share is found from the join alone: no word's photos are read best first, and the
    page is still the full ranking's."""
    groups = expand.index_groups(expand.plan(parse("mammal animal cat")))
    everything = index.search("alice", groups, 1000, min_score=15.0)

    def sorted_reads(limit):
        monkeypatch.setattr("chalicelib.index.sqlite.SORTED_READ_MAX", limit)
        statements = []
        index._db().set_trace_callback(statements.append)
        try:
            page = index.search("alice", groups, 5, min_score=15.0)
        finally:
            index._db().set_trace_callback(None)
        assert [h["photo_id"] for h in page.hits] == [h["photo_id"] for h in everything.hits[:5]]
        # (the trace shows each statement with its values)
        return sum(s.startswith("SELECT photo_id FROM terms WHERE owner = ") and "ORDER BY best DESC" in s
                   for s in statements)

    assert sorted_reads(30000) == 3         # one per word ("mammal", "animal", "cat")
    assert sorted_reads(0) == 0
