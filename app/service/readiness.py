"""Is this process ready to answer? The store answers, every unit's index is loaded and in step
with the store, and the LLM reader's server (when one is configured, and asked for) answers."""

from __future__ import annotations

from app.errors import LLMUnavailable
from app.service.services import Services

OK = "ok"


def readiness(services: Services, llm: bool = True) -> dict[str, str]:
    """Each check's result: ``ok`` or what is wrong. ``llm=False`` leaves the LLM out: a replica
    whose LLM is down still answers (extractively), so a load balancer may prefer to keep it."""
    knowledge = services.assistant.knowledge
    checks: dict[str, str] = {}
    try:
        knowledge.list_units()
        checks["store"] = OK
    except Exception as exc:  # any failure of the store is "not ready", with its reason
        checks["store"] = f"the store does not answer: {exc}"
        checks["indexes"] = "not checked: the store does not answer"
    else:
        try:
            if knowledge.settings.cluster_mode:
                # The search server answers. Counts differing from the store's are no reason to take this
                # replica out: another replica's write in flight looks so, and what a failed write left
                # out is every replica's to repair alike (app.service.search_repair).
                knowledge.passage_count()
                checks["indexes"] = OK
            else:
                stale = knowledge.stale_indexes()
                checks["indexes"] = OK if not stale else f"out of step with the store: {', '.join(stale)}"
        except Exception as exc:
            checks["indexes"] = f"cannot be checked: {exc}"
    generator = services.assistant.answerer.generator
    if llm and generator is not None:
        try:
            generator.check()
            checks["llm"] = OK
        except LLMUnavailable as exc:
            checks["llm"] = exc.message
    return checks
