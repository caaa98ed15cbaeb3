"""sift web UI entry point: `streamlit run streamlit_app.py`. Pages hold layout only; the page list
lives in :mod:`app.ui.navigation`."""

from __future__ import annotations

import streamlit as st

from app.ui.navigation import pages

st.set_page_config(page_title="sift", page_icon=":material/search:", layout="wide")
st.navigation(pages()).run()
