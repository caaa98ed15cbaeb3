"""Four short documents where a follow-up ("When did he die?") finds the right one only when rewritten."""

from __future__ import annotations

FOLLOWUP_DOCS = {
    "monet.md": "# Claude Monet\n\nClaude Monet was a French painter and a founder of Impressionism. Monet painted the "
    "water lilies of his garden at Giverny, and his death came there in December 1926.\n",
    "presley.md": "# Elvis Presley\n\nElvis Presley was an American singer. He died at Graceland in 1977, when he was "
    "42.\n",
    "dodo.md": "# Dodo\n\nThe dodo was a flightless bird of Mauritius. It died out in the 17th century.\n",
    "bread.md": "# Bread\n\nBread is baked from flour, water and yeast; the dough rises before baking.\n",
}
