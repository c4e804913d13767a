"""Every relative link and anchor in README.md and docs/ resolves, by GitHub's heading rules."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 250  # the front page; manuals go in docs/

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
# [text](target "title") and ![alt](target); the text may span lines, not paragraphs.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", re.M)
HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]*)\"", re.I)
HTML_ANCHOR = re.compile(r"<[^>]+\b(?:id|name)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lowercased, punctuation dropped
    (letters, digits, '-', '_' and spaces stay), each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")  # inline HTML tags, code marks
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)  # emphasis marks, not snake_case
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def prose_lines(text: str) -> list[str]:
    """The page's lines with fenced code blocks blanked out (links there are examples)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if (
                m
                and m.group(1)[0] == fence[0]
                and len(m.group(1)) >= len(fence)
                and not line.strip().strip(fence[0])
            ):
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def anchors(text: str) -> set[str]:
    """The anchors a page offers: its headings' slugs, duplicates as slug-1, slug-2, ...,
    and explicit HTML ids."""
    lines = prose_lines(text)
    headings = []
    for i, line in enumerate(lines):
        m = ATX.match(line)
        if m:
            headings.append(m.group(1) or "")
        elif (
            SETEXT.match(line)
            and i > 0
            and lines[i - 1].strip()
            and not lines[i - 1].lstrip().startswith(("|", "-", "*", ">"))
            and not ATX.match(lines[i - 1])
        ):
            headings.append(lines[i - 1].strip())
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in headings:
        base = slug = slugify(heading)
        while slug in found:  # GitHub: the second "x" is x-1, the third x-2, ...
            seen[base] = seen.get(base, 0) + 1
            slug = f"{base}-{seen[base]}"
        found.add(slug)
    return found | set(HTML_ANCHOR.findall("\n".join(lines)))


def links(text: str) -> list[str]:
    """Every link target of a page outside code: inline, reference definitions, HTML."""
    prose = CODE_SPAN.sub("", "\n".join(prose_lines(text)))
    targets = [t.strip("<>") for t in INLINE.findall(prose)]
    return targets + REFERENCE.findall(prose) + HTML.findall(prose)


def broken_links(page: Path, text: str | None = None, root: Path = ROOT) -> list[str]:
    """What is wrong with a page's relative links: a missing file or a missing anchor."""
    text = page.read_text(encoding="utf-8") if text is None else text
    problems = []
    for target in links(text):
        if not target or SCHEME.match(target):
            continue  # http(s), mailto, ...: not ours to check offline
        path, _, fragment = target.partition("#")
        dest = (page.parent / unquote(path)).resolve() if path else page
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{target}: outside the repository")
        elif path and not dest.exists():
            problems.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md":
            dest_text = text if dest == page else dest.read_text(encoding="utf-8")
            if unquote(fragment) not in anchors(dest_text):
                problems.append(f"{target}: no heading '#{fragment}' in {dest.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_links_every_docs_page_and_stays_a_front_page() -> None:
    text = README.read_text(encoding="utf-8")
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(text)}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []
    assert len(text.splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Precision, providers and batching", "precision-providers-and-batching"),
        ("`make run`", "make-run"),
        (
            "Inference: int8, compiled refinement, OpenVINO (issue 12)",
            "inference-int8-compiled-refinement-openvino-issue-12",
        ),
        ("Accounts and credits (admin CLI)", "accounts-and-credits-admin-cli"),
        ("Migrating from remove.bg", "migrating-from-removebg"),
        ("`MODEL_NAME` and *friends*", "model_name-and-friends"),
        ("[Link](x.md) text", "link-text"),
        ("A  -- B", "a-----b"),
        ("Größe ändern", "größe-ändern"),
    ],
)
def test_slugify_follows_githubs_rules(heading: str, slug: str) -> None:
    assert slugify(heading) == slug


def test_duplicate_headings_get_numbered_anchors() -> None:
    text = "# Notes\n\n## Notes\n\n### Notes\n\nSetext\n------\n"
    assert anchors(text) == {"notes", "notes-1", "notes-2", "setext"}


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Right place\n")
    (tmp_path / "docs" / "chart.png").write_bytes(b"")
    page = tmp_path / "README.md"
    text = "\n".join(
        [
            "# Title",
            "",
            "[ok](docs/other.md#right-place), [ok too](#title), ![img](docs/chart.png),",
            "[no file](docs/missing.md), [no anchor](docs/other.md#wrong-place), [self](#nowhere),",
            "[image moved](chart.png), [web](https://example.com/x#y), [mail](mailto:a@b.c),",
            "`[in code](docs/nope.md)`",
            "",
            "```md",
            "[in a fence](docs/nope.md)",
            "```",
            "",
            "[spans a",
            "line](docs/other.md#right-place) [escape](../outside.md)",
        ]
    )
    assert broken_links(page, text, root=tmp_path) == [
        "docs/missing.md: no such file",
        "docs/other.md#wrong-place: no heading '#wrong-place' in other.md",
        "#nowhere: no heading '#nowhere' in README.md",
        "chart.png: no such file",
        "../outside.md: outside the repository",
    ]
