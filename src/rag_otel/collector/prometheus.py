"""Prometheus configs: scrape jobs with unique names and host:port targets."""

from __future__ import annotations

import re

from yaml.nodes import SequenceNode

from rag_otel.collector.documents import Document, Finding, get, line_of, scalar, sequence


def check_prometheus(doc: Document) -> list[Finding]:
    found: list[Finding] = []
    scrape = get(doc.root, "scrape_configs")
    if scrape is not None and not isinstance(scrape, SequenceNode):
        found.append(Finding(doc.name, line_of(scrape), "error", "scrape_configs must be a list"))
        return found
    jobs: set[str] = set()
    for job in sequence(scrape):
        name = scalar(get(job, "job_name"))
        if not name:
            found.append(Finding(doc.name, line_of(job), "error", "scrape config has no job_name"))
            continue
        if name in jobs:
            found.append(
                Finding(doc.name, line_of(job), "error", f"job_name '{name}' is used twice")
            )
        jobs.add(name)
        for static in sequence(get(job, "static_configs")):
            for target in sequence(get(static, "targets")):
                value = scalar(target) or ""
                if not re.fullmatch(r"[\w.\-\[\]:]+:\d+", value):
                    found.append(
                        Finding(
                            doc.name,
                            line_of(target),
                            "error",
                            f"job '{name}': target '{value}' is not host:port",
                        )
                    )
    return found
