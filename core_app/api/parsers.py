"""The API's JSON parser: DRF's, refusing text that is not Unicode.

JSON lets a string hold an unpaired `\\ud800`-`\\udfff` escape; Python decodes it to a lone
surrogate, which no UTF-8 encoder accepts. Left in, it failed far from the request: PostgreSQL's
driver refused to store it, and DRF's renderer to echo it (both a 500). It is refused here, once
for every endpoint, with a 400 naming the field. A paired escape (`\\ud83d\\ude00`) is one
character and is accepted.
"""

import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

SURROGATE = re.compile("[\ud800-\udfff]")


def find_lone_surrogate(data):
    """(path, code point) of the first string or key holding a lone surrogate, else None."""
    pending = [("", data)]
    while pending:  # no recursion: the body's depth is the client's choice
        path, value = pending.pop()
        if isinstance(value, str):
            found = SURROGATE.search(value)
            if found:
                return path or "the body", ord(found.group())
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                pending.append((child, item))
                pending.append((child + " (a key)", key))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser plus: lone surrogates and over-deep nesting are a 400 with a message."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        found = find_lone_surrogate(data)
        if found is not None:
            path, code = found
            safe_path = path.encode("utf-8", "backslashreplace").decode("utf-8")
            raise ParseError(
                f"JSON parse error - {safe_path} holds a lone surrogate (\\u{code:04x}): "
                "\\ud800-\\udfff escapes must come in pairs that make one character."
            )
        return data
