"""A line magic's trailing ``# comment`` is a comment, as the README's first example writes it
(IPython passes it to the magic as arguments)."""

from __future__ import annotations

import pytest

from jupyter_nest.magics import NestMagics, parse, without_comment


@pytest.mark.parametrize(("line", "expected"), [
    ("start            # a local cluster on 127.0.0.1", "start"),
    ("scale 4 #four", "scale 4"),
    ("# nothing but a comment", ""),
    ("start --option name='a # b'", "start --option name='a # b'"),
    ('start --remote-python "conda run -n x#1 python"', 'start --remote-python "conda run -n x#1 python"'),
    ("connect tcp://host:8786#frag", "connect tcp://host:8786#frag"),
])
def test_a_trailing_comment_is_not_an_argument(line, expected):
    assert without_comment(line) == expected


def test_the_magic_parses_a_commented_line():
    args = parse(NestMagics.nest_cluster, "scale 4   # resize")
    assert (args.action, args.target) == ("scale", "4")
