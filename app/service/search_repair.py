"""Cluster mode's self-repair: each replica now and then makes Milvus hold exactly the stored passages.

A write commits to the database first, then goes to Milvus. When Milvus is down at that moment (the
request gets a 503, but the document is stored), or the replica dies in between, the document is listed
yet not searchable, and a retry finds its content stored and writes nothing more. Every
``TROLY_SEARCH_REPAIR_INTERVAL_S`` seconds this thread asks the knowledge base to repair its search
backend (one count per unit; only the units found stale are synced), so such a document becomes
searchable within that time with no restart. Only cluster mode runs it: the embedded indexes are
written in this process under the knowledge base's lock and rebuilt at the next start after a crash.
"""

from __future__ import annotations

import logging
import threading

from app.core.knowledge_base import KnowledgeBase
from app.errors import DatabaseUnavailable, SearchUnavailable

log = logging.getLogger(__name__)


class SearchRepair:
    def __init__(self, knowledge: KnowledgeBase, interval_s: float) -> None:
        self._knowledge = knowledge
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="troly-search-repair", daemon=True)

    def start(self) -> SearchRepair:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                repaired = self._knowledge.repair_search()
            except (SearchUnavailable, DatabaseUnavailable) as exc:
                # Still down: the next round tries again; the requests meanwhile get their 503s.
                log.warning("search repair postponed: %s", exc)
                continue
            except Exception:  # never let one bad round end the repairs for the process's lifetime
                log.exception("search repair failed; trying again in %.0f s", self._interval_s)
                continue
            if repaired:
                log.warning("search backend repaired: units %s were missing stored passages", ", ".join(repaired))
