"""The demo's corpus: real questions with gold answers, plus distractors.

* The English edition of the Swedish Construction FAQ by Zaragoza AB
  (``zaragoza-construction-faq``, CC-BY-4.0): 503 question/answer pairs. Each
  answer is one passage and the gold passage of its question, so retrieval
  quality (recall@k, MRR) can be measured.
* The Python language reference from the standard library (``pydoc_data.topics``),
  cut into passages of at most 500 characters: distractors with no questions.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import metadata, resources

FAQ_PACKAGE = "zaragoza-construction-faq"
FAQ_MODULE = "zaragoza_construction_faq"
MAX_PASSAGE_CHARS = 500


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    gold_id: str
    """Id of the passage that answers it."""


@dataclass(frozen=True, slots=True)
class Corpus:
    passages: tuple[Passage, ...]
    questions: tuple[Question, ...]

    @property
    def fingerprint(self) -> str:
        """sha256 over every passage id and text: part of the index cache key."""
        digest = hashlib.sha256()
        for p in self.passages:
            digest.update(p.id.encode())
            digest.update(b"\0")
            digest.update(p.text.encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def sample_questions(self, n: int) -> list[Question]:
        """`n` questions spread evenly over the FAQ (so every category is asked), deterministic."""
        total = len(self.questions)
        n = min(n, total)
        return [self.questions[i * total // n] for i in range(n)]


def load_corpus(faq_limit: int | None = None, distractor_limit: int | None = None) -> Corpus:
    """The FAQ passages and questions (the first `faq_limit` pairs) plus `distractor_limit` distractors."""
    faq = _faq_records()[:faq_limit]
    passages = [Passage(f"faq:{rec['id']}", rec["a"].strip()) for rec in faq]
    questions = [Question(rec["q"].strip(), f"faq:{rec['id']}") for rec in faq]
    passages.extend(_pydoc_passages()[:distractor_limit])
    return Corpus(tuple(passages), tuple(questions))


def _faq_records() -> list[dict[str, str]]:
    path = resources.files(FAQ_MODULE).joinpath("data/faq-en.json")
    with path.open("r", encoding="utf-8") as f:
        records: list[dict[str, str]] = json.load(f)["questions"]
    return records


def _pydoc_passages() -> list[Passage]:
    from pydoc_data.topics import topics

    passages: list[Passage] = []
    for topic in sorted(topics):
        for i, chunk in enumerate(_chunks(topics[topic])):
            passages.append(Passage(f"pydoc:{topic}:{i}", chunk))
    return passages


def _chunks(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Paragraphs packed greedily into chunks of at most `limit` characters."""
    pieces: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        while len(para) > limit:
            cut = para.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            pieces.append(para[:cut])
            para = para[cut:].lstrip()
        if para:
            pieces.append(para)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


@dataclass(frozen=True, slots=True)
class Credit:
    title: str
    author: str
    licence: str
    doi: str
    url: str

    def line(self) -> str:
        return (
            f"Corpus: {self.title} by {self.author}, {self.licence}, "
            f"doi:{self.doi} ({self.url}); distractors: the Python language reference (PSF licence)."
        )


def corpus_credit() -> Credit:
    """The attribution CC-BY-4.0 asks for, read from the installed package's metadata."""
    meta: dict[str, str | list[str]] = metadata.metadata(FAQ_PACKAGE).json
    urls: dict[str, str] = {}
    for entry in meta.get("project_url", []):
        label, _, url = entry.partition(",")
        urls[label.strip()] = url.strip()
    author = str(meta.get("author_email") or meta.get("author") or "")
    return Credit(
        title="Swedish Construction FAQ (English edition)",
        author=author.split("<")[0].strip(),
        licence=str(meta.get("license", "")),
        doi=urls.get("DOI", "").removeprefix("https://doi.org/"),
        url=urls.get("Homepage", ""),
    )
