# ruff: noqa: E501, RUF001 - page text in other scripts reads best unwrapped, with its own punctuation
"""Pages in scripts without spaces (Chinese, Japanese, Thai, ...): lexical ranking by character
bigrams, semantic ranking by the multilingual encoder, answers quoted sentence by sentence."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest

from flightdeck.assistant.context import process_page
from flightdeck.assistant.embeddings import Encoders, PassageEncoder
from flightdeck.assistant.pages import PageInput
from flightdeck.assistant.ranking import rank_passages
from flightdeck.core.settings import Settings
from flightdeck.testing.server import ServerThread
from flightdeck.text.language import detect_language
from flightdeck.text.sentences import sentences
from flightdeck.text.terms import terms
from tests.assistant.conftest import EXTRACTIVE, post_events

# (language, sections, question, words of the answer); the answer is in the fourth section.
PAGES = [
    (
        "zh",
        [
            (
                "外形特征",
                "大熊猫的毛色黑白分明，耳朵、眼圈、四肢和肩部是黑色的，身体其余部分是白色的。成年大熊猫体长约一点五米，体重可达一百二十公斤。",
            ),
            (
                "分布范围",
                "野生大熊猫生活在中国西南部的山区，主要分布在四川、陕西和甘肃三省的竹林中，海拔在一千二百米到三千四百米之间。",
            ),
            (
                "繁殖",
                "刚出生的熊猫幼崽只有一百克左右，大约是母亲体重的九百分之一。幼崽出生时全身粉红、双眼紧闭，六到八周后才睁开眼睛。",
            ),
            (
                "食性",
                "竹子占大熊猫食物的百分之九十九。一只成年大熊猫每天要吃十二到三十八公斤竹子，偶尔也会捕食小型动物。",
            ),
            (
                "保护现状",
                "二零一六年，大熊猫的保护级别从濒危降为易危，因为中国建立了六十多个自然保护区并禁止砍伐森林。",
            ),
        ],
        "大熊猫吃什么？",
        "竹子",
    ),
    (
        "ja",
        [
            ("概要", "富士山は静岡県と山梨県にまたがる活火山で、日本で最も高い山である。"),
            (
                "噴火の歴史",
                "最後の噴火は千七百七年の宝永大噴火で、江戸の町にも火山灰が降り積もった。",
            ),
            (
                "世界遺産",
                "二零一三年、富士山は信仰の対象と芸術の源泉として、ユネスコの世界文化遺産に登録された。",
            ),
            (
                "登山",
                "登山シーズンは七月上旬から九月上旬までで、毎年二十万人以上が山頂を目指す。多くの人は夜に登り、山頂で日の出を見る。",
            ),
            (
                "芸術",
                "葛飾北斎は浮世絵の連作「富嶽三十六景」で、さまざまな場所から見た富士山を描いた。",
            ),
        ],
        "富士山の登山シーズンはいつですか？",
        "七月上旬",
    ),
    (
        "th",
        [
            ("ลักษณะ", "ช้างเอเชียมีขนาดเล็กกว่าช้างแอฟริกา มีหูเล็กและหลังโค้ง ช้างตัวผู้บางตัวมีงายาว"),
            ("ถิ่นที่อยู่", "ช้างป่าในประเทศไทยอาศัยอยู่ในป่าทางภาคตะวันตกและภาคเหนือ เช่น อุทยานแห่งชาติเขาใหญ่"),
            ("วันช้างไทย", "ประเทศไทยกำหนดให้วันที่สิบสามมีนาคมของทุกปีเป็นวันช้างไทย"),
            (
                "อาหาร",
                "ช้างโตเต็มวัยกินหญ้า ใบไม้ และผลไม้วันละประมาณหนึ่งร้อยห้าสิบกิโลกรัม และดื่มน้ำวันละมากกว่าหนึ่งร้อยลิตร",
            ),
        ],
        "ช้างกินอาหารวันละเท่าไร",
        "หนึ่งร้อยห้าสิบกิโลกรัม",
    ),
    (
        "en",
        [
            (
                "Appearance",
                "Giant pandas have black and white fur. An adult is about one and a half metres long.",
            ),
            (
                "Range",
                "Wild pandas live in the mountains of south-western China, mostly in bamboo forests.",
            ),
            (
                "Cubs",
                "A newborn cub weighs only about one hundred grams and opens its eyes after six weeks.",
            ),
            (
                "Diet",
                "Bamboo makes up ninety-nine percent of what a panda eats. An adult eats twelve to thirty-eight kilograms a day.",
            ),
            ("Conservation", "In 2016 the species was moved from endangered to vulnerable."),
        ],
        "What do pandas eat?",
        "Bamboo",
    ),
]


def page_html(sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2><p>{html.escape(p)}</p>" for h, p in sections)
    return f"<html><body><article>{body}</article></body></html>"


@pytest.fixture
def tight_server(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], ServerThread]
) -> ServerThread:
    """A budget of about two passages, so the ranking decides what the model sees."""
    assistant = {
        "embeddings": False,
        "whole_page_tokens": 20,
        "models": {"local/extractive": {"token_budget": 160}},
    }
    return serve(make_settings([EXTRACTIVE], assistant=assistant))


@pytest.mark.parametrize(
    ("language", "sections", "question", "answer"), PAGES, ids=[p[0] for p in PAGES]
)
def test_the_answer_in_the_fourth_section_is_found_in_every_script(
    tight_server: ServerThread,
    language: str,
    sections: list[tuple[str, str]],
    question: str,
    answer: str,
) -> None:
    page = {"url": f"https://{language}.test/", "html": page_html(sections)}
    events = post_events(
        tight_server, {"model": "local/extractive", "question": question, "pages": [page]}
    )
    names = [n for n, _ in events]
    sent = events[names.index("sources")][1]["sources"]
    best = max(sent, key=lambda s: s["score"])
    assert best["heading"] == sections[3][0]
    text = "".join(d["text"] for n, d in events if n == "delta")
    assert answer in text and "does not appear" not in text
    assert [n for n, _ in events][-1] == "done"


def test_unspaced_scripts_give_bigrams_and_han_characters() -> None:
    assert terms("大熊猫吃竹子") == [
        "大熊", "熊猫", "猫吃", "吃竹", "竹子", "大", "熊", "猫", "吃", "竹", "子",
    ]  # fmt: skip
    assert terms("パンダ") == ["パン", "ンダ"]  # kana: bigrams only
    assert terms("ช้างกิน")[:2] == ["ช้", "้า"]
    assert terms("Sea otters' ＲＯＣＫＳ 2024 bus") == ["sea", "otter", "rock", "2024", "bus"]


def test_sentences_know_abbreviations_and_cjk_full_stops() -> None:
    text = "Dr. Smith met Mr. Jones in the U.S. on Jan. 5. They talked.\n熊猫吃竹子。它们很可爱！"
    assert sentences(text) == [
        "Dr. Smith met Mr. Jones in the U.S. on Jan. 5.",
        "They talked.",
        "熊猫吃竹子。",
        "它们很可爱！",
    ]
    assert sentences("ช้างกินหญ้า ช้างดื่มน้ำ", "th") == ["ช้างกินหญ้า", "ช้างดื่มน้ำ"]


@pytest.mark.parametrize(("language", "sections", "question", "answer"), PAGES)
def test_the_page_language_is_detected(
    language: str, sections: list[tuple[str, str]], question: str, answer: str
) -> None:
    page = process_page(PageInput("u", "", html=page_html(sections)), 0)
    assert page.language == language == detect_language(page.text)


def test_pages_are_routed_to_the_encoder_that_knows_their_language() -> None:
    english, multilingual = PassageEncoder(), PassageEncoder.multilingual()
    encoders = Encoders(english, multilingual)
    assert encoders.for_languages(["en", ""]) is english
    assert encoders.for_languages(["zh"]) is multilingual
    assert encoders.for_languages(["en", "ja"]) is multilingual  # one space for both pages
    assert encoders.for_languages(["vi"]) is None  # not a language it was trained on: BM25
    assert Encoders(english, use_multilingual=False).for_languages(["zh"]) is None


@pytest.mark.slow
async def test_the_multilingual_encoder_finds_what_the_words_miss() -> None:
    diplomacy = (
        "从二十世纪五十年代起，中国把大熊猫借给外国动物园，作为友好的象征，这种做法被称为熊猫外交。"
    )
    page_sections = [*PAGES[0][1], ("熊猫外交", diplomacy)]
    page = process_page(PageInput("u", "", html=page_html(page_sections)), 0)
    question = "熊猫和国际关系有什么联系？"  # "international relations": no word of "diplomacy"
    lexical = await rank_passages(question, [page.passages], encoder=None, dense_candidates=24)
    assert lexical[0].passage.heading != "熊猫外交"
    encoder = Encoders(PassageEncoder(), PassageEncoder.multilingual()).for_languages(["zh"])
    assert encoder is not None
    hybrid = await rank_passages(question, [page.passages], encoder=encoder, dense_candidates=24)
    assert hybrid[0].passage.heading == "熊猫外交"
