"""The command-line reference, generated from the parser the command itself runs
(:func:`symgrad.cli.build_parser`): the commands in :data:`symgrad.cli.COMMANDS` order,
each with its description, usage, a table of its arguments and its epilog.

``{symgrad-cli}`` in a page.
"""

from __future__ import annotations

import argparse

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from symgrad.cli import COMMANDS, build_parser

from . import nodes as n

__all__ = ["CliDirective"]

_WIDTH = 88  # columns of the usage lines, whatever the terminal that builds the docs


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return parser.formatter_class(prog=parser.prog, width=_WIDTH)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    value = "" if action.nargs == 0 else " " + (action.metavar or action.dest.upper())
    return ", ".join(option + value for option in action.option_strings)


def _arguments(parser: argparse.ArgumentParser) -> nodes.Node:
    formatter = _formatter(parser)
    rows: list[list[nodes.Node | str]] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        text = formatter._expand_help(action) if action.help else ""
        if action.choices is not None:
            text += f" (one of: {', '.join(map(str, action.choices))})"
        if action.nargs in ("+", "*"):
            text += " (one or more)" if action.nargs == "+" else " (any number)"
        rows.append([n.literal(_argument(action)), text.strip()])
    if not rows:
        return n.paragraph("No arguments.")
    return n.table(["argument", "what it does"], rows, [30, 70])


class CliDirective(SphinxDirective):
    """``{symgrad-cli}``: the command's usage and commands, then one section per command."""

    def run(self) -> list[nodes.Node]:
        parser = build_parser()
        commands = _subcommands(parser)
        helps = {a.dest: a.help or "" for a in commands._choices_actions}
        out: list[nodes.Node] = [
            n.literal_block(_usage(parser)),
            n.table(["command", "what it does"],
                    [[n.literal(f"symgrad {name}"), helps.get(name, "")] for name in COMMANDS],
                    [25, 75])]
        for name in COMMANDS:
            sub = commands.choices[name]
            section = n.section(self.state.document, f"symgrad {name}", f"command-{name}")
            section += n.paragraph(sub.description or helps.get(name, ""))
            section += n.literal_block(_usage(sub))
            section += _arguments(sub)
            if sub.epilog:  # what `--help` prints below the arguments (the exit rule)
                section += n.paragraph(sub.epilog)
            out.append(section)
        return out
