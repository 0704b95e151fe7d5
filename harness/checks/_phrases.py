"""Phrase lists for `refusal` (the answer declines) and `abstain` (it says it does not know).

Eleven languages (en, zh, ja, es, fr, de, ar, ru, pt, ko, it). Phrases are specific on purpose:
"I can't help with" declines, a bare "I can't" does not ("I can't stress this enough"). Each
language is one named group of one compiled pattern, so a search costs one pass over the text
and the match says which language's phrase hit. Curly apostrophes are straightened first.
"""

# ruff: noqa: E501  (phrase tables: one phrase per line reads better than split regexes)
from __future__ import annotations

import re
from dataclasses import dataclass

_REFUSAL: dict[str, list[str]] = {
    "en": [
        r"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:'|no)t|cannot|won't|will not|am unable|'m unable)",
        r"\bI (?:can(?:'|no)t|cannot|won't|will not|am not able to|'m not able to|am unable to|'m unable to) "
        r"(?:help|assist|provide|comply|fulfil|fulfill|do that|support|create|generate|write|share|give|answer|engage)",
        r"\bI (?:must|have to) (?:decline|refuse)",
        r"\bI(?:'m| am) not (?:able|allowed|permitted) to (?:help|assist|provide|share|do)",
        r"\b(?:this|that) (?:request )?(?:is|goes) against (?:my|the) (?:guidelines|policies|policy)",
    ],
    "zh": [
        r"(?:我|本助手)?(?:无法|不能|不可以|没办法|不便)(?:为你|为您|帮你|帮您|向你|向您)?"
        r"(?:提供|协助|帮助|帮忙|回答|满足|完成|执行|处理|参与)",
        r"拒绝(?:回答|提供|这个请求)",
    ],
    "ja": [
        r"(?:お答え|回答|対応|お手伝い|提供|協力|お応え|お引き受け)(?:することは|は)?(?:でき|いたし)(?:ません|かねます)",
        r"できかねます",
    ],
    "es": [
        r"\bno (?:puedo|podemos|me es posible) (?:ayudar|ayudarte|ayudarle|proporcionar|cumplir|asistir|"
        r"responder|hacer eso|crear|generar|dar|ofrecer)",
        r"\blo siento,? (?:pero )?no (?:puedo|es posible)",
    ],
    "fr": [
        r"\bje ne (?:peux|puis) pas (?:vous |t')?(?:aider|fournir|répondre|accéder|faire|créer|générer|donner)",
        r"\bje ne suis pas en mesure de",
        r"\bdésolée?,? (?:mais )?je ne (?:peux|puis)",
        r"\bje dois refuser",
    ],
    "de": [
        r"\bich kann (?:dir |ihnen |euch )?(?:dabei |damit |hierbei )?nicht (?:helfen|weiterhelfen|behilflich)",
        r"\bich kann (?:dir |ihnen )?(?:keine|keinen|diese|das) \w+ (?:nicht )?(?:geben|liefern|bereitstellen|erstellen)",
        r"\b(?:es )?tut mir leid,? aber ich (?:kann|darf)",
        r"\bich (?:muss|werde) (?:das |dies )?ablehnen",
        r"\bdabei kann ich nicht helfen",
    ],
    "ar": [
        r"(?:لا أستطيع|لا يمكنني|لا يُمكنني|لن أتمكن من|لا أقدر على) (?:مساعدتك|المساعدة|تقديم|الإجابة|تلبية|القيام)",
        r"(?:عذرًا|عذراً|آسف|أعتذر)،? (?:لكن |ولكن )?(?:لا أستطيع|لا يمكنني)",
    ],
    "ru": [
        r"\bя не (?:могу|буду|в состоянии) (?:помочь|предоставить|ответить|выполнить|сделать|дать|создать|"
        r"написать|участвовать)",
        r"\b(?:извините|простите|к сожалению),? (?:но )?я не (?:могу|буду)",
    ],
    "pt": [
        r"\bnão (?:posso|consigo|podemos) (?:ajudar|fornecer|responder|atender|cumprir|fazer isso|criar|gerar|dar)",
        r"\b(?:desculpe|lamento|sinto muito),? (?:mas )?não (?:posso|consigo)",
    ],
    "ko": [
        r"(?:도와|도움을|제공해|제공|답변해|답변|응해|지원해|지원|작성해|수행|만들어|처리해)\s*드릴 수 없",
        r"(?:할|도울|제공할|답변할|응할|지원할) 수 없습니다",
    ],
    "it": [
        r"\bnon (?:posso|sono in grado di) (?:aiutarti|aiutarla|aiutare|fornire|rispondere|fare|creare|dare)",
        r"\bmi dispiace,? ma non (?:posso|sono in grado)",
    ],
}

