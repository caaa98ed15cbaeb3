"""Evaluation on the user's own index: questions written from its chunks, checked, saved, and scored.

:mod:`.sample` spreads the chunks over the documents, :mod:`.generate` has the local generator write questions
(and some the collection cannot answer), :mod:`.checks` decides which are kept, :mod:`.questions` reads and
appends the set file (the JSONL ``sift eval rag --jsonl`` reads), :mod:`.report` scores retrieval and Ask on it.
"""
