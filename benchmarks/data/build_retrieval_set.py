"""Build the labelled retrieval set: memories.jsonl and queries.jsonl.

Deterministic (fixed seed, no model): twelve personas each get a random but
reproducible selection of the curated fact types in ``facts_personal.py`` and
``facts_world.py``, plus a job, named children and pets, and "noise" memories
that share topic words without answering anything, and "decoys": memories
about another value of the same kind ("Found Murakami's books hard going"
beside "Favourite author is Hilary Mantel") that only the rare term tells
apart. Queries are paraphrases
of single facts (kind ``paraphrase``), questions that hinge on a rare term
also present in the memory (``rare_term``: names, products, places; ``code``:
only a booking code or number, "What does QX7PLM refer to?"), and
questions with several relevant memories (``multi``). Every query is scoped to
one user (search filters on ``user_id``), as an agent would search.

Run ``python benchmarks/data/build_retrieval_set.py`` from the repository
root; it rewrites both files and prints statistics plus the paraphrases that
share the most words with their memory, for review. ``--check`` exits non-zero
if the committed files differ from a fresh build.
"""

import argparse
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.data.factkit import FactType
from benchmarks.data.facts_personal import PERSONAL
from benchmarks.data.facts_world import WORLD

SEED = 2024
DATA_DIR = Path(__file__).resolve().parent
QUERY_SHARE = 0.6  # chance that a single fact gets a query
RARE_SHARE = 0.7  # chance to ask the rare-term question when a fact has both
DECOY_SHARE = 0.6  # chance that a fact with decoy templates gets a decoy memory
MAX_OVERLAP = 0.5  # paraphrases sharing more of their words with the memory fail


@dataclass(frozen=True)
class Persona:
    """A user of the agent: pronoun, job, traits that gate fact types."""

    uid: str
    pronoun: str  # "she" | "he"
    nick: str
    job: str
    job_queries: tuple[str, ...]
    traits: tuple[str, ...] = ()  # techie, desk, kids, pets


PERSONAS = (
    Persona("u01", "she", "Han", "Works night shifts as an ICU nurse",
            ("Is {he} a healthcare worker on the overnight rota?",), ("kids", "pets")),
    Persona("u02", "he", "Danny", "Backend engineer at a payments startup",
            ("Does {he} write software for a fintech company?",),
            ("techie", "desk", "pets")),
    Persona("u03", "she", "Pree", "UX researcher at a healthcare software company",
            ("Does {he} interview people about product design?",),
            ("techie", "desk", "kids")),
    Persona("u04", "he", "Tom", "Commercial pilot flying Airbus A320s",
            ("What plane type is {he} certified on?",), ("kids",)),
    Persona("u05", "she", "Gracie", "Teaches chemistry at a secondary school",
            ("Which science does {he} cover in the classroom?",), ("kids", "pets")),
    Persona("u06", "he", "Marc", "Works as a paramedic on an ambulance crew",
            ("Is {he} an emergency medical responder?",), ("pets",)),
    Persona("u07", "she", "Fia", "Freelance translator working from Japanese into English",
            ("Which languages does {he} convert documents between?",), ("desk",)),
    Persona("u08", "he", "Ollie", "Structural engineer who designs bridges",
            ("Does {he} work on civil infrastructure like river crossings?",),
            ("desk", "kids")),
    Persona("u09", "she", "Millie", "Runs a small bakery that opens at 6am",
            ("Does {he} own a business selling bread and pastries?",), ("pets",)),
    Persona("u10", "he", "Kay", "Corporate lawyer specialising in mergers",
            ("What area of legal practice is {he} in?",), ("desk", "kids")),
    Persona("u11", "she", "Lena", "Data scientist at a renewable energy company",
            ("Does {he} build forecasting models for a power firm?",),
            ("techie", "desk", "pets")),
    Persona("u12", "he", "Jim", "Head teacher of a village primary",
            ("What is {his} role in education?",), ("kids",)),
)  # fmt: skip

JOB_QUERIES = ("What does {he} do for a living?",)

