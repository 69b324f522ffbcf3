"""Word-level differences between two versions of a memory's content."""

import difflib
import re

# Words and the whitespace after them stay together, so a diff reads as text.
_TOKENS = re.compile(r"\S+\s*|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``[(op, text)]`` with ``op`` one of ``"same"``, ``"del"``, ``"ins"``,
    in reading order: deletions before the insertions that replace them."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    segments: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(before[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("del", "".join(before[i1:i2])))
        if j2 > j1:
            segments.append(("ins", "".join(after[j1:j2])))
    return segments
