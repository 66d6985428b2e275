"""SPLINTER's language data and word operations (specs `splinter.md` §3, §5.2).

Why a module of its own: both the learner (`splinter_learn`) and the transform (`splinter`) read
the same tables (letters, diacritics, final-letter pairs, servile letters) and address deletions
the same way; a new language is one `LANGUAGES` entry here. A deletion is a key ``"p:letter"``:
p >= 0 counts from the start, p < 0 from the end (-1 = last), each index addressed from its nearer
edge (`positions`).
"""
from ..errors import NewbpeError

# the reference extractor's and encoder's word delimiters: Python re's \s (str.isspace) and . - , : " ( )
REFERENCE_DELIMITERS = (r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
                        r'.\-,:"()')


class Language:
    """One language's letters, diacritics, final-letter pairs and servile-letter subset."""

    def __init__(self, code, letters, diacritics, finals, servile):
        self.code = code
        self.letters = letters                  # str of all language letters, in code-point order
        self.diacritics = diacritics            # str of diacritic code points (removed by the reference)
        self.finals = finals                    # {char: swapped char} (an involution) for the last letter
        self.servile = servile                  # the letters-subset variant's letters (Hebrew)
        self.letter_set = frozenset(letters)
        self.diacritic_set = frozenset(diacritics)


def _range(a, b):
    return "".join(chr(c) for c in range(a, b + 1))


_HE_FINALS = {"ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ"}
LANGUAGES = {
    "he": Language("he", _range(0x05D0, 0x05EA), _range(0x0590, 0x05CF),
                   {**_HE_FINALS, **{v: k for k, v in _HE_FINALS.items()}}, "אבהויכלמנשת"),
    "ar": Language("ar", _range(0x0621, 0x064A), _range(0x064B, 0x065F), {}, None),
    "ms": Language("ms", _range(0x61, 0x7A) + _range(0x41, 0x5A), "", {}, None),   # the reference's order
}


def get_language(lang):
    if lang not in LANGUAGES:
        raise NewbpeError(f"SPLINTER supports languages {', '.join(sorted(LANGUAGES))}, not {lang!r}")
    return LANGUAGES[lang]


def positions(n):
    """Candidate positions for a word of length n: -floor(n/2) .. ceil(n/2)-1 (spec §5.2)."""
    h = n // 2
    return range(-h, h + n % 2)


def delete(w, p):
    n = len(w)
    i = p if p >= 0 else n + p
    return w[:i] + w[i + 1:]


def split_key(key):
    p, c = key.split(":", 1)
    return int(p), c


def swap_last(w, finals):
    """w with its last letter swapped by `finals` (Hebrew final forms <-> regular forms)."""
    if w and finals:
        r = finals.get(w[-1])
        if r is not None:
            return w[:-1] + r
    return w
