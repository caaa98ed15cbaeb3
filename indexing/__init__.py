"""Files → documents → chunks → vectors → store, and keeping that store in sync with a folder."""
