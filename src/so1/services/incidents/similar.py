"""Similar past incidents: TF-IDF over what each resolved incident was (title, cause,
resolution, alert summaries) with scikit-learn, cosine similarity against a new alert or
incident. Shown to the triage-responder and the incident-commander as evidence ("last time
this cause was fixed by ...")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from so1.domain.incidents import Incident
from so1.domain.triage import SimilarIncident
from so1.ports import IncidentFilter, UnitOfWork

CORPUS_LIMIT = 300  # the most recent resolved incidents
MIN_SCORE = 0.2
TOP = 3


@dataclass(frozen=True)
class Past:
    incident: Incident
    cause: str
    text: str


def similar_incidents(
    uow: UnitOfWork,
    query: str,
    exclude: str | None = None,
    limit: int = TOP,
    corpus: Sequence[Past] | None = None,
) -> list[SimilarIncident]:
    """The resolved incidents most like ``query`` (score ≥ 0.2), best first. ``corpus``:
    what ``past_incidents`` read, when the caller compares many queries with it."""
    corpus = past_incidents(uow) if corpus is None else corpus
    past = [p for p in corpus if p.incident.id != exclude]
    if not past or not query.strip():
        return []
    scores = _scores(query, [p.text for p in past])
    ranked = sorted(zip(scores, past, strict=True), key=lambda pair: -pair[0])
    return [
        SimilarIncident(
            incident_id=p.incident.id,
            title=p.incident.title,
            cause=p.cause,
            resolution=p.incident.resolution_summary,
            score=round(float(score), 3),
        )
        for score, p in ranked[:limit]
        if score >= MIN_SCORE
    ]


def _scores(query: str, documents: Sequence[str]) -> list[float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
    matrix = vectorizer.fit_transform([*documents, query])
    return [float(s) for s in cosine_similarity(matrix[-1], matrix[:-1])[0]]


def past_incidents(uow: UnitOfWork) -> list[Past]:
    """Two queries, however many incidents: their record and their root causes."""
    found, _ = uow.incidents.search(
        # never a security incident: its title would reach rooms and reports not cleared for it
        IncidentFilter(status=("resolved", "closed"), limit=CORPUS_LIMIT, include_private=False)
    )
    causes = uow.postmortems.root_causes([i.id for i in found])
    return [_past(incident, causes.get(incident.id, "unknown")) for incident in found]


def _past(incident: Incident, cause: str) -> Past:
    words = [
        incident.title,
        cause.replace("_", " "),
        incident.resolution_summary or "",
        incident.service or "",
        incident.summary or "",
    ]
    return Past(incident, cause, " ".join(words))