FEMALE_NAMES = (
    "Maya Ines Saoirse Anouk Freya Yuki Elodie Zara Ingrid Niamh Amara Mirela "
    "Esme Thandiwe Wren Rosalind Nadia Linnea Beatrix Sunniva Ottilie Marisol Ayesha"
).split()
MALE_NAMES = (
    "Leo Tobias Ravi Kofi Mateo Oskar Cormac Bodhi Tariq Soren Lucian Dmitri Hugo "
    "Casimir Idris Felix Emeka Arjun Joaquin Ruairi Lorcan Benedikt"
).split()
SURNAMES = (
    "Okafor Lindqvist Brennan Castellanos Haddad Nakamura Petrov Abernathy "
    "Oyelaran Fitzgerald Moreau Szabo Kowalczyk Achterberg Quigley Varga"
).split()
PETS = (
    ("Biscuit", "golden retriever"), ("Pickles", "border collie"),
    ("Mochi", "ginger tabby"), ("Captain", "dachshund"), ("Juniper", "Maine Coon"),
    ("Waffles", "house rabbit"), ("Ziggy", "Border terrier"),
    ("Pepper", "rescue greyhound"), ("Noodle", "Siamese cat"),
    ("Clementine", "beagle"), ("Bramble", "cockapoo"), ("Sprocket", "whippet"),
    ("Marmalade", "British shorthair"), ("Hobbes", "Bengal cat"),
    ("Nutmeg", "tortoiseshell cat"), ("Gizmo", "Jack Russell terrier"),
)  # fmt: skip
CITIES = (
    "Bristol Montreal Adelaide Porto Gothenburg Wellington Minneapolis Ljubljana "
    "Cork Leipzig Halifax Bergen Galway Tampere"
).split()
HOODS = (
    "Leith", "Kreuzberg", "Williamsburg", "Fitzroy", "Ballard", "Le Marais",
    "Stokes Croft", "Ponsonby", "Jordaan", "Vesterbro", "Plateau-Mont-Royal",
    "Grünerløkka",
)  # fmt: skip
MONTHS = (
    "January February March April May June July August September October "
    "November December"
).split()
CHILD_AGES = {
    "child_school": "five", "child_sport": "nine", "child_music": "eleven",
    "child_uni": "twenty",
}  # fmt: skip

NOISE = (
    "Asked for a banana bread recipe",
    "Asked how long to boil an egg for a runny yolk",
    "Mentioned that the flight home last week was delayed two hours",
    "Asked how to convert Celsius to Fahrenheit",
    "Said the office printer is broken again",
    "Wanted a summary of an article about sleep research",
    "Asked for tips on getting a puppy to walk on a lead",
    "Complained that the banking app keeps logging {him} out",
    "Asked which laptop is best for video editing",
    "Compared prices of noise-cancelling headphones",
    "Mentioned a colleague's leaving party on Friday",
    "Asked for a packing list for a weekend camping trip",
    "Wanted to know the visa rules for visiting Brazil",
    "Asked what the weather would be like at the weekend",
    "Asked for gift ideas for a friend who likes gardening",
    "Asked how compound interest works",
    "Asked for a synonym for 'important'",
    "Asked for help drafting a polite email declining a meeting",
    "Wanted help choosing a font for a birthday invitation",
    "Asked how to get a red wine stain out of a carpet",
    "Asked for the rules of cribbage",
    "Wanted a quick explanation of how vaccines work",
    "Asked for a recommendation for a podcast about space",
    "Asked how to say thank you in Icelandic",
    "Asked whether tomatoes are a fruit or a vegetable",
    "Wanted a playlist for a long drive",
    "Asked how many calories are in an avocado",
    "Asked for a funny message for a coworker's card",
    "Asked how to reset a home router",
    "Asked about the history of the Eiffel Tower",
    "Asked for ideas for a rainy-day activity",
    "Wanted a summary of the latest smartphone reviews",
)

# Multi-answer questions: every memory of the user carrying the tag is relevant.
GROUPS = {
    "dietary": "What dietary restrictions does {he} have?",
    "kids": "Tell me about {his} children.",
    "pets": "What animals does {he} have at home?",
    "family": "Who are the members of {his} family?",
    "medical": "What medical issues should I keep in mind for {him}?",
    "active": "What does {he} do to stay active?",
    "devices": "What phone and computer does {he} use?",
    "travel": "What are {his} travel preferences?",
    "music": "What kind of music does {he} play or listen to?",
    "money": "What's going on with {his} personal finances?",
}
RARE_SLOTS = ("n", "surname", "r", "dish", "short", "tier", "code", "num")
CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
STOPWORDS = frozenset(
    """a an the and or of to in on at for with by from is are was were be been
    has have had does do did can could would should will what which who whom
    whose when where why how any some there that this these those it its his
    her him he she they their them about into after before every each than
    just like not no so very all""".split()
)

