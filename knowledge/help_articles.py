"""A shop's help centre as passages: Markdown or HTML files in one folder, split by section.

Each file is one article; its slug is the file name without the extension. The title is the
first `#` heading (`<h1>` or `<title>` in HTML), else the slug. Every `##`/`###` section (the
text before the first one, too) becomes a passage; a long section is cut at paragraph
boundaries so that a passage stays about one answer long. A passage is embedded with its
article's title and section heading, because "How long does it take?" means nothing without
"Delivery options" above it.

Reading is all or nothing: a folder with an unreadable or empty article raises HelpError naming
every such file, and nothing is indexed, so a half-imported help centre never answers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MARKDOWN = (".md", ".markdown")
HTML = (".html", ".htm")
SUFFIXES = MARKDOWN + HTML
# A passage is about one answer: longer sections are cut at paragraph boundaries.
MAX_PASSAGE_WORDS = 140
MAX_ARTICLE_BYTES = 1_000_000


class HelpError(ValueError):
    """A help folder or article that cannot be indexed."""


@dataclass(frozen=True)
class Passage:
    slug: str
    title: str
    heading: str
    text: str  # plain text, paragraphs separated by blank lines, list items as "• "

    def embedding_text(self) -> str:
        head = self.title if self.heading in ("", self.title) else f"{self.title}: {self.heading}"
        return f"{head}. {self.text}"

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.embedding_text().encode("utf-8")).hexdigest()[:16]

    def to_record(self) -> dict:
        return {"slug": self.slug, "title": self.title, "heading": self.heading, "text": self.text}

    @classmethod
    def from_record(cls, record: dict) -> Passage:
        return cls(slug=record["slug"], title=record["title"], heading=record["heading"],
                   text=record["text"])


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    path: Path
    passages: tuple[Passage, ...]


# --- Markdown -----------------------------------------------------------------------------
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")


def _inline(text: str) -> str:
    return _EMPHASIS.sub("", _LINK.sub(r"\1", text)).strip()


def _markdown_blocks(source: str) -> tuple[str | None, list[tuple[str, list[str]]]]:
    """(title, [(heading, paragraphs)]) of a Markdown article."""
    title: str | None = None
    sections: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            sections[-1][1].append("\n".join(paragraph))
            paragraph.clear()

    for raw in source.splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if heading:
            close()
            text = _inline(heading.group(2))
            if len(heading.group(1)) == 1 and title is None:
                title = text
            else:
                sections.append((text, []))
        elif not line.strip():
            close()
        elif line.lstrip().startswith("|"):
            if not _TABLE_RULE.match(line):
                cells = [_inline(c) for c in line.strip().strip("|").split("|")]
                paragraph.append(" · ".join(c for c in cells if c))
        elif _BULLET.match(line):
            paragraph.append("• " + _inline(_BULLET.sub("", line)))
        else:
            paragraph.append(_inline(line))
    close()
    return title, sections


# --- HTML ---------------------------------------------------------------------------------
class _HtmlArticle(HTMLParser):
    BLOCKS = {"p", "li", "tr", "div", "br", "dd", "dt", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.sections: list[tuple[str, list[str]]] = [("", [])]
        self._text: list[str] = []
        self._in: str | None = None  # "title" | "h1" | "h2" while inside one
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "nav", "footer"):
            self._skip += 1
        elif tag in ("title", "h1", "h2", "h3", "h4"):
            self._flush()
            self._in = tag
        elif tag in self.BLOCKS:
            self._flush()
            if tag == "li":
                self._text.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "nav", "footer"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("title", "h1", "h2", "h3", "h4") and self._in == tag:
            text = " ".join("".join(self._text).split())
            self._text = []
            self._in = None
            if tag in ("title", "h1"):
                self.title = self.title or text or None
            elif text:
                self.sections.append((text, []))
        elif tag in self.BLOCKS or tag in ("td", "th"):
            if tag in ("td", "th"):
                self._text.append(" · ")
            else:
                self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._text.append(data)

    def _flush(self) -> None:
        if self._in:
            return
        text = " ".join("".join(self._text).split()).strip(" ·")
        self._text = []
        if text and text != "•":
            self.sections[-1][1].append(text)

    def close(self) -> None:
        super().close()
        self._flush()


def _html_blocks(source: str) -> tuple[str | None, list[tuple[str, list[str]]]]:
    parser = _HtmlArticle()
    parser.feed(source)
    parser.close()
    return parser.title, parser.sections


# --- articles -----------------------------------------------------------------------------
def _chunks(paragraphs: list[str]) -> list[str]:
    """Paragraphs joined into passages of at most MAX_PASSAGE_WORDS words (a longer single
    paragraph stays whole: cutting a sentence in half would answer with half a rule)."""
    chunks: list[list[str]] = [[]]
    words = 0
    for paragraph in paragraphs:
        size = len(paragraph.split())
        if chunks[-1] and words + size > MAX_PASSAGE_WORDS:
            chunks.append([])
            words = 0
        chunks[-1].append(paragraph)
        words += size
    return ["\n\n".join(chunk) for chunk in chunks if chunk]


def parse_article(path: Path) -> Article:
    """One article file; HelpError when it cannot be read or says nothing."""
    path = Path(path)
    slug = path.stem
    if not re.fullmatch(r"[\w][\w.-]*", slug):
        raise HelpError(f"{path.name}: the file name must be a plain slug (letters, digits, - _ .)")
    try:
        if path.stat().st_size > MAX_ARTICLE_BYTES:
            raise HelpError(f"{path.name}: larger than {MAX_ARTICLE_BYTES // 1000} kB")
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HelpError(f"{path.name}: not UTF-8 text") from None
    except OSError as exc:
        raise HelpError(f"{path.name}: cannot be read ({exc.strerror})") from None
    title, sections = (_html_blocks if path.suffix.lower() in HTML else _markdown_blocks)(source)
    title = title or slug.replace("-", " ").replace("_", " ").capitalize()
    passages = tuple(
        Passage(slug=slug, title=title, heading=heading or title, text=chunk)
        for heading, paragraphs in sections
        for chunk in _chunks(paragraphs)
    )
    if not passages:
        raise HelpError(f"{path.name}: no text under its headings")
    return Article(slug=slug, title=title, path=path, passages=passages)


def article_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise HelpError(f"no help folder at {folder}")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def load_folder(folder: Path) -> list[Article]:
    """Every article in `folder`, or HelpError listing every file that is wrong."""
    files = article_files(folder)
    if not files:
        raise HelpError(f"{folder} holds no help articles (.md, .markdown, .html, .htm)")
    articles, problems = [], []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            article = parse_article(path)
        except HelpError as exc:
            problems.append(str(exc))
            continue
        if article.slug in seen:
            problems.append(f"{path.name}: the same article name as {seen[article.slug].name}")
            continue
        seen[article.slug] = path
        articles.append(article)
    if problems:
        raise HelpError(f"{len(problems)} help article(s) in {folder} cannot be indexed, nothing "
                        "was changed:\n" + "\n".join(f"  {p}" for p in problems))
    return articles


def folder_state(folder: Path) -> dict:
    """A cheap probe that moves whenever an article is added, removed or edited."""
    files = article_files(folder)
    return {"files": [[p.name, p.stat().st_mtime_ns, p.stat().st_size] for p in files]}
