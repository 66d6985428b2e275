"""Learning a SPLINTER reduction map (specs `splinter.md` §4, §5): word counts in, map out.

Why a module of its own: learning is a one-off step with its own inputs (a word-count file, the
`wordfreq` package, or text counted with the reference extractor's rules) and needs none of the
transform's symbol machinery; `Splinter.learn` wraps it. The map is deterministic: two iterations
over word lengths, keys of each length in the reference's (count desc, key asc) order.
`iter_texts` is the one place where SPLINTER opens a text source (files, a dataset, strings).
"""
import re

from ..errors import NewbpeError
from .splinter_lang import REFERENCE_DELIMITERS, delete, get_language, positions, swap_last

LEARN_OPTIONS = {"letters": "all", "min_count": 10, "iterations": 2, "candidates": 3, "final_letters": True}


def _ordered(counts):
    """Sort by (count desc, key asc) and normalize to shares (spec §5.3)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(c for _, c in items)
    return {k: c / total for k, c in items}


def _letters_option(language, letters):
    if letters in (None, "all"):
        return None
    if letters in ("servile", "subset"):
        if language.servile is None:
            raise NewbpeError(f"no servile-letters subset is defined for {language.code!r}")
        return frozenset(language.servile)
    if isinstance(letters, str) and letters and all(c in language.letter_set for c in letters):
        return frozenset(letters)
    raise NewbpeError(f"letters must be 'all', 'servile' or a string of {language.code} letters, not {letters!r}")


def learn_map(word_counts, lang, letters="all", min_count=10, iterations=2, candidates=3, final_letters=True):
    """The reduction map {length: {key: share}} from {word: count} (spec §5). Deterministic; the key
    order of each length is the reference's (count desc, key asc). Returns (map, iteration-1 map,
    stats)."""
    language = get_language(lang)
    allowed = _letters_option(language, letters)
    if iterations not in (1, 2):
        raise NewbpeError(f"iterations must be 1 or 2, not {iterations!r}")
    finals = language.finals if final_letters else {}
    words = {}
    for w, c in word_counts.items():
        c = int(c)
        if c >= min_count and isinstance(w, str):
            words[swap_last(w, finals)] = c
    letter_set = language.letter_set
    words = {w: c for w, c in words.items() if len(w) > 1 and all(ch in letter_set for ch in w)}
    if not words:
        raise NewbpeError(f"no usable {lang} words (count >= {min_count}, only {lang} letters, length >= 2)")
    top = max(words.values())
    buckets = {}
    for w, c in words.items():
        buckets.setdefault(len(w), {})[w] = c / top
    max_len = max(buckets)
    first = {}
    for n in range(4, max_len + 1):
        prev, counts = buckets.get(n - 1, {}), {}
        for w in buckets.get(n, ()):
            for p in positions(n):
                ch = w[p]
                if (allowed is None or ch in allowed) and delete(w, p) in prev:
                    key = f"{p}:{ch}"
                    counts[key] = counts.get(key, 0) + 1
        first[n] = _ordered(counts)
    reductions = {1: {ch: 1 for ch in language.letters}}
    stats = {"kept_words": len(words), "max_length": max_len}
    if iterations == 1:
        reductions.update({n: m for n, m in first.items() if m})
        return reductions, first, stats
    for n in range(4, max_len + 1):
        prev, cur, counts = buckets.get(n - 1, {}), buckets.get(n, {}), {}
        rank = {k: (i, share) for i, (k, share) in enumerate(first[n].items())}
        for w, f in list(cur.items()):
            cands = []
            for p in positions(n):
                key = f"{p}:{w[p]}"
                e = rank.get(key)
                if e is not None:
                    perm = delete(w, p)
                    g = prev.get(perm)
                    if g is not None:
                        cands.append((e[0], key, e[1] * g))
            if cands:
                cands.sort()
                best = None
                for _, key, score in cands[:candidates]:
                    if best is None or score > best[1]:
                        best = (key, score)
                counts[best[0]] = counts.get(best[0], 0) + 1
                cur[w] = f * best[1]
        if counts:
            reductions[n] = _ordered(counts)
    return reductions, first, stats


def read_word_counts(path):
    """A plain `word<TAB>count` file (one pair a line; blank lines ignored)."""
    counts = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise NewbpeError(f"{path}:{n}: expected 'word<TAB>count'")
            try:
                c = int(parts[1])
            except ValueError:
                raise NewbpeError(f"{path}:{n}: count {parts[1]!r} is not an integer") from None
            if c < 0:
                raise NewbpeError(f"{path}:{n}: negative count")
            counts[parts[0]] = counts.get(parts[0], 0) + c
    if not counts:
        raise NewbpeError(f"{path}: no word counts")
    return counts


def wordfreq_counts(lang, wordlist="best"):
    """Pseudo-counts round(freq * 1e9) from the `wordfreq` package's lists (spec §4)."""
    get_language(lang)
    try:
        import wordfreq
    except ImportError:
        raise NewbpeError("--wordfreq needs the optional package wordfreq "
                          "(pip install wordfreq, or newbpe[splinter])") from None
    return {w: round(f * 1e9) for w, f in wordfreq.get_frequency_dict(lang, wordlist).items()}


def count_words(texts, lang, strip_diacritics=True):
    """Count a corpus's words with the reference extractor's rules (spec §4): remove the language's
    diacritics, split on whitespace . - , : " ( ). Uses newbpe's counting (`count_sequences`)."""
    from ..count_workers import count_sequences
    from ..pretokenizers import PreTokenizer
    language = get_language(lang)
    strip = re.compile("[" + re.escape(language.diacritics) + "]") if strip_diacritics and language.diacritics else None
    pretok = PreTokenizer(f'regex:[^{REFERENCE_DELIMITERS}]+')

    def cleaned():
        for t in texts:
            yield strip.sub("", t) if strip else t
    counts = count_sequences(cleaned(), pretok, "chars")
    word = re.compile(f'[^{REFERENCE_DELIMITERS}]+')
    out = {}
    for w, c in counts.items():            # the pre-tokenizer also returns the delimiter gaps: drop them
        w = w.decode("utf-8")
        if word.fullmatch(w):
            out[w] = c
    return out


def iter_texts(source, split="line", column="text"):
    """Texts of a source (anything `newbpe.Corpus` accepts, or a Corpus), one sequence at a time."""
    from ..corpus import Corpus
    corpus = Corpus.of(source, split=split, column=column)
    corpus.require_text("SPLINTER")
    from ..cuts import CutRule       # files: lines in parts cut before a space (words never span one)
    return corpus.texts(CutRule())


def source_word_counts(source, lang, strip_diacritics=True, split="line", column="text", wordlist="best"):
    """({word: count}, description) of a learning source: a {word: count} mapping, the string
    "wordfreq" (the wordfreq package's list for `lang`), or text (file paths, a dataset, an iterable
    of str), whose words are counted with the reference extractor's rules."""
    if isinstance(source, str) and source == "wordfreq":
        return wordfreq_counts(lang, wordlist), f"wordfreq:{wordlist}"
    if hasattr(source, "items") and not hasattr(source, "column_names"):
        return source, "word_counts"
    get_language(lang)
    return count_words(iter_texts(source, split, column), lang, strip_diacritics), "corpus"
