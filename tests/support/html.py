"""A page's elements as the tests read them: every start tag with its attributes, its text, and the elements it is
inside (enough to find a label for a field, a form's action, a table's cells)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Elements(HTMLParser):
    """Every start tag of a page, with its attributes and the text up to its end (enough for these checks)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "track", "wbr", "area", "base", "col", "embed"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "", "inside": list(self._open)}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data


def elements(html: str) -> list[dict]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def find(html: str, tag: str, **attrs) -> list[dict]:
    return [e for e in elements(html) if e["tag"] == tag
            and all(e["attrs"].get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]


def classes(element: dict) -> set[str]:
    return set(element["attrs"].get("class", "").split())


def text(element: dict) -> str:
    return " ".join(element["text"].split())
