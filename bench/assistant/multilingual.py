# ruff: noqa: E501, RUF001 - hand-written article text reads best unwrapped, with its own punctuation
"""Labelled ranking set in seven languages: one article each, questions labelled by section.

Each article is a list of (heading, paragraph) sections; each question names the heading of the
section that answers it. The questions paraphrase the text (a synonym, another word order) as a
reader would, so both lexical and semantic ranking are tested. Chinese, Japanese and Thai are
written without spaces between words; Korean attaches particles to words; English is the control.
Hand-written for Flightdeck (no external data), used by ``python -m bench.assistant.answers``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    language: str
    title: str
    sections: list[tuple[str, str]]
    questions: list[tuple[str, str]]  # (question, heading of the answering section)

    def html(self) -> str:
        body = "".join(
            f"<h2>{html.escape(h)}</h2><p>{html.escape(p)}</p>" for h, p in self.sections
        )
        return (
            f"<html><head><title>{html.escape(self.title)}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{html.escape(self.title)}</h1>{body}"
            "</article><footer>Copyright 2026</footer></body></html>"
        )


ARTICLES: list[Article] = [
    Article(
        "en",
        "Giant pandas",
        [
            (
                "Appearance",
                "Giant pandas have black and white fur. Their ears, eye patches, legs and shoulders are black, and the rest of the body is white. An adult is about one and a half metres long.",
            ),
            (
                "Range",
                "Wild pandas live in the mountains of south-western China, mostly in bamboo forests in Sichuan, Shaanxi and Gansu, at altitudes between 1,200 and 3,400 metres.",
            ),
            (
                "Diet",
                "Bamboo makes up ninety-nine percent of what a panda eats. An adult eats between twelve and thirty-eight kilograms of it every day and sometimes catches small animals.",
            ),
            (
                "Cubs",
                "A newborn cub weighs only about one hundred grams, a nine-hundredth of its mother's weight. It is born pink and blind and opens its eyes after six to eight weeks.",
            ),
            (
                "Conservation",
                "In 2016 the species was moved from endangered to vulnerable, because its numbers grew after China created more than sixty nature reserves and banned logging.",
            ),
            (
                "Diplomacy",
                "China has lent pandas to foreign zoos as a sign of friendship since the 1950s, a custom known as panda diplomacy.",
            ),
        ],
        [
            ("How much bamboo does a panda eat each day?", "Diet"),
            ("In which provinces do wild pandas live?", "Range"),
            ("How heavy is a panda baby at birth?", "Cubs"),
            ("Why are pandas no longer endangered?", "Conservation"),
            ("What colour is a panda's coat?", "Appearance"),
            ("What is panda diplomacy?", "Diplomacy"),
        ],
    ),
    Article(
        "zh",
        "大熊猫",
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
                "食性",
                "竹子占大熊猫食物的百分之九十九。一只成年大熊猫每天要吃十二到三十八公斤竹子，偶尔也会捕食小型动物。",
            ),
            (
                "繁殖",
                "刚出生的熊猫幼崽只有一百克左右，大约是母亲体重的九百分之一。幼崽出生时全身粉红、双眼紧闭，六到八周后才睁开眼睛。",
            ),
            (
                "保护现状",
                "二零一六年，大熊猫的保护级别从濒危降为易危，因为中国建立了六十多个自然保护区并禁止砍伐森林，野生数量逐渐增加。",
            ),
            (
                "熊猫外交",
                "从二十世纪五十年代起，中国把大熊猫借给外国动物园，作为友好的象征，这种做法被称为熊猫外交。",
            ),
        ],
        [
            ("大熊猫每天吃多少竹子？", "食性"),
            ("野生大熊猫主要生活在哪些省份？", "分布范围"),
            ("熊猫宝宝刚出生时有多重？", "繁殖"),
            ("为什么大熊猫不再是濒危物种？", "保护现状"),
            ("大熊猫的毛是什么颜色的？", "外形特征"),
            ("什么是熊猫外交？", "熊猫外交"),
            ("大熊猫吃什么？", "食性"),
            ("熊猫住在哪里？", "分布范围"),
        ],
    ),
    Article(
        "ja",
        "富士山",
        [
            (
                "概要",
                "富士山は静岡県と山梨県にまたがる活火山で、標高は三千七百七十六メートルあり、日本で最も高い山である。",
            ),
            (
                "噴火の歴史",
                "最後の噴火は千七百七年の宝永大噴火で、江戸の町にも火山灰が降り積もった。それ以来、三百年以上噴火していない。",
            ),
            (
                "登山",
                "登山シーズンは七月上旬から九月上旬までで、毎年二十万人以上が山頂を目指す。多くの人は夜に登り、山頂で日の出を見る。",
            ),
            (
                "世界遺産",
                "二零一三年、富士山は信仰の対象と芸術の源泉として、ユネスコの世界文化遺産に登録された。",
            ),
            (
                "芸術",
                "葛飾北斎は浮世絵の連作「富嶽三十六景」で、さまざまな場所から見た富士山を描いた。",
            ),
        ],
        [
            ("富士山の高さは何メートルですか？", "概要"),
            ("富士山が最後に噴火したのはいつですか？", "噴火の歴史"),
            ("富士山にはいつ登ることができますか？", "登山"),
            ("富士山はいつ世界遺産になりましたか？", "世界遺産"),
            ("北斎は富士山をどのように描きましたか？", "芸術"),
            ("富士山はどのくらい高いですか？", "概要"),
        ],
    ),
    Article(
        "th",
        "ช้างไทย",
        [
            (
                "ลักษณะ",
                "ช้างเอเชียมีขนาดเล็กกว่าช้างแอฟริกา มีหูเล็กและหลังโค้ง ช้างตัวผู้บางตัวมีงายาว ส่วนช้างตัวเมียมักไม่มีงา",
            ),
            (
                "อาหาร",
                "ช้างโตเต็มวัยกินหญ้า ใบไม้ และผลไม้วันละประมาณหนึ่งร้อยห้าสิบกิโลกรัม และดื่มน้ำวันละมากกว่าหนึ่งร้อยลิตร",
            ),
            (
                "ถิ่นที่อยู่",
                "ช้างป่าในประเทศไทยอาศัยอยู่ในป่าทางภาคตะวันตกและภาคเหนือ เช่น อุทยานแห่งชาติเขาใหญ่และป่าห้วยขาแข้ง",
            ),
            (
                "วันช้างไทย",
                "ประเทศไทยกำหนดให้วันที่สิบสามมีนาคมของทุกปีเป็นวันช้างไทย เพื่อระลึกถึงความสำคัญของช้างต่อประวัติศาสตร์ชาติ",
            ),
        ],
        [
            ("ช้างกินอาหารวันละเท่าไร", "อาหาร"),
            ("ช้างป่าในไทยอาศัยอยู่ที่ไหน", "ถิ่นที่อยู่"),
            ("วันช้างไทยตรงกับวันที่เท่าไร", "วันช้างไทย"),
            ("ช้างตัวเมียมีงาหรือไม่", "ลักษณะ"),
        ],
    ),
    Article(
        "ko",
        "한글",
        [
            (
                "창제",
                "한글은 천사백사십삼년에 조선의 세종대왕이 백성들이 쉽게 글을 읽고 쓸 수 있도록 만들었다.",
            ),
            (
                "구조",
                "한글은 자음 열네 개와 모음 열 개로 이루어져 있으며, 자음과 모음을 모아 음절 단위로 쓴다.",
            ),
            (
                "한글날",
                "한국에서는 매년 시월 구일을 한글날로 정해 한글의 창제를 기념하며, 이날은 공휴일이다.",
            ),
            (
                "세계 기록 유산",
                "한글을 해설한 책인 훈민정음 해례본은 천구백구십칠년에 유네스코 세계 기록 유산으로 등재되었다.",
            ),
        ],
        [
            ("한글을 누가 만들었나요?", "창제"),
            ("한글의 자음은 몇 개인가요?", "구조"),
            ("한글날은 언제인가요?", "한글날"),
            ("훈민정음 해례본은 언제 유네스코에 등재되었나요?", "세계 기록 유산"),
        ],
    ),
    Article(
        "fr",
        "La loutre de mer",
        [
            (
                "Outils",
                "La loutre de mer se sert de pierres comme outils pour casser les coquillages. Elle garde souvent sa pierre préférée dans un repli de peau sous son bras.",
            ),
            (
                "Habitat",
                "Elle vit le long des côtes du nord de l'océan Pacifique, du Japon à la Californie. Les forêts de varech l'abritent des tempêtes et des prédateurs.",
            ),
            (
                "Fourrure",
                "Sa fourrure est la plus dense du règne animal, avec jusqu'à un million de poils par pouce carré, ce qui la garde au chaud sans couche de graisse.",
            ),
            (
                "Sommeil",
                "Les loutres dorment sur le dos à la surface de l'eau et se tiennent par la patte pour ne pas dériver.",
            ),
        ],
        [
            ("Pourquoi les loutres se tiennent-elles par la patte ?", "Sommeil"),
            ("Où vivent les loutres de mer ?", "Habitat"),
            ("À quoi servent les pierres pour la loutre ?", "Outils"),
            ("Comment la loutre reste-t-elle au chaud ?", "Fourrure"),
        ],
    ),
    Article(
        "de",
        "Der Rhein",
        [
            (
                "Verlauf",
                "Der Rhein entspringt in den Schweizer Alpen, fließt durch den Bodensee und mündet nach rund 1.230 Kilometern in den Niederlanden in die Nordsee.",
            ),
            (
                "Schifffahrt",
                "Der Rhein ist eine der verkehrsreichsten Wasserstraßen Europas; Schiffe bringen Kohle, Getreide und Container bis nach Basel.",
            ),
            (
                "Loreley",
                "Bei Sankt Goarshausen ragt der Loreleyfelsen hundertzwanzig Meter über den Fluss. Der Sage nach lockte dort eine Frau mit ihrem Gesang Schiffer ins Verderben.",
            ),
            (
                "Wein",
                "An den Hängen des Mittelrheins wird seit der Römerzeit Wein angebaut, vor allem Riesling.",
            ),
        ],
        [
            ("Wo beginnt der Rhein?", "Verlauf"),
            ("Was transportieren die Schiffe auf dem Rhein?", "Schifffahrt"),
            ("Welche Sage erzählt man über den Felsen?", "Loreley"),
            ("Welche Rebsorte wächst am Mittelrhein?", "Wein"),
        ],
    ),
]