FACT_TYPES: tuple[FactType, ...] = tuple(PERSONAL + WORLD)


def pronouns(pronoun: str) -> dict[str, str]:
    if pronoun == "she":
        forms = {"he": "she", "him": "her", "his": "her"}
    else:
        forms = {"he": "he", "him": "him", "his": "his"}
    forms |= {"He": forms["he"].capitalize(), "His": forms["his"].capitalize()}
    return forms


def _satisfied(needs, have: set[str]) -> bool:
    return all(need in have for need in needs)


def _pick_types(persona: Persona, rng: random.Random) -> list[FactType]:
    """Choose this user's fact types: children, pets, then a share of the rest."""
    traits = set(persona.traits) | {persona.pronoun}
    chosen: list[FactType] = []
    child = [
        t for t in FACT_TYPES if t.key.startswith("child_") and t.key != "child_age"
    ]
    if "kids" in traits:
        chosen += rng.sample(child, rng.choice((1, 2, 2, 3)))
        if rng.random() < 0.7:
            chosen += [t for t in FACT_TYPES if t.key == "child_age"]
    pet = [t for t in FACT_TYPES if t.key.startswith("pet_")]
    if "pets" in traits:
        chosen += rng.sample(pet, rng.choice((2, 3, 4)))
    chosen += [t for t in FACT_TYPES if t.min_per_user > 1]  # everyone has these
    rest = [
        t
        for t in FACT_TYPES
        if not t.key.startswith(("child_", "pet_"))
        and t.min_per_user == 1
        and _satisfied(
            (r for r in t.requires if r in {"techie", "desk", "kids", "she"}), traits
        )
    ]
    chosen += rng.sample(rest, min(len(rest), rng.randint(44, 50)))
    # Drop types excluded by an earlier pick or missing a fact-type requirement.
    keys: set[str] = set()
    kept: list[FactType] = []
    for fact_type in chosen:
        if fact_type.key in keys or any(ex in keys for ex in fact_type.excludes):
            continue
        keys.add(fact_type.key)
        kept.append(fact_type)
    have = keys | traits
    return [t for t in kept if _satisfied(t.requires, have)]


@dataclass
class Fact:
    """One generated memory and what is known about it."""

    user: str
    key: str
    topic: str
    content: str
    tags: tuple[str, ...]
    slots: dict
    fact_type: FactType | None = None
    value: dict | None = None
    mid: str = ""


