"""A varied test corpus the BPE tests share (imported as ``test_bpe_corpus``): many
scripts, emoji, code, whitespace and newline runs, digits, contractions, specials."""

SCRIPTS = [
    "The quick brown fox jumps over the lazy dog. THE END.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich; façade, naïve, coöperate.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ξεσκεπάζω τὴν ψυχοφθόρα βδελυγμία.",
    "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إِذ بَزَغَت",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "いろはにほへと ちりぬるを 色は匂へど散りぬるを 日本語の文章です。",
    "我能吞下玻璃而不伤身体。漢字、汉字",
    "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
    "Lone combining marks: \u0301 a\u0301\u0302 \u0301\u0301x e\u0308 \u20dd",
    "Zero width: a\u200bb\u200c\u200dc \ufeff end; NBSP:\u00a0x\u3000y\u2028z\u2029",
]
EMOJI = [
    "emoji 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ 🏳️‍🌈 🤖🤖🤖",
    "mixed😀text😀😀 and (😀) 'quoted😀'",
]
CODE = [
    "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
    '{"key": [1, 2.5, -3e10], "nested": {"a": null}}\n',
    "for (int i = 0; i < n; ++i) { sum += a[i]; }\r\n#include <stdio.h>\r\n",
    '<div class="x">&amp;&lt;</div>  //// ---- ==== **** ____',
]
SPACING = [
    "trailing spaces   \n\n\n   leading\t\t\ttabs\n \n  \n",
    "a  b   c    d     e\r\n\r\n\r\nf",
    "     ",
    "\n",
    "x \n",
    "end with spaces   ",
]
DIGITS = [
    "1 12 123 1234 12345 1234567890123 3.14159 1,000,000 0x1F 2024-01-31 v1.2.3",
    "abc123def 123abc ١٢٣ ४५६ ½ ² Ⅻ",
]
CONTRACTIONS = ["I'm you're he's we'll they've I'd can't DON'T IT'S We'LL 's 'S ’s 'x"]
SPECIAL = "<|endoftext|>"


def corpus(with_specials: bool = False) -> list[str]:
    """Every sample; with ``with_specials`` some also contain ``<|endoftext|>``."""
    texts = SCRIPTS + EMOJI + CODE + SPACING + DIGITS + CONTRACTIONS
    if with_specials:
        texts = texts + [f"doc one{SPECIAL}doc two", f"{SPECIAL}\n{SPECIAL}{SPECIAL} x", "a <|endoftext| b"]
    return texts


def big_text() -> str:
    """All samples joined, repeated a few times: enough to train a few hundred merges."""
    return "\n".join(corpus()) * 3


def test_corpus_is_varied():
    text = big_text()
    assert len(text) > 2000 and any(ord(c) > 0xFFFF for c in text) and "\r\n" in text
