"""Why an IKE attempt failed, from the charon log lines of that attempt: one mechanism
for both ends. A table of rules maps log lines to reasons; the SeGW's table is in
lab.nodes.segw.auth. The mechanism has no SeGW knowledge, so the HNB's table
(lab.nodes.hnb.network) can run on it too.

- A rule's `kind` groups reasons: only the first reason of each kind is said, in the
  order the lines came.
- A `fact` rule says nothing itself: it remembers group 1 of the first line it matches
  (the certificate received, the identity claimed) for the meanings of other rules, read
  from all lines, so a fact logged after the failure still counts.
- A `consequence` rule is said only when no other reason was found: "no trusted public
  key" is what an unknown CA or an expired certificate ends in, and on its own means the
  certificate does not prove the identity claimed.
- `needs` names the facts a cause's meaning uses: until they are known too, `complete`
  says the lines may not tell the whole story yet (log lines can arrive late).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

# A template (\1 = the line's groups) or a function of the match and the facts.
Meaning = str | Callable[[re.Match[str], Mapping[str, str]], str]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    kind: str
    meaning: Meaning = ""
    fact: bool = False
    consequence: bool = False
    needs: tuple[str, ...] = ()


def rule(pattern: str, kind: str, meaning: Meaning = "", *, fact: bool = False,
         consequence: bool = False, needs: tuple[str, ...] = ()) -> Rule:
    return Rule(re.compile(pattern), kind, meaning, fact, consequence, needs)


def facts(lines: Iterable[str], rules: Iterable[Rule]) -> dict[str, str]:
    out: dict[str, str] = {}
    fact_rules = [r for r in rules if r.fact]
    for line in lines:
        for r in fact_rules:
            if r.kind not in out and (m := r.pattern.search(line)):
                out[r.kind] = m.group(1)
    return out


def _reasons(lines: list[str], rules: list[Rule]
             ) -> tuple[dict[str, str], dict[str, str], bool]:
    """(causes, consequences) by kind, and whether every cause has the facts it needs."""
    known = facts(lines, rules)
    causes: dict[str, str] = {}
    effects: dict[str, str] = {}
    whole = True
    said = [r for r in rules if not r.fact]
    for line in lines:
        for r in said:
            m = r.pattern.search(line)
            if m:
                text = r.meaning(m, known) if callable(r.meaning) else m.expand(r.meaning)
                (effects if r.consequence else causes).setdefault(r.kind, text)
                whole = whole and (r.consequence or all(f in known for f in r.needs))
                break
    return causes, effects, whole


def explain(lines: list[str], rules: list[Rule]) -> str | None:
    """The reasons `lines` give, "; "-joined; None when no line says why."""
    causes, effects, _ = _reasons(lines, rules)
    return "; ".join((causes or effects).values()) or None


def complete(lines: list[str], rules: list[Rule]) -> bool:
    """Whether `lines` give a cause (not only a consequence), with the facts it needs."""
    causes, _, whole = _reasons(lines, rules)
    return bool(causes) and whole
