"""`troly bench`: ingestion, HTTP load, index scale and a profile, written as JSON and Markdown.

Nothing here runs as part of the test suite's pass/fail; the command is run by hand
(see docs/performance.md) and its reports land in docs/bench/.
"""
