"""The query side: search, classify, topics, RAG and their evaluations."""
