"""`python manage.py import-pipelines FILE`: make a pipeline definition file the active pipelines."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the import-pipelines command."""
    parser = subparsers.add_parser(
        "import-pipelines",
        help="validate a pipeline definition file (JSON or YAML, MODELS.md) and make it the "
             "active pipelines; importing the active one again changes nothing",
    )
    parser.add_argument("file", help="the definition file: .json, else read as YAML")
    parser.add_argument("--check", action="store_true", help="validate only; write nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import (or with --check only validate) the file; print what happened.

    Raises DefinitionError (every problem of the file), DependencyUnavailable.
    """
    from shared.pipeline.definitions import read_definition_file
    from shared.services.pipelines import import_definition

    definition = read_definition_file(args.file)
    summary = (f"{len(definition.pipelines)} pipeline(s), default {definition.default_pipeline.name!r}; "
               f"{len(definition.models)} model(s)")
    if args.check:
        print(f"{definition.source} (version {definition.version}) is valid: {summary}")
        return 0
    result = import_definition(definition)
    if not result.changed:
        print(f"{definition.source} (version {definition.version}) is already the active "
              "definition: nothing changed")
    else:
        print(f"imported {definition.source} (version {definition.version}): {summary}; "
              f"{result.retired} pipeline(s) made inactive")
    return 0
