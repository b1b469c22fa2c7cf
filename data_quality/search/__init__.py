"""Person search: ``reporting.search_person(query, max_results)`` inside PostgreSQL.

One free-text box ("jon smyth 2014-03", "Smith, Jonathan b. 03/12/2014 Thunder Bay") tolerant of
typos, nicknames, swapped day/month and missing parts, answering with master persons (after
duplicate matching) ranked by score, each with their history at every agency — in full for the
caller's agencies, as agency names and dates elsewhere.

* ``sql/`` — the tables (refresh.sql), the parser and scorer (functions.sql), the entry points
  (search_person.sql);
* :mod:`data_quality.search.install` — installs and refreshes all of it (nightly, after dbt);
* :mod:`data_quality.search.query` — the Python client `cww search` uses.
"""

from data_quality.search.install import RefreshSummary, refresh_search
from data_quality.search.query import SearchHit, search_persons

__all__ = ["RefreshSummary", "SearchHit", "refresh_search", "search_persons"]