class UserBuilder:
    """Generates one persona's memories and queries from its own RNG."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.rng = random.Random(f"{SEED}:{persona.uid}")
        self.forms = pronouns(persona.pronoun)
        self.names = {
            "f": self.rng.sample(FEMALE_NAMES, len(FEMALE_NAMES)),
            "m": self.rng.sample(MALE_NAMES, len(MALE_NAMES)),
        }
        self.surnames = self.rng.sample(SURNAMES, len(SURNAMES))
        self.pets = self.rng.sample(PETS, self.rng.choice((1, 2)))
        self.hood = self.rng.choice(HOODS)
        self.facts: list[Fact] = []
        self.children: dict[str, tuple[str, str]] = {}  # fact key -> (name, Kid)

    def _slots(
        self, fact_type: FactType | None, value: dict, decoy: bool = False
    ) -> dict:
        rng = self.rng
        slots = dict(self.forms)
        slots |= {
            "month": rng.choice(MONTHS),
            "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
            "year": str(rng.randint(2009, 2021)),
            "city": rng.choice(CITIES),
            "hood": self.hood,
            "code": "".join(rng.choice(CODE_CHARS) for _ in range(6)),
            "num": str(rng.randrange(10**7, 10**8)),
            "nick": self.persona.nick,
        }
        if fact_type is not None and fact_type.name == "person":
            if fact_type.key == "child_age" and self.children and not decoy:
                target = rng.choice(sorted(self.children))
                slots["n"], slots["Kid"] = self.children[target]
                slots["age"] = CHILD_AGES[target]
            else:
                gender = rng.choice("fm")
                slots["n"] = self.names[gender].pop()
                female = gender == "f"
                slots["Kid"] = "Daughter" if female else "Son"
                slots["sib"] = "sister" if female else "brother"
                slots["spouse"] = "wife" if female else "husband"
                slots["kid"] = slots["Kid"].lower()
                if fact_type.key.startswith("child_") and not decoy:
                    self.children[fact_type.key] = (slots["n"], slots["Kid"])
            slots["surname"] = self.surnames.pop()
        elif fact_type is not None and fact_type.name == "pet":
            slots["n"], slots["breed"] = rng.choice(self.pets)
            slots["n2"], slots["breed2"] = rng.choice(
                [pet for pet in PETS if pet not in self.pets]
            )
        elif fact_type is not None and "{surname}" in "".join(fact_type.memory):
            slots["surname"] = self.surnames.pop()
        slots |= {k: v for k, v in value.items() if isinstance(v, str)}
        slots.setdefault("age", "three")  # child_age about a child with no other fact
        return slots

    def add(self, key, topic, template, slots, *, fact_type=None, value=None, tags=()):
        content = template.format_map(slots)
        content = content[0].upper() + content[1:]
        self.facts.append(
            Fact(
                self.persona.uid,
                key,
                topic,
                content,
                tuple(tags),
                slots,
                fact_type,
                value,
            )
        )

    def build_memories(self) -> None:
        rng, persona = self.rng, self.persona
        self.add("job", "work", persona.job, dict(self.forms))
        types = _pick_types(persona, rng)
        present = {t.key for t in types} | set(persona.traits) | {persona.pronoun}
        # Children first, so child_age can refer to an existing child.
        types.sort(key=lambda t: t.key == "child_age")
        for fact_type in types:
            values = [
                v
                for v in fact_type.values
                if _satisfied(v.get("requires", ()), present)
                and not any(ex in present for ex in v.get("excludes", ()))
            ]
            if not values:
                continue
            count = fact_type.min_per_user
            if fact_type.max_per_user > count and rng.random() < 0.5:
                count = fact_type.max_per_user
            count = min(count, len(values))
            for value in rng.sample(values, count):
                slots = self._slots(fact_type, value)
                template = rng.choice(fact_type.memory_templates(value))
                self.add(
                    fact_type.key,
                    fact_type.topic,
                    template,
                    slots,
                    fact_type=fact_type,
                    value=value,
                    tags=fact_type.value_tags(value),
                )
                if fact_type.decoys and rng.random() < DECOY_SHARE:
                    self._add_decoy(fact_type, value)
        for text in rng.sample(NOISE, 8):
            self.add("noise", "noise", text, dict(self.forms))
        contents = [f.content for f in self.facts]
        assert len(set(contents)) == len(contents), (
            f"duplicate memory for {persona.uid}"
        )
        rng.shuffle(self.facts)

    def _add_decoy(self, fact_type: FactType, value: dict) -> None:
        """A memory about another value of the same kind, answering nothing."""
        others = [v for v in fact_type.values if v is not value] or [value]
        slots = self._slots(fact_type, self.rng.choice(others), decoy=True)
        template = self.rng.choice(fact_type.decoys)
        self.add(f"decoy:{fact_type.key}", fact_type.topic, template, slots)

    def build_queries(self) -> list[dict]:
        rng, out = self.rng, []
        for fact in self.facts:
            if fact.key == "noise" or fact.key.startswith("decoy:"):
                continue
            # Every code gets a question: they are few and keyword search's test.
            if fact.key != "reference" and rng.random() > QUERY_SHARE:
                continue
            if fact.key == "job":
                paraphrase, rare = self.persona.job_queries + JOB_QUERIES, ()
            else:
                paraphrase = fact.fact_type.paraphrase_templates(fact.value)
                rare = fact.fact_type.rare_templates(fact.value)
            if rare and (not paraphrase or rng.random() < RARE_SHARE):
                kind = (
                    "code" if "{code}" in rare[0] or "{num}" in rare[0] else "rare_term"
                )
                template = rng.choice(rare)
            elif paraphrase:
                kind, template = "paraphrase", rng.choice(paraphrase)
            else:
                continue
            relevant = [fact]
            if kind == "paraphrase" and fact.fact_type is not None:
                relevant += [f for f in self.facts if f.key in fact.fact_type.also]
            out.append(
                self._query(template.format_map(fact.slots), kind, relevant, fact)
            )
        groups = [(tag, [f for f in self.facts if tag in f.tags]) for tag in GROUPS]
        groups = [(tag, facts) for tag, facts in groups if len(facts) >= 2]
        picked = rng.sample(groups, min(4, len(groups)))
        if {"kids", "family"} <= {tag for tag, _ in picked}:
            picked = [(tag, facts) for tag, facts in picked if tag != "kids"]
        for tag, facts in picked:
            out.append(
                self._query(GROUPS[tag].format_map(self.forms), "multi", facts, None)
            )
        rng.shuffle(out)
        return out

    def _query(self, text, kind, relevant, fact) -> dict:
        text = text[0].upper() + text[1:]
        return {
            "user_id": self.persona.uid,
            "query": text,
            "relevant": [f for f in relevant],
            "kind": kind,
            "fact": fact,
        }


def _words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w[:5] for w in words if len(w) > 2 and w not in STOPWORDS}


def overlap(query: dict) -> float:
    """Share of the query's content words (5-letter prefixes) found in its memory."""
    if query["kind"] == "multi":
        return 0.0
    fact = query["fact"]
    rare: set[str] = set()
    if query["kind"] in ("rare_term", "code"):
        for slot in RARE_SLOTS:
            if slot in fact.slots:
                rare |= _words(fact.slots[slot])
    words = _words(query["query"]) - rare
    if not words:
        return 0.0
    return len(words & _words(fact.content)) / len(words)