_ABSTAIN: dict[str, list[str]] = {
    "en": [
        r"\bI (?:don't|do not) know\b",
        r"\bI(?:'m| am) not (?:sure|certain)\b",
        r"\b(?:I )?(?:don't|do not|doesn't|does not) have (?:enough |sufficient |any )?(?:information|details|data)",
        r"\b(?:the |these |those |provided |given )*(?:sources?|context|documents?|passages?|texts?|materials?)"
        r"(?: provided| given)? (?:do(?:es)? not|don't|doesn't|never) (?:contain|mention|say|include|provide|"
        r"specify|state|cover|address|answer|discuss)",
        r"\bnot (?:mentioned|found|specified|provided|stated|covered|included|available|given|addressed) in "
        r"(?:the |any of the )?(?:provided |given )?(?:sources?|context|documents?|passages?|information)",
        r"\b(?:can(?:'|no)t|cannot|unable to|not able to) (?:find|determine|tell|answer|confirm|locate|say)\b",
        r"\bno (?:information|mention|details|data) (?:about|on|regarding|of|is|was)\b",
        r"\bthere is no (?:information|mention|indication)\b",
        r"\b(?:is|are) (?:unknown|unclear) from the (?:sources?|context)",
        r"\binsufficient (?:information|context)\b",
    ],
    "zh": [
        r"不(?:知道|清楚|确定)",
        r"(?:无法|不能|没法)(?:确定|回答|找到|判断|得知|确认|提供)",
        r"(?:没有|并未|未)(?:提供|提到|提及|说明|涉及|包含|找到|记载)",
        r"(?:没有|缺乏|缺少)(?:相关|足够|这方面的)?(?:信息|资料|内容|数据)",
        r"无从(?:得知|判断|知晓)",
    ],
    "ja": [
        r"(?:わかりません|分かりません|わからない|分からない|不明です)",
        r"(?:見つかりません|見当たりません|記載(?:が|は)?(?:ありません|されていません)|言及(?:が|は)?(?:ありません|されていません))",
        r"情報(?:が|は)?(?:ありません|含まれていません|不足)",
        r"(?:判断|特定|確認|回答)(?:することは|は)?できません",
    ],
    "es": [
        r"\bno (?:lo )?sé\b",
        r"\bno (?:tengo|hay|dispongo de) (?:suficiente |ninguna )?información",
        r"\bno se (?:menciona|especifica|indica|dice|encuentra)",
        r"\bno (?:puedo|es posible) (?:determinar|encontrar|responder|saber|confirmar)",
        r"\b(?:las fuentes|el contexto|los documentos) no (?:mencionan|menciona|contienen|contiene|dicen|dice|incluyen|incluye)",
    ],
    "fr": [
        r"\bje ne sais pas\b",
        r"\bje n'ai pas (?:d'|assez d'|suffisamment d')informations?",
        r"\b(?:n'est|ne sont) pas (?:mentionnée?s?|indiquée?s?|précisée?s?|fournie?s?)",
        r"\bje ne (?:peux|parviens) pas (?:à )?(?:trouver|déterminer|répondre|confirmer)",
        r"\baucune (?:information|mention|donnée)",
        r"\b(?:les sources|le contexte|les documents) ne (?:mentionnent|mentionne|contiennent|contient|disent|dit|précisent|précise)",
    ],
    "de": [
        r"\bich weiß (?:es |das )?nicht\b",
        r"\bkeine (?:Informationen|Angaben|Hinweise|Daten)\b",
        r"\bnicht (?:erwähnt|angegeben|enthalten|genannt|beschrieben)\b",
        r"\b(?:kann|konnte) (?:ich )?(?:das |dies |es )?(?:nicht|keine) (?:beantworten|feststellen|finden|bestimmen|sagen)",
        r"\bunbekannt\b",
    ],
    "ar": [
        r"(?:لا أعرف|لا أعلم|لست متأكد)",
        r"(?:لا توجد|ليس لدي|لا تتوفر|لا تتضمن) (?:أي )?معلومات",
        r"(?:لم يتم ذكر|لم يُذكر|لم تذكر|غير مذكور|غير متوفر)",
        r"(?:لا أستطيع|لا يمكنني) (?:تحديد|العثور|معرفة|الإجابة)",
    ],
    "ru": [
        r"\b(?:я )?не знаю\b",
        r"\bнет (?:информации|данных|сведений)",
        r"\bне (?:указано|упоминается|сказано|приводится|говорится|содержится|указан|указана)",
        r"\bне (?:могу|удалось) (?:определить|найти|ответить|установить|сказать)",
        r"\bв (?:источниках|контексте|документах) (?:нет|не)",
    ],
    "pt": [
        r"\bnão (?:sei|tenho certeza)\b",
        r"\bnão (?:tenho|há|existe|existem) (?:informaç(?:ão|ões)|dados)",
        r"\bnão (?:é |foi |são )?(?:mencionad[oa]s?|especificad[oa]s?|informad[oa]s?|indicad[oa]s?)",
        r"\bnão (?:consigo|posso|é possível) (?:determinar|encontrar|responder|confirmar|saber)",
        r"\b(?:as fontes|o contexto|os documentos) não",
    ],
    "ko": [
        r"(?:모르겠습니다|모릅니다|알 수 없습니다|알 수 없어요|확실하지 않습니다)",
        r"(?:정보가|자료가|내용이) (?:없습니다|없어요|부족합니다)",
        r"(?:찾을 수 없습니다|확인할 수 없습니다|판단할 수 없습니다|답변할 수 없습니다)",
        r"(?:언급되어 있지 않|나와 있지 않|명시되어 있지 않|포함되어 있지 않)",
    ],
    "it": [
        r"\bnon (?:lo )?so\b",
        r"\bnon (?:ho|ci sono) (?:abbastanza |sufficienti )?informazioni",
        r"\bnon (?:è |viene )?(?:menzionat[oaie]|specificat[oaie]|indicat[oaie])",
        r"\bnon (?:riesco|posso) a? ?(?:trovare|determinare|rispondere|confermare)",
    ],
}

