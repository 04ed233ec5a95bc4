"""How ``%nest_cluster`` reads its line: a trailing ``# comment`` is a comment, as the README's first example
writes it (IPython passes it to the magic as arguments), and an option a subcommand does not read is
refused before anything runs, not ignored."""

from __future__ import annotations

import re

import pytest

import jupyter_nest
from jupyter_nest import NestError
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


@pytest.mark.parametrize(("line", "message"), [
    ("status --workers 4", "status takes no --workers (options of start)"),
    ("start --timeout 3", "start takes no --timeout (options of connect)"),
    ("connect tcp://127.0.0.1:1 --workers 2 --no-processes", "connect takes no --workers, --no-processes (options of start)"),
    ("scale 3 --ssh node1", "scale takes no --ssh (options of start)"),
    ("stop --no-dashboard", "stop takes no --dashboard/--no-dashboard (options of start)"),
    ("widget --workers 2 --timeout 3", "widget takes no --workers, --timeout. See"),
])
def test_an_option_the_subcommand_does_not_read_is_refused(ipython, line, message):
    with pytest.raises(NestError, match=re.escape(message)):
        ipython.run_line_magic("nest_cluster", line)
    assert jupyter_nest.current() is None
