"""sift web UI entry point: `streamlit run streamlit_app.py`. Pages hold layout only."""

from __future__ import annotations

import streamlit as st

from app.ui.search_page import render as search_page

st.set_page_config(page_title="sift", page_icon="🔎", layout="wide")
search_page()