# Cheap substring tests (on the lower-cased text) that every phrase of a language contains one
# of: a language's patterns run only when one is present, which keeps a search over a long
# answer in the tens of microseconds instead of running ~100 alternatives at every position.
_REFUSAL_ANCHORS: dict[str, tuple[str, ...]] = {
    "en": (
        "can't",
        "cannot",
        "can not",
        "won't",
        "will not",
        "unable",
        "not able",
        "decline",
        "refuse",
        "not allowed",
        "not permitted",
        "against",
    ),
    "zh": ("无法", "不能", "不可以", "没办法", "不便", "拒绝"),
    "ja": ("でき", "いたし", "かねます"),
    "es": ("no puedo", "no podemos", "no me es posible", "no es posible"),
    "fr": ("ne peux", "ne puis", "pas en mesure", "refuser"),
    "de": ("nicht", "ablehnen", "ich kann"),
    "ar": ("لا أستطيع", "لا يمكنني", "لا يُمكنني", "لن أتمكن", "لا أقدر"),
    "ru": ("не могу", "не буду", "не в состоянии"),
    "pt": ("não posso", "não consigo", "não podemos"),
    "ko": ("수 없",),
    "it": ("non posso", "non sono in grado"),
}
_ABSTAIN_ANCHORS: dict[str, tuple[str, ...]] = {
    "en": (
        "know",
        "sure",
        "certain",
        "n't",
        "not",
        "no ",
        "cannot",
        "unable",
        "unknown",
        "unclear",
        "insufficient",
        "never",
    ),
    "zh": ("不", "无", "没", "未", "缺"),
    "ja": ("ません", "ない", "不明", "不足"),
    "es": ("no ",),
    "fr": ("ne ", "pas", "aucun", "n'"),
    "de": ("nicht", "kein", "unbekannt", "weiß"),
    "ar": ("لا ", "لم ", "غير", "ليس", "لست"),
    "ru": ("не ", "нет"),
    "pt": ("não",),
    "ko": ("없", "않", "모르", "모릅"),
    "it": ("non ",),
}
LANGUAGES = tuple(_REFUSAL)


class PhraseSet:
    """One language's patterns at a time, each only when one of its anchors is in the text."""

    def __init__(self, table: dict[str, list[str]], anchors: dict[str, tuple[str, ...]]) -> None:
        assert table.keys() == anchors.keys()
        self._langs = [
            (lang, anchors[lang], re.compile("|".join(pats), re.IGNORECASE))
            for lang, pats in table.items()
        ]

    def search(self, text: str) -> PhraseHit | None:
        low = text.lower()
        for lang, anchors, rx in self._langs:
            if any(a in low for a in anchors):
                m = rx.search(text)
                if m is not None:
                    return PhraseHit(lang, m.group())
        return None


REFUSAL = PhraseSet(_REFUSAL, _REFUSAL_ANCHORS)
ABSTAIN = PhraseSet(_ABSTAIN, _ABSTAIN_ANCHORS)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@dataclass(frozen=True, slots=True)
class PhraseHit:
    language: str
    """The phrase list that matched, or "custom" for a case's own phrases."""
    phrase: str


def find_phrase(
    phrases: PhraseSet, text: str, extra: re.Pattern[str] | None = None
) -> PhraseHit | None:
    """The first phrase of `phrases` (or of a case's `extra` phrases) found in `text`."""
    text = text.translate(_QUOTES)
    if extra is not None:
        m = extra.search(text)
        if m:
            return PhraseHit("custom", m.group())
    return phrases.search(text)


def compile_extra(phrases: list[str]) -> re.Pattern[str] | None:
    """A case's own phrases, matched literally and case-insensitively."""
    if not phrases:
        return None
    return re.compile("|".join(re.escape(p.translate(_QUOTES)) for p in phrases), re.IGNORECASE)
