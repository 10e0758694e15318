"""HTML articles get their headline as title, not a <title> with the site's name appended."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.readers import read_path

BODY = "<p>Floodwater reached the town hall on Monday, the mayor said.</p>"


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        ('<title>Flood hits town | Daily Gazette</title><meta property="og:site_name" content="Daily Gazette">',
         f"<article><h1>Flood hits town</h1>{BODY}</article>", "Flood hits town"),
        ("<title>Flood hits town - Daily Gazette</title>", BODY, "Flood hits town"),
        ('<meta property="og:title" content="Flood hits the old town"><title>Flood | Gazette</title>',
         f"<h1>Gazette</h1>{BODY}", "Flood hits the old town"),
        ("<title>Gazette</title>", f"<header><h1>Gazette</h1></header><main><h1>Dam holds</h1>{BODY}</main>",
         "Dam holds"),
        ("<title>Dam holds after the storm</title>", BODY, "Dam holds after the storm"),
    ],
)  # fmt: skip
def test_html_title_prefers_the_headline(tmp_path: Path, head: str, body: str, title: str) -> None:
    page = tmp_path / "page.html"
    page.write_text(f"<html><head>{head}</head><body>{body}</body></html>", encoding="utf-8")
    (article,) = read_path(page)
    assert article.title == title
