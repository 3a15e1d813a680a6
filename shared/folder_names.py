"""Folder names: the rules every name follows, and the default folder's name.

A name (checked by `valid_folder_name`) is 1 to 100 characters once stripped and
NFC-normalised; letters and digits of any script, spaces and `- _ . , ( ) + # :`, with
at least one letter or digit; no `..`; not a UUID (routes accept an id or a name).
Slashes, backslashes, quotes, `<>`, `;`, `=` and control characters are refused: a name
is shown in web pages and is never needed to hold them. Names are unique per user
regardless of case. They never reach blob paths, and SQL always takes them as parameters.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from shared.errors import BadRequest

# Every user has it from registration; /inf stores into it when no folder is named.
DEFAULT_FOLDER = "General"
FOLDER_NAME_MAX = 100
_NAME_CHARS = re.compile(r"[\w .,()+#:-]+")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def valid_folder_name(value: str, field: str = "folder_name") -> str:
    """`value` stripped and NFC-normalised, if it follows the folder name rules of this
    module's docstring. Raises BadRequest naming `field` and the rule broken."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise BadRequest(f"{field} is empty")
    if len(name) > FOLDER_NAME_MAX:
        raise BadRequest(f"{field} is longer than {FOLDER_NAME_MAX} characters")
    if "/" in name or "\\" in name:
        raise BadRequest(f"{field} may not contain / or \\")
    if not _NAME_CHARS.fullmatch(name):
        raise BadRequest(f"{field} may only hold letters, digits, spaces and - _ . , ( ) + # :")
    if ".." in name or not _LETTER_OR_DIGIT.search(name):
        raise BadRequest(f"{field} must hold a letter or a digit and may not contain '..'")
    try:
        uuid.UUID(name)
    except ValueError:
        return name
    raise BadRequest(f"{field} may not be an id")
