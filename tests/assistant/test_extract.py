"""Reader-view extraction: main text only, hidden text removed, PDFs with page numbers."""

from __future__ import annotations

import pytest

from flightdeck.assistant.errors import PageError
from flightdeck.assistant.extract import _short_result, extract_html, extract_page, extract_text
from flightdeck.assistant.pages import Block, PageInput
from flightdeck.assistant.pdf import extract_pdf
from flightdeck.testing.pdf import make_pdf
from tests.assistant.conftest import OTTERS
from tests.assistant.injection_pages import ARTICLE, INJECTION_PAGES


def test_html_keeps_the_article_and_drops_navigation_and_footer() -> None:
    page = extract_html(OTTERS)
    assert page.title == "Sea otters"
    assert "use rocks as tools" in page.text
    assert "densest of any animal" in page.text
    assert "About us" not in page.text
    assert "All rights reserved" not in page.text
    assert [b.text for b in page.blocks if b.kind == "heading"] == ["Sea otters", "Habitat", "Fur"]


def test_comments_section_is_not_main_text() -> None:
    html = OTTERS.replace(
        "</article>",
        '</article><section id="comments" class="comments"><h3>Comments</h3>'
        '<div class="comment"><p>Great article, buy cheap watches at example.biz!</p></div>'
        "</section>",
    )
    assert "cheap watches" not in extract_html(html).text


@pytest.mark.parametrize("case", [p for p in INJECTION_PAGES if p.hidden], ids=lambda p: p.name)
def test_hidden_text_is_removed(case) -> None:  # type: ignore[no-untyped-def]
    text = extract_html(case.html).text
    assert "Ignore all previous" not in text
    assert "six hours of direct sunlight" in text
    assert "Cherry tomatoes" in text


def test_plain_text_paragraphs_and_headings() -> None:
    page = extract_text("Intro\n\nFirst paragraph here.\nSame paragraph.\n\n\nSecond one.", "T")
    assert [(b.kind, b.text) for b in page.blocks] == [
        ("heading", "Intro"),
        ("paragraph", "First paragraph here. Same paragraph."),
        ("paragraph", "Second one."),
    ]


def test_pdf_text_keeps_page_numbers() -> None:
    pdf = make_pdf([["Otters use rocks as tools."], ["Kelp forests shelter otters."]], "Otters")
    page = extract_pdf(pdf, 0)
    assert page.title == "Otters"
    assert [(b.page_no, b.text) for b in page.blocks] == [
        (1, "Otters use rocks as tools."),
        (2, "Kelp forests shelter otters."),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not a pdf at all", "invalid_pdf"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "invalid_pdf"),
        (make_pdf([[]]), "empty_page"),
    ],
    ids=["not-pdf", "broken-pdf", "no-text"],
)
def test_unreadable_pdf_is_an_error_naming_the_page(data: bytes, code: str) -> None:
    with pytest.raises(PageError) as err:
        extract_page(PageInput("u", "t", pdf=data), 3)
    assert err.value.page == 3
    assert err.value.code == code
    assert err.value.message.startswith("page 3:")


VISIBLE_STYLES = {
    "dark-theme-body": '<body style="background:#111; color:#eee">{t}</body>',
    "white-on-dark-stylesheet": "<style>.dark {{ background: #000 }} .dark p {{ color: #fff }}"
    "</style><body><div class=dark>{t}</div></body>",
    "light-grey-text": '<body><div style="color:#777">{t}</div></body>',
    "hidden-then-shown": "<style>.x {{ display:none }} .x.open {{ display:block }}</style>"
    '<body><div class="x open">{t}</div></body>',
    "relative-small-offset": '<body><div style="position:relative; left:-20px">{t}</div></body>',
    "print-only-rule": "<style>@media print {{ .p {{ display:none }} }}</style>"
    "<body><div class=p>{t}</div></body>",
    "hover-rule": "<style>a:hover .y {{ display:none }}</style><body><div class=y>{t}</div></body>",
    "mobile-only-rule": "<style>@media (max-width: 600px) {{ .side {{ display:none }} }}</style>"
    "<body><div class=side>{t}</div></body>",
    "tailwind-responsive-hidden": '<body><div class="hidden lg:block">{t}</div></body>',
    "tailwind-stylesheet-shows-again": "<style>.hidden {{ display:none }} @media (min-width: "
    "1024px) {{ .lg\\:flex {{ display:flex }} }}</style>"
    '<body><div class="hidden lg:flex">{t}</div></body>',
    "noscript-that-opens-a-div": '<body><noscript><div class="nojs"></noscript><main>{t}</main>'
    "<noscript></div></noscript></body>",
    "dark-background-colour-unseen": '<body><div style="background:#000">{t}</div></body>',
    "background-image": '<body><div style="background:url(x.png); color:#fff">{t}</div></body>',
}


@pytest.mark.parametrize("name", sorted(VISIBLE_STYLES))
def test_visible_text_is_kept_whatever_its_style(name: str) -> None:
    body = VISIBLE_STYLES[name].format(t=ARTICLE)
    html = f"<html><head><title>T</title></head>{body}</html>"
    text = extract_html(html).text
    assert "six hours of direct sunlight" in text, name
    assert "Cherry tomatoes" in text, name


def test_xhtml_with_an_xml_declaration_is_read() -> None:
    html = '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>' + page_html(ARTICLE)
    assert "six hours of direct sunlight" in extract_html(html).text