def build() -> tuple[list[dict], list[dict], list[tuple[float, str, str]]]:
    """Return (memories, queries, the 15 highest paraphrase overlaps)."""
    builders = [UserBuilder(p) for p in PERSONAS]
    for builder in builders:
        builder.build_memories()
    memories, n = [], 0
    for builder in builders:
        for fact in builder.facts:
            n += 1
            fact.mid = f"m{n:04d}"
            memories.append(
                {
                    "id": fact.mid,
                    "user_id": fact.user,
                    "content": fact.content,
                    "topic": fact.topic,
                    "fact": fact.key,
                }
            )
    queries, worst = [], []
    for builder in builders:
        for query in builder.build_queries():
            score = overlap(query)
            if query["kind"] != "multi":
                worst.append((score, query["query"], query["fact"].content))
            if query["kind"] == "paraphrase" and score > MAX_OVERLAP:  # rare: by design
                raise SystemExit(
                    f"query too close to its memory ({score:.2f}): "
                    f"{query['query']!r} / {query['fact'].content!r}"
                )
            queries.append(
                {
                    "id": f"q{len(queries) + 1:04d}",
                    "user_id": query["user_id"],
                    "query": query["query"],
                    "relevant": sorted(f.mid for f in query["relevant"]),
                    "kind": query["kind"],
                }
            )
    worst.sort(reverse=True)
    return memories, queries, worst[:15]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, don't write")
    args = parser.parse_args(argv)
    memories, queries, worst = build()
    files = {
        DATA_DIR / "memories.jsonl": _jsonl(memories),
        DATA_DIR / "queries.jsonl": _jsonl(queries),
    }
    if args.check:
        stale = [
            p.name
            for p, text in files.items()
            if not p.exists() or p.read_text() != text
        ]
        if stale:
            print(f"out of date: {', '.join(stale)}; run {Path(__file__).name}")
            return 1
        print("retrieval set is up to date")
        return 0
    for path, text in files.items():
        path.write_text(text)
    kinds = Counter(q["kind"] for q in queries)
    per_user = Counter(m["user_id"] for m in memories)
    print(f"{len(memories)} memories, {len(queries)} queries, {len(PERSONAS)} users")
    print(f"memories per user: {min(per_user.values())}-{max(per_user.values())}")
    print("queries by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    multi = [len(q["relevant"]) for q in queries if len(q["relevant"]) > 1]
    print(f"queries with several relevant memories: {len(multi)} (max {max(multi)})")
    print("topics: " + ", ".join(f"{t} {c}" for t, c in Counter(
        m["topic"] for m in memories).most_common()))  # fmt: skip
    print("\nqueries sharing the most words with their memory (rare term left out):")
    for score, query, content in worst:
        print(f"  {score:.2f}  {query}  <-  {content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
