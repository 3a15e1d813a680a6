"""`python manage.py import-pipelines FILE | --blob`: make a pipeline definition the active pipelines."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the import-pipelines command."""
    parser = subparsers.add_parser(
        "import-pipelines",
        help="validate a pipeline definition (a JSON or YAML file, MODELS.md, or the blob kept "
             "in Blob Storage) and make it the active pipelines; importing the active one again "
             "changes nothing",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?",
                        help="the definition file: .json, else read as YAML; in MODELS.md's format "
                             "or in the blob's (endpoints and keys encrypted)")
    source.add_argument("--blob", action="store_true",
                        help="read pipelines/<NACHET_BLOB_PIPELINE_VERSION>.json from the container "
                             "NACHET_BLOB_PIPELINE_NAME, decrypted with NACHET_BLOB_PIPELINE_DECRYPTION_KEY")
    parser.add_argument("--check", action="store_true", help="validate only; write nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import (or with --check only validate) the definition; print what happened.

    Raises DefinitionError (every problem of the definition), ConfigurationError (a
    setting that reading it needs is not set), DependencyUnavailable.
    """
    from shared.pipeline.definition_sources import read_definition_blob, read_definition_file
    from shared.services.pipelines import import_definition

    definition = read_definition_blob() if args.blob else read_definition_file(args.file)
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
