"""Model labels matched to the seed catalogue (MODELS.md): which seed a label names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.db.pool import Connection
from shared.db.queries import seeds
from shared.db.queries.seeds import Seed
from shared.pipeline.postprocess import strip_catalogue_number


def clean_label(text: str) -> str:
    """A seed's name as a user typed it (a feedback label, an upload's seed_name): its
    white space collapsed to single spaces, without surrounding white space, literal
    quotes (the web client may wrap free text in them) or a catalogue number."""
    label = " ".join(text.split())
    while len(label) >= 2 and label[0] == label[-1] == '"':
        label = label[1:-1].strip()
    return strip_catalogue_number(label)


def match_label(label: str, catalogue: Sequence[Seed]) -> Seed | None:
    """The seed that `label` names, case-insensitively: the seed of that exact name, else
    the first seed whose name ends with the label as a whole word ("trifida" names
    "Ambrosia trifida"), else None."""
    key = label.strip().lower()
    if not key:
        return None
    for seed in catalogue:
        if seed.name.lower() == key:
            return seed
    for seed in catalogue:
        if seed.name.lower().endswith(" " + key):
            return seed
    return None


def resolve_labels(
    conn: Connection, labels: Iterable[tuple[str, bool]], *, add: bool = True,
) -> dict[tuple[str, bool], Seed | None]:
    """The seed named by each (label, from_classifier) pair. A classifier's label that
    names no seed is added to the catalogue (unless not `add`: then it names none); a
    detector's own label (such as `seed`) names a seed only when it is exactly a seed's
    name, and is never added."""
    catalogue = seeds.list_all(conn)
    found: dict[tuple[str, bool], Seed | None] = {}
    for label, from_classifier in labels:
        seed = match_label(label, catalogue)
        if not from_classifier and seed and seed.name.lower() != label.strip().lower():
            seed = None
        found[label, from_classifier] = seed
    missing = {label.strip().lower(): label.strip()
               for (label, from_classifier), seed in found.items()
               if from_classifier and seed is None and label.strip()}
    if missing and add:
        added = {seed.name.lower(): seed for seed in seeds.insert_missing(conn, list(missing.values()))}
        for label, from_classifier in found:
            if from_classifier and found[label, from_classifier] is None:
                found[label, from_classifier] = added.get(label.strip().lower())
    return found
