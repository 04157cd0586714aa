"""Search backends: PostgreSQL full text (default) and OpenSearch (OPENSEARCH_URL).

`documents` (mapping, template, documents), `client` (names, index, aliases),
`query` (the list filters as an OpenSearch query), `indexer` (the pipeline
consumer that keeps the index in step), `backend` (which one answers a list).
"""
