"""One CLI vocabulary: every subcommand's parser walked, the same name for the same thing everywhere, the other
spellings kept as documented deprecated aliases, choices and units in the help."""

import re

import pytest

from fastdds import cli
from fastdds.commands import _common

PARSER = cli.build_parser()
LEAVES = {" ".join(path[1:]): p for path, p in cli.parsers(PARSER)
          if not any(a.__class__.__name__ == "_SubParsersAction" for a in p._actions)}
OPTIONS = [(name, a) for name, p in LEAVES.items() for a in p._actions if a.option_strings and a.dest != "help"]
NUMERIC = {int, float, _common.count, _common.positive, _common.nonnegative, _common.finite}

SYNONYMS = {"--nx": "--n", "--t-end": "--t", "--runs": "--seeds"}
"""The name chosen for a thing -> its other spelling, a deprecated alias wherever it is accepted."""

def _help(parser, action):
    return parser._get_formatter()._expand_help(action) if action.help else ""


def test_the_walk_reaches_every_subcommand():
    assert {"solve burgers", "solve eikonal", "compare", "evaluate", "info", "summarize", "reproduce all",
            "reproduce dynpmnn", "reproduce eikonal", "reproduce burgers-viscous"} <= set(LEAVES)


def test_one_primary_name_per_thing_and_aliases_documented():
    primary = {a.option_strings[0] for _, a in OPTIONS}
    aliases = {s for _, a in OPTIONS for s in a.option_strings[1:]}
    assert not primary & aliases, f"spelled as a primary name and as an alias: {primary & aliases}"
    for chosen, other in SYNONYMS.items():
        assert other not in primary and chosen not in aliases
    for name, a in OPTIONS:
        for alias in a.option_strings[1:]:
            assert f"{alias} is a deprecated alias" in a.help, (name, alias)
    by_dest = {}
    for name, a in OPTIONS:
        by_dest.setdefault(a.dest, set()).add(a.option_strings[0])
    assert {d: s for d, s in by_dest.items() if len(s) > 1} == {}
    assert cli.deprecated_aliases(PARSER) == {"--n": "--nx", "--t": "--t-end", "--seeds": "--runs"}


def test_deprecated_alias_still_works_and_says_so(capsys):
    assert cli.main(["solve", "eikonal", "--problem", "time1d", "--n", "21"]) == 0
    assert "note: --n is a deprecated alias of --nx" in capsys.readouterr().err
    args = PARSER.parse_args(["reproduce", "dynpmnn", "--seeds", "3"])
    assert args.runs == 3
    assert PARSER.parse_args(["solve", "burgers", "--t", "0.2"]).t_end == 0.2


NUMERIC_OPTIONS = [(n, a.option_strings[0]) for n, a in OPTIONS
                   if a.type in NUMERIC or (a.choices and all(isinstance(c, int) for c in a.choices))]


@pytest.mark.parametrize("name, option", NUMERIC_OPTIONS)
def test_every_numeric_option_has_units_in_its_help(name, option):
    action = next(a for a in LEAVES[name]._actions if option in a.option_strings)
    assert re.search(r"\[[^\]]+\]", action.help or ""), f"{name} {option}: no [units] in {action.help!r}"


def test_every_choice_is_listed_in_the_help():
    for name, a in OPTIONS:
        if a.choices:
            text = _help(LEAVES[name], a)
            missing = [c for c in a.choices if str(c) not in text]
            assert not missing, f"{name} {a.option_strings[0]}: help {text!r} does not list {missing}"


def test_gpu_is_offered_only_where_it_runs():
    offers = {name for name, a in OPTIONS if a.dest == "backend" and "gpu" in a.choices}
    assert {"solve burgers", "solve eikonal"} <= offers  # their kernels have GPU twins and callers
    assert not offers & {n for n in LEAVES if n.startswith("reproduce ")
                         and n[10:] in ("eikonal", "burgers-viscous", "burgers-inviscid", "raissi-burgers")}


def test_every_runs_option_says_which_seeds_it_runs():
    for name, a in OPTIONS:
        if a.dest == "runs":
            assert re.search(r"seeds? \S+\.\.", a.help), (name, a.help)


def test_burgers_names_match_the_solver():
    from fastdds.commands import solve_burgers as C
    from fastdds.pde import burgers as B

    assert C.SCHEMES == tuple(sorted(B.PRESETS)) and C.FLUXES == tuple(sorted(B.FLUXES))
    assert C.LIMITERS == tuple(sorted(B.LIMITERS)) and C.RKS == tuple(sorted(B.RK))
