"""Which language an answer is written in, without a model: Unicode scripts, then stopwords.

Step 1, the script. Code blocks, inline code and URLs are removed, then letters are counted per
script. Scripts that belong to one language decide at once: Hangul -> ko, kana -> ja (Japanese
text mixes kana into Han; a text whose Han/kana letters are >= 10% kana is ja, else zh), Han ->
zh (Simplified or Traditional by a list of characters that differ), Thai -> th, Hebrew -> he,
Greek -> el, Devanagari -> hi, Bengali -> bn, Tamil -> ta, Cyrillic -> ru (uk when the
Ukrainian letters і ї є ґ occur), Arabic script -> ar (fa / ur when their own letters occur).
Scripts are weighted so that a Han character counts like a short word: a Chinese answer that
names ``Python`` and ``HTTP`` is still Chinese.

Step 2, Latin script: the share of tokens that are frequent function words of each language
(en es fr de pt it nl id tr pl sv vi), plus letters only one of them uses (ñ, ã, ß, ł, ı, ơ, ...).
Too little evidence (no function word at all) is "undetermined", not a guess.

Accuracy is measured on short answers (1-3 sentences) in tests/checks/lang_samples.py, by
tests/checks/test_text.py::test_language_accuracy_on_short_answers; the figures and how they
compare with py3langid are in docs/checks.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STRIP = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|https?://\S+|\S+@\S+\.\w+", re.DOTALL)

_SCRIPTS: dict[str, tuple[str, float]] = {
    # script: (character class, weight per character; a Latin word is ~5 letters)
    "han": ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff", 2.5),
    "kana": ("\u3040-\u30ff\u31f0-\u31ff", 1.5),
    "hangul": ("\uac00-\ud7af\u1100-\u11ff\u3130-\u318f", 2.5),
    "latin": ("A-Za-z\u00c0-\u024f\u1e00-\u1eff", 1.0),
    "cyrillic": ("\u0400-\u04ff", 1.0),
    "arabic": ("\u0600-\u06ff\u0750-\u077f", 1.0),
    "devanagari": ("\u0900-\u097f", 1.0),
    "bengali": ("\u0980-\u09ff", 1.0),
    "tamil": ("\u0b80-\u0bff", 1.0),
    "thai": ("\u0e00-\u0e7f", 1.0),
    "hebrew": ("\u0590-\u05ff", 1.0),
    "greek": ("\u0370-\u03ff", 1.0),
}
_SCRIPT_RX = {name: re.compile(f"[{cls}]") for name, (cls, _) in _SCRIPTS.items()}
_SINGLE = {
    "hangul": "ko",
    "thai": "th",
    "hebrew": "he",
    "greek": "el",
    "devanagari": "hi",
    "bengali": "bn",
    "tamil": "ta",
}

_STOPWORDS_TEXT: dict[str, str] = {
    "en": (
        "the and is are was were of to in that it for on with as this be by not or have has "
        "from at which you your can will an they their there what would should about if but "
        "been also more these we he she do does how when than into its only other such some "
        "any because very each i my our them those then here where who"
    ),
    "es": (
        "el la los las de del que y en un una es por con para no se su sus al lo como más "
        "pero este esta son está también muy hay puede entre cuando sobre todo ya sin porque "
        "ser le fue han ha donde qué cómo usted tiene estos estas tu mi eso"
    ),
    "fr": (
        "le la les de des du et est un une que qui en dans pour pas ne sur au aux avec il "
        "elle sont ce cette ces par plus mais ou vous nous leur être été aussi très peut "
        "comme tout son sa ses même où donc qu d l c j n s y je a à été après chez"
    ),
    "de": (
        "der die das und ist nicht ein eine zu den dem des mit von sich auf für im es auch "
        "sind wird werden wie oder aber nach bei aus dass kann noch nur wenn sie wir ich er "
        "hat haben sein diese dieser einen einem als um über sehr man durch"
    ),
    "pt": (
        "o a os as de do da dos das e é que em um uma para com não por se na no nas nos mais "
        "mas como ao à seu sua são está também ou foi ser muito pode quando isso este esta "
        "você há ter tem pelo pela entre sobre já"
    ),
    "it": (
        "il lo la i gli le di del della dei delle che e è un una uno per con non si in da al "
        "alla nel nella sono come ma più anche questo questa molto può essere ha hanno se tra "
        "su perché quando sua suo ci degli dal sul l sì viene stato stata entro ogni dopo ho "
        "hai"
    ),
    "nl": (
        "de het een en van is dat die in op te met voor niet zijn er aan om ook als bij door "
        "maar naar dan wordt worden kan of uit nog wel deze dit hij ze je we wat heeft hebben "
        "meer over geen zo moet tot"
    ),
    "id": (
        "yang dan di ini itu dengan untuk dari dalam tidak ke akan pada juga adalah ada atau "
        "karena oleh saya anda kita mereka bisa dapat sudah lebih seperti tersebut bahwa jika "
        "harus banyak hanya tetapi sebagai bagi kami secara telah masih agar sangat namun ya "
        "bukan"
    ),
    "tr": (
        "ve bir bu da de için ile olarak çok daha gibi ama olan var yok en ne değil mi o ben "
        "sen biz siz onlar şu her kadar sonra ancak veya ya olduğu göre hem nasıl neden bunu "
        "şey oldu değildir ise bundan buna ki mı mu mü çünkü"
    ),
    "pl": (
        "i w z na się nie to jest że do o jak a ale co tak od po za dla są czy jego tym być "
        "przez już może tylko jej ich oraz gdy bardzo ten ta te który która które także "
        "jeszcze można przy"
    ),
    "sv": (
        "och i att det som en är på för med av den till inte har de om ett han men var jag vi "
        "kan så från vid eller när också sig ska bara efter hur detta denna där mycket skulle"
    ),
    "vi": (
        "và của là có các những được trong cho không một với này đã để người khi từ cũng như "
        "đến về thì ra nhưng sẽ bạn tôi chúng rất nhiều hay nếu theo làm vì đó trên nên phải"
    ),
}
STOPWORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _STOPWORDS_TEXT.items()}
_INDEX: dict[str, tuple[str, ...]] = {
    word: tuple(lang for lang, words in STOPWORDS.items() if word in words)
    for word in set().union(*STOPWORDS.values())
}
_LETTER_HINTS: dict[str, re.Pattern[str]] = {
    lang: re.compile(f"[{chars}]")  # no IGNORECASE: it would let Turkish ı match i and I
    for lang, chars in {
        "es": "ñ¿¡",
        "pt": "ãõ",
        "fr": "œîûëÿ",
        "de": "ß",
        "tr": "ışğ",
        "pl": "łąęśźżń",
        "sv": "å",
        "vi": "ơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
    }.items()
}
_TOKEN = re.compile(r"[^\W\d_]+")

# Characters whose Simplified and Traditional forms differ, among the most frequent ones.
_SIMPLIFIED = re.compile(
    "[这们说时会个为来国对发经还学过问题应该种从开关与现实点么样没书长请让进动体数]"
)
_TRADITIONAL = re.compile(
    "[這們說時會個為來國對發經還學過問題應該種從開關與現實點麼樣沒書長請讓進動體數]"
)
_UKRAINIAN = re.compile("[іїєґІЇЄҐ]")
_PERSIAN = re.compile("[پچژگکی]")
_URDU = re.compile("[ٹڈڑںے]")

LATIN_LANGUAGES = tuple(STOPWORDS)
SUPPORTED = frozenset(
    {"zh", "ja", "ko", "ru", "uk", "ar", "fa", "ur", *_SINGLE.values(), *LATIN_LANGUAGES}
)


@dataclass
class Detection:
    language: str | None
    """ISO 639-1 code, or None when undetermined."""
    script: str | None
    variant: str | None = None
    """For zh: "Hans" or "Hant" when the text shows which; else None."""
    scores: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def _han_variant(text: str) -> str | None:
    simp = len(_SIMPLIFIED.findall(text))
    trad = len(_TRADITIONAL.findall(text))
    if simp == trad:
        return None
    return "Hans" if simp > trad else "Hant"


_ASCII_LETTER = re.compile("[A-Za-z]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def detect(text: str) -> Detection:
    text = _STRIP.sub(" ", text)
    if text.isascii():
        return (
            _latin(text)
            if _ASCII_LETTER.search(text)
            else Detection(None, None, reason="no letters")
        )
    # Count scripts over the non-ASCII characters only (most of a Latin-script answer is ASCII).
    other = "".join(_NON_ASCII.findall(text))
    counts = {name: len(rx.findall(other)) * _SCRIPTS[name][1] for name, rx in _SCRIPT_RX.items()}
    counts["latin"] += len(_ASCII_LETTER.findall(text))
    cjk = counts["han"] + counts["kana"]
    weighted = {**counts, "cjk": cjk}
    del weighted["han"], weighted["kana"]
    script, amount = max(weighted.items(), key=lambda kv: kv[1])
    if amount == 0:
        return Detection(None, None, reason="no letters")
    if script == "cjk":
        kana = counts["kana"] / _SCRIPTS["kana"][1]
        han = counts["han"] / _SCRIPTS["han"][1]
        if kana >= 0.1 * (han + kana):
            return Detection("ja", "han+kana", reason=f"{kana:.0f} kana of {han + kana:.0f}")
        return Detection("zh", "han", variant=_han_variant(text))
    if script in _SINGLE:
        return Detection(_SINGLE[script], script)
    if script == "cyrillic":
        return Detection("uk" if _UKRAINIAN.search(text) else "ru", script)
    if script == "arabic":
        if _URDU.search(text):
            return Detection("ur", script)
        return Detection("fa" if _PERSIAN.search(text) else "ar", script)
    return _latin(text)


def _latin(text: str) -> Detection:
    text = text.lower()
    tokens = _TOKEN.findall(text)
    scores: dict[str, float] = dict.fromkeys(STOPWORDS, 0.0)
    for tok in tokens:
        for lang in _INDEX.get(tok, ()):
            scores[lang] += 1.0
    if not text.isascii():
        for lang, rx in _LETTER_HINTS.items():
            hits = len(rx.findall(text))
            if hits:
                scores[lang] += 0.5 * hits
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, top = ranked[0]
    shown = {k: v for k, v in ranked if v > 0}
    if top == 0:
        return Detection(
            None,
            "latin",
            scores=shown,
            reason=f"no function words in {len(tokens)} word{'s' if len(tokens) != 1 else ''}",
        )
    if ranked[1][1] == top:
        tied = ", ".join(k for k, v in ranked if v == top)
        return Detection(None, "latin", scores=shown, reason=f"a tie between {tied}")
    return Detection(best, "latin", scores=shown)
