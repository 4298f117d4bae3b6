"""The user's own recognition, for what no convention row knows: ``--stage-key`` and ``--kind-map``.

    from rag_otel.analysis.overrides import Overrides

    overrides = Overrides.parse("component.name", ["*Retriever=retrieval", "rank*=rerank"])
    spans = overrides.apply(read_many(sources, diagnostics=d, keep_attributes=True))

Applied to each span after its reader recognised it (`conventions.classify_span`), so it
needs the span's attributes (``keep_attributes=True``: only then, so the default analysis
pays nothing for it):

* ``stage_key``: a span carrying this attribute (not empty) is a stage named by its value
  (a JSON-encoded string, as MLflow writes every attribute, decoded).
  A span a convention already recognised keeps its kind and source; any other gets kind
  ``other`` and source ``stage-key``. Turn spans stay turns.
* ``kind_map``: ``(glob, kind)`` pairs, the first that matches a stage's name or its type
  wins (case-insensitive; ``*`` any run of characters, ``?`` one). A stage's type is the
  value of the attribute its convention row reads (`conventions.stage_type`): Haystack's
  component class, MLflow's span type, OpenInference's span kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from rag_otel.analysis.conventions import (
    OTHER,
    SOURCE_STAGE_KEY,
    STAGE_KINDS,
    glob,
    json_text,
    stage_type,
)
from rag_otel.analysis.model import InputError, Span

KindMap = Mapping[str, str] | Iterable[str]
"""``{"*Retriever": "retrieval"}``, or ``["*Retriever=retrieval"]`` as the command line has it."""

_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Overrides:
    """``--stage-key`` and ``--kind-map``, checked: build with `parse`."""

    stage_key: str | None = None
    kind_map: tuple[tuple[str, str], ...] = ()
    _memo: dict[tuple[str, str | None], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def parse(cls, stage_key: str | None = None, kind_map: KindMap = ()) -> Overrides:
        """Raises `InputError` (a one-line message naming the option) for a bad value."""
        if stage_key is not None and not stage_key.strip():
            raise InputError("--stage-key", None, "expected an attribute name, got ''")
        items = kind_map.items() if isinstance(kind_map, Mapping) else map(_split, kind_map)
        pairs = []
        for pattern, kind in items:
            if not pattern:
                raise InputError("--kind-map", None, f"expected PATTERN=KIND, got {pattern!r}")
            if kind.lower() not in STAGE_KINDS:
                raise InputError(
                    "--kind-map",
                    None,
                    f"{pattern}={kind}: expected KIND to be one of {', '.join(STAGE_KINDS)}",
                )
            pairs.append((pattern, kind.lower()))
        return cls(stage_key.strip() if stage_key else None, tuple(pairs))

    def __bool__(self) -> bool:
        return self.stage_key is not None or bool(self.kind_map)

    def apply(self, spans: Iterable[Span], *, keep_attributes: bool = False) -> Iterator[Span]:
        """Each span, renamed and re-kinded as asked, its kept attributes then dropped, unless
        `keep_attributes` (the caller wants them too: the HTML report's exemplars)."""
        key, kinds = self.stage_key, self.kind_map
        for span in spans:
            attributes = span.attributes or {}
            if key is not None and not span.is_turn:
                value = attributes.get(key)
                text = None if value is None else json_text(value)
                if text:
                    span.stage = text
                    if span.stage_source is None:
                        span.stage_kind, span.stage_source = OTHER, SOURCE_STAGE_KEY
            if kinds and span.stage is not None:
                kind = self.kind_of(span.stage, stage_type(attributes))
                if kind is not None:
                    span.stage_kind = kind
            if not keep_attributes:
                span.attributes = None
            yield span

    def kind_of(self, name: str, type_: str | None) -> str | None:
        """The kind of the first pattern matching `name`, else `type_`; None: no match."""
        memo = self._memo
        found = memo.get((name, type_), memo)
        if found is not memo:
            return found  # type: ignore[return-value]
        kind = None
        for pattern, mapped in self.kind_map:
            regex = glob(pattern)
            if regex.match(name) or (type_ is not None and regex.match(type_)):
                kind = mapped
                break
        if len(memo) < _MEMO_LIMIT:
            memo[(name, type_)] = kind
        return kind


def _split(text: str) -> tuple[str, str]:
    pattern, sep, kind = text.rpartition("=")
    if not sep or not pattern:
        raise InputError("--kind-map", None, f"expected PATTERN=KIND, got {text!r}")
    return pattern, kind
