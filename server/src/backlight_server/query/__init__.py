"""Storage-neutral query logic: what every store's reads need once the rows are fetched.

Span trees (``trees``), derived fields and level mapping (``derive``), which traces a
request has (``requests``) and the merge of per-trace counts into per-request backend
summaries (``summaries``). A store's read methods fetch rows with its own queries and hand
them to these functions, so two stores give the same answers for the same rows.
"""
