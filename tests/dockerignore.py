"""Which files of a build context Docker sends, by the rules of its `.dockerignore`.

No Docker engine runs where the tests do, so the image tests ask this module instead. It follows the rules
Docker documents for `.dockerignore` and implements in moby's `patternmatcher` and `ignorefile` (read for the
behaviour, written here anew):

- one pattern a line; a line starting with `#` is a comment; surrounding whitespace is trimmed; empty lines skipped;
- a pattern is cleaned like Go's `filepath.Clean` and a leading `/` dropped: every pattern is anchored at the
  context root (unlike `.gitignore`, `foo` excludes `./foo` only, never `a/foo`; `**/foo` is needed for that);
- `*` is any run of characters but `/`, `?` one such character, `[...]` a class, `\\` escapes the next character,
  `**` any number of directories, none included;
- a pattern that matches a directory excludes everything below it;
- `!` makes an exception; the last pattern that matches a path decides.

`pathspec` (the usual Python library) implements `.gitignore`, whose unanchored patterns would make this test
disagree with Docker, hence this small module.
"""

import os
import posixpath
import re
from pathlib import Path

# Characters with a meaning in a regular expression but none in a Docker pattern.
REGEX_ONLY = set(".+()|{}$")


class Pattern:
    """One cleaned pattern, with moby's four ways of matching (exact, prefix, suffix, regular expression)."""

    def __init__(self, text):
        self.exception = text.startswith("!")
        self.text = text[1:] if self.exception else text
        if not self.text:
            raise ValueError('illegal exception pattern: "!"')
        self.kind, self.regex = compile_pattern(self.text)

    def matches(self, path):
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.regex.match(path) is not None

    def matches_or_parent_matches(self, path):
        """True if the pattern matches `path` or one of the directories above it."""
        if self.matches(path):
            return True
        parts = path.split("/")[:-1]
        return any(self.matches("/".join(parts[: index + 1])) for index in range(len(parts)))

    def literal_prefix(self):
        """The pattern up to its first wildcard: every path it can match starts with this text."""
        return re.split(r"[*?\[\\]", self.text, maxsplit=1)[0]


def compile_pattern(text):
    """(kind, compiled regular expression or None) for a cleaned pattern, as moby's Pattern.compile decides."""
    regex = "^"
    kind = "exact"
    index = 0
    while index < len(text):
        at_start = index == 0
        char = text[index]
        index += 1
        if char == "*" and text.startswith("*", index):
            index += 1
            if text.startswith("/", index):
                index += 1
            if index == len(text):
                # A trailing `**` accepts everything below, as in .gitignore.
                if kind == "exact":
                    kind = "prefix"
                else:
                    kind, regex = "regex", regex + ".*"
            else:
                kind, regex = "regex", regex + "(.*/)?"
            if at_start:
                kind = "suffix"
        elif char == "*":
            kind, regex = "regex", regex + "[^/]*"
        elif char == "?":
            kind, regex = "regex", regex + "[^/]"
        elif char in REGEX_ONLY:
            regex += "\\" + char
        elif char == "\\":
            if index < len(text):
                kind, regex = "regex", regex + re.escape(text[index])
                index += 1
            else:
                regex += "\\\\"
        elif char in "[]":
            kind, regex = "regex", regex + char
        else:
            regex += char
    if kind != "regex":
        return kind, None
    return kind, re.compile(regex + r"\Z")


def clean(text):
    """Go's filepath.Clean on a slash path: no repeated or trailing `/`, no `.` parts, `..` resolved."""
    cleaned = posixpath.normpath(text)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


def read_patterns(text):
    """The patterns of a .dockerignore file, in order, as Docker reads them."""
    patterns = []
    for line in text.lstrip("\ufeff").splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        if line:
            line = clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(Pattern("!" + line if exception else line))
    return patterns


class DockerIgnore:
    """The exclusion rules of one build context."""

    def __init__(self, patterns):
        self.patterns = patterns

    @classmethod
    def of_context(cls, root):
        path = Path(root) / ".dockerignore"
        return cls(read_patterns(path.read_text()) if path.exists() else [])

    def excludes(self, path):
        """True if the file or directory at `path` (relative, `/`-separated) is left out of the context."""
        path = clean(path)
        excluded = False
        for pattern in self.patterns:
            # An exclusion cannot change an excluded path, nor an exception a kept one.
            if pattern.exception != excluded:
                continue
            if pattern.matches_or_parent_matches(path):
                excluded = not pattern.exception
        return excluded

    def may_keep_below(self, directory):
        """False when no exception can bring back a file under an excluded `directory`, so a walk may skip it."""
        below = directory + "/"
        for pattern in self.patterns:
            prefix = pattern.literal_prefix()
            if pattern.exception and (prefix.startswith(below) or below.startswith(prefix)):
                return True
        return False

    def files(self, root):
        """Every file of the build context at `root`, relative and `/`-separated, after the exclusions."""
        root = Path(root)
        for current, directories, names in os.walk(root):
            base = Path(current).relative_to(root).as_posix()
            base = "" if base == "." else base + "/"
            directories[:] = [
                name for name in directories if not self.excludes(base + name) or self.may_keep_below(base + name)
            ]
            for name in names:
                if not self.excludes(base + name):
                    yield base + name