def test_soft_hyphens_and_zero_width_spaces_do_not_split_words() -> None:
    html = page_html(
        ARTICLE.replace("sunlight", "sun\u00adlight").replace("direct", "di\u200brect")
    )
    assert "six hours of direct sunlight" in extract_html(html).text


def test_text_is_in_composed_unicode_form() -> None:
    decomposed = "Cafe\u0301 au lait is served warm at the counter every morning."
    text = extract_html(page_html(ARTICLE + f"<p>{decomposed}</p>")).text
    assert "Caf\u00e9 au lait" in text


def page_html(body: str) -> str:
    return f"<html><head><title>T</title></head><body><article>{body}</article></body></html>"


def test_a_short_result_keeps_the_page_blocks_trafilatura_chose_and_not_the_menu() -> None:
    """Trafilatura's short result glues inline elements as lines; the page's own blocks keep
    their words whole, and only those that trafilatura chose are kept (not the menu)."""
    html = page_html(
        '<ul class="menu"><li><a href="/">Startseite</a></li><li><a href="/i">Impressum</a></li>'
        '</ul><p>The <b>ot</b>ter <a href="/x">us</a>es <span>ro</span>cks as tools.</p>'
        '<div class="share">Teilen Sie dies mit: <a href="/t">Twitter</a></div>'
    )
    chosen = [Block("paragraph", "The\not\nter\nus\nes\nro\ncks as tools.")]
    blocks = _short_result(html, chosen)
    assert [b.text for b in blocks] == ["The otter uses rocks as tools."]
    assert _short_result(html, []) != []  # nothing chosen: the page's blocks


REPORT = "".join(
    f"<p>Paragraph {i} of the report explains how the harbour seals recovered along the coast "
    "after the ban on hunting, with counts from every survey flight since 1990.</p>"
    for i in range(6)
)
LEAD = (
    "Fifty years after the hunting ban, the harbour seal population of the Wadden Sea has "
    "returned to its historic size."
)


def news_page(header_extra: str = "", after_body: str = "") -> str:
    return (
        "<html><head><title>Seals</title></head><body><nav><a href='/'>Home</a></nav>"
        "<main><article><header><h1>Harbour seals are back</h1>"
        "<div class='article-meta'><time>12.01.2022</time> <a href='/a'>Anna Berg</a></div>"
        f"{header_extra}</header><div class='article-body'>{REPORT}</div>{after_body}"
        "</article></main><footer>© 2022 Coast News</footer></body></html>"
    )


def test_the_article_lead_in_its_header_comes_before_the_body() -> None:
    page = extract_html(news_page(f"<p class='article-lead'>{LEAD}</p>"))
    texts = [b.text for b in page.blocks]
    assert LEAD in texts
    assert texts.index(LEAD) < texts.index(next(t for t in texts if t.startswith("Paragraph 0")))
    assert page.text.count("Fifty years after") == 1


@pytest.mark.parametrize(
    "html",
    [
        # a site's tagline under the site's name, a post title between it and the body
        "<html><body><header><h1>Coast Notes</h1><p class='description'>A personal blog about "
        "the sea, the coast, the birds and the seals that live along it.</p></header><main>"
        f"<article><h2 class='post-title'>Harbour seals are back</h2>{REPORT}</article></main>"
        "</body></html>",
        # a teaser of another article, after the body
        news_page(
            after_body="<div class='teaser'>A personal blog about the sea, the coast, the birds "
            "and the seals that live along it.</div>"
        ),
        # an author's bio in the header
        news_page(
            "<p class='author-description'>A personal blog about the sea, the coast, the "
            "birds and the seals that live along it.</p>"
        ),
    ],
    ids=["site-tagline", "teaser-after-body", "author-bio"],
)
def test_lead_like_text_that_is_not_the_lead_stays_out(html: str) -> None:
    assert "A personal blog" not in extract_html(html).text


def test_a_rule_that_shows_a_tab_again_counts_on_a_page_with_many_hiding_rules() -> None:
    """Hiding rules are bounded per page; the rule that shows the open tab must still count."""
    hiding = " ".join(f".menu-{i} {{ display:none }}" for i in range(400))
    menus = "".join(f'<div class="menu-{i}">Menu {i}</div>' for i in range(400))
    html = (
        f"<html><head><style>.tab {{ display:none }} {hiding} .tab.on {{ display:block }}"
        f'</style></head><body>{menus}<div class="tab on">{ARTICLE}</div></body></html>'
    )
    text = extract_html(html).text
    assert "six hours of direct sunlight" in text
    assert "Menu 12" not in text


def test_an_unclosed_div_in_a_hidden_menu_does_not_swallow_the_article() -> None:
    """Nested as a browser nests it: ``</li>`` closes the menu item's unclosed ``<div>``, so
    the article is not inside the hidden menu (lxml's own parser put it there)."""
    html = (
        "<html><head><style>.hidden { display:none }</style></head><body>"
        '<nav class="hidden"><ul><li><a href="/t">Tickets</a><div class="sub">'
        '<a href="/t/day">Day tickets</a></li></ul></nav>'
        f"<main><article>{ARTICLE}</article></main></body></html>"
    )
    text = extract_html(html).text
    assert "six hours of direct sunlight" in text
    assert "Day tickets" not in text
